"""Two workers on one study in a real PostgreSQL server: the study ends with exactly the trials asked for.

The server is Debian's postgresql package (scripts/system-deps.sh installs it), started on a loopback
port with a temporary data directory and stopped afterwards. Each worker runs the same command from its
own directory, as two machines would.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna
import pytest

from dlbench.tune.storage import driver_url
from tests.unit.tune.tiny import SPACE, write


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("pg_ctl")
    return Path(which).parent if which else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres():
    """postgresql:// URL of a fresh server; root cannot run postgres, so it runs as the postgres user."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed and could not be: scripts/system-deps.sh installs it with apt-get")
    as_user: list[str] = []
    data = Path(tempfile.mkdtemp(prefix="dlbench-pg-"))
    if os.getuid() == 0:
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run the server as")
        os.chown(data, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()

    def run(*cmd):
        subprocess.run([*as_user, *map(str, cmd)], check=True, capture_output=True, timeout=60)

    run(bindir / "initdb", "-D", data / "db", "-U", "dlbench", "--auth=trust", "-E", "UTF8", "--no-sync")
    run(bindir / "pg_ctl", "-D", data / "db", "-l", data / "server.log", "-w", "-t", "30", "start",
        "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off")
    try:
        run(bindir / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "dlbench", "dlbench")
        yield f"postgresql://dlbench@127.0.0.1:{port}/dlbench"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(data, ignore_errors=True)


def test_two_workers_share_one_study_and_run_each_trial_once(postgres, tmp_path):
    cfg, space = write(tmp_path, {**SPACE, "metric": "val.accuracy"})
    machines = [tmp_path / "machine-a", tmp_path / "machine-b"]
    cmd = [sys.executable, "-m", "dlbench.cli", "tune", cfg, "--space", space, "--trials", "6",
           "--storage", postgres, "--study", "pg-sweep", "-q"]
    procs = []
    for m in machines:
        m.mkdir()
        procs.append(subprocess.Popen(cmd, cwd=m, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs

    study = optuna.load_study(study_name="pg-sweep", storage=driver_url(postgres))
    trials = study.trials
    assert len(trials) == 6 and sorted(t.number for t in trials) == list(range(6))
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    workers = {(t.user_attrs["dlbench.worker"]["pid"]) for t in trials}
    assert len(workers) == 2, "both workers ran trials"
    # every trial ran exactly once, on one of the two machines
    dirs = [d.name for m in machines for d in (m / "studies" / "pg-sweep" / "trials").glob("*")]
    assert sorted(dirs) == [f"{n:04d}" for n in range(6)]
    # the selected model was evaluated on test once, by one worker; trials never opened test
    finals = [m / "studies" / "pg-sweep" / "final.json" for m in machines if (m / "studies/pg-sweep/final.json").exists()]
    assert len(finals) == 1
    final = json.loads(finals[0].read_text())
    assert final["trial"] == study.best_trial.number and "accuracy" in final["test"]
    assert study.user_attrs["dlbench.final"]["test"] == final["test"]
    for m in machines:
        for r in (m / "studies" / "pg-sweep" / "trials").glob("*/result.json"):
            assert json.loads(r.read_text())["test"] is None
    assert any("final model" in o for o in outs)
