"""torchrun + DDP on CPU (gloo): 2 ranks give the weights of 1 process, resume on another world size,
and a killed or hung rank ends the whole job with a message naming it."""
import json
import time

import psutil
import pytest
import torch
from safetensors.torch import load_file

import dlbench
from dlbench.launch.torchrun import launch_distributed
from tests.conftest import tiny


def config(**train) -> dict:
    # no batch norm (per-rank statistics would differ from one process's) and no dropout; final weights
    # are the last step's (keep_best off) so the comparison is of the same step
    c = tiny(**{"steps": 20, "batch_size": 32, "eval_every": 10, "log_every": 5, "checkpoint_every": 10,
                "eval_train_samples": 0, "keep_best": False, "threads": 1, **train})
    c["data"]["num_samples"] = 500
    c["model"]["batch_norm"] = False
    return c


def max_diff(a, b) -> float:
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    assert wa.keys() == wb.keys()
    return max((wa[k] - wb[k]).abs().max().item() for k in wa)


def no_children_left():
    kids = psutil.Process().children(recursive=True)
    gone, alive = psutil.wait_procs(kids, timeout=5)
    return not alive


def test_two_ranks_equal_one_process_then_resume_on_one(tmp_path, write_yaml):
    cfg = write_yaml(config())
    two, one = tmp_path / "two", tmp_path / "one"
    assert launch_distributed(str(cfg), [], str(two), False, True, 2, dist_timeout=60) == 0
    dlbench.train(str(cfg), run_dir=one)
    assert max_diff(one, two) < 1e-5

    r = json.loads((two / "result.json").read_text())["training"]
    assert (r["world_size"], r["global_batch_size"], r["per_device_batch_size"], r["lr"]) == (2, 32, 16, 3e-3)
    lines = [json.loads(x) for x in (two / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines if x["kind"] == "train"] == [5, 10, 15, 20]  # rank 0 alone logs
    # the checkpoint's data position is (epoch, global batch index): the same on any world size
    dlbench.train(str(cfg), ["train.steps=30"], run_dir=two, resume=True)
    dlbench.train(str(cfg), ["train.steps=30"], run_dir=one, resume=True)
    assert max_diff(one, two) < 1e-5
    assert no_children_left()


@pytest.mark.parametrize("fault,expect", [("kill", "rank 1 .* killed by SIGKILL"),
                                          ("hang", "rank 1 did not respond \\(hung or dead\\)")])
def test_a_failed_or_hung_rank_ends_the_job(tmp_path, write_yaml, monkeypatch, capfd, fault, expect):
    import re

    monkeypatch.setenv("DLBENCH_TEST_FAULT", f"{fault}:1:3")
    cfg = write_yaml(config(steps=200))
    t0 = time.monotonic()
    code = launch_distributed(str(cfg), [], str(tmp_path / "run"), False, True, 2, dist_timeout=5)
    elapsed = time.monotonic() - t0
    err = capfd.readouterr().err
    assert code == 1
    summary = [line for line in err.splitlines() if line.startswith("error: distributed training failed")]
    assert summary and re.search(expect, summary[0]), err[-2000:]
    assert elapsed < 100  # startup of two workers on a shared 2-core machine + 5 s timeout + 5 s grace
    assert no_children_left()
    assert not torch.distributed.is_initialized()
