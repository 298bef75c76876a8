"""`dlbench tune CONFIG --space SPACE ...` and `dlbench tune show STUDY_DIR`.

torch (and optuna) load only when a command runs: the library is imported inside each command function.
"""
from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dlbench.cli.console import err
from dlbench.cli.options import override_option
from dlbench.cli.parsing import RunByDefault

out = Console(soft_wrap=True, highlight=False)  # summary lines stay whole lines (grep-able)

# `dlbench tune CONFIG ...` runs a study; `show` is the one named subcommand
app = typer.Typer(cls=RunByDefault, no_args_is_help=True, add_completion=False,
                  help="Hyperparameter search with Optuna: dlbench tune CONFIG --space SPACE [--trials N] ...")


class TuneProgress:
    """Trials done of the study's budget, with the best validation value so far (all workers, all machines)."""

    def __init__(self, total: int, metric: str | None = None):
        self.total = total
        self._p = Progress(TextColumn("[bold]trials"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                           TimeElapsedColumn(), console=err, auto_refresh=False)
        self._task = None

    def __call__(self, ctx) -> None:
        from dlbench.tune.study import budget_used

        if self._task is None:
            self._p.start()
            self._task = self._p.add_task("trials", total=min(self.total, ctx.budget), info="")
        trials = ctx.trials()
        done = [t for t in trials if t.state.is_finished()]
        counted = budget_used(ctx, done)
        best = next(iter(sorted((t.value for t in done if t.state.name == "COMPLETE"),
                                reverse=ctx.direction == "maximize")), None)
        n = lambda s: sum(1 for t in trials if t.state.name == s)  # noqa: E731
        info = (f"best {ctx.metric} {best:.4f}" if best is not None else "no trial completed yet") + \
            f"  pruned {n('PRUNED')}  running {n('RUNNING')}" + (f"  failed {n('FAIL')}" if n("FAIL") else "")
        self._p.update(self._task, completed=counted, info=info)
        self._p.refresh()

    def stop(self):
        if self._task is not None:  # a bar never started would still print a blank line
            self._p.stop()


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
