"""`dlbench recommend DATA`: look at a dataset, recommend a model family, write a starter config.

    dlbench recommend data/customers.csv --target churn     # tabular -> MLP
    dlbench recommend data/images/                          # image folder -> CNN
    dlbench recommend pairs.tsv                             # parallel text -> Transformer
    dlbench recommend data/images/ --goal generate          # more like this -> GAN

Inspection (recommend/inspect.py) finds the kind of data and its facts. Every registered family's recipe
says whether and how well it suits them (`Recipe.suggest`) and writes its own starter model section
(`Recipe.starter`); this module ranks the suggestions, sizes training (batch, steps, dropout, weight
decay) by the number of training samples, and validates the config against the schema and builds its
model on the inspected input shape before writing it, so `dlbench train` accepts it as it is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from dlbench.data.bundle import DataSpec
from dlbench.data.registry import DATASETS
from dlbench.errors import UserError
from dlbench.recipes.base import Suggestion
from dlbench.recipes.registry import RECIPES
from dlbench.recommend.inspect import Profile, inspect
from dlbench.schema import parse_config

__all__ = ["Profile", "Recommendation", "build_config", "choose", "inspect", "recommend", "tier"]


@dataclass
class Recommendation:
    profile: Profile
    family: str | None
    """The family recommended first (None: no registered family suits the data)."""
    title: str
    reasons: list[str]
    config: dict | None
    written_family: str | None
    note: str = ""
    output: Path | None = None


def tier(n_train: int) -> dict:
    """Sizes that suit the amount of data: small data gets small, regularized models trained for more epochs."""
    if n_train < 1000:
        return dict(width=64, batch=32, dropout=0.2, wd=0.05, epochs=60, name="small (< 1,000 training samples)")
    if n_train < 10_000:
        return dict(width=128, batch=64, dropout=0.1, wd=0.01, epochs=30, name="medium (1,000-10,000)")
    if n_train < 100_000:
        return dict(width=256, batch=128, dropout=0.1, wd=0.01, epochs=10, name="large (10,000-100,000)")
    return dict(width=512, batch=256, dropout=0.0, wd=0.01, epochs=3, name="very large (> 100,000)")


def choose(pr: Profile, goal: str) -> list[Suggestion]:
    """Every registered family's suggestion for the data, best first. For `generate`, generative families
    come first and the others follow as fallbacks that predict instead."""
    found = [(r, s) for r in RECIPES.values() if (s := r.suggest(pr, goal)) is not None]
    return [s for r, s in sorted(found, key=lambda rs: (goal == "generate" and not rs[0].generative, rs[1].rank))]


def build_config(pr: Profile, suggestion: Suggestion, data_path: str) -> dict:
    """A starter config: the family's model section, training sized by the number of training samples."""
    n_train = max(1, int(pr.n * 0.7))  # the default split keeps 70% for training
    t = tier(n_train)
    bs = min(t["batch"], max(8, 2 ** int(math.log2(max(8, n_train // 8)))))
    steps = int(min(20_000, max(300, math.ceil(t["epochs"] * n_train / bs))))
    every = max(10, min(1000, steps // 20))
    train = {"steps": steps, "batch_size": bs, "eval_every": every, "log_every": min(50, every),
             "checkpoint_every": max(every, steps // 4)}
    optim = {"name": "adamw", "lr": 3e-3, "weight_decay": t["wd"], "schedule": "cosine", "warmup_steps": steps // 20}
    sizes = {"n_train": n_train, "width": t["width"], "dropout": t["dropout"]}
    model, optim_changes, data_changes = RECIPES[suggestion.family].starter(pr, suggestion, sizes, steps)
    data = {"kind": pr.data["kind"], "path": data_path, **pr.data, **data_changes}
    optim = None if optim_changes is None else {**optim, **optim_changes}
    return {"data": data, "model": model, **({"optim": optim} if optim else {}), "train": train}


def _check(cfg: dict, pr: Profile) -> str | None:
    """Why `cfg` would not train, or None: schema validation plus building the model on the inspected shape."""
    try:
        c = parse_config(cfg)
    except UserError as e:
        return e.line()
    if not pr.shape or pr.task not in ("classification", "regression"):
        return None  # text and generator shapes are only known after tokenizing / building the data
    try:
        RECIPES[c.model.name].build(c.model, DataSpec(pr.task, pr.shape, pr.classes, None))
    except (UserError, RuntimeError, ValueError) as e:
        return str(e).splitlines()[0]
    return None


def recommend(path: str | Path, target: str | None = None, goal: str = "predict",
              output: str | Path | None = None, write: bool = True) -> Recommendation:
    if goal not in ("predict", "generate"):
        raise UserError(f"--goal {goal}: unknown goal", "use predict (default) or generate")
    pr = inspect(path, target, goal)
    ranked = choose(pr, goal)
    out = Path(output) if output else None
    data_path = str(path) if not Path(path).is_absolute() and (out is None or out.resolve().parent == Path.cwd()) \
        else str(Path(path).resolve())
    cfg, written, problems = None, None, []
    for s in ranked:
        candidate = build_config(pr, s, data_path)
        if candidate["data"]["kind"] not in DATASETS:
            problems.append(f"this dlbench cannot read {pr.kind} data for {s.title} (no data.kind "
                            f"'{candidate['data']['kind']}')")
            continue
        why_not = _check(candidate, pr)
        if why_not:
            problems.append(f"{s.title}: {why_not}")
            continue
        cfg, written = candidate, s
        break
    first = ranked[0] if ranked else None
    if not ranked:
        problems.append(f"no family in this dlbench takes {pr.kind} {pr.task} data")
    elif goal == "generate" and not RECIPES[first.family].generative and first.variant != "language-model":
        problems.insert(0, f"no family in this dlbench generates {pr.kind} data")
    note = "; ".join(problems)
    if note:
        note += (f". The config uses {written.title} instead." if written else
                 ". No config was written: no available family can learn this task.")
    reasons = (first.reasons if first else []) + [
        f"sizes for {tier(int(pr.n * .7))['name']}" + ("; dropout and weight decay against overfitting"
                                                       if pr.n < 1500 else "")]
    rec = Recommendation(pr, first.family if first else None, first.title if first else "no family", reasons, cfg,
                         written.family if written else None, note)
    if cfg is not None and write:
        stem = Path(path).stem if Path(path).is_file() else Path(path).resolve().name
        out = out or Path(f"{stem}-{written.family}.yaml")
        cfg["name"] = out.stem
        _write(rec, out, path, target, goal)
    return rec


def _write(rec: Recommendation, out: Path, path, target, goal) -> None:
    import yaml

    if out.exists():
        raise UserError(f"{out} already exists", "choose another --output; nothing is overwritten")
    if not out.parent.is_dir():
        raise UserError(f"--output {out}: folder {out.parent} does not exist")
    cmd = " ".join(["dlbench recommend", str(path)] + ([f"--target {target}"] if target else []) +
                   ([f"--goal {goal}"] if goal != "predict" else []))
    head = [f"# Starter config written by `{cmd}`.",
            f"# Recommended: {rec.title}. Why:",
            *[f"#   - {r}" for r in rec.profile.facts + rec.reasons]]
    if rec.note:
        head.append(f"# Note: {rec.note}")
    head.append(f"# $ dlbench train {out}")
    with open(out, "x") as f:  # "x": fails rather than replace a file created meanwhile
        f.write("\n".join(head) + "\n" + yaml.safe_dump(rec.config, sort_keys=False))
    rec.output = out
