"""`dlbench train | evaluate | predict`: thin layers over dlbench.api and dlbench.prediction.

torch loads only when a command runs: the library is imported inside each command function.
"""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from dlbench.cli.console import err, out
from dlbench.cli.options import override_option
from dlbench.cli.parsing import click_exceptions
from dlbench.errors import UserError

MissingParameter = click_exceptions.MissingParameter


def train(ctx: typer.Context,
          config: Optional[str] = typer.Argument(None, help="A config YAML, or the name of a shipped config "
                                                 "(left out with --resume: the run's config.yaml is used)"),
          override: Optional[list[str]] = override_option(),
          run_dir: Optional[str] = typer.Option(None, "--run-dir", help="Where the run goes (must not exist, unless --resume)"),
          init_from: Optional[str] = typer.Option(None, "--init-from", metavar="RUN", help="Fine-tune: start from this "
                                                  "finished run's weights (same model section; train.init_preprocessing: "
                                                  "keep | refit says whose preprocessing)"),
          resume: bool = typer.Option(False, "--resume", help="Continue the run in --run-dir from its newest valid "
                                      "checkpoint, with its own config.yaml (-o may change train.steps/epochs)"),
          quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar"),
          nproc_per_node: Optional[int] = typer.Option(None, "--nproc-per-node", help="Processes per node (torchrun)"),
          nnodes: Optional[str] = typer.Option(None, "--nnodes", help="Number of nodes (torchrun)"),
          node_rank: Optional[int] = typer.Option(None, "--node-rank", help="This node's rank (torchrun)"),
          rdzv_endpoint: Optional[str] = typer.Option(None, "--rdzv-endpoint", help="host:port of the c10d rendezvous"),
          rdzv_id: Optional[str] = typer.Option(None, "--rdzv-id", help="Job id shared by all nodes"),
          dist_timeout: float = typer.Option(300.0, "--dist-timeout", help="Seconds before a hung or failed rank ends the job")):
    """Train a model; validate while training; test once at the end.

    Continue an interrupted run with `dlbench train --run-dir RUN --resume` (or `dlbench train --resume RUN`)."""
    overrides = list(override or [])
    if init_from is not None:  # the same as -o train.init_from=RUN: recorded in the run's config.yaml
        overrides.append(f"train.init_from={init_from}")
    if resume and config is not None and run_dir in (None, config) and Path(config, "config.yaml").is_file():
        config, run_dir = None, config  # `dlbench train --resume RUN`: the run directory in CONFIG's place
    if config is None and not resume:
        param = next(p for p in ctx.command.params if p.name == "config")
        raise MissingParameter(ctx=ctx, param=param)
    if nproc_per_node or nnodes:
        from dlbench.launch.torchrun import run_distributed

        if resume and run_dir is not None and Path(run_dir, "config.yaml").is_file():
            from dlbench.api import resume_config

            resume_config(run_dir, config, overrides)  # checked once here, before any rank starts
            config = str(Path(run_dir, "config.yaml"))  # every rank continues with the run's own config
        elif config is None:
            raise UserError("--resume needs --run-dir naming the run to continue")
        done = run_distributed(config, overrides, run_dir, resume, quiet, nproc_per_node or 1, nnodes or "1",
                               node_rank, rdzv_endpoint, rdzv_id, dist_timeout)
        result = done.run_dir / "result.json"
        if done.code == 0 and result.is_file():  # the node that ran rank 0: the same summary as one process
            _summary(done.run_dir, json.loads(result.read_text()))
        elif done.code == 0:
            out.print(f"done; rank 0 ran on another node and wrote {result} there")
        sys.exit(done.code)
    from dlbench.api import train as train_fn
    from dlbench.training.loop import Interrupted

    try:
        res = train_fn(config, overrides, run_dir=run_dir, resume=resume, quiet=quiet)
    except Interrupted as e:
        path = getattr(e, "run_dir", None) or run_dir
        if path is not None:
            e.resume_command = f"dlbench train --run-dir {shlex.quote(str(path))} --resume"
        raise
    _summary(res.run_dir, res.result)


def _summary(run_dir: Path, r: dict) -> None:
    """The end of every training, one process or many: val and test metrics, the kept weights, the diagnosis."""
    t = Table(title=f"{r['name']}  ({r['model']}, {r['task']})  ->  {run_dir}")
    t.add_column("metric")
    t.add_column("validation", justify="right")
    t.add_column("test", justify="right")
    test = r.get("test") or {}
    for k, v in r["val"].items():
        if isinstance(v, (int, float)):
            tv = test.get(k)
            t.add_row(k, f"{v:.4f}", f"{tv:.4f}" if isinstance(tv, (int, float)) else "")
    out.print(t)
    if isinstance(r["val"].get("baselines"), dict):
        _baselines([("validation", r["val"]), ("test", r.get("test") or {})], out)
    kept = _kept(run_dir, r)
    if kept:
        out.print(kept)
    d = r["diagnosis"]
    out.print(f"[bold]diagnosis:[/bold] {d['verdict']} - {d['reason']}")
    tm = r["timing"]
    tr = r["training"]
    world = tr.get("world_size") or 1
    on = f" on {world} processes" if world > 1 else ""
    out.print(f"steps {tr['steps']}{on}, train {tm['train_seconds']:.1f}s "
              f"(eval {tm['eval_seconds']:.1f}s), {tr['samples_per_second']:.0f} samples/s")


def _baselines(splits: list[tuple[str, dict]], console) -> None:
    """The model next to the baselines scored on the same windows (forecasting: naive and seasonal naive)."""
    base = splits[0][1]["baselines"]
    metrics = [k for k, v in next(iter(base.values())).items() if isinstance(v, float)]
    t = Table(title="model and baselines on the same windows")
    for c in ("forecast", "split", *metrics):
        t.add_column(c, justify="left" if c in ("forecast", "split") else "right")
    for split, d in splits:
        for name in ("model", *base):
            m = d if name == "model" else (d.get("baselines") or {}).get(name) or {}
            if m:
                t.add_row(name.replace("_", " "), split, *(f"{m[k]:.4g}" if isinstance(m.get(k), float) else ""
                                                           for k in metrics))
    console.print(t)


def _kept(run_dir: Path, r: dict) -> str | None:
    """Which step's weights the model is: "kept the weights of step 600 (best val.accuracy 1, val.loss 0.0004)"."""
    best = r.get("best") or {}
    step, metric, value = best.get("step"), best.get("metric"), best.get("value")
    if step is None:
        return None
    parts = [f"best {metric} {value:.4g}"] if metric and isinstance(value, (int, float)) else []
    at = {}  # the kept step's evaluation, for its loss (the tie-breaker of an equal metric)
    try:
        for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines():
            rec = json.loads(line)
            if rec.get("kind") == "eval" and rec.get("step") == step:
                at = rec
    except (OSError, ValueError):
        pass
    loss = at.get("val.loss")
    if isinstance(loss, (int, float)) and metric != "val.loss":
        parts.append(f"val.loss {loss:.4g}")
    steps = r.get("training", {}).get("steps")
    last = f" of {steps}" if isinstance(steps, int) and steps != step else ""
    return f"kept the weights of step {step}{last}" + (f" ({', '.join(parts)})" if parts else "")


def evaluate(run_dir: str = typer.Argument(..., help="A finished run directory"),
             split: str = typer.Option("val", "--split", help="val (default), train, or test: the test split is "
                                       "for the final, once-only measurement"),
             device: Optional[str] = typer.Option(None, "--device"),
             errors: int = typer.Option(0, "--errors", min=0, metavar="N", help=(
                 "Also list the N worst mistakes on the split, each with its input: 'row K' of a CSV file (the "
                 "K-th data row, 1-based, header not counted), 'x[i]' of an NPZ file (0-based), an image's "
                 "path, a text or sentence; classification ranks misclassified samples by the probability given "
                 "to the true class, regression by absolute error, translation by sentence chrF")),
             as_json: bool = typer.Option(False, "--json", help="Only the JSON"),
             data: Optional[str] = typer.Option(None, "--data", metavar="PATH", help=(
                 "Score every row of this labelled file or folder of the run's data kind (same target and "
                 "columns), with the run's own preprocessing, instead of a split"))):
    """Evaluate a run's model on a split: metrics, confusion matrix, per-class table, worst mistakes, and JSON."""
    from dlbench.api import evaluate as evaluate_fn

    m = evaluate_fn(run_dir, split, device, errors=errors, data=data)
    split = data or split
    if not as_json:
        _metrics_tables(m, split)
        if isinstance(m.get("baselines"), dict):
            _baselines([(split, m)], err)
        if errors:
            _errors_table(m.get("errors") or [], m.get("errors_ranked_by", ""), split)
    print(json.dumps(m, indent=None if not as_json else 1))


ERROR_FORMATS = {"p_true": "{:.3f}", "confidence": "{:.3f}", "chrf": "{:.1f}"}


def _errors_table(records: list[dict], ranked_by: str, split: str) -> None:
    if not records:
        err.print(f"no mistakes on the {split} split")
        return
    cols = list(dict.fromkeys(k for r in records for k in r))
    if all(r.get("source") == r.get("input") for r in records):  # a sentence named by itself: show it once
        cols.remove("input")
    t = Table(title=f"{len(records)} worst mistakes on {split}")
    for c in cols:
        t.add_column(c, justify="right" if c in ("rank", "p_true", "confidence", "chrf", "abs_error") else "left",
                     overflow="fold")
    for r in records:
        t.add_row(*(_cell(r.get(c), ERROR_FORMATS.get(c)) for c in cols))
    err.print(t)
    err.print(f"ranked: {ranked_by}")


def _cell(v, form: str | None) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return (form or "{:.4g}").format(v)
    if isinstance(v, list):
        return ", ".join(_cell(x, form) for x in v)
    return str(v)


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
        b = m.get("binary")
        cells = [["TN", "FP"], ["FN", "TP"]] if b else None  # label 1 (the second class) is positive
        for i, (n, row) in enumerate(zip(names, m["confusion_matrix"])):
            cm.add_row(n, *(f"{cells[i][j]} {v}" if cells else str(v) for j, v in enumerate(row)))
        err.print(cm)
        if b:
            err.print(f"positive class: '{b['positive']}' ({b['positive_is']}): TP {b['tp']}, FN {b['fn']}, "
                      f"FP {b['fp']}, TN {b['tn']}")
        pc = Table(title="per class")
        for c in ("class", "precision", "recall", "f1", "support"):
            pc.add_column(c, justify="right")
        for n, s in m["per_class"].items():
            pc.add_row(n, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}", str(s["support"]))
        err.print(pc)


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


def compare(run_a: str = typer.Argument(..., help="A finished run directory (A, e.g. the model serving now)"),
            run_b: str = typer.Argument(..., help="Another run of the same task and classes (B, the candidate)"),
            data: str = typer.Option(..., "--data", metavar="PATH", help="Labelled file or folder both are scored on"),
            device: Optional[str] = typer.Option(None, "--device"),
            resamples: int = typer.Option(2000, "--resamples", min=100, help="Paired bootstrap resamples"),
            as_json: bool = typer.Option(False, "--json", help="Only the JSON")):
    """Score two runs on the same rows of new data and say whether the difference is significant (McNemar's exact
    test for classifiers, paired bootstrap for regressors), to decide whether to promote B."""
    from dlbench.compare import compare as compare_fn

    r = compare_fn(run_a, run_b, data, device, resamples=resamples)
    if not as_json:
        t = Table(title=f"{r['rows']} rows of {data}")
        t.add_column("metric")
        t.add_column(f"A {run_a}", justify="right")
        t.add_column(f"B {run_b}", justify="right")
        for k, v in r["a"].items():
            if isinstance(v, (int, float)) and k in r["b"]:
                t.add_row(k, f"{v:.4f}", f"{r['b'][k]:.4f}")
        err.print(t)
        test = r["test"]
        p = f", p = {test['p_value']:.4g} ({test['method']}; only A right {test['only_a_right']}, only B right " \
            f"{test['only_b_right']})" if "p_value" in test else f" ({test['method']})"
        err.print(f"{test['difference_of']}: {test['difference']:+.4g}, 95 % CI [{test['ci_low']:+.4g}, "
                  f"{test['ci_high']:+.4g}]{p}")
        err.print(f"[bold]verdict:[/bold] {r['verdict']}")
    print(json.dumps(r, indent=None if not as_json else 1))
