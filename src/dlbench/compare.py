"""Scoring finished models on data outside their own splits, and comparing two of them on the same rows.

    evaluate_file("runs/m1", "new.csv")              # metrics of one model on every row of a new file
    compare("runs/old", "runs/new", "new.csv")       # both on the same rows; is the difference significant?

The new file is read as the run's own data config says (same kind, target, columns), with the model's
stored preprocessing and class list (data/replay.py), every row of it and in file order, so two models
see the same rows even when their preprocessing differs. Significance, paired on those rows:
- classifiers: McNemar's exact test (the binomial test of scipy.stats on the rows exactly one model gets
  right), and a paired bootstrap interval of the accuracy difference;
- regressors: a paired bootstrap (scipy.stats.bootstrap, BCa) of the difference in mean squared error.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dlbench.data.registry import build_data
from dlbench.data.replay import replaying
from dlbench.errors import UserError
from dlbench.run.load import load_run

ALPHA = 0.05


def file_data(loaded, path: str | Path):
    """The run's data config pointed at `path`, built for its model: one Split of every row, in file order."""
    cfg = loaded.config.data
    if "path" not in type(cfg).model_fields:
        raise UserError(f"{loaded.path} was trained on built-in data ({cfg.kind}), not a file",
                        "--data scores runs trained from a data file (csv, npz, ...) on another file of that kind")
    if not Path(path).exists():
        raise UserError(f"--data {path}: no such file or folder")
    new = cfg.model_copy(update={"path": str(path)})
    try:
        with replaying(loaded.info["spec"], loaded.preprocessing, whole=True, kind=cfg.kind):
            bundle = build_data(new)
    except UserError as e:
        line = e.line()
        raise UserError(line if str(path) in line else f"--data {path}: {line}") from None
    return bundle.val


def evaluate_file(run_dir: str | Path, path: str | Path, device: str | None = None, errors: int = 0) -> dict:
    """Metrics of a finished run's model on every row of a labelled file or folder of its data kind."""
    loaded = load_run(run_dir, device=device)
    loaded.recipe.check_errors(loaded, errors)
    split = file_data(loaded, path)
    out = loaded.task.evaluate(loaded.model, split, 256, loaded.device, detailed=True)
    if errors:
        from dlbench.tasks.errors import RANKED_BY

        out["errors"] = loaded.task.errors(loaded.model, split, errors, loaded.device)
        out["errors_ranked_by"] = RANKED_BY.get(loaded.task.name, "")
    return {**out, "data": str(path), "rows": len(split)}


def _per_row(loaded, split) -> tuple[str, np.ndarray, np.ndarray]:
    """(kind, per-row score, targets): classifiers 1.0/0.0 for right/wrong, regressors the squared error."""
    from dlbench.tasks.supervised import collect_outputs

    outputs, y = collect_outputs(loaded.model, split, 256, loaded.device)
    pred = loaded.task.predictions(outputs)
    y = y.cpu().numpy()
    if "label" in pred:
        return "classification", (np.asarray(pred["label"]) == y).astype(np.float64), y
    if "prediction" in pred:
        p = np.asarray(pred["prediction"], dtype=np.float64).reshape(len(y), -1)
        return "regression", ((p - y.reshape(len(y), -1)) ** 2).mean(axis=1), y
    raise UserError(f"{loaded.path}: compare scores classifiers and regressors, not {loaded.task.name} models")


def compare(run_a: str | Path, run_b: str | Path, path: str | Path, device: str | None = None,
            resamples: int = 2000, seed: int = 0) -> dict:
    """Both runs' models on the same rows of `path`: metrics of each, the paired test, and the verdict."""
    a, b = load_run(run_a, device=device), load_run(run_b, device=device)
    if a.spec.task != b.spec.task or a.spec.class_names != b.spec.class_names:
        raise UserError(f"{run_a} and {run_b} do not answer the same question "
                        f"({a.spec.task} {a.spec.class_names or ''} vs {b.spec.task} {b.spec.class_names or ''})",
                        "compare two models of the same task and classes")
    split_a, split_b = file_data(a, path), file_data(b, path)
    if split_a.ids != split_b.ids:
        raise UserError(f"{path}: the two runs read different rows of it (their data configs differ in which rows "
                        "they keep)", "give both runs the same data.impute")
    kind, sa, ya = _per_row(a, split_a)
    _, sb, _ = _per_row(b, split_b)
    out = {"data": str(path), "rows": int(len(ya)), "task": kind,
           "a": {"run": str(run_a), **_numbers(a.task.evaluate(a.model, split_a, 256, a.device))},
           "b": {"run": str(run_b), **_numbers(b.task.evaluate(b.model, split_b, 256, b.device))}}
    out["test"] = _mcnemar(sa, sb) if kind == "classification" else {}
    out["test"].update(_bootstrap(sa, sb, kind, resamples, seed))
    sig = out["test"]["p_value"] < ALPHA if kind == "classification" else out["test"]["significant"]
    out["test"]["significant"] = bool(sig)
    better = out["test"]["difference"] > 0 if kind == "classification" else out["test"]["difference"] < 0
    out["verdict"] = (f"{'B' if better else 'A'} ({run_b if better else run_a}) is better, significant at "
                      f"{ALPHA:g}" if sig else f"no significant difference at {ALPHA:g}")
    return out


def _numbers(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float))}


def _mcnemar(right_a: np.ndarray, right_b: np.ndarray) -> dict:
    """McNemar's exact test: among rows exactly one model gets right, is B right as often as A?"""
    from scipy.stats import binomtest

    only_a = int(((right_a == 1) & (right_b == 0)).sum())
    only_b = int(((right_a == 0) & (right_b == 1)).sum())
    n = only_a + only_b
    p = binomtest(only_b, n, 0.5).pvalue if n else 1.0
    return {"method": "McNemar exact (binomial test on discordant rows)", "only_a_right": only_a,
            "only_b_right": only_b, "p_value": float(p)}


def _bootstrap(sa: np.ndarray, sb: np.ndarray, kind: str, resamples: int, seed: int) -> dict:
    """Paired bootstrap (scipy.stats.bootstrap, paired=True) of mean(B) - mean(A): accuracy or MSE."""
    from scipy.stats import bootstrap

    diff = float(sb.mean() - sa.mean())
    what = "accuracy" if kind == "classification" else "mse"
    if len(sa) < 2 or np.all(sa == sb):
        low = high = diff
    else:
        res = bootstrap((sa, sb), lambda x, y, axis=-1: y.mean(axis=axis) - x.mean(axis=axis), paired=True,
                        vectorized=True, n_resamples=resamples, confidence_level=1 - ALPHA, method="BCa",
                        random_state=np.random.default_rng(seed))
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if not np.isfinite(low) or not np.isfinite(high):  # BCa degenerates on near-constant scores
            res = bootstrap((sa, sb), lambda x, y, axis=-1: y.mean(axis=axis) - x.mean(axis=axis), paired=True,
                            vectorized=True, n_resamples=resamples, confidence_level=1 - ALPHA,
                            method="percentile", random_state=np.random.default_rng(seed))
            low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    out = {"difference": diff, "difference_of": f"{what} of B - {what} of A", "ci_low": low, "ci_high": high,
           "bootstrap_resamples": resamples}
    if kind == "regression":
        out.update(method="paired bootstrap of the MSE difference", significant=bool(low > 0 or high < 0))
    return out


# --- fine-tuning (train --init-from) -------------------------------------------------------------------

def init_source(cfg, recipe):
    """The finished run `cfg.train.init_from`, verified, as the weights a new run starts from; the model
    section must be the old run's (one line naming the first differences otherwise)."""
    from dlbench.training.init_from import InitFrom

    path = Path(cfg.train.init_from)
    if recipe.generative:
        raise UserError(f"train.init_from: {recipe.name} runs train with their own regime, which cannot start from "
                        "another run's weights yet", "drop --init-from")
    if not (path / "model.json").is_file():
        raise UserError(f"--init-from {path}: not a finished run (no model.json)",
                        "give a run directory whose training finished")
    old = load_run(path, device="cpu")
    a, b = _flat(old.config.model.model_dump(mode="json")), _flat(cfg.model.model_dump(mode="json"))
    diff = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    if diff:
        shown = ", ".join(f"model.{k} is {a.get(k)!r} there, {b.get(k)!r} here" for k in diff[:3])
        raise UserError(f"--init-from {path}: another architecture ({shown}{', ...' if len(diff) > 3 else ''})",
                        "fine-tune with the old run's model section unchanged")
    weights = {k: v.detach().cpu().clone() for k, v in old.model.state_dict().items()}
    return InitFrom(path, weights, old.info["spec"], old.preprocessing, cfg.train.init_preprocessing == "keep")


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def _count_test_look(run_dir: Path, by: str) -> None:
    """A test split opened for the retraining table is counted in that run's test_access.jsonl too."""
    from dlbench.run.rundir import RunDir

    try:
        RunDir(run_dir).record_test_access(by)
    except (UserError, OSError):  # a read-only run directory: the table is still worth having
        pass


def _test_split(loaded, data_cfg, purpose: str):
    """The test split of `data_cfg`, built for `loaded`'s model (its classes and preprocessing)."""
    with replaying(loaded.info["spec"], loaded.preprocessing, kind=data_cfg.kind):
        return build_data(data_cfg).open_test(purpose)


def retraining(old_run: str | Path, new_run: str | Path) -> dict:
    """Both models on both test splits: {"old model": {"old test": metrics, "new test": ...}, "new model": ...}.

    Each test split is the one its own run sealed (same file, seed and fractions), built for the model scoring
    it; the numbers of a model on its own run's test split are that run's result.json ones."""
    import json

    old, new = load_run(old_run, device="cpu"), load_run(new_run, device="cpu")
    own = {"old": json.loads((Path(old_run) / "result.json").read_text()).get("test"),
           "new": json.loads((Path(new_run) / "result.json").read_text()).get("test")}
    table: dict = {}
    for who, model in (("old", old), ("new", new)):
        row = {}
        for which, data_run in (("old", old), ("new", new)):
            if who == which and own[who] is not None:
                row[f"{which} test"] = _numbers(own[who])
            else:
                try:
                    split = _test_split(model, data_run.config.data, f"retraining report of {new_run}")
                except UserError as e:  # a data kind that cannot be built for another model: said, not failed
                    row[f"{which} test"] = {"unavailable": e.line()}
                    continue
                row[f"{which} test"] = _numbers(model.task.evaluate(model.model, split, 256, model.device))
                _count_test_look(data_run.path, f"retraining report of {new_run}")
        table[f"{who} model"] = row
    return {"old_run": str(old_run), "table": table,
            "metric": old.recipe.selection_metric(old.spec.task).removeprefix("val.")}
