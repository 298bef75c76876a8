"""After the search: the one test evaluation, and the study's outputs.

The trials never open the test split (api.train(evaluate_test=False)) and selection reads validation
numbers only. Once no trial is left running anywhere, one worker claims the study's final step under the
study lock: the best trial's own run is evaluated on test (or, when that run is on another machine, its
config is retrained here), and the result is recorded in the study (`dlbench.final`) so that nothing,
not `tune show`, not a resumed worker, ever evaluates test again for that selection.

    studies/<study>/final.json   selected trial, its validation numbers and the test numbers
                    best.yaml    the selected config, ready for `dlbench train`
                    trials.csv   one row per trial
                    history.png  optimization history; importance.png: parameter importances
                    report.md    all of it in one page
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import yaml

from dlbench.errors import UserError
from dlbench.run.files import atomic_write_bytes, atomic_write_json
from dlbench.tune import space as sp
from dlbench.tune.storage import local_worker_dead, worker_identity

log = logging.getLogger(__name__)


def write_json(path: Path, obj) -> None:
    from dlbench.run.rundir import _clean  # JSON has no NaN: null, as in run directories

    atomic_write_json(path, _clean(obj))


def _scalars(d: dict | None) -> dict:
    return {k: v for k, v in (d or {}).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def best_trial(study):
    import optuna

    if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        return None
    return study.best_trial


def finalize(ctx, takeover: bool = False) -> dict | None:
    """The final test result of the study's selected trial; None while other workers are still running.

    takeover: a --resume may redo a final step that a worker claimed but never finished.
    """
    from dlbench.api import evaluate, train
    from dlbench.tune.study import trial_overrides

    best = best_trial(ctx.study)
    if best is None:
        raise UserError(f"study '{ctx.spec.study}': no trial completed, nothing to evaluate on test",
                        "see trials.csv for the failed or pruned trials; widen the space or relax the pruner")
    me = worker_identity()
    with ctx.lock:
        attrs = ctx.study.user_attrs
        final = attrs.get("dlbench.final")
        if final and final["trial"] == best.number:
            return final
        if ctx.trials(["RUNNING", "WAITING"]):
            return None  # the last worker to finish does it
        claim = attrs.get("dlbench.final_claim")
        mine = claim and (claim.get("host"), claim.get("pid")) == (me["host"], me["pid"])
        if claim and claim.get("trial") == best.number and not mine and not takeover and not local_worker_dead(claim):
            log.warning("the final test evaluation is being done by %s (pid %s)", claim["host"], claim["pid"])
            return None
        ctx.study.set_user_attr("dlbench.final_claim", {**me, "trial": best.number})
    history = ([final] if final else []) + attrs.get("dlbench.final_history", [])
    run_dir = Path(best.user_attrs.get("dlbench.run_dir", ""))
    worker = best.user_attrs.get("dlbench.worker", {})
    if worker.get("host") == me["host"] and (run_dir / "model.json").is_file():
        # the very model that was selected on validation, evaluated once on test
        how, test, val, final_run = "trial run reused", evaluate(run_dir, "test"), best.user_attrs["dlbench.val"], run_dir
    else:  # the selected run lives on another machine: retrain its config here
        final_run, k = ctx.spec.study_dir / f"final-trial{best.number:04d}", 1
        while final_run.exists():  # left by a final step that died; runs are never overwritten
            final_run, k = ctx.spec.study_dir / f"final-trial{best.number:04d}-{k}", k + 1
        values = best.user_attrs["dlbench.values"]
        raw = {**sp.apply_values(ctx.base_raw, trial_overrides(ctx, values)), "name": f"{ctx.spec.study}-final"}
        res = train(raw, run_dir=final_run, quiet=True, evaluate_test=True)
        how, test, val = "retrained", res.test, res.val
    final = {"trial": best.number, "metric": ctx.metric, "direction": ctx.direction, "value": best.value,
             "params": best.params, "val": _scalars(val), "test": _scalars(test), "how": how,
             "run_dir": str(final_run), "worker": me, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    with ctx.lock:
        ctx.study.set_user_attr("dlbench.final", final)
        if history:
            ctx.study.set_user_attr("dlbench.final_history", history)
    write_json(ctx.spec.study_dir / "final.json", {**final, "test_detailed": test, "earlier": history})
    return final


# ---- outputs -------------------------------------------------------------------------------------------

def summary(study) -> dict:
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    meta = study.user_attrs.get("dlbench", {})
    best = best_trial(study)
    return {"study": study.study_name, "metric": meta.get("metric"), "direction": meta.get("direction"),
            "counts": counts, "best": None if best is None else
            {"trial": best.number, "value": best.value, "params": best.params},
            "final": study.user_attrs.get("dlbench.final")}


def write_outputs(study, study_dir: Path) -> dict:
    """trials.csv, best.yaml, history.png, importance.png, report.md; returns {name: path or why not}."""
    study_dir.mkdir(parents=True, exist_ok=True)
    out = {"trials.csv": _trials_csv(study, study_dir / "trials.csv")}
    best = best_trial(study)
    out["best.yaml"] = _best_yaml(study, best, study_dir / "best.yaml") if best else "no completed trial"
    out.update(_plots(study, study_dir))
    s = summary(study)
    atomic_write_bytes(study_dir / "report.md", report_text(s, out).encode())
    out["report.md"] = str(study_dir / "report.md")
    return out


def _trials_csv(study, path: Path) -> str:
    import pandas as pd

    rows = []
    for t in study.get_trials(deepcopy=False):
        ua = t.user_attrs
        rows.append({"number": t.number, "state": t.state.name, "value": t.value,
                     "steps": ua.get("dlbench.steps"),
                     "last_reported_step": max(t.intermediate_values) if t.intermediate_values else None,
                     **{f"params_{k}": v for k, v in t.params.items()},
                     "duration_s": t.duration.total_seconds() if t.duration else None,
                     "retry_of": t.system_attrs.get("failed_trial"), "error": ua.get("dlbench.error"),
                     "host": ua.get("dlbench.worker", {}).get("host"), "run_dir": ua.get("dlbench.run_dir")})
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def _best_yaml(study, best, path: Path) -> str:
    meta = study.user_attrs["dlbench"]
    raw = {**sp.apply_values(meta["base_raw"], best.user_attrs.get("dlbench.values", {})),
           "name": f"{study.study_name}-best"}
    order = ["data", "model", "optim", "train", "name"]  # the schema's order, as in the shipped configs
    raw = dict(sorted(raw.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
    final = study.user_attrs.get("dlbench.final") or {}
    key = meta["metric"].removeprefix("val.")
    test = final.get("test", {}).get(key) if final.get("trial") == best.number else None
    head = (f"# Best config of study '{study.study_name}': trial {best.number}, {meta['metric']} = {best.value:.4f}"
            + (f", test.{key} = {test:.4f} (evaluated once)" if test is not None else "") + "\n"
            f"# Only the base config's keys and the tuned values; everything else is a default.\n"
            f"# $ dlbench train {path}\n")
    atomic_write_bytes(path, (head + yaml.safe_dump(raw, sort_keys=False)).encode())
    return str(path)


def _plots(study, study_dir: Path) -> dict:
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as ovm

    out = {}
    for name, fn in (("history.png", ovm.plot_optimization_history), ("importance.png", ovm.plot_param_importances)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ax = fn(study)
            fig = ax.figure if hasattr(ax, "figure") else ax.flatten()[0].figure
            fig.tight_layout()
            fig.savefig(study_dir / name, dpi=110)
            out[name] = str(study_dir / name)
        except (ValueError, RuntimeError, ZeroDivisionError, IndexError) as e:
            out[name] = f"not drawn: {e}"  # e.g. importances need two completed trials that differ
        finally:
            plt.close("all")
    return out


def report_text(s: dict, files: dict) -> str:
    lines = [f"# Study {s['study']}", "", f"Metric: {s['metric']} ({s['direction']}); selection uses validation only.",
             "", "Trials: " + ", ".join(f"{n} {k.lower()}" for k, n in sorted(s["counts"].items())), ""]
    if s["best"]:
        lines += [f"Best trial: {s['best']['trial']}, {s['metric']} = {s['best']['value']:.4f}", "",
                  "| parameter | value |", "| --- | --- |",
                  *[f"| {k} | {v} |" for k, v in s["best"]["params"].items()], ""]
    f = s["final"]
    if f:
        key = (s["metric"] or "").removeprefix("val.")
        lines += ["## Final model (test split evaluated once)", "",
                  f"Trial {f['trial']} ({f['how']}, {f['run_dir']})", "", "| metric | validation | test |",
                  "| --- | --- | --- |"]
        lines += [f"| {k}{' (selection)' if k == key else ''} | {v:.4f} | {f['test'].get(k, float('nan')):.4f} |"
                  for k, v in f["val"].items()]
        lines.append("")
    else:
        lines += ["Test not evaluated yet: it is evaluated once, after the last trial of the study.", ""]
    lines += ["## Files", "", *[f"- {k}: {v}" for k, v in files.items()], ""]
    return "\n".join(lines)


def read_study_json(study_dir: Path) -> dict:
    p = Path(study_dir) / "study.json"
    if not p.is_file():
        raise UserError(f"{study_dir}: not a study directory (no study.json)", "give studies/<study>")
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{p}: corrupt study.json ({e})") from None
