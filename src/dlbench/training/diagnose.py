"""A plain-language verdict on the fit, from the evaluation history, with the numbers behind it.

Metrics that are not numbers (NaN or inf; written as null in metrics.jsonl) never produce a verdict on
the fit: a history where they appear is "diverged", and a saved model whose final validation metrics
are not finite is "invalid", each with the metric and step that says so.
"""
from __future__ import annotations

import math

LOWER_IS_BETTER = ("loss", "mse", "rmse", "mae")


def _main_metric(task: str) -> str | None:
    return "accuracy" if task == "classification" else ("r2" if task == "regression" else None)


def _not_finite(v) -> bool:
    """A metric value that is not a number: NaN/inf, or null (how metrics.jsonl stores them)."""
    return v is None or (isinstance(v, float) and not math.isfinite(v))


def non_finite_verdict(evals: list[dict], task: str, final: dict | None = None) -> dict | None:
    """"diverged" / "invalid" when the history or the final validation metrics hold a value that is not
    a number; None when every loss and the task's metric are finite."""
    metric = _main_metric(task)
    keys = [f"{s}.{m}" for s in ("val", "train") for m in ("loss", metric) if m]
    for e in evals:
        bad = [k for k in keys if k in e and _not_finite(e[k])]
        if bad:
            return {"verdict": "diverged",
                    "reason": (f"{bad[0]} is {e[bad[0]] if e[bad[0]] is not None else 'not a number'} at step "
                               f"{e.get('step')}: the model's outputs stopped being finite numbers, so no fit can be "
                               "judged; lower optim.lr, set optim.grad_clip, or check the inputs for extreme values"),
                    "evidence": {"step": e.get("step"), "metrics": bad}}
    if final:
        bad = [k for k in ("loss", metric) if k and k in final and _not_finite(final[k])]
        if bad:
            return {"verdict": "invalid",
                    "reason": (f"the saved model's validation {bad[0]} is {final[bad[0]]}: its outputs are not finite "
                               "numbers, so its metrics mean nothing; its weights are damaged or overflowed (retrain, "
                               "or resume from an earlier checkpoint)"),
                    "evidence": {"final_val": {k: final[k] for k in bad}}}
    return None


def diagnose(evals: list[dict], task: str, kept_step: int | None = None, final: dict | None = None) -> dict:
    """evals: metrics.jsonl eval records ({"step", "train.loss", "val.loss", "train.<m>", "val.<m>"}).

    kept_step: the step whose weights the run kept (train.keep_best), named in an overfitting verdict.
    final: the saved model's validation metrics ({"loss", "<m>"}), checked for values that are not numbers.
    """
    bad = non_finite_verdict(evals, task, final)
    if bad is not None:
        return bad
    d = _diagnose(evals, task)
    if d["verdict"] == "overfitting" and kept_step is not None and evals and kept_step < evals[-1]["step"]:
        d["reason"] += f"; the saved model has the weights of the best validation step {kept_step}"
        d["evidence"]["kept_step"] = kept_step
    return d


def _diagnose(evals: list[dict], task: str) -> dict:
    if len(evals) < 2:
        return {"verdict": "unknown", "reason": "fewer than two evaluations; evaluate more often (train.eval_every)",
                "evidence": {}}
    metric = _main_metric(task)
    last = evals[-1]
    tr_loss = [e["train.loss"] for e in evals if e.get("train.loss") is not None]
    va_loss = [e["val.loss"] for e in evals if e.get("val.loss") is not None]
    ev = {"final_train_loss": tr_loss[-1] if tr_loss else None, "final_val_loss": va_loss[-1] if va_loss else None,
          "best_val_loss": min(va_loss) if va_loss else None}
    tm, vm = last.get(f"train.{metric}"), last.get(f"val.{metric}")
    if metric and tm is not None and vm is not None:
        ev[f"final_train_{metric}"], ev[f"final_val_{metric}"] = tm, vm
    best_i = va_loss.index(min(va_loss)) if va_loss else 0
    # overfitting: validation loss has risen well above its minimum while training loss kept falling
    if va_loss and best_i < len(va_loss) - 1:
        rise = (va_loss[-1] - va_loss[best_i]) / max(abs(va_loss[best_i]), 1e-12)
        tr_fall = tr_loss[best_i] - tr_loss[-1] if len(tr_loss) == len(va_loss) else 0.0
        # relative and absolute: a loss of 0.005 that becomes 0.006 is noise, not overfitting
        if rise > 0.10 and va_loss[-1] - va_loss[best_i] > 0.01 and tr_fall > 0:
            ev["val_loss_rise_since_best"] = rise
            return {"verdict": "overfitting",
                    "reason": (f"validation loss rose {rise:.0%} above its minimum {va_loss[best_i]:.4g} "
                               f"(step {evals[best_i]['step']}) while training loss kept falling to {tr_loss[-1]:.4g}; "
                               "add regularization (dropout, weight decay), data, or stop earlier"),
                    "evidence": ev}
    gap_limit = {"accuracy": 0.10, "r2": 0.20}.get(metric)
    if gap_limit is not None and tm is not None and vm is not None and tm - vm > gap_limit:
        ev["train_val_gap"] = tm - vm
        return {"verdict": "overfitting",
                "reason": (f"train {metric} {tm:.3f} is {tm - vm:.3f} above validation {metric} {vm:.3f} "
                           f"(more than {gap_limit}); add regularization or data"),
                "evidence": ev}
    # underfitting: the training metric has stopped improving at a low level
    third = max(2, len(evals) // 3)
    recent = tr_loss[-third:]
    plateau = len(recent) >= 2 and (recent[0] - recent[-1]) <= 0.02 * max(abs(recent[0]), 1e-12)
    low = {"accuracy": 0.90, "r2": 0.50}.get(metric)
    if low is not None and tm is not None and tm < low:
        ev["train_loss_change_last_third"] = (recent[0] - recent[-1]) if recent else None
        if plateau:
            return {"verdict": "underfitting",
                    "reason": (f"train {metric} plateaued at {tm:.3f} (below {low}) over the last {len(recent)} "
                               "evaluations; use a larger model, a higher learning rate or better features"),
                    "evidence": ev}
        return {"verdict": "undertrained",
                "reason": (f"train {metric} is {tm:.3f} and training loss was still falling at the end; "
                           "train longer"), "evidence": ev}
    shown = f"; train {metric} {tm:.3f}, validation {metric} {vm:.3f}" if tm is not None and vm is not None else ""
    return {"verdict": "good fit",
            "reason": f"validation loss {va_loss[-1]:.4g} is near its best {min(va_loss):.4g}{shown}",
            "evidence": ev}
