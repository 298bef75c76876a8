"""`dlbench tune CONFIG --space SPACE ...` and `dlbench tune show STUDY_DIR`.

torch (and optuna) load only when a command runs: the library is imported inside each command function.
"""
from __future__ import annotations

import datetime
import time
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dlbench.cli.console import err
from dlbench.cli.options import override_option
from dlbench.cli.parsing import RunByDefault
from dlbench.progress import emit, fmt_duration, line_mode

out = Console(soft_wrap=True, highlight=False)  # summary lines stay whole lines (grep-able)

# `dlbench tune CONFIG ...` runs a study; `show` is the one named subcommand
app = typer.Typer(cls=RunByDefault, no_args_is_help=True, add_completion=False,
                  help="Hyperparameter search with Optuna: dlbench tune CONFIG --space SPACE [--trials N] ...")


class TuneProgress:
    """Trials done of the study's budget, with the best validation value so far (all workers, all machines).

    On a terminal a live bar; anywhere else (CI, Slurm, `> log`) one plain line per finished trial: its number,
    state and value, the best so far, trials done and elapsed time."""

    def __init__(self, total: int, metric: str | None = None, con: Console | None = None):
        self.total = total
        self.con = con or err
        self.lines = line_mode(self.con)
        self._p = None if self.lines else Progress(
            TextColumn("[bold]trials"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(), console=self.con, auto_refresh=False)
        self._task = None
        self._started = False
        self._seen: set[int] = set()
        self._t0 = time.monotonic()
        self._since = datetime.datetime.now()  # Optuna's trial times are naive local times too

    def __call__(self, ctx) -> None:
        from dlbench.tune.study import budget_used

        trials = ctx.trials()
        done = [t for t in trials if t.state.is_finished()]
        counted = budget_used(ctx, done)
        budget = min(self.total, ctx.budget)
        best = _best(done, ctx.direction)
        if self.lines:
            self._print_finished(ctx, done, counted, budget)
            return
        if self._task is None:
            self._p.start()
            self._task = self._p.add_task("trials", total=budget, info="")
        n = lambda s: sum(1 for t in trials if t.state.name == s)  # noqa: E731
        info = (f"best {ctx.metric} {best.value:.4f}" if best is not None else "no trial completed yet") + \
            f"  pruned {n('PRUNED')}  running {n('RUNNING')}" + (f"  failed {n('FAIL')}" if n("FAIL") else "")
        self._p.update(self._task, completed=counted, info=info)
        self._p.refresh()

    def _print_finished(self, ctx, done, counted: int, budget: int) -> None:
        if not self._started:  # run_study calls once before the first trial of this start
            self._started = True
            # a resumed or joined study: trials finished before this command started are not news
            self._seen = {t.number for t in done if t.datetime_complete is not None and t.datetime_complete < self._since}
            before = f", {len(self._seen)} finished before this start" if self._seen else ""
            emit(self.con, f"study {ctx.spec.study}: {budget} trials, selecting by {ctx.metric} ({ctx.direction}), "
                           f"{ctx.spec.n_jobs} worker(s) here{before}; a line per finished trial")
        for t in sorted((t for t in done if t.number not in self._seen), key=lambda t: t.number):
            self._seen.add(t.number)
            before = [u for u in done if u.number in self._seen]  # best so far includes this trial
            best = _best(before, ctx.direction)
            if t.state.name == "COMPLETE":
                what = f"{ctx.metric} {t.value:.4f}"
            elif t.state.name == "PRUNED":
                last = t.last_step
                what = f"pruned at step {last}" if last is not None else "pruned"
            else:
                err_text = t.user_attrs.get("dlbench.error")
                what = "failed" + (f": {err_text.splitlines()[0][:120]}" if err_text else " (worker lost; retried)")
            best_text = f"best {best.value:.4f} (trial {best.number})" if best is not None else "best -"
            emit(self.con, f"trial {t.number} {what}  {best_text}  {counted}/{budget} done  "
                           f"elapsed {fmt_duration(time.monotonic() - self._t0)}")

    def stop(self):
        if self._task is not None:  # a bar never started would still print a blank line
            self._p.stop()


def _best(done, direction: str):
    complete = [t for t in done if t.state.name == "COMPLETE" and t.value is not None]
    if not complete:
        return None
    pick = max if direction == "maximize" else min
    return pick(complete, key=lambda t: t.value)


@app.command("run")
def run(config: str = typer.Argument(..., help="The base config (YAML file or shipped name)"),
        space: str = typer.Option(..., "--space", help="Search-space YAML (see configs/spaces/)"),
        trials: int = typer.Option(20, "--trials", help="Trials in the whole study (all workers together)"),
        pruner: Optional[str] = typer.Option(None, "--pruner", help="median, asha, hyperband or none (default: the space's)"),
        sampler: Optional[str] = typer.Option(None, "--sampler", help="tpe, random, grid or cmaes (default: the space's)"),
        seed: Optional[int] = typer.Option(None, "--seed", help="Sampler seed (default: the space's)"),
        n_jobs: int = typer.Option(1, "--n-jobs", help="Parallel worker processes on this machine"),
        storage: Optional[str] = typer.Option(None, "--storage", help="SQLAlchemy URL; default sqlite in the study directory"),
        study: Optional[str] = typer.Option(None, "--study", help="Study name (default: the config's name)"),
        studies_dir: str = typer.Option("studies", "--studies-dir", help="Where study directories go"),
        resume: bool = typer.Option(False, "--resume", help="Continue an existing study after a crash"),
        override: Optional[list[str]] = override_option("dotted.key=value for the base config (repeatable)"),
        threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads per trial"),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar")):
    """Search hyperparameters; each trial is a training run; the selected model is tested once at the end.

    Run the same command on several machines with one --storage URL to share a study."""
    from dlbench.tune.runner import run_study
    from dlbench.tune.study import TuneSpec

    spec = TuneSpec(config=config, space=space, trials=trials, study=study, studies_dir=studies_dir,
                    storage=storage, overrides=list(override or []), n_jobs=n_jobs, resume=resume,
                    sampler=sampler, pruner=pruner, seed=seed, threads=threads)
    from dlbench.training.loop import Interrupted

    progress = None if quiet else TuneProgress(trials)
    try:
        res = run_study(spec, on_trial=progress)
    except Interrupted as e:  # not the core CLI's message: that one is about `dlbench train --resume`
        err.print(str(e))
        raise typer.Exit(130)
    finally:
        if progress:
            progress.stop()
    _print_summary(res)


@app.command("show")
def show(study_dir: str = typer.Argument(..., help="A study directory, e.g. studies/cnn-sweep"),
         storage: Optional[str] = typer.Option(None, "--storage", help="Storage URL, if study.json cannot give it")):
    """Trials table, best config, plots and the final validation/test numbers of a study."""
    from dlbench.tune.runner import show_study

    res = show_study(study_dir, storage)
    t = Table(title=f"study {res['study']}: {res['metric']} ({res['direction']})")
    for c in ("trial", "state", "value", "steps", "params"):
        t.add_column(c, justify="right" if c in ("trial", "value", "steps") else "left")
    for r in res["trials"]:
        t.add_row(str(r["number"]), r["state"], "" if r["value"] is None else f"{r['value']:.4f}",
                  str(r["steps"] or ""), ", ".join(f"{k}={_fmt(v)}" for k, v in r["params"].items()))
    out.print(t)
    _print_summary(res)


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _print_summary(res: dict) -> None:
    counts = ", ".join(f"{n} {k.lower()}" for k, n in sorted(res["counts"].items()))
    out.print(f"[bold]study {res['study']}[/bold] ({res['study_dir']}): {counts}")
    if res["best"]:
        b = res["best"]
        out.print(f"best trial {b['trial']}: {res['metric']} = {b['value']:.4f}  "
                  + ", ".join(f"{k}={_fmt(v)}" for k, v in b["params"].items()))
    f = res.get("final")
    if f:
        key = f["metric"].removeprefix("val.")
        out.print(f"[bold]final model[/bold] (trial {f['trial']}, {f['how']}): validation {key} {f['val'].get(key, float('nan')):.4f}, "
                  f"test {key} {f['test'].get(key, float('nan')):.4f} (test evaluated once)")
    else:
        out.print("test not evaluated yet: the last worker of the study evaluates the selected model once")
    for name, where in res["files"].items():
        out.print(f"  {name}: {where}")
