"""`dlbench report PATH`: one self-contained HTML file for a run, a study or benchmark results."""
from __future__ import annotations

from typing import Optional

import typer


def report(path: str = typer.Argument(..., help="A run directory, a studies/<name> folder, or a results/ folder"),
           output: Optional[str] = typer.Option(None, "--output", "-o",
                                                help="Where to write the HTML (default: PATH/report.html; "
                                                     "for results/, results-report.html beside it)"),
           profile: Optional[list[str]] = typer.Option(None, "--profile",
                                                      help="Benchmark reports: a `dlbench profile --json` file "
                                                           "for sizing advice (repeatable)")):
    """Write an HTML report with plots (opens offline in any browser, phones included)."""
    from rich.console import Console

    from dlbench.report import write_report

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    out, rep = write_report(path, output, list(profile or []))
    for w in rep.warnings:
        err.print(f"[yellow]warning:[/yellow] {w}")
    err.print(f"wrote {rep.kind} report {out}")
    print(out)
