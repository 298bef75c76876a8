"""Progress output: a live bar on a terminal, plain lines at a cadence anywhere else (CI, Slurm, `> log`)."""
from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from rich.console import Console

from dlbench import progress as pr
from dlbench.bench.live import RunLine
from dlbench.progress import Throttle, TrainProgress, fmt_duration, line_seconds


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def _log_console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=False, width=60), buf


def _tty_console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=True, width=120), buf


def test_line_mode_prints_first_report_then_every_n_seconds_and_the_last_step():
    con, buf = _log_console()
    clock = Clock()
    p = TrainProgress("digits", con=con, seconds=30, clock=clock)
    p.start(1000)
    assert p.lines
    for step in range(50, 1001, 50):  # a report every 50 steps, 2 s apart
        clock.t += 2.0
        p.update(step, {"loss": 1.0 / step, "samples/s": 1234.5})
        if step % 200 == 0:
            p.update(step, {"val.accuracy": step / 1000})
    p.stop()
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("digits: 1000 steps to go") and "DLBENCH_PROGRESS_SECONDS" in lines[0]
    progress = lines[1:]
    # step 50 at t=2 s (first report), then 30 s later step 800 (t=32 s), and the last step (t=40 s) at stop()
    steps = [int(line.split()[2].split("/")[0]) for line in progress]
    assert steps[0] == 50 and steps[-1] == 1000
    assert len(progress) == 3, progress
    last = progress[-1]
    for field in ("digits step 1000/1000 (100%)", "loss 0.001", "val.accuracy 1", "1,234 samples/s",
                  "elapsed 0:40"):
        assert field in last, (field, last)
    assert "ETA" not in last, "the final line (written by stop, with the last evaluation) has nothing left to estimate"
    assert "ETA" in progress[0] and "val.accuracy" not in progress[0]  # no evaluation yet at step 50
    assert all(len(line) > 60 for line in progress), "a log line is never wrapped at the console width"
    assert "\x1b[" not in buf.getvalue(), "no terminal escapes in a log"


def test_eta_counts_only_the_steps_of_this_start():
    con, buf = _log_console()
    clock = Clock()
    p = TrainProgress("train", con=con, seconds=0, clock=clock)
    p.start(400, done=200)  # resumed at step 200
    clock.t += 10
    p.update(300, {"loss": 0.5})  # 100 steps in 10 s: 100 more take 10 s
    assert "step 300/400 (75%)" in buf.getvalue() and "ETA 0:10" in buf.getvalue()
    assert "200 steps to go (200/400 done)" in buf.getvalue()


def test_seconds_zero_prints_a_line_per_reported_step_and_the_last_one_with_its_evaluation():
    con, buf = _log_console()
    p = TrainProgress("train", con=con, seconds=0, clock=Clock())
    p.start(150)
    for s in (50, 100, 150):
        p.update(s, {"loss": 0.1})
        p.update(s, {"val.loss": s / 1000})  # an evaluation at the same step: no second line for it
    p.stop()
    lines = buf.getvalue().splitlines()[1:]
    assert [x.split()[2] for x in lines] == ["50/150", "100/150", "150/150"]
    # an evaluation shows in the next line; the last line (stop) holds the final one
    assert "val.loss" not in lines[0] and "val.loss 0.05 " in lines[1] and "val.loss 0.15 " in lines[2]


def test_stop_after_an_early_stop_prints_the_step_reached_and_nothing_before_any_step():
    con, buf = _log_console()
    p = TrainProgress("train", con=con, seconds=3600, clock=Clock())
    p.start(1000)
    p.update(50, {"loss": 0.3})
    p.update(100, {"val.loss": 0.2})
    p.stop()
    assert buf.getvalue().splitlines()[-1].startswith("train step 100/1000 (10%)  loss 0.3  val.loss 0.2")
    con, buf = _log_console()
    q = TrainProgress("train", con=con, seconds=0)
    q.start(10, done=10)  # resumed a finished run: nothing to train
    q.stop()
    assert len(buf.getvalue().splitlines()) == 1


def test_a_terminal_gets_the_bar_not_lines():
    con, buf = _tty_console()
    p = TrainProgress("train", con=con, seconds=0)
    p.start(100)
    assert not p.lines
    p.update(50, {"loss": 0.25})
    p.stop()
    text = buf.getvalue()
    assert "\x1b[" in text and "50/100" in text and "steps to go" not in text and "ETA" not in text


def test_the_module_console_decides_by_isatty(monkeypatch):
    """The default console is stderr's: under pytest (or `> log`) that is not a terminal."""
    monkeypatch.delenv("FORCE_TERMINAL", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    assert pr.line_mode(Console(file=io.StringIO()))
    assert not pr.line_mode(Console(file=io.StringIO(), force_terminal=True))


@pytest.mark.parametrize("raw, seconds", [(None, 30.0), ("5", 5.0), ("0", 0.0), ("2.5", 2.5), ("abc", 30.0),
                                          ("-1", 30.0), ("nan", 30.0)])
def test_cadence_from_the_environment(monkeypatch, raw, seconds):
    if raw is None:
        monkeypatch.delenv(pr.ENV_SECONDS, raising=False)
    else:
        monkeypatch.setenv(pr.ENV_SECONDS, raw)
    assert line_seconds() == seconds
    assert Throttle().seconds == seconds


def test_fmt_duration():
    assert [fmt_duration(s) for s in (0, 7.4, 65, 3723, None, float("inf"))] == \
        ["0:00", "0:07", "1:05", "1:02:03", "-", "-"]


def test_bench_run_line_writes_plain_lines_per_run():
    con, buf = _log_console()
    line = RunLine(3, ">= 0.9", con=con, seconds=3600)
    line.start(0, 7, 500)
    line.update(0, "val.accuracy", None)
    line.update(100, "val.accuracy", 0.5)
    line.update(200, "val.accuracy", 0.8)  # within the hour: no line
    line.stop("success")
    lines = buf.getvalue().splitlines()
    assert lines[0] == "run 1/3 (seed 7): started, at most 500 steps, target >= 0.9"
    assert lines[1].startswith("run 1/3 (seed 7): step 100/500  val.accuracy 0.5000 (target >= 0.9)")
    assert lines[2].startswith("run 1/3 (seed 7): step 200/500  val.accuracy 0.8000") and lines[2].endswith("success")
    assert len(lines) == 3 and "\x1b[" not in buf.getvalue()


def test_bench_run_line_bar_on_a_terminal_and_nothing_when_disabled():
    con, buf = _tty_console()
    line = RunLine(1, ">= 0.9", con=con)
    line.start(0, 0, 10)
    line.update(5, "val.accuracy", 0.5)
    line.stop("success")
    assert "\x1b[" in buf.getvalue() and "started" not in buf.getvalue()
    con, buf = _log_console()
    off = RunLine(1, ">= 0.9", enabled=False, con=con)
    off.start(0, 0, 10)
    off.update(5, "val.accuracy", 0.5)
    off.stop("success")
    assert buf.getvalue() == ""


def _trial(number, state, value=None, last_step=None, error=None, complete=None):
    import datetime

    return SimpleNamespace(number=number, state=SimpleNamespace(name=state, is_finished=lambda: state != "RUNNING"),
                           value=value, last_step=last_step,
                           user_attrs={"dlbench.error": error} if error else {},
                           datetime_complete=None if state == "RUNNING" else (complete or datetime.datetime.now()))


def test_tune_prints_a_line_per_finished_trial():
    import datetime

    from dlbench.cli.tune import TuneProgress

    con, buf = _log_console()
    old = _trial(0, "COMPLETE", 0.7, complete=datetime.datetime(2000, 1, 1))  # a resumed study's trial
    trials = [old]
    ctx = SimpleNamespace(trials=lambda states=None: list(trials), budget=5, metric="val.accuracy",
                          direction="maximize", spec=SimpleNamespace(study="s", config="c.yaml", space="sp.yaml",
                                                                     trials=5, n_jobs=1))
    prog = TuneProgress(5, con=con)
    assert prog.lines
    prog(ctx)  # run_study: once the study is open, before any trial
    trials += [_trial(1, "COMPLETE", 0.9), _trial(2, "RUNNING")]
    prog(ctx)
    trials[2] = _trial(2, "PRUNED", last_step=40)
    trials.append(_trial(3, "FAIL", error="Diverged: training loss became nan at step 7\nmore"))
    prog(ctx)
    prog(ctx)  # nothing new: no line
    prog.stop()
    lines = buf.getvalue().splitlines()
    assert lines[0] == ("study s: 5 trials, selecting by val.accuracy (maximize), 1 worker(s) here, "
                        "1 finished before this start; a line per finished trial")
    assert len(lines) == 4
    assert lines[1].startswith("trial 1 val.accuracy 0.9000  best 0.9000 (trial 1)  2/5 done  elapsed ")
    assert lines[2].startswith("trial 2 pruned at step 40  best 0.9000 (trial 1)  4/5 done")
    assert lines[3].startswith("trial 3 failed: Diverged: training loss became nan at step 7  best 0.9000")
