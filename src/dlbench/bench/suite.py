"""Benchmark definitions: frozen, versioned, one YAML file each in `suite/`.

A benchmark is what MLPerf Training fixes for a submission: the dataset, a reference
config (a shipped config name plus overrides), the global batch size and optimizer, the
quality metric and its target, the evaluation cadence, the step budget and the minimum
number of runs. `check.DEFINITIONS` (what the compliance rules enforce) is derived from
these files, so there is one source of truth; the rules under `rules/` are re-rendered
from it by `python -m dlbench.bench.check`.

Any config becomes an ad-hoc benchmark with `custom_benchmark(config, "val.accuracy>=0.95")`;
its results are "open division" (nothing about it is frozen).
"""
from __future__ import annotations

import difflib
import functools
import math
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError

from dlbench.config.base import Section
from dlbench.errors import UserError

SUITE_DIR = Path(__file__).resolve().parent / "suite"
OPS = {">=": lambda v, t: v >= t, "<=": lambda v, t: v <= t, ">": lambda v, t: v > t, "<": lambda v, t: v < t}
_TARGET = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
# benchmark names become folder names in results/ and a Python string in the checker's rules
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class Quality(Section):
    metric: str
    """The metric as the training loop logs it in metrics.jsonl (`val.accuracy`, `val.r2`, ...)."""
    op: Literal[">=", "<=", ">", "<"] = ">="
    target: float
    """In result-file units, i.e. after `scale`."""
    scale: float = Field(1.0, gt=0)
    """Multiplies the logged metric before it is compared and written as eval_accuracy."""
    label: str = ""
    """What eval_accuracy holds, for humans (e.g. "BLEU / 100")."""

    def reached(self, value: float | None) -> bool:
        return value is not None and math.isfinite(value) and OPS[self.op](value * self.scale, self.target)

    def __str__(self) -> str:
        scaled = f"*{self.scale:g}" if self.scale != 1 else ""
        return f"{self.metric}{scaled} {self.op} {self.target:g}"


class Benchmark(Section):
    name: str
    version: str
    description: str = ""
    family: str
    """model.name of the reference config (mlp, cnn, rnn, transformer, gan)."""
    dataset: str
    """data.kind of the reference config."""
    config: str
    """A shipped config name (or, for a custom benchmark, a path)."""
    overrides: list[str] = []
    global_batch_size: int = Field(gt=0)
    optimizer: str
    quality: Quality
    eval_every: int = Field(gt=0)
    max_steps: int = Field(gt=0)
    """Step budget: a run that has not reached the target by then is aborted (not converged)."""
    min_runs: int = Field(gt=0)
    custom: bool = False
    """True for an ad-hoc benchmark from a user config: its results are open division."""

    @property
    def division(self) -> str:
        return "open" if self.custom else "closed"

    def definition(self):
        """What the compliance rules of this benchmark enforce."""
        from dlbench.bench.check import Definition

        q = self.quality
        return Definition(self.global_batch_size, self.optimizer, q.target, q.label or q.metric, q.op)

    def reference_overrides(self, max_steps: int | None = None) -> list[str]:
        """The reference config's overrides, what the benchmark fixes, and what every timed run
        fixes: the stop rule is the target or the budget (no early stopping); no best-weights
        copies or checkpoints inside the clock (one at the budget, after run_stop); only the
        validation set is evaluated (the train-subset evaluation is a diagnosis, not the
        quality metric)."""
        steps = max_steps or self.max_steps
        # the optimizer is the reference config's own (a GAN's are in model.*): the result file logs it
        # and the compliance rules hold it to `optimizer`; users cannot override it (harness.FIXED_KEYS)
        return [*self.overrides, f"train.batch_size={self.global_batch_size}",
                f"train.eval_every={self.eval_every}", "train.epochs=null", f"train.steps={steps}",
                "train.early_stopping=null", "train.keep_best=false", "train.eval_train_samples=0",
                f"train.checkpoint_every={steps}"]

    def unavailable(self) -> str | None:
        """Why this dlbench cannot run the benchmark yet, or None."""
        from dlbench.recipes.registry import RECIPES

        if self.family not in RECIPES:
            return (f"benchmark '{self.name}' needs the '{self.family}' model family, which this dlbench "
                    f"does not have yet (available: {', '.join(RECIPES)})")
        if not self.custom:
            from dlbench.config.load import SHIPPED_DIR

            if not (SHIPPED_DIR / f"{self.config}.yaml").is_file():
                return f"benchmark '{self.name}' needs the shipped config '{self.config}', which is not there yet"
        return None


def optimizer_facts(cfg) -> dict:
    """The MLPerf optimizer hyperparameters of a config (mllog keys), from its family's optimizer."""
    from dlbench.recipes.registry import get_recipe

    o = get_recipe(cfg.model.name).optimizer(cfg)
    keys = {"name": "opt_name", "lr": "opt_base_learning_rate", "weight_decay": "opt_weight_decay",
            "warmup_steps": "opt_learning_rate_warmup_steps", "beta_1": "opt_adam_beta_1", "beta_2": "opt_adam_beta_2"}
    return {keys[k]: v for k, v in o.items() if k in keys}


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UserError(f"benchmark name '{name}' is not allowed",
                        "use lower-case letters, digits, '.', '_' and '-' (at most 64 characters)")
    return name


@functools.lru_cache(maxsize=1)
def _load_suite() -> dict[str, Benchmark]:
    out = {}
    for path in sorted(SUITE_DIR.glob("*.yaml")):
        try:
            b = Benchmark.model_validate(yaml.safe_load(path.read_text()))
        except (ValidationError, yaml.YAMLError) as e:  # a shipped file: a packaging bug, not user input
            raise RuntimeError(f"invalid benchmark definition {path}: {e}") from e
        if b.name != path.stem:
            raise RuntimeError(f"{path}: name '{b.name}' differs from the file name")
        out[b.name] = b
    return out


def suite() -> dict[str, Benchmark]:
    """The shipped benchmarks by name."""
    return dict(_load_suite())


def get_benchmark(name: str) -> Benchmark:
    benchmarks = _load_suite()
    if name in benchmarks:
        return benchmarks[name]
    close = difflib.get_close_matches(name, list(benchmarks), n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'?" if close else f"choose one of: {', '.join(benchmarks)}"
    raise UserError(f"unknown benchmark '{name}'", f"{hint} (`dlbench bench list`; or pass a config with --target)")


def parse_target(text: str) -> Quality:
    """`val.accuracy>=0.95` -> Quality(metric, op, target)."""
    m = _TARGET.match(text or "")
    if not m:
        raise UserError(f"target '{text}' is not of the form metric(>=|<=|>|<)value",
                        "e.g. --target 'val.accuracy>=0.95' or --target 'val.loss<0.3'")
    return Quality(metric=m.group(1), op=m.group(2), target=float(m.group(3)))


def custom_benchmark(config: str, target: str, overrides: list[str] | None = None, name: str | None = None,
                     min_runs: int = 5) -> Benchmark:
    """Any config as a benchmark: its own batch size, optimizer, cadence and step budget, and `target`."""
    from dlbench.api import _as_config
    from dlbench.config.load import resolve_config_path
    from dlbench.training.loop import total_steps

    quality = parse_target(target)
    path = resolve_config_path(config)
    cfg = _as_config(str(path), list(overrides or []))
    name = check_name(name or f"custom-{re.sub(r'[^a-z0-9._-]+', '-', path.stem.lower())}")
    if name in _load_suite():
        raise UserError(f"'{name}' is a shipped benchmark", "give the custom benchmark another --name")
    # the step budget is the config's own length; its data size is needed only for an epochs-based one
    steps = cfg.train.steps
    if steps is None:
        from dlbench.data import build_data

        steps = total_steps(cfg.train, len(build_data(cfg.data).train), cfg.train.batch_size)
    return Benchmark(name=name, version="custom", description=f"config {path}", family=cfg.model.name,
                     dataset=cfg.data.kind, config=str(path.resolve()), overrides=list(overrides or []),
                     global_batch_size=cfg.train.batch_size, optimizer=optimizer_facts(cfg)["opt_name"],
                     quality=quality.model_copy(update={"label": quality.metric}), eval_every=cfg.train.eval_every,
                     max_steps=steps, min_runs=min_runs, custom=True)
