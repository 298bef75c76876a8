"""A fake run written through MLPerfRunLogger must pass the real compliance checker with
the shipped rules, and tampered copies must fail it."""

import json
import logging
from pathlib import Path

import pytest
from mlperf_logging import mllog

from dlbench.bench.check import DEFINITIONS, check_result_file, check_results_dir, rules_path
from dlbench.bench.mllog import MLPerfRunLogger
from dlbench.errors import UserError

T0 = 1_700_000_000_000


def write_run(path: Path, benchmark: str, accuracies=(0.3, 0.7, 0.99)) -> Path:
    d = DEFINITIONS[benchmark]
    with MLPerfRunLogger(path, benchmark, org="acme", division="closed", platform="1xCPU") as lg:
        lg.cache_clear(time_ms=T0)
        lg.init_start(time_ms=T0 + 1)
        lg.submission_info(time_ms=T0 + 1)
        lg.hyperparameters(seed=7, global_batch_size=d.global_batch_size, opt_name=d.opt_name,
                           opt_base_learning_rate=3e-3, opt_adamw_weight_decay=0.01, time_ms=T0 + 2)
        lg.train_samples(1200, time_ms=T0 + 2)
        lg.eval_samples(300, time_ms=T0 + 2)
        lg.init_stop(time_ms=T0 + 50)
        lg.run_start(time_ms=T0 + 60)
        t = T0 + 60
        lg.block_start(first_epoch_num=0, epoch_count=len(accuracies), time_ms=t)
        for epoch, acc in enumerate(accuracies):
            lg.epoch_start(epoch, time_ms=t + 1)
            lg.epoch_stop(epoch, time_ms=t + 9)
            lg.eval_start(epoch, time_ms=t + 10)
            lg.eval_accuracy(acc, epoch, time_ms=t + 11, metric=d.metric)
            lg.eval_stop(epoch, time_ms=t + 12)
            t += 20
        lg.block_stop(first_epoch_num=0, time_ms=t)
        lg.run_stop("success", time_ms=t + 1)
    return path


def records(path: Path) -> list[dict]:
    return [json.loads(l.split(":::MLLOG ", 1)[1]) for l in path.read_text().splitlines() if l]


def rewrite(src: Path, dst: Path, keep=lambda r: True, edit=lambda r: r) -> Path:
    lines = [":::MLLOG " + json.dumps(edit(r)) for r in records(src) if keep(r)]
    dst.write_text("\n".join(lines) + "\n")
    return dst


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    return write_run(tmp_path_factory.mktemp("run") / "result_0.txt", "digits-cnn")


@pytest.mark.parametrize("benchmark", sorted(DEFINITIONS))
def test_generated_run_passes_the_checker(tmp_path, benchmark):
    path = write_run(tmp_path / "result_0.txt", benchmark)
    assert check_result_file(path, benchmark).passed


def test_run_start_removed_fails(good_run, tmp_path):
    bad = rewrite(good_run, tmp_path / "result_1.txt", keep=lambda r: r["key"] != "run_start")
    v = check_result_file(bad, "digits-cnn")
    assert not v.passed
    assert v.reason.splitlines()[0] == "Required EXACTLY_ONE occurrence of 'run_start' but found 0"


def test_changed_global_batch_size_fails(good_run, tmp_path):
    def edit(r):
        if r["key"] == "global_batch_size":
            r["value"] = 128
        return r

    v = check_result_file(rewrite(good_run, tmp_path / "result_1.txt", edit=edit), "digits-cnn")
    assert not v.passed and "global_batch_size" in v.reason


def test_target_never_reached_fails(tmp_path):
    path = write_run(tmp_path / "result_0.txt", "digits-cnn", accuracies=(0.3, 0.94))
    v = check_result_file(path, "digits-cnn")
    assert not v.passed and v.reason.startswith("Failed checks for eval_accuracy")


def test_wrong_benchmark_rules_fail(good_run):
    # mnist1d-cnn wants batch 100 and a different submission_benchmark
    assert not check_result_file(good_run, "mnist1d-cnn").passed


def test_sequential_loggers_write_only_their_own_file(tmp_path):
    global_handlers = list(mllog.get_mllogger().logger.handlers)
    a = write_run(tmp_path / "a" / "result_0.txt", "digits-cnn")
    b = write_run(tmp_path / "b" / "result_0.txt", "digits-gan")
    assert len(records(a)) == len(records(b))
    assert {r["value"] for r in records(a) if r["key"] == "submission_benchmark"} == {"digits-cnn"}
    assert {r["value"] for r in records(b) if r["key"] == "submission_benchmark"} == {"digits-gan"}
    assert mllog.get_mllogger().logger.handlers == global_handlers
    assert not logging.getLogger().handlers or all(
        getattr(h, "baseFilename", None) != str(a) for h in logging.getLogger().handlers)


def test_events_name_the_callers_line_and_given_time(good_run):
    recs = records(good_run)
    assert all(Path(r["metadata"]["file"]).name == "test_bench_check.py" for r in recs)
    assert recs[0]["time_ms"] == T0


def test_existing_result_file_is_not_overwritten(good_run):
    with pytest.raises(UserError, match="already exists"):
        MLPerfRunLogger(good_run, "digits-cnn", org="acme")


def test_unknown_benchmark_is_a_user_error():
    with pytest.raises(UserError, match="unknown benchmark"):
        rules_path("../../etc/passwd")


def test_results_dir_layout(tmp_path):
    root = tmp_path / "results"
    write_run(root / "sys1" / "digits-cnn" / "result_0.txt", "digits-cnn")
    write_run(root / "sys1" / "digits-cnn" / "result_1.txt", "digits-cnn", accuracies=(0.1,))
    verdicts = check_results_dir(root)
    assert [(p.name, v.passed) for p, v in verdicts] == [("result_0.txt", True), ("result_1.txt", False)]

    (root / "sys1" / "digits-cnn" / "notes.md").write_text("hi")
    with pytest.raises(UserError, match="notes.md"):
        check_results_dir(root)
