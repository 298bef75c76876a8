"""The retraining part of a run report (`train --init-from`): the old and the new model on the old and the new
test data, from result.json's `retraining` record (computed once, when training ended)."""
from __future__ import annotations

from dlbench.report import figures as F
from dlbench.report.document import Section, Table, Text


def sections(result: dict | None) -> list[Section]:
    r = (result or {}).get("retraining")
    if not isinstance(r, dict) or not isinstance(r.get("table"), dict):
        return []
    table, metric = r["table"], r.get("metric") or "loss"
    models, tests = ["old model", "new model"], ["old test", "new test"]
    metrics = [m for m in (table.get("new model") or {}).get("new test", {}) if isinstance(
        table["new model"]["new test"][m], (int, float))]
    rows = [[f"{who} on {which}", *[(table.get(who) or {}).get(which, {}).get(m) for m in metrics]]
            for who in models for which in tests]
    s = Section("Retraining: both models on the old and the new test data")
    s.add(Text(f"This run was fine-tuned from {r.get('old_run')}. Each test split is the one its own run sealed, "
               "scored with the preprocessing of the model being scored; a model's numbers on its own run's test "
               "split are those of that run's result.json. Decide on promotion with `dlbench compare` on fresh "
               "labelled data, not on these test splits."))
    s.add(Table(["model on data", *metrics], rows))
    gaps = sorted({c["unavailable"] for row in table.values() for c in row.values() if "unavailable" in c})
    if gaps:
        s.add(Text("Empty cells: " + "; ".join(gaps)))
    fig, axes = F.new(5.6, 3.0)
    ax = axes[0][0]
    width = 0.38
    for i, which in enumerate(tests):
        values = [(table.get(who) or {}).get(which, {}).get(metric, float("nan")) for who in models]
        bars = ax.bar([x + (i - 0.5) * width for x in range(len(models))], values, width, label=which)
        ax.bar_label(bars, fmt="%.3g", fontsize=8)
    ax.set_xticks(range(len(models)), models)
    ax.set_ylabel(metric)
    ax.legend(frameon=False, fontsize=8)
    s.add(F.to_figure(fig, alt=f"{metric} of the old and the new model on the old and the new test data",
                      caption=f"Test {metric} of each model on each run's test split."))
    return [s]
