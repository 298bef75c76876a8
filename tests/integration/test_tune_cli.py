"""`dlbench tune` end to end on tiny configs: outputs, show, bad input, --n-jobs, kill -9 and --resume."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
import yaml

from tests.integration.test_bad_input import assert_clean_error
from tests.unit.tune.tiny import BASE, SPACE, write


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """One finished 3-trial study, run through the CLI in this process."""
    from dlbench.cli import main

    tmp = tmp_path_factory.mktemp("tune")
    cfg, space = write(tmp)
    argv = sys.argv
    sys.argv = ["dlbench", "tune", cfg, "--space", space, "--trials", "3", "--studies-dir", str(tmp / "studies"),
                "--study", "cli", "--pruner", "none"]
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code
    finally:
        sys.argv = argv
    assert code in (0, None)
    return tmp, cfg, space


def test_tune_writes_every_output_and_show_reads_them(study, run_cli):
    tmp, _, _ = study
    d = tmp / "studies" / "cli"
    for name in ("study.db", "study.json", "space.yaml", "trials.csv", "best.yaml", "history.png", "importance.png",
                 "report.md", "final.json"):
        assert (d / name).is_file(), name
    assert sorted(p.name for p in (d / "trials").iterdir()) == ["0000", "0001", "0002"]
    rows = (d / "trials.csv").read_text().splitlines()
    assert len(rows) == 4 and rows[0].startswith("number,state,value,steps")
    final = json.loads((d / "final.json").read_text())
    best = yaml.safe_load((d / "best.yaml").read_text())
    assert best["optim"]["lr"] == final["params"]["optim.lr"] and best["data"] == BASE["data"]
    code, out, err = run_cli("train", d / "best.yaml", "--run-dir", tmp / "retrain", "-q")  # ready to train
    assert code == 0, err
    code, out, err = run_cli("tune", "show", d)
    assert code == 0, err
    assert "best trial" in out and "final model" in out and f"test accuracy {final['test']['accuracy']:.4f}" in out


def test_bad_input_is_one_clear_error(study, run_cli, tmp_path):
    tmp, cfg, space = study
    bad = {**SPACE, "params": {**SPACE["params"], "optim.lrr": {"type": "float", "low": 1e-3, "high": 1e-1}}}
    _, s1 = write(tmp_path, bad)
    assert_clean_error(*run_cli("tune", cfg, "--space", s1, "--studies-dir", tmp_path)[::2],
                       "params.optim.lrr: unknown key in optim (did you mean 'lr'?)")
    empty = {**SPACE, "params": {"optim.lr": {"type": "float", "low": 1e-2, "high": 1e-2}}}
    _, s2 = write(tmp_path, empty)
    assert_clean_error(*run_cli("tune", cfg, "--space", s2, "--studies-dir", tmp_path)[::2],
                       "params.optim.lr: empty range")
    assert_clean_error(*run_cli("tune", cfg, "--space", space, "--studies-dir", tmp_path,
                                "--storage", "postgresql://nobody@127.0.0.1:1/nothing")[::2],
                       "cannot open the study storage postgresql://nobody@127.0.0.1:1/nothing")
    other = {**SPACE, "params": {"optim.lr": {"type": "float", "low": 1e-4, "high": 1e-2}}}
    _, s3 = write(tmp_path, other)
    assert_clean_error(*run_cli("tune", cfg, "--space", s3, "--studies-dir", tmp / "studies", "--study", "cli")[::2],
                       "study 'cli' already exists with a different search space")
    assert_clean_error(*run_cli("tune", cfg, "--space", space, "--studies-dir", tmp_path, "--sampler", "grid")[::2],
                       "the grid sampler needs")


def _tune_cmd(cfg, space, studies, *extra):
    return [sys.executable, "-m", "dlbench.cli", "tune", cfg, "--space", space, "--studies-dir", str(studies),
            "--study", "s", "-q", *extra]


def _study(studies):
    return optuna.load_study(study_name="s", storage=f"sqlite:///{studies / 's' / 'study.db'}")


def test_n_jobs_runs_parallel_workers_and_stops_at_exactly_the_budget(tmp_path):
    cfg, space = write(tmp_path)
    p = subprocess.run(_tune_cmd(cfg, space, tmp_path / "studies", "--trials", "5", "--n-jobs", "2"),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr + p.stdout
    trials = _study(tmp_path / "studies").trials
    assert len(trials) == 5 and all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    assert len({json.dumps(t.params, sort_keys=True) for t in trials}) == 5
    assert sorted(p.name for p in (tmp_path / "studies/s/logs").iterdir()) == ["worker-0.log", "worker-1.log"]
    assert "final model" in p.stdout


def test_kill_9_then_resume_finishes_the_study_without_repeating_finished_trials(tmp_path, run_cli):
    base = {**BASE, "train": {**BASE["train"], "steps": 800, "eval_every": 200}}
    cfg, space = write(tmp_path, base=base)
    studies = tmp_path / "studies"
    log = open(tmp_path / "killed.log", "w")
    proc = subprocess.Popen(_tune_cmd(cfg, space, studies, "--trials", "4"), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline:
        time.sleep(0.2)
        if not (studies / "s" / "study.json").exists():  # written once the study exists
            continue
        trials = _study(studies).trials
        states = [t.state.name for t in trials]
        # kill a trial that is training (its parameters drawn), not one Optuna has only just created: that case,
        # failed after the grace period, is tests/unit/tune/test_study.py's. Only in the first half of its 4
        # evaluations, so that it cannot finish between this look and the kill on a loaded machine.
        last = trials[-1]
        if "COMPLETE" in states and states[-1] == "RUNNING" and last.params and len(last.intermediate_values) < 2:
            break
    assert proc.poll() is None, (tmp_path / "killed.log").read_text()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {t.number: t for t in _study(studies).trials}
    finished = {n: t.value for n, t in before.items() if t.state.name in ("COMPLETE", "PRUNED")}
    running = [n for n, t in before.items() if t.state.name == "RUNNING"]
    assert finished and len(running) == 1 and len(finished) < 4

    code, out, err = run_cli(*_tune_cmd(cfg, space, studies, "--trials", "4", "--resume")[3:])
    assert code == 0, err
    after = _study(studies).trials
    assert after[running[0]].state.name == "FAIL"  # the killed worker's trial, rerun as a new one:
    retry = [t for t in after if t.system_attrs.get("failed_trial") == running[0]]
    assert len(retry) == 1 and retry[0].params == before[running[0]].params
    done = [t for t in after if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(done) == 4 and {t.number: t.value for t in done if t.number in finished} == finished
    assert "final model" in out
