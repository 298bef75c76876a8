"""Self-contained HTML reports of a run, a hyperparameter study or a benchmark results folder.

    from dlbench.report import write_report
    path, report = write_report("runs/m1")            # runs/m1/report.html
    path, report = write_report("studies/cnn-sweep")  # studies/cnn-sweep/report.html
    path, report = write_report("results")            # results-report.html beside results/
"""
from __future__ import annotations

from pathlib import Path

from dlbench.errors import UserError

__all__ = ["build_report", "detect_kind", "default_output", "write_report"]


def detect_kind(path: str | Path) -> str:
    """run | study | benchmark, from what the folder holds."""
    from dlbench.report import bench, run, study

    p = Path(path)
    if not p.exists():
        raise UserError(f"{p} does not exist", "pass a run directory, a studies/<name> folder or a results/ folder")
    if not p.is_dir():
        raise UserError(f"{p} is a file, not a folder",
                        "pass a run directory, a studies/<name> folder or a results/ folder")
    if run.is_run_dir(p):
        return "run"
    if study.is_study_dir(p):
        return "study"
    if bench.is_results_dir(p):
        return "benchmark"
    raise UserError(f"{p}: not a run, study or benchmark results folder",
                    "a run has config.yaml/metrics.jsonl, a study has study.db or trials.csv, "
                    "results hold <system>/<benchmark>/result_<i>.txt")


def build_report(path: str | Path, profiles: list | None = None):
    """The Report of a run, study or results folder; `profiles`: extra `dlbench profile --json` files
    for a benchmark report (those beside results/ are found without it)."""
    from dlbench.report import bench, run, study

    kind = detect_kind(path)
    if kind == "benchmark":
        return bench.build(path, profiles)
    if profiles:
        raise UserError("--profile applies to benchmark reports (a results/ folder) only")
    return {"run": run.build, "study": study.build}[kind](path)


def default_output(path: str | Path, kind: str) -> Path:
    p = Path(path)
    if kind == "benchmark":
        # results/ may hold only what the MLPerf layout allows (the checker rejects anything else),
        # so the report goes beside it
        from dlbench.report.bench import results_root

        root = results_root(p) or p
        return root.resolve().parent / f"{root.resolve().name}-report.html"
    return p / "report.html"


def write_report(path: str | Path, output: str | Path | None = None, profiles: list | None = None):
    """Build the report of `path` and write it; returns (html path, Report)."""
    from dlbench.report.document import write

    for f in profiles or []:
        if not Path(f).is_file():
            raise UserError(f"--profile {f}: file not found", "save one with `dlbench profile CONFIG --json > FILE`")
    report = build_report(path, profiles)
    out = Path(output) if output else default_output(path, report.kind)
    if out.is_dir():
        out = out / "report.html"
    if not out.parent.is_dir():
        raise UserError(f"--output {out}: folder {out.parent} does not exist")
    return write(report, out), report
