"""Progress when output is not a terminal: `dlbench train CONFIG > log 2>&1` writes plain lines."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO, tiny


def test_train_redirected_to_a_file_writes_progress_lines(tmp_path, write_yaml):
    """`dlbench train CONFIG > log 2>&1`: the log holds plain progress lines, no bar escapes."""
    cfg = write_yaml(tiny("mnist1d", "cnn", steps=60, log_every=10, eval_every=20))
    log = tmp_path / "log.txt"
    env = {**os.environ, "DLBENCH_PROGRESS_SECONDS": "0", "COLUMNS": "80"}
    env.pop("FORCE_TERMINAL", None)
    with open(log, "w") as f:
        p = subprocess.run([sys.executable, "-m", "dlbench.cli", "train", str(cfg), "--run-dir", str(tmp_path / "run")],
                           stdout=f, stderr=subprocess.STDOUT, cwd=REPO, env=env, timeout=300)
    text = log.read_text()
    assert p.returncode == 0, text[-3000:]
    lines = [x for x in text.splitlines() if " step " in x and "/60 (" in x]
    assert [int(x.split(" step ")[1].split("/")[0]) for x in lines] == [10, 20, 30, 40, 50, 60], text
    assert all("loss " in x and "samples/s" in x and "elapsed" in x for x in lines)
    assert "ETA" in lines[0] and "val." not in lines[0] and "val.accuracy" in lines[-1]
    assert "steps to go" in text and "\x1b[" not in text and "\r" not in text


def test_tune_redirected_to_a_file_writes_a_line_per_trial(tmp_path):
    from tests.unit.tune.tiny import SPACE, write

    cfg, space = write(tmp_path, {**SPACE, "pruner": {"name": "none"}})
    log = tmp_path / "tune.log"
    with open(log, "w") as f:
        p = subprocess.run([sys.executable, "-m", "dlbench.cli", "tune", cfg, "--space", space, "--trials", "3",
                            "--studies-dir", str(tmp_path / "studies"), "--study", "s"],
                           stdout=f, stderr=subprocess.STDOUT, cwd=REPO, timeout=300)
    text = log.read_text()
    assert p.returncode == 0, text[-3000:]
    assert "study s: 3 trials, selecting by val.accuracy (maximize)" in text
    lines = [x for x in text.splitlines() if x.startswith("trial ")]
    assert [x.split()[1] for x in lines] == ["0", "1", "2"], text
    assert all(" best " in x and "/3 done" in x and "elapsed" in x for x in lines)
    assert "\x1b[" not in text


def test_serve_redirected_to_a_file_says_where_it_listens(tmp_path, trained_run):
    """`dlbench serve RUN > log 2>&1 &`: the URL and the model list reach the log before any request."""
    import signal
    import time

    from dlbench.serve.server import free_port

    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as f:
        proc = subprocess.Popen([sys.executable, "-m", "dlbench.cli", "serve", str(trained_run), "--no-auth",
                                 "--port", str(port)], stdout=f, stderr=subprocess.STDOUT, cwd=REPO)
        try:
            deadline = time.time() + 120
            while time.time() < deadline and "startup complete" not in log.read_text() and proc.poll() is None:
                time.sleep(0.2)
            text = log.read_text()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
    assert f"serving 1 model at http://127.0.0.1:{port}" in text, text
    assert f"model m1 version 1 (cnn): POST http://127.0.0.1:{port}/v2/models/m1/versions/1/infer" in text
    assert "docs/serving.md" in text and "\x1b[" not in text
