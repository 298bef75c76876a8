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
    assert f"continue with: dlbench train --run-dir {run} --resume" in " ".join(err.split())  # the exact command
    ckpts = list((run / "checkpoints").glob("step-*.json"))
    assert len(ckpts) == 1 and json.loads(ckpts[0].read_text())["step"] > 0


def _stopped_run(run_cli, tmp_path, steps=60):
    """A run stopped after its last checkpoint but before its model (as a kill -9 would leave it)."""
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(yaml.safe_dump(tiny(steps=steps, checkpoint_every=20, eval_every=20, log_every=10)))
    run = tmp_path / "run"
    code, _, err = run_cli("train", cfg_path, "--run-dir", run, "-q")
    assert code == 0, err
    for f in ("model.safetensors", "model.json", "result.json"):
        (run / f).unlink()
    return cfg_path, run


def test_resume_over_garbage_best_weights_never_makes_them_the_model(run_cli, tmp_path, caplog):
    """Issue 27.1: a corrupt checkpoints/best.safetensors is skipped; the model is trained weights."""
    cfg_path, run = _stopped_run(run_cli, tmp_path)
    best = run / "checkpoints" / "best.safetensors"
    best.write_bytes(b"\x00" * best.stat().st_size)
    code, _, err = run_cli("train", cfg_path, "--run-dir", run, "-q", "--resume", "-o", "train.steps=80")
    assert code == 0, err
    assert "ignoring" in caplog.text and "best.safetensors" in caplog.text
    r = json.loads((run / "result.json").read_text())
    assert r["val"]["loss"] is not None and r["diagnosis"]["verdict"] not in ("invalid", "diverged")
    info = json.loads((run / "model.json").read_text())
    from dlbench.run.files import sha256_file

    assert info["sha256"] == sha256_file(run / "model.safetensors") != sha256_file(best)


@pytest.mark.parametrize("record", ["[]", '{"step": 60}'], ids=["list", "no-rng"])
def test_resume_over_a_broken_newest_record_falls_back_to_the_one_before(run_cli, tmp_path, caplog, record):
    """Issue 27.8: a checkpoint JSON that is `[]` or lacks its RNG state is skipped with a warning."""
    cfg_path, run = _stopped_run(run_cli, tmp_path)
    (run / "checkpoints" / "step-60.json").write_text(record)
    code, _, err = run_cli("train", cfg_path, "--run-dir", run, "-q", "--resume")
    assert code == 0, err
    assert "skipping checkpoint step-60.json" in caplog.text and "Traceback" not in err
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 60 and steps.count(60) == 2  # train + eval record of step 60, redone once
