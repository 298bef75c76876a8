"""Learning curves and the learning-rate schedule from metrics.jsonl records."""
from __future__ import annotations

from dlbench.report import figures as F
from dlbench.report.document import Absent, Figure, Text, fmt

# Bookkeeping fields of metrics.jsonl that are not curves.
NOT_CURVES = {"step", "kind", "epoch", "lr", "samples_per_s", "time", "wall_time"}
MAX_PANELS = 8


def series(records: list[dict], key: str, kind: str | None = None) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for r in records:
        v = r.get(key)
        if (kind is None or r.get("kind") == kind) and isinstance(v, (int, float)) and not isinstance(v, bool):
            xs.append(r.get("step", len(xs)))
            ys.append(float(v))
    return xs, ys


def metric_names(records: list[dict]) -> list[str]:
    """Curve names without their split prefix, losses first: loss, accuracy, macro_f1, d_loss, ..."""
    names: dict[str, None] = {}
    for r in records:
        for k, v in r.items():
            if k in NOT_CURVES or not isinstance(v, (int, float)) or isinstance(v, bool):
                continue
            names[k.split(".", 1)[1] if "." in k else k] = None
    return sorted(names, key=lambda n: (not n.endswith("loss"), n != "loss", n))


def learning_curves(records: list[dict], best_step=None) -> list:
    """One panel per quantity; the logged running training loss, the training-subset evaluation and
    validation share a panel, so the gap between them (what the diagnosis reads) is visible."""
    names = metric_names(records)
    if not names:
        return [Absent("learning curves", "metrics.jsonl holds no numeric training or validation values yet")]
    losses = [n for n in names if n.endswith("loss")]
    others = [n for n in names if n not in losses]
    # constant curves (reference values such as a real-data baseline) say nothing over time: list them instead
    varying = [n for n in others if _varies(records, n)]
    shown = varying[:MAX_PANELS] if varying else others[:MAX_PANELS]
    blocks = []
    for group in (losses[:MAX_PANELS], shown):
        if not group:
            continue
        fig, axes = F.new(6.4, 3.0 * ((len(group) + 1) // 2), ncols=min(2, len(group)),
                          nrows=(len(group) + 1) // 2)
        for ax, name in zip(axes.flat, group):
            drew = False
            for key, kind, label, style in (
                    (f"train.{name}", "train", "train (running mean of logged steps)", dict(color=F.TRAIN, lw=1, alpha=0.6)),
                    (f"train.{name}", "eval", "train (evaluation subset)", dict(color=F.TRAIN, lw=1.8, marker="o", ms=3)),
                    (f"val.{name}", "eval", "validation", dict(color=F.VAL, lw=1.8, marker="o", ms=3)),
                    (name, None, name, dict(color=F.EXTRA, lw=1.5))):
                xs, ys = series(records, key, kind)
                if xs:
                    ax.plot(xs, ys, label=label, **style)
                    drew = True
            if best_step is not None and drew:
                ax.axvline(best_step, color=F.IDEAL, ls="--", lw=1, label=f"best (step {best_step})")
            ax.set(title=name, xlabel="step")
            if name.endswith("loss") and _positive(records, name):
                ax.set_yscale("log")
            ax.legend(loc="best")
        for ax in list(axes.flat)[len(group):]:
            ax.set_visible(False)
        what = group[0] if len(group) == 1 else ", ".join(group[:-1]) + " and " + group[-1]
        blocks.append(F.to_figure(fig, f"{what} against training step, training and validation",
                                  f"{what.capitalize()} vs step. The dashed line marks the best validation "
                                  "evaluation, whose weights the run kept." if best_step is not None else
                                  f"{what.capitalize()} vs step."))
    rest = [n for n in others if n not in shown]
    if rest:
        last = next((r for r in reversed(records) if r.get("kind") == "eval"), {})
        blocks.append(Text("Not plotted (constant, or beyond the first " + str(MAX_PANELS) + " panels): " +
                           ", ".join(f"{n} = {fmt(last.get('val.' + n, last.get(n)))}" for n in rest) + "."))
    return blocks


def _varies(records, name) -> bool:
    vals = {round(v, 12) for k in (f"train.{name}", f"val.{name}", name) for v in series(records, k)[1]}
    return len(vals) > 1


def _positive(records, name) -> bool:
    vals = [v for k in (f"train.{name}", f"val.{name}", name) for v in series(records, k)[1]]
    return bool(vals) and min(vals) > 0 and max(vals) / max(min(vals), 1e-12) > 20


def lr_schedule(records: list[dict], optim: dict | None, logs_lr: bool = True, family: str | None = None) -> Figure | Absent:
    """logs_lr: whether the run's family logs one learning rate (its recipe's `logs_lr`)."""
    xs, ys = series(records, "lr", "train")
    if not xs:
        if not logs_lr:
            return Absent("learning-rate schedule", f"a {(family or 'this').upper()} run logs no single 'lr' (it trains with several "
                          "optimizers whose learning rates are in the model section of the configuration)")
        return Absent("learning-rate schedule", "metrics.jsonl has no 'lr' values" +
                      ("" if records else " (nothing has been logged yet)"))
    fig, axes = F.new(6.4, 2.6)
    ax = axes[0, 0]
    ax.plot(xs, ys, color=F.TRAIN, marker="." if len(xs) < 40 else None)
    ax.set(xlabel="step", ylabel="learning rate", title="learning-rate schedule")
    ax.set_ylim(0, max(ys) * 1.08)  # from zero: warmup and decay read as fractions of the peak
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    desc = ""
    if optim:
        desc = (f" Optimizer {optim.get('name')}, peak lr {optim.get('lr')}, schedule {optim.get('schedule')}"
                f"{', warmup ' + str(optim.get('warmup_steps')) + ' steps' if optim.get('warmup_steps') else ''}"
                f", weight decay {optim.get('weight_decay')}.")
    return F.to_figure(fig, "learning rate against training step",
                       "Learning rate at each logged step (after the scheduler's update)." + desc)


def throughput(records: list[dict]) -> Figure | None:
    xs, ys = series(records, "samples_per_s", "train")
    if len(xs) < 2:
        return None
    fig, axes = F.new(6.4, 2.4)
    ax = axes[0, 0]
    ax.plot(xs, ys, color=F.EXTRA)
    ax.set(xlabel="step", ylabel="samples / s", title="training throughput")
    return F.to_figure(fig, "training throughput against step",
                       "Samples per second between logging points (the first window includes warm-up).")
