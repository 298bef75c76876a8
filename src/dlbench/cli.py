"""The `dlbench` command: a thin table of subcommands over the library functions."""
from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from dlbench.errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train, validate, benchmark, tune and deploy deep-learning models on your own hardware.")
configs_app = typer.Typer(no_args_is_help=False, help="List, show and copy the shipped configs.")
app.add_typer(configs_app, name="configs")
out = Console()
err = Console(stderr=True)


def _overrides(values: Optional[list[str]]) -> list[str]:
    return list(values or [])


OVERRIDE = typer.Option(None, "--override", "-o", help="dotted.key=value (repeatable), e.g. -o optim.lr=3e-3")


@app.command()
def train(config: str = typer.Argument(..., help="A config YAML, or the name of a shipped config"),
          override: Optional[list[str]] = OVERRIDE,
          run_dir: Optional[str] = typer.Option(None, "--run-dir", help="Where the run goes (must not exist, unless --resume)"),
          resume: bool = typer.Option(False, "--resume", help="Continue the run in --run-dir from its newest valid checkpoint"),
          quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar"),
          nproc_per_node: Optional[int] = typer.Option(None, "--nproc-per-node", help="Processes per node (torchrun)"),
          nnodes: Optional[str] = typer.Option(None, "--nnodes", help="Number of nodes (torchrun)"),
          node_rank: Optional[int] = typer.Option(None, "--node-rank", help="This node's rank (torchrun)"),
          rdzv_endpoint: Optional[str] = typer.Option(None, "--rdzv-endpoint", help="host:port of the c10d rendezvous"),
          rdzv_id: Optional[str] = typer.Option(None, "--rdzv-id", help="Job id shared by all nodes"),
          dist_timeout: float = typer.Option(300.0, "--dist-timeout", help="Seconds before a hung or failed rank ends the job")):
    """Train a model; validate while training; test once at the end."""
    if nproc_per_node or nnodes:
        from dlbench.training.launch import launch_distributed

        code = launch_distributed(config, _overrides(override), run_dir, resume, quiet, nproc_per_node or 1,
                                  nnodes or "1", node_rank, rdzv_endpoint, rdzv_id, dist_timeout)
        sys.exit(code)  # typer.Exit's code is swallowed under standalone_mode=False
    from dlbench.api import train as train_fn

    res = train_fn(config, _overrides(override), run_dir=run_dir, resume=resume, quiet=quiet)
    _summary(res.run_dir, res.result)


def _summary(run_dir: Path, r: dict) -> None:
    t = Table(title=f"{r['name']}  ({r['model']}, {r['task']})  ->  {run_dir}")
    t.add_column("metric")
    t.add_column("validation", justify="right")
    t.add_column("test", justify="right")
    for k, v in r["val"].items():
        if isinstance(v, (int, float)):
            tv = r["test"].get(k)
            t.add_row(k, f"{v:.4f}", f"{tv:.4f}" if isinstance(tv, (int, float)) else "")
    out.print(t)
    d = r["diagnosis"]
    out.print(f"[bold]diagnosis:[/bold] {d['verdict']} - {d['reason']}")
    tm = r["timing"]
    out.print(f"steps {r['training']['steps']}, train {tm['train_seconds']:.1f}s "
              f"(eval {tm['eval_seconds']:.1f}s), {r['training']['samples_per_second']:.0f} samples/s")


@app.command()
def evaluate(run_dir: str = typer.Argument(..., help="A finished run directory"),
             split: str = typer.Option("val", "--split", help="val (default), train, or test: the test split is "
                                       "for the final, once-only measurement"),
             device: Optional[str] = typer.Option(None, "--device"),
             as_json: bool = typer.Option(False, "--json", help="Only the JSON")):
    """Evaluate a run's model on a split: metrics, confusion matrix, per-class table, and JSON."""
    from dlbench.api import evaluate as evaluate_fn

    m = evaluate_fn(run_dir, split, device)
    if not as_json:
        _metrics_tables(m, split)
    print(json.dumps(m, indent=None if not as_json else 1))


def _metrics_tables(m: dict, split: str) -> None:
    t = Table(title=f"{split} metrics")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k, v in m.items():
        if isinstance(v, (int, float)):
            t.add_row(k, f"{v:.4f}")
    err.print(t)
    if "confusion_matrix" in m:
        names = list(m["per_class"])
        cm = Table(title="confusion matrix (rows: true, columns: predicted)")
        cm.add_column("")
        for n in names:
            cm.add_column(n, justify="right")
        for n, row in zip(names, m["confusion_matrix"]):
            cm.add_row(n, *map(str, row))
        err.print(cm)
        pc = Table(title="per class")
        for c in ("class", "precision", "recall", "f1", "support"):
            pc.add_column(c, justify="right")
        for n, s in m["per_class"].items():
            pc.add_row(n, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}", str(s["support"]))
        err.print(pc)


@app.command()
def predict(run_dir: str = typer.Argument(..., help="A finished run directory"),
            inputs: str = typer.Argument(..., help="CSV / NPZ / image file or folder; '-' reads CSV from stdin"),
            output: Optional[str] = typer.Option(None, "--output", help=".csv, .npz or .json (default: CSV to stdout)"),
            device: Optional[str] = typer.Option(None, "--device"),
            beam: Optional[int] = typer.Option(None, "--beam", min=1, help="Beam size for translation models")):
    """Predict with a trained model: labels with per-class probabilities, or regression values."""
    from dlbench.prediction import predict as predict_fn

    res = predict_fn(run_dir, inputs, output, device, beam=beam)
    if output is None:
        sys.stdout.write(res["text"])
    else:
        err.print(f"wrote {len(next(iter(res['predictions'].values())))} predictions to {output}")


@configs_app.callback(invoke_without_command=True)
def configs_list(ctx: typer.Context):
    """List the shipped configs with one line each."""
    if ctx.invoked_subcommand is not None:
        return
    from dlbench.config.load import SHIPPED_DIR

    t = Table(title=f"shipped configs ({SHIPPED_DIR})")
    t.add_column("name")
    t.add_column("description")
    for f in sorted(SHIPPED_DIR.glob("*.yaml")):
        t.add_row(f.stem, _describe(f))
    out.print(t)


def _describe(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("#") and not line.startswith("# dlbench") and not line.startswith("#!"):
            text = line.lstrip("# ").strip()
            if text and not text.startswith("$") and not text.lower().startswith("run:"):
                return text
    return ""


@configs_app.command("show")
def configs_show(name: str, resolved: bool = typer.Option(False, "--resolved", help="All keys, with defaults")):
    """Print a shipped config (or, --resolved, the full config with every default)."""
    from dlbench.config.load import dump_config, load_config, resolve_config_path

    path = resolve_config_path(name)
    print(dump_config(load_config(path)) if resolved else path.read_text(), end="")


@configs_app.command("keys")
def configs_keys(section: Optional[str] = typer.Argument(None, help="data, model, optim or train")):
    """Every config key with its type, default and meaning."""
    from dlbench.config.reference import reference

    if section not in (None, "data", "model", "optim", "train"):
        raise UserError(f"unknown section '{section}'", "use data, model, optim or train")
    t = Table(title="config keys (YAML holds only what differs from these defaults)")
    for c in ("key", "type", "default", "meaning"):
        t.add_column(c, overflow="fold")
    for row in reference(section):
        t.add_row(*row)
    out.print(t)


@configs_app.command("copy")
def configs_copy(name: str, dest: str = typer.Argument(..., help="Where to write the copy")):
    """Copy a shipped config for editing (never overwrites)."""
    from dlbench.config.load import resolve_config_path

    src = resolve_config_path(name)
    d = Path(dest)
    if d.is_dir():
        d = d / src.name
    if d.exists():
        raise UserError(f"{d} already exists", "choose another destination; nothing is overwritten")
    shutil.copyfile(src, d)
    err.print(f"copied {src.name} to {d}")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from dlbench.plugins import register_commands, rewrite_argv

    register_commands(app)
    sys.argv = rewrite_argv(sys.argv)
    try:
        rc = app(standalone_mode=False)  # typer.Exit(n) comes back as the return value here
        if isinstance(rc, int) and not isinstance(rc, bool) and rc:
            sys.exit(rc)
    except UserError as e:
        err.print(f"[red]error:[/red] {e.line()}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (typer.Exit, SystemExit) as e:
        code = getattr(e, "exit_code", getattr(e, "code", 0))
        sys.exit(code or 0)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as e:  # click's usage errors and our training outcomes
        import click

        from dlbench.training.loop import Diverged, Interrupted

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(2)
        if isinstance(e, click.exceptions.Abort):
            sys.exit(130)
        if isinstance(e, Interrupted):
            err.print(f"{e}; continue with: dlbench train ... --run-dir DIR --resume")
            sys.exit(130)
        if isinstance(e, Diverged):
            err.print(f"[red]error:[/red] {e}")
            sys.exit(1)
        raise


if __name__ == "__main__":
    main()
