"""The public Python API; the CLI is a thin layer over these functions.

    result = dlbench.train("configs/mnist1d-cnn.yaml", overrides=["train.steps=500"], run_dir="runs/m1")
    dlbench.evaluate("runs/m1", split="test")
    dlbench.predict("runs/m1", "data.csv", output="preds.csv")
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from dlbench import compare
from dlbench.config import dump_config
from dlbench.schema import Config, load_config, parse_config
from dlbench.data.registry import build_data
from dlbench.errors import UserError
from dlbench.recipes.registry import RECIPES, get_recipe
from dlbench.run.load import load_run
from dlbench.run.files import disk_error
from dlbench.run.rundir import TEST_ACCESS, RunDir, has_run, is_unused
from dlbench.tracking import Trackers
from dlbench.training import supervised
from dlbench.training.init_from import initializing
from dlbench.training.loop import Interrupted

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    run_dir: Path
    result: dict

    @property
    def val(self) -> dict:
        return self.result["val"]

    @property
    def test(self) -> dict:
        return self.result["test"]

    @property
    def diagnosis(self) -> dict:
        return self.result["diagnosis"]


def _as_config(config, overrides) -> Config:
    if isinstance(config, Config):
        config = config.model_dump(mode="json")
    if isinstance(config, dict):
        return load_config_from_dict(config, overrides)
    return load_config(config, overrides)


def load_config_from_dict(raw: dict, overrides) -> Config:
    from dlbench.config import apply_overrides

    return parse_config(apply_overrides(raw, list(overrides or [])))


def prepare(cfg: Config, device=None):
    """Data, model and task for a config (the same steps train, evaluate, profile and bench use)."""
    return supervised.prepare(get_recipe(cfg.model.name), cfg, device)


def train(config, overrides: list[str] | None = None, run_dir: str | Path | None = None, resume: bool = False,
          quiet: bool = True, observer=None, dist=None, evaluate_test: bool = True) -> RunResult:
    """Train a config (path, shipped name, dict or Config); validate during training; test once at the end.

    evaluate_test=False leaves the test split sealed (result["test"] is None): hyperparameter-search trials
    use it so that only the final selected model is ever evaluated on test.
    """
    is_main = dist.is_main if dist else True
    if resume and run_dir is None:
        raise UserError("--resume needs --run-dir naming the run to continue")
    if resume:
        started = has_run(run_dir)
        if dist:  # every rank takes rank 0's view: it may create the run while the others look
            started = dist.from_main(started, (False, True))
        if not started:
            if config is None or not is_unused(run_dir):
                raise UserError(f"{run_dir}: nothing to resume (no config.yaml)",
                                "drop --resume to start a new run" if config is None else "choose another --run-dir")
            # the run never got its config written (it failed or was stopped before): start it now
            log.warning("%s holds no run yet: starting it from the beginning", run_dir)
            resume = False
    if resume:
        run = RunDir(run_dir)
        cfg = resume_config(run.path, config, overrides)
        if dist:
            dist.check_same_config(dump_config(cfg))
        if is_main:
            run.write_config(dump_config(cfg))
    else:
        cfg = _as_config(config, overrides)
        get_recipe(cfg.model.name).check_config(cfg)
        if dist:  # before anything is written: every rank must train the same resolved config
            dist.check_same_config(dump_config(cfg))
        # planned, not created: the recipe's regime creates it (with config.yaml) once data and model are
        # built, so a wrong data path, target or family leaves nothing that blocks the retry (rank 0 only)
        run = RunDir.new(run_dir, cfg.name or "run", dump_config(cfg)) if is_main else RunDir(run_dir)
    recipe = get_recipe(cfg.model.name)
    # fine-tuning: the old run verified and its architecture checked before anything is written
    init = compare.init_source(cfg, recipe) if cfg.train.init_from else None
    trackers = Trackers(cfg, run.path) if is_main else Trackers(None, run.path)
    run.listeners.append(trackers.log)
    result = None
    try:
        with initializing(init):
            result = recipe.train(cfg, run, resume=resume, quiet=quiet, observer=observer, dist=dist,
                                  evaluate_test=evaluate_test)
    except Interrupted as e:
        e.run_dir = run.path  # the CLI prints the exact command that resumes it
        raise
    except supervised.DoesNotFit as e:
        fit = [n for n, r in RECIPES.items() if r.fits(e.spec) is None]
        raise UserError(str(e), f"families that fit it: {', '.join(fit) or 'none'}") from None
    except OSError as e:  # a full disk under any write of the run (sample grids, plots) is one line too
        err = disk_error(None, e)
        if err is None:
            raise
        raise err from None
    finally:
        trackers.finish(run.path, result)  # a run that raised is marked failed in the trackers
    if is_main and result.get("test") is not None:
        run.record_test_access("final test after training")
        if init is not None:  # both models on the old and the new test data, for the report
            result["retraining"] = compare.retraining(init.run, run.path)
            run.write_result(result)
    return RunResult(run.path, result)


def resume_config(run_dir: str | Path, config=None, overrides: list[str] | None = None) -> Config:
    """The config a resumed run continues with: the run's own config.yaml is the source of truth.

    CONFIG may be left out (`dlbench train --run-dir RUN --resume`). `-o` applies on top of config.yaml and
    may change only the training length and cadences (RESUME_MAY_CHANGE), e.g. `-o train.steps=8000` to
    train longer. A CONFIG that is given is only checked to describe the same model and data: the `-o`
    options the run was started with are in config.yaml, so they need not (and cannot) be repeated.
    """
    path = Path(run_dir)
    saved = load_config(path / "config.yaml")
    cfg = load_config(path / "config.yaml", list(overrides or [])) if overrides else saved
    _check_resume_compatible(saved, cfg, path)
    if config is not None:
        given = _as_config(config, [])
        a, b = _flat(saved.model_dump(mode="json")), _flat(given.model_dump(mode="json"))
        same = ("model.name", "data.kind")
        if any(a.get(k) != b.get(k) for k in same):
            what = ", ".join(f"{k} is {a.get(k)}, not {b.get(k)}" for k in same if a.get(k) != b.get(k))
            raise UserError(f"{path} is not a run of that config: its {what}",
                            f"leave the config out to continue it: dlbench train --run-dir {path} --resume")
        diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k != "name")
        if diff:
            log.warning("%s continues with its own config.yaml, which differs from the given config in %s%s "
                        "(the options it was started with); the config can be left out when resuming",
                        path, ", ".join(diff[:5]), "..." if len(diff) > 5 else "")
    return cfg


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        out.update(_flat(v, key + ".") if isinstance(v, dict) else {key: v})
    return out


RESUME_MAY_CHANGE = {"train.steps", "train.epochs", "train.eval_every", "train.log_every", "train.checkpoint_every",
                     "train.keep_checkpoints", "train.device", "train.threads", "train.num_workers"}


def _check_resume_compatible(saved: Config, new: Config, path: Path) -> None:
    a, b = _flat(saved.model_dump(mode="json")), _flat(new.model_dump(mode="json"))
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in RESUME_MAY_CHANGE and k != "name")
    if diff:
        raise UserError(f"{path}: -o may not change {', '.join(diff[:5])} of a run being resumed",
                        "only train.steps/epochs and cadences may change; start a new run for other values")


def evaluate(run_dir: str | Path, split: str = "val", device: str | None = None, errors: int = 0,
             data: str | Path | None = None, opened_by: str = "dlbench evaluate") -> dict:
    """Metrics of a finished run's model on one split (train, val or test), rebuilt from its config.

    errors=N adds `errors`: the N worst mistakes on that split (inputs named by the data: CSV rows, NPZ
    indices, image paths, texts), and `errors_ranked_by`: how they were ranked (see `dlbench.tasks.errors`).
    data=PATH scores every row of a labelled file or folder of the run's data kind instead of a split.
    opened_by: what RUN/test_access.jsonl records when the split is test."""
    if data is not None:  # a labelled file outside the run's splits: every row of it (compare.py)
        return compare.evaluate_file(run_dir, data, device, errors=errors)
    if split not in ("train", "val", "test"):
        raise UserError(f"unknown split '{split}'", "use train, val or test")
    loaded = load_run(run_dir, device=device)
    loaded.recipe.check_errors(loaded, errors)  # before the data is built or the test split counted
    bundle = build_data(loaded.config.data)
    if split == "test":
        _record_test_opened(loaded.path, opened_by)
    return loaded.recipe.evaluate(loaded, bundle, split, errors=errors)


def _record_test_opened(path: Path, by: str = "dlbench evaluate") -> None:
    """`evaluate --split test` is an explicit choice, counted in RUN/test_access.jsonl; from the second
    one on, a warning says how often the test split has been looked at (a number looked at while choosing
    a model is no longer an unbiased test). Training's own final test is counted but is the expected look."""
    try:
        earlier = RunDir(path).record_test_access(by)
    except UserError as e:  # a read-only run directory: evaluate anyway, but say the look is not counted
        log.warning("the test split was opened but could not be counted: %s", e)
        return
    by_evaluate = sum(1 for r in earlier if str(r.get("by", "")).startswith("dlbench evaluate"))
    if by_evaluate:
        log.warning("the test split of %s has now been opened %d times (%d by evaluate before this one, see %s); "
                    "choose between models on --split val and keep the test split for the final measurement",
                    path, len(earlier) + 1, by_evaluate, TEST_ACCESS)
