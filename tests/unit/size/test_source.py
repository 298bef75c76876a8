"""What is sized: the work a results folder or run measured, or a config's budget."""
import json

import pytest

from dlbench.errors import UserError
from dlbench.size.source import resolve


def write_result(path, seconds: float, samples: int, ok: bool = True):
    path.parent.mkdir(parents=True, exist_ok=True)
    ev = lambda key, t, **kw: ":::MLLOG " + json.dumps({"key": key, "time_ms": t, **kw})  # noqa: E731
    lines = [ev("run_start", 1000.0), ev("eval_accuracy", 1000.0 + seconds * 500, value=0.5,
                                       metadata={"epoch_num": samples // 2}),
             ev("eval_accuracy", 1000.0 + seconds * 1000, value=0.995, metadata={"epoch_num": samples}),
             ev("run_stop", 1000.0 + seconds * 1000, metadata={"status": "success" if ok else "aborted"})]
    path.write_text("\n".join(lines) + "\n")


def test_results_folder_gives_measured_samples_time_and_scaling(tmp_path):
    root = tmp_path / "results"
    for i, (s, n) in enumerate([(10.0, 6400), (12.0, 12800), (14.0, 12800)]):
        write_result(root / "box" / "digits-cnn" / f"result_{i}.txt", s, n)
    for i, s in enumerate([7.0, 8.0, 9.0]):  # the same benchmark on 2 devices: 8 s vs 12 s -> efficiency 0.75
        write_result(root / "box-x2" / "digits-cnn" / f"result_{i}.txt", s, 12800)
    src = resolve(str(root))
    assert src.kind == "results" and src.samples.value == 12800 and "median samples" in src.samples.source
    assert src.measured_time.value == pytest.approx(12.0) and "olympic mean" in src.measured_time.source
    assert src.scaling.points[2] == pytest.approx(12.0 / 8.0 / 2)
    assert src.cfg.train.batch_size == 64 and src.evals >= 1


def test_config_and_benchmark_names_bound_the_work(tmp_path):
    src = resolve("digits-cnn")  # a benchmark name: its step budget, said to be an upper bound
    assert src.kind == "benchmark" and src.samples.value == 1500 * 64 and "upper bound" in src.samples.source
    cfg = resolve("configs/digits-cnn.yaml")
    assert cfg.kind == "config" and cfg.samples.value == 1500 * 64


def test_bad_sources_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        resolve(str(tmp_path / "nope.yaml"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no result files"):
        resolve(str(empty))
    for b in ("digits-cnn", "mnist1d-cnn"):
        write_result(tmp_path / "r" / "box" / b / "result_0.txt", 5.0, 640)
    with pytest.raises(UserError, match="--benchmark"):
        resolve(str(tmp_path / "r"))
    assert resolve(str(tmp_path / "r"), "mnist1d-cnn").samples.value == 640


def test_a_scaling_sweep_record_gives_measured_efficiency(tmp_path):
    root = tmp_path / "results"
    write_result(root / "box-x1" / "digits-cnn" / "result_0.txt", 10.0, 12800)
    (root / "scaling-digits-cnn-box.json").write_text(json.dumps({
        "device": "cpu", "points": [{"devices": 1, "efficiency": 1.0}, {"devices": 2, "efficiency": 0.8},
                                    {"devices": 4, "efficiency": None}]}))
    sc = resolve(str(root)).scaling
    assert sc.kind == "cpu" and sc.points == {1: 1.0, 2: 0.8} and "scaling-digits-cnn-box.json" in sc.source


def test_a_finished_run_gives_the_steps_it_took(trained_run):
    src = resolve(str(trained_run))
    assert src.kind == "run" and src.samples.value == 40 * 32 and "measured: run" in src.samples.source
    assert src.measured_time.value > 0 and src.device_count == 1
