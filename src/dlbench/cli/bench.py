"""`dlbench bench list|run|check|compare|infer`: time-to-train under MLPerf Training rules, and inference.

Every command is a thin layer over bench/suite, harness, check and compare; torch loads only when a
command runs (the library is imported inside each function). Exit codes are set with sys.exit, which
reads the same whether click runs standalone or not.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from dlbench.bench.infer.cli import infer  # the command lives with its package; its module top is light
from dlbench.cli.console import err, out
from dlbench.cli.options import override_option
from dlbench.cli.parsing import Group
from dlbench.errors import UserError

app = typer.Typer(cls=Group, no_args_is_help=True, add_completion=False,
                  help="Time-to-train benchmarks under MLPerf Training rules.")


@app.command("list")
def list_benchmarks(as_json: bool = typer.Option(False, "--json", help="The definitions as JSON")):
    """The built-in benchmarks: dataset, model, quality target, minimum runs."""
    from dlbench.bench.suite import suite

    if as_json:
        print(json.dumps([{**b.model_dump(), "available": not b.unavailable()} for b in suite().values()], indent=1))
        return
    t = Table(title="dlbench benchmarks (time to train to the target, MLPerf Training rules)")
    t.add_column("benchmark", no_wrap=True)
    for c in ("dataset", "model", "target", "batch, optimizer", "eval every / max steps", "min runs"):
        t.add_column(c)
    for b in suite().values():
        name = f"{b.name} v{b.version}" + ("" if not b.unavailable() else " [yellow](not yet available)[/yellow]")
        t.add_row(name, b.dataset, f"{b.family} ({b.config})", str(b.quality), f"{b.global_batch_size}, {b.optimizer}",
                  f"{b.eval_every} / {b.max_steps}", str(b.min_runs))
    out.print(t)
    out.print("Any config becomes a benchmark: dlbench bench run CONFIG --target 'val.accuracy>=0.95'")


def resolve(benchmark: str, target: str | None, overrides: list[str], name: str | None):
    """(Benchmark, extra overrides): a shipped benchmark by name, or a config with --target."""
    from dlbench.bench.suite import custom_benchmark, get_benchmark, suite

    shipped = suite()
    is_file = Path(benchmark).is_file()
    if benchmark in shipped and not is_file:
        if target:
            raise UserError(f"the target of benchmark '{benchmark}' is frozen ({shipped[benchmark].quality})",
                            f"to use another target, pass a config: --target with configs/{shipped[benchmark].config}.yaml")
        return shipped[benchmark], overrides
    if target:
        return custom_benchmark(benchmark, target, overrides, name), []
    if is_file or benchmark.endswith((".yaml", ".yml")):
        raise UserError(f"{benchmark} is a config, not a benchmark: it needs a target",
                        "add --target 'val.accuracy>=0.95' (any metric the task logs)")
    get_benchmark(benchmark)  # raises: unknown benchmark, with the closest name
    raise AssertionError


@app.command("run")
def run(benchmark: str = typer.Argument(..., help="A benchmark name (`dlbench bench list`) or a config with --target"),
        runs: Optional[int] = typer.Option(None, "--runs", "-n", help="Number of runs (default: the benchmark's minimum)"),
        system: str = typer.Option("local", "--system", help="Name of this system in results/ and comparisons"),
        target: Optional[str] = typer.Option(None, "--target", help="For a config: metric>=value, e.g. val.accuracy>=0.95"),
        out_dir: str = typer.Option("results", "--out", help="Results folder (MLPerf layout)"),
        db: Optional[str] = typer.Option(None, "--db", help="Results database (default: OUT/dlbench.sqlite)"),
        seed: int = typer.Option(0, "--seed", help="Seed of the first run; run i uses seed + i"),
        max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Step budget (default: the benchmark's)"),
        override: Optional[list[str]] = override_option("dotted.key=value; open division unless train.device/threads/num_workers/log_every"),
        name: Optional[str] = typer.Option(None, "--name", help="Name of a custom benchmark (default custom-<config>)"),
        init_cap: float = typer.Option(300.0, "--init-cap", help="Seconds of initialization allowed per run"),
        org: str = typer.Option("dlbench", "--org", help="submission_org in the result files"),
        status: str = typer.Option("onprem", "--status", help="onprem, cloud, preview or research"),
        keep_runs: Optional[str] = typer.Option(None, "--keep-runs", help="Keep each run's training directory here"),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace earlier result files of this system"),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No live progress line"),
        scaling: Optional[str] = typer.Option(None, "--scaling", help="Device counts, e.g. 1,2,4: each under torchrun; "
                                              "speedup and efficiency vs the first (training/scaling.py)"),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON")):
    """Time-to-train: N runs with MLPerf-style logs, compliance-checked, scored with the olympic mean."""
    from dlbench.bench.harness import run_benchmark
    from dlbench.training.loop import Interrupted

    bench, extra = resolve(benchmark, target, list(override or []), name)
    if scaling:
        from dlbench.bench.scaling import run_scaling, scaling_table

        doc = run_scaling(bench, scaling, runs, system=system, out=out_dir, db=db, seed=seed, org=org, status=status,
                          init_cap_s=init_cap, overrides=extra, max_steps=max_steps, keep_runs=keep_runs,
                          progress=not quiet and not as_json, overwrite=overwrite)
        if as_json:
            print(json.dumps(doc, indent=1))
        else:
            out.print(scaling_table(doc), f"\nscaling: {doc['json']}, chart: {doc['png']}")
        return
    try:
        res = run_benchmark(bench, runs, system=system, out=out_dir, db=db, seed=seed, org=org, status=status,
                            init_cap_s=init_cap, overrides=extra, max_steps=max_steps, keep_runs=keep_runs,
                            progress=not quiet and not as_json, overwrite=overwrite)
    except Interrupted as e:
        err.print(f"benchmark interrupted ({e}); the runs so far stay in {out_dir}, but no score was stored")
        sys.exit(130)
    if as_json:
        print(json.dumps(_as_dict(res), indent=1))
    else:
        _print_result(res)
    if not res.score["valid"]:
        sys.exit(1)


def _as_dict(res) -> dict:
    from dataclasses import asdict

    return {"benchmark": res.benchmark.name, "version": res.benchmark.version, "system": res.system,
            "device": res.device, "device_count": res.device_count, "score": res.score, "official": res.official,
            "reason": res.reason, "samples_per_s": res.samples_per_s, "train_samples_per_s": res.train_samples_per_s,
            "runs": [asdict(r) for r in res.runs], "db": str(res.db), "session_id": res.session_id}


def _print_result(res) -> None:
    b, s = res.benchmark, res.score
    t = Table(title=f"{b.name} v{b.version} on {res.system} ({res.device}, {res.device_count} device): "
                    f"target {b.quality}")
    for c in ("run", "seed", "status", "check", "time to train [s]", "steps", "init [s]", "samples/s",
              "train samples/s"):
        t.add_column(c, justify="right")
    for r in res.runs:
        check = "passed" if r.passed_check else f"FAILED: {r.check_reason.splitlines()[0] if r.check_reason else ''}"
        f = lambda v, p="{:.2f}": "-" if v is None else p.format(v)  # noqa: E731
        t.add_row(str(r.idx), str(r.seed), r.status + (" (init over cap)" if r.init_over_cap else ""), check,
                  f(r.time_to_train_s, "{:.3f}"), str(r.steps), f(r.init_s), f(r.samples_per_s, "{:.0f}"),
                  f(r.train_samples_per_s, "{:.0f}"))
    out.print(t)
    if s["valid"]:
        out.print(f"[bold]score (olympic mean): {s['olympic_mean_s']:.3f} s[/bold]  median {s['median_s']:.3f} s, "
                  f"stdev {s['stdev_s'] if s['stdev_s'] is None else round(s['stdev_s'], 3)} s, "
                  f"{s['n_converged']}/{s['n_runs']} runs converged")
    else:
        out.print(f"[red]no valid score[/red]: {s['reason']}")
    if res.samples_per_s:
        out.print(f"samples/s to target (time-to-train clock): {res.samples_per_s:.0f}; throughput of the training "
                  f"steps only: {res.train_samples_per_s or 0:.0f} samples/s")
    out.print("official" if res.official else f"[yellow]unofficial[/yellow]: {res.reason}")
    out.print(f"results: {res.results_dir}/{res.system}/{b.name}/  database: {res.db} (session {res.session_id})")


@app.command("check")
def check(results: str = typer.Argument("results", help="Results folder: <system>/<benchmark>/result_<i>.txt")):
    """Run MLCommons' compliance checker on every result file; exit 1 if any fails."""
    from dlbench.bench.check import check_results_dir

    verdicts = check_results_dir(results)
    t = Table(title=f"MLPerf compliance check of {results}")
    t.add_column("result file")
    t.add_column("verdict")
    t.add_column("reason")
    for path, v in verdicts:
        t.add_row(str(path), "[green]PASSED[/green]" if v.passed else "[red]FAILED[/red]", v.reason)
    out.print(t)
    failed = sum(not v.passed for _, v in verdicts)
    out.print(f"{len(verdicts) - failed} passed, {failed} failed")
    if failed:
        sys.exit(1)


@app.command("compare")
def compare(source: str = typer.Argument("results", help="Results folder or results database"),
            db: Optional[str] = typer.Option(None, "--db", help="Read this database"),
            chart: Optional[str] = typer.Option(None, "--chart", help="PNG path (default: SOURCE/compare.png)"),
            benchmark: Optional[str] = typer.Option(None, "--benchmark", help="Only this benchmark"),
            as_json: bool = typer.Option(False, "--json")):
    """Time-to-train per system and device count, speedup and scaling efficiency vs one device;
    inference measurements (`bench infer`) beside them."""
    from dlbench.bench.compare import add_scaling, compare_chart, compare_table, load_rows, rows_json
    from dlbench.bench.infer.records import inference_rows, inference_table

    inference = inference_rows(source, db)
    try:
        rows = add_scaling(load_rows(source, db))
    except UserError:
        if not inference:
            raise
        rows = []  # a folder of inference results only
    if benchmark:
        rows = [r for r in rows if r["benchmark"] == benchmark]
        inference = [r for r in inference if r["model"] == benchmark]
        if not rows and not inference:
            raise UserError(f"no results of benchmark '{benchmark}' in {db or source}")
    if as_json:
        print(rows_json(rows + inference))  # inference rows carry "kind": "inference"
        return
    if rows or not inference:
        out.print(compare_table(rows))
    if inference:
        out.print(inference_table(inference))
    folder = Path(source) if Path(source).is_dir() else Path(source).parent
    png = compare_chart(rows, chart or folder / "compare.png")
    if png:
        out.print(f"chart: {png}")


app.command("infer")(infer)  # last, as `dlbench bench --help` lists it: training first, then inference
