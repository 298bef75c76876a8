"""`dlbench bench infer RUN_DIR`: the command (attached to the bench group in bench/cli.py).

Exit code 0 when LoadGen's verdict is VALID (accuracy mode: the score matched evaluate's), 1 when
INVALID, 2 for bad input (one line, dlbench.errors.UserError).
"""
from __future__ import annotations

import json
import sys
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

out = Console()


def infer(run_dir: str = typer.Argument(..., help="A finished run directory (runs/NAME)"),
          scenario: str = typer.Option("offline", "--scenario", "-s",
                                       help="single-stream (p90 latency), multi-stream (p99 of 8-sample queries), "
                                            "server (max QPS within the p99 bound), offline (samples/s)"),
          url: Optional[str] = typer.Option(None, "--url", help="A running `dlbench serve` (default: the model in-process)"),
          api_key_file: Optional[str] = typer.Option(None, "--api-key-file", help="File holding the server's API key"),
          model_name: Optional[str] = typer.Option(None, "--model-name", help="Served model name (default: the run's name)"),
          accuracy: bool = typer.Option(False, "--accuracy", help="Accuracy mode: score LoadGen's logged outputs"),
          full: bool = typer.Option(False, "--full", help="LoadGen's full-length settings (600 s per test) for real figures"),
          duration: float = typer.Option(1.0, "--duration", help="Seconds per LoadGen test of a short run"),
          target_qps: Optional[float] = typer.Option(None, "--target-qps",
                                                     help="Server: where the QPS search starts; also the rate to size replicas for"),
          latency_bound_ms: float = typer.Option(10.0, "--latency-bound-ms", help="Server: the p99 latency bound"),
          batch_size: int = typer.Option(256, "--batch-size", help="In-process: most samples per model call"),
          http_batch: int = typer.Option(256, "--http-batch", help="HTTP Offline: samples per request"),
          concurrency: Optional[int] = typer.Option(None, "--concurrency",
                                                    help="HTTP: requests in flight (default 4 Offline, 32 Server)"),
          http_encoding: str = typer.Option("auto", "--http-encoding",
                                            help="HTTP tensors: binary (if the server offers it), json, auto"),
          search_steps: int = typer.Option(6, "--search-steps", help="Server: LoadGen tests in the QPS search"),
          device: Optional[str] = typer.Option(None, "--device", help="In-process device: cpu, cuda (default: the run's)"),
          threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads"),
          system: str = typer.Option("local", "--system", help="Name of this system in results/ and comparisons"),
          out_dir: str = typer.Option("results", "--out", help="Results folder"),
          db: Optional[str] = typer.Option(None, "--db", help="Results database (default: OUT/dlbench.sqlite)"),
          no_advice: bool = typer.Option(False, "--no-advice", help="Skip the sizing sweep"),
          as_json: bool = typer.Option(False, "--json", help="Print the result as JSON")):
    """Inference latency / throughput under MLPerf LoadGen, in-process or over HTTP, with sizing advice."""
    from dlbench.bench.infer.runner import InferOptions, run_infer

    opts = InferOptions(scenario=scenario, url=url, api_key_file=api_key_file, model_name=model_name,
                        accuracy=accuracy, full=full, duration_s=duration, target_qps=target_qps,
                        latency_bound_ms=latency_bound_ms, batch_size=batch_size, http_batch=http_batch,
                        concurrency=concurrency, http_encoding=http_encoding, search_steps=search_steps,
                        device=device, threads=threads,
                        system=system, out=out_dir, db=db, advice=not no_advice)
    doc = run_infer(run_dir, opts)
    if as_json:
        print(json.dumps(doc, indent=1, default=str))
    else:
        print_result(doc)
    if not doc["valid"]:
        sys.exit(1)  # not typer.Exit: see bench/cli.py's docstring


def print_result(d: dict) -> None:
    ms = lambda v: "-" if v is None else f"{v:.3f} ms"  # noqa: E731
    t = Table(title=f"{d['model']} {d['scenario']} ({d['mode']}) on {d['system']}: {d['backend_detail']}")
    t.add_column("measure")
    t.add_column("value", justify="right")
    if d["mode"] == "performance":
        t.add_row(f"[bold]{d['metric']}[/bold]", "-" if d["value"] is None else f"[bold]{d['value']:.4g} {d['unit']}[/bold]")
    if d["samples_per_s"] and d["unit"] != "samples/s":
        t.add_row("samples/s" + (" (1 / mean latency)" if d["scenario"] in ("single-stream", "multi-stream") else ""),
                  f"{d['samples_per_s']:.0f}")
    lat = d["latency_ms"]
    for k in ("mean", "p50", "p90", "p99"):
        if k in lat and not (k == "p90" and d["scenario"] == "single-stream"):  # p90 is the headline there
            t.add_row(f"{k} latency", ms(lat[k]))
    if d["latency_bound_ms"]:
        t.add_row("p99 bound", ms(d["latency_bound_ms"]))
    t.add_row("samples per call (mean)" if d["backend"] != "http" else "samples per request (mean)",
              f"{d['mean_batch']:.1f}")
    if d.get("server_mean_batch"):
        t.add_row("server batch (mean rows per predict)", f"{d['server_mean_batch']:.1f}")
    out.print(t)
    for s in d.get("search", []):
        batch = s["server_mean_batch"] or s["mean_batch"]
        out.print(f"  search: {s['target_qps']:.4g} QPS -> {'VALID' if s['valid'] else 'INVALID'}"
                  f" (p99 {ms(s['p99_ms'])}, mean batch {batch:.1f})")
    acc = d.get("accuracy")
    if acc:
        shown = ", ".join(f"{k} {v:.6g}" for k, v in acc["metrics"].items() if isinstance(v, float))
        out.print(f"accuracy of {acc['samples_logged']}/{acc['samples']} logged test samples: {shown}")
        ev = ", ".join(f"{k} {v:.6g}" for k, v in acc["evaluate"].items())
        same = {True: "[green]equal[/green]", False: "[red]DIFFERENT[/red]", None: "not comparable"}[acc["matches_evaluate"]]
        out.print(f"dlbench evaluate (test split): {ev} -> {same}")
    style = "green" if d["valid"] else "red"
    why = "" if d["valid"] else ": " + "; ".join(d["reasons"] or ["see the summary"])
    label = "LoadGen verdict" if d["mode"] == "performance" else "accuracy check"
    out.print(f"{label}: [{style}]{d['verdict']}[/{style}]{why}")
    for r in d.get("recommendations", []):
        out.print(f"  LoadGen recommends: {r}")
    if d.get("note"):
        out.print(f"[yellow]{d['note']}[/yellow]")
    for m in (d.get("advice") or {}).get("messages", []):
        out.print(f"[cyan]sizing[/cyan] {m}")
    out.print(f"LoadGen logs: {d['results_dir']}/  database: {d['db']} (row {d['id']})")
