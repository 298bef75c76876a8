"""Benchmark reports: time-to-train with spread, speedup vs ideal, sizing advice, every verdict."""
from __future__ import annotations

import pytest

from dlbench.errors import UserError
from dlbench.report import build_report, default_output, detect_kind
from dlbench.report.document import Absent, Figure, Table, Text
from tests.unit.report.fixtures import make_results


def section(report, title):
    return next(s for s in report.sections if s.title == title)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return make_results(tmp_path_factory.mktemp("bench"))


def test_benchmark_report(results):
    assert detect_kind(results) == "benchmark" and detect_kind(results.parent) == "benchmark"
    r = build_report(results)
    assert default_output(results, "benchmark") == results.parent.resolve() / "results-report.html"
    ttt = section(r, "Time to train").blocks
    assert isinstance(ttt[0], Figure)
    rows = {row[1]: row for row in next(b for b in ttt if isinstance(b, Table)).rows}
    # columns: benchmark, system, devices, accelerator, runs, converged, olympic mean, median, stdev, min, max
    assert rows["gpu1"][2] == 1 and rows["gpu4"][2] == 4 and rows["gpu4"][3] == "NVIDIA H200"
    assert rows["gpu1"][5] == 3 and rows["gpu4"][5] == 2  # the failing run does not count as converged
    assert rows["gpu1"][6] == pytest.approx(32.0)  # olympic mean of 30, 32, 35: the middle one
    assert rows["gpu1"][9] == pytest.approx(30.0) and rows["gpu1"][10] == pytest.approx(35.0)
    scaling = section(r, "Scaling: speedup vs ideal").blocks
    assert isinstance(scaling[0], Figure)
    srow = {row[1]: row for row in scaling[1].rows}
    assert srow["gpu4"][6] == 4 and srow["gpu4"][5] < 4  # below the ideal 4x
    verdicts = {(row[0], row[2]): row[3] for row in section(r, "Compliance").blocks[0].rows}
    assert len(verdicts) == 6 and verdicts[("gpu4", "result_2.txt")] == "fail"
    assert sum(v == "pass" for v in verdicts.values()) == 5
    sizing = section(r, "Sizing recommendations (profiler)").blocks
    assert any(isinstance(b, Text) and b.tone == "warn" and "train.num_workers" in b.text for b in sizing)
    assert isinstance(section(r, "Results store").blocks[0], Absent)


def test_missing_pieces_are_named(tmp_path):
    res = make_results(tmp_path, with_extras=False)
    import shutil

    shutil.rmtree(res / "systems")
    shutil.rmtree(res / "gpu4")
    r = build_report(res)
    assert isinstance(section(r, "Systems").blocks[0], Absent)
    assert isinstance(section(r, "Sizing recommendations (profiler)").blocks[0], Absent)
    prof = tmp_path / "p.json"
    prof.write_text('{"measurements": {"data_stall": 0.01}, "recommendations": [{"kind": "ok", "severity": "ok", '
                    '"message": "no bottleneck found"}]}')
    sizing = section(build_report(res, [prof]), "Sizing recommendations (profiler)").blocks
    assert any(isinstance(b, Text) and b.tone == "good" and b.text == "ok: no bottleneck found" for b in sizing)
    assert "two or more device counts" in section(r, "Scaling: speedup vs ideal").blocks[0].why
    # without systems/*.json the device count comes from the log's submission_platform "1xH200"
    row = next(b for b in section(r, "Time to train").blocks if isinstance(b, Table)).rows[0]
    assert row[2] == 1 and row[3] == "H200"


def test_store_is_read_when_present(results):
    import sqlite3

    db = results / "dlbench.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, system TEXT, benchmark TEXT, device_count INTEGER)")
    con.execute("INSERT INTO sessions (system, benchmark, device_count) VALUES ('gpu4', 'digits-cnn', 8)")
    con.commit()
    con.close()
    try:
        r = build_report(results)
        store = section(r, "Results store").blocks
        assert isinstance(store[1], Table) and store[1].caption.startswith("sessions: 1 rows")
        rows = {row[1]: row for row in next(b for b in section(r, "Time to train").blocks if isinstance(b, Table)).rows}
        assert rows["gpu4"][2] == 8  # the store's device count wins over systems/*.json
    finally:
        db.unlink()


def test_scaling_sweep_folders(tmp_path):
    """`bench run --scaling` writes <system>-x<n> folders of one CPU machine and a scaling-*.json record."""
    import json

    from tests.unit.report.fixtures import write_result

    res = tmp_path / "results"
    (res / "systems").mkdir(parents=True)
    for n, ts in ((1, [20.0, 21.0, 22.0]), (2, [12.0, 11.0, 13.0])):
        d = res / f"box-x{n}" / "digits-cnn"
        d.mkdir(parents=True)
        for i, t in enumerate(ts):
            write_result(d / f"result_{i}.txt", "digits-cnn", t)
        (res / "systems" / f"box-x{n}.json").write_text(json.dumps({"accelerators_per_node": "0", "number_of_nodes": "1"}))
    (res / "scaling-digits-cnn-box.json").write_text(json.dumps({
        "benchmark": "digits-cnn", "system": "box", "mode": "strong (fixed global batch)", "baseline_devices": 1,
        "points": [{"devices": 1, "time_to_train_s": 21.0, "speedup": 1.0, "efficiency": 1.0},
                   {"devices": 2, "time_to_train_s": 12.0, "speedup": 1.75, "efficiency": 0.875}]}))
    r = build_report(res)
    rows = {row[1]: row for row in next(b for b in section(r, "Time to train").blocks if isinstance(b, Table)).rows}
    assert rows["box-x2"][2] == 2 and rows["box-x2"][3] == "CPU"
    blocks = section(r, "Scaling: speedup vs ideal").blocks
    assert isinstance(blocks[0], Figure)
    assert blocks[1].rows[1][5] == pytest.approx(21.0 / 12.0)
    assert blocks[2].caption.startswith("scaling-digits-cnn-box.json") and blocks[2].rows[1][-1] == 0.875


def test_not_a_results_folder(tmp_path):
    (tmp_path / "sys" / "bench").mkdir(parents=True)
    (tmp_path / "sys" / "bench" / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="not a run, study or benchmark"):
        build_report(tmp_path)
