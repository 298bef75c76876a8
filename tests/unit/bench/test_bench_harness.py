"""Clock rules of the harness on real (tiny) training runs, and the checker on their logs."""
import json
import time

import pytest
import yaml

from dlbench.bench.check import check_result_file
from dlbench.bench.harness import run_benchmark
from dlbench.bench.layout import read_log
from dlbench.bench.suite import custom_benchmark, get_benchmark
from dlbench.errors import UserError

TINY = {"data": {"kind": "digits", "flatten": True}, "model": {"name": "mlp", "hidden": [32]},
        "optim": {"lr": 3e-3}, "train": {"steps": 60, "batch_size": 32, "eval_every": 20, "log_every": 10,
                                         "threads": 1}}


@pytest.fixture
def tiny_cfg(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(yaml.safe_dump(TINY))
    return str(p)


def bench_once(tiny_cfg, out, target="val.accuracy>=0.0", runs=1, **kw):
    return run_benchmark(custom_benchmark(tiny_cfg, target), runs, system="box", out=out, progress=False, **kw)


def keys(path):
    return [r["key"] for r in read_log(path)]


def test_first_eval_meeting_the_target_stops_the_clock(tiny_cfg, tmp_path):
    res = bench_once(tiny_cfg, tmp_path / "r")
    r = res.runs[0]
    assert (r.status, r.steps, r.passed_check) == ("success", 20, True), r.check_reason
    k = keys(r.result_file)
    assert k.index("init_start") < k.index("init_stop") < k.index("run_start") < k.index("eval_start")
    assert k[-1] == "run_stop" and k.count("eval_accuracy") == 1
    assert 0 < r.time_to_train_s < 5 and r.init_s > 0
    assert r.train_samples_per_s >= r.samples_per_s > 0  # training-only throughput leaves the evaluation out
    assert res.score["n_runs"] == 1 and not res.official  # custom: open division


def test_slow_evaluation_counts_slow_init_does_not(tiny_cfg, tmp_path, monkeypatch):
    import dlbench.api
    from dlbench.tasks.supervised import ClassificationTask

    base = bench_once(tiny_cfg, tmp_path / "base").runs[0].time_to_train_s

    real_eval = ClassificationTask.evaluate

    def slow_eval(self, *a, **k):
        time.sleep(1.5)  # well above this machine's run-to-run noise (a loaded CI box moves a run by ~0.3 s)
        return real_eval(self, *a, **k)

    with monkeypatch.context() as m:
        m.setattr(ClassificationTask, "evaluate", slow_eval)
        slow = bench_once(tiny_cfg, tmp_path / "eval").runs[0]
    assert slow.time_to_train_s - base >= 1.0  # the one evaluation in the clock is billed
    assert slow.samples_per_s < slow.train_samples_per_s / 2

    real_prepare = dlbench.api.prepare

    def slow_prepare(*a, **k):
        time.sleep(2.0)
        return real_prepare(*a, **k)

    monkeypatch.setattr(dlbench.api, "prepare", slow_prepare)
    res = bench_once(tiny_cfg, tmp_path / "init", init_cap_s=0.5)
    r = res.runs[0]
    assert r.init_s >= 2.0 and r.time_to_train_s < base + 1.0  # initialization (2 s here) is not on the clock
    assert r.init_over_cap and "cap" in res.reason and r.passed_check
    assert "dlbench_init_over_cap" in keys(r.result_file)


def test_clock_starts_before_the_training_data_is_touched(tiny_cfg, tmp_path, monkeypatch):
    import dlbench.training.loop as loop

    seen = []
    real = loop.TrainBatches

    def spy(*a, **k):
        seen.append(keys(next((tmp_path / "r").rglob("result_0.txt"))))
        return real(*a, **k)

    monkeypatch.setattr(loop, "TrainBatches", spy)
    bench_once(tiny_cfg, tmp_path / "r")
    assert seen and seen[0][-2:] == ["run_start", "block_start"]


def test_target_never_reached_is_aborted_and_invalid(tiny_cfg, tmp_path):
    res = bench_once(tiny_cfg, tmp_path / "r", target="val.accuracy>1.5", max_steps=40)
    r = res.runs[0]
    assert (r.status, r.steps, r.passed_check) == ("aborted", 40, False)
    assert "eval_accuracy" in r.check_reason or "status" in r.check_reason
    assert not res.score["valid"]


def test_target_naming_no_metric_lists_the_valid_ones(tiny_cfg, tmp_path):
    with pytest.raises(UserError, match=r"val\.accuracy") as e:
        bench_once(tiny_cfg, tmp_path / "r", target="val.bleu>=0.5")
    assert "val.bleu" in str(e.value)
    assert not list((tmp_path / "r").rglob("result_*.txt"))  # nothing half-written is left


def test_shipped_benchmark_real_runs_pass_the_checker_and_tampering_fails(tmp_path):
    from dlbench.bench.store import latest_sessions, session_runs

    out = tmp_path / "results"
    res = run_benchmark(get_benchmark("diabetes-mlp"), 3, system="box", out=out, max_steps=400, progress=False,
                        overrides=["train.threads=1"])
    assert any(r.status == "success" for r in res.runs)
    for r in res.runs:
        assert r.passed_check == (r.status == "success"), r.check_reason
    assert res.score["min_runs"] == 10 and not res.official and "3 runs" in res.reason  # scored, unofficial
    assert json.loads((out / "systems" / "box.json").read_text())["system_name"] == "box"
    (s,) = latest_sessions(out / "dlbench.sqlite")
    assert (s["benchmark"], s["device_count"], s["n_runs"]) == ("diabetes-mlp", 1, 3)
    assert "batch_size: 32" in s["config"] and json.loads(s["definition"])["version"]
    assert len(session_runs(out / "dlbench.sqlite", s["id"])) == 3

    good = next(r.result_file for r in res.runs if r.passed_check)
    # train.threads is how the system runs the reference, not what it trains: still closed division
    assert [r["value"] for r in read_log(good) if r["key"] == "submission_division"] == ["closed"]
    lines = open(good).read().splitlines()

    def tampered(edit, name):
        recs = [json.loads(l.split(":::MLLOG ", 1)[1]) for l in lines]
        path = tmp_path / name
        path.write_text("".join(":::MLLOG " + json.dumps(edit(r)) + "\n" for r in recs))
        return check_result_file(path, "diabetes-mlp")

    def lower_quality(r):
        if r["key"] == "eval_accuracy":
            r["value"] = 0.1
        return r

    def batch(r):
        if r["key"] == "global_batch_size":
            r["value"] = 64
        return r

    v = tampered(lower_quality, "q.txt")
    assert not v.passed and v.reason.startswith("Failed checks for eval_accuracy")
    v = tampered(batch, "b.txt")
    assert not v.passed and "global_batch_size" in v.reason

    with pytest.raises(UserError, match="already holds 3 result"):
        run_benchmark(get_benchmark("diabetes-mlp"), 1, system="box", out=out, progress=False)
