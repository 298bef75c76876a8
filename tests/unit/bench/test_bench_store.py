"""The results store and `bench compare`'s scaling arithmetic and chart."""
import pytest

from dlbench.bench.compare import add_scaling, compare_chart, compare_table, load_rows
from dlbench.bench.store import latest_sessions, record_session, session_runs
from dlbench.errors import UserError


def session(system="box", devices=1, time_s=10.0, bench="digits-cnn"):
    return {"benchmark": bench, "benchmark_version": "1.0", "division": "closed", "system": system,
            "device": "cuda (NVIDIA H200)", "device_count": devices, "results_dir": "/r", "n_runs": 5,
            "olympic_mean_s": time_s, "median_s": time_s, "stdev_s": 0.5, "samples_per_s": 1000.0 * devices,
            "train_samples_per_s": 1100.0 * devices, "valid": 1, "official": 1, "reason": "",
            "definition": {"name": bench}, "score": {"olympic_mean_s": time_s}, "versions": {"torch": "x"}}


def run(i):
    return {"idx": i, "seed": i, "result_file": f"result_{i}.txt", "status": "success", "passed_check": 1,
            "check_reason": "", "time_to_train_s": 10.0 + i, "init_s": 1.0, "init_over_cap": 0, "steps": 100,
            "samples": 6400, "final_metric": 0.97, "samples_per_s": 640.0, "train_samples_per_s": 700.0}


def test_sessions_runs_and_scaling(tmp_path):
    db = tmp_path / "r" / "dlbench.sqlite"
    record_session(db, session(devices=1, time_s=20.0), [run(0), run(1)], {"cpu": {}}, {"system_name": "box"})
    record_session(db, session(devices=1, time_s=16.0), [run(0)], {}, {})  # newer 1-device session wins
    record_session(db, session(devices=2, time_s=10.0), [run(0)], {}, {})
    sid = record_session(db, session(devices=4, time_s=8.0), [run(0)], {}, {})
    record_session(db, session(system="other", devices=2, time_s=5.0), [run(0)], {}, {})  # no 1-device baseline
    rows = add_scaling(load_rows(tmp_path / "r"))
    by = {(r["system"], r["device_count"]): r for r in rows}
    assert by[("box", 1)]["time_s"] == 16.0 and by[("box", 1)]["speedup"] == 1.0
    assert by[("box", 2)]["speedup"] == pytest.approx(1.6) and by[("box", 2)]["efficiency"] == pytest.approx(0.8)
    assert by[("box", 4)]["efficiency"] == pytest.approx(0.5)
    assert by[("other", 2)]["speedup"] is None
    assert len(session_runs(db, sid)) == 1 and len(latest_sessions(db)) == 4
    assert compare_table(rows).row_count == 4
    png = compare_chart(rows, tmp_path / "c.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_not_a_database_is_a_user_error(tmp_path):
    bad = tmp_path / "dlbench.sqlite"
    bad.write_text("not sqlite")
    with pytest.raises(UserError, match="not a dlbench results database"):
        load_rows(bad)
    with pytest.raises(UserError, match="neither"):
        load_rows(tmp_path / "missing")
