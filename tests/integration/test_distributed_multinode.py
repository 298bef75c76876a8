"""Two nodes simulated on one machine: two launches with --nnodes 2 on a 127.0.0.1 c10d rendezvous.

Node 0 runs in this process, node 1 is a `dlbench train` subprocess; both share the run directory
(as nodes share a filesystem). The job trains, resumes, and refuses configs that differ across nodes.
"""
import json
import os
import socket
import subprocess
import sys

import yaml

from dlbench.errors import UserError
from dlbench.launch.torchrun import launch_distributed
from tests.conftest import REPO
from tests.integration.test_distributed_train import config, no_children_left


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_nodes(cfg, run, port, *extra, node1_extra=(), resume=False):
    """(node 0 exit code or UserError, node 1 CompletedProcess)."""
    common = ["--nnodes", "2", "--nproc-per-node", "1", "--rdzv-endpoint", f"127.0.0.1:{port}",
              "--rdzv-id", "loopback", "--run-dir", str(run), "-q", "--dist-timeout", "30"]
    node1 = subprocess.Popen([sys.executable, "-m", "dlbench.cli", "train", str(cfg), *common, "--node-rank", "1",
                              *extra, *node1_extra, *(["--resume"] if resume else [])],
                             cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    overrides = [extra[i + 1] for i, a in enumerate(extra) if a == "-o"]
    try:
        code = launch_distributed(str(cfg), overrides, str(run), resume, True, 1, "2", 0, f"127.0.0.1:{port}",
                                  "loopback", 30.0)
    except UserError as e:
        code = e
    out, err = node1.communicate(timeout=180)
    return code, node1.returncode, err


def test_two_nodes_train_and_resume(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(config()))
    run = tmp_path / "run"
    code0, code1, err = two_nodes(cfg, run, free_port())
    assert (code0, code1) == (0, 0), err[-3000:]
    r = json.loads((run / "result.json").read_text())["training"]
    assert (r["world_size"], r["steps"]) == (2, 20)

    code0, code1, err = two_nodes(cfg, run, free_port(), "-o", "train.steps=30", resume=True)
    assert (code0, code1) == (0, 0), err[-3000:]
    assert json.loads((run / "result.json").read_text())["training"]["steps"] == 30
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()
             if json.loads(x)["kind"] == "train"]
    assert steps == [5, 10, 15, 20, 25, 30]  # resumed from step 20; nothing logged twice
    assert no_children_left()


def test_configs_that_differ_across_nodes_are_refused(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(config()))
    code0, code1, err = two_nodes(cfg, tmp_path / "run", free_port(), node1_extra=["-o", "train.seed=1"])
    assert isinstance(code0, UserError) and "differs across nodes: rank 1 (node 1" in str(code0)
    assert code1 == 2 and "differs across nodes" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "config.yaml").exists()  # refused before anything was written
