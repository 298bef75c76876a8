"""SIGKILL at any moment + --resume gives bit-identical final weights; SIGTERM writes a checkpoint."""
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import yaml
from safetensors.torch import load_file

from tests.conftest import REPO, tiny

CFG = tiny(steps=240, checkpoint_every=30, eval_every=60, log_every=10)


def launch(cfg_path, run, *extra):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "dlbench.cli", "train", str(cfg_path), "--run-dir", str(run), "-q",
                             *extra], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path, proc, timeout=120):
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < timeout
        time.sleep(0.02)


def weights(run):
    return load_file(str(run / "model.safetensors"))


def test_sigkill_then_resume_is_bit_identical(tmp_path):
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(yaml.safe_dump(CFG))
    ref = tmp_path / "ref"
    assert launch(cfg_path, ref).wait() == 0
    rng = random.Random(0)
    for trial in range(2):  # kill at two different random moments, each resumed to the end
        run = tmp_path / f"killed{trial}"
        p = launch(cfg_path, run)
        wait_for(run / "checkpoints" / "step-30.json", p)
        time.sleep(rng.uniform(0.0, 0.6))
        p.send_signal(signal.SIGKILL)
        p.wait()
        r = launch(cfg_path, run, "--resume")
        out, err = r.communicate()
        assert r.returncode == 0, err
        a, b = weights(ref), weights(run)
        assert a.keys() == b.keys()
        assert all((a[k] == b[k]).all() for k in a), f"trial {trial}: weights differ after resume"
        ra = json.loads((ref / "result.json").read_text())["val"]["accuracy"]
        assert json.loads((run / "result.json").read_text())["val"]["accuracy"] == ra


def test_sigterm_writes_a_checkpoint_before_exiting(tmp_path):
    cfg = tiny(steps=100000, checkpoint_every=100000, eval_every=100000, log_every=10)
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    p = launch(cfg_path, run)
    wait_for(run / "metrics.jsonl", p)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130 and "checkpoint saved" in err and "Traceback" not in err
    ckpts = list((run / "checkpoints").glob("step-*.json"))
    assert len(ckpts) == 1 and json.loads(ckpts[0].read_text())["step"] > 0
