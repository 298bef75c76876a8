"""The benchmark report's 'Server sizing' section from a saved `dlbench size --save` document."""
import json

from dlbench.report.document import Absent, Figure, Table, Text
from dlbench.report.sizing import sizing_section
from dlbench.size.devices import find, shipped
from dlbench.size.model import Efficiency, predict
from tests.unit.size.test_model import workload


def test_sizing_json_beside_results_becomes_a_plot_a_table_and_advice(tmp_path):
    root = tmp_path / "results"
    root.mkdir()
    assert isinstance(sizing_section(root).blocks[0], Absent)
    dev = find("L4", list(shipped()))
    eff = Efficiency(0.4, "assumed")
    preds = [predict(workload(), dev, n, 1, eff) for n in (1, 2, 4)]
    doc = {"source": {"label": "results (digits-cnn)", "device_count_measured": 1},
           "this_machine": {"measured_time_to_train": {"value": 30.0, "unit": "s", "source": "measured"}},
           "efficiency": {"value": 0.12, "source": "measured: test"}, "target_s": 20.0,
           "candidates": [p.to_json() for p in preds],
           "curves": {"L4": [(p.devices, p.time_to_train.value) for p in preds]},
           "advice": ["warning: the machine was busy", "lowest-power candidate meeting the target: 2 x L4"]}
    (tmp_path / "sizing.json").write_text(json.dumps(doc))
    (tmp_path / "broken-sizing.json").write_text("{not json")
    blocks = sizing_section(root).blocks
    figs = [b for b in blocks if isinstance(b, Figure)]
    (table,) = [b for b in blocks if isinstance(b, Table)]
    assert len(figs) == 1 and figs[0].uri.startswith("data:image/png;base64,")
    assert [r[1] for r in table.rows] == [1, 2, 4] and table.rows[0][2] == preds[0].time_to_train.value
    tones = {b.text: b.tone for b in blocks if isinstance(b, Text)}
    assert tones["warning: the machine was busy"] == "warn" and "12.0%" in " ".join(tones)
    assert any(isinstance(b, Absent) and b.what == "broken-sizing.json" for b in blocks)
