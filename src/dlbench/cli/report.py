"""`dlbench report PATH`: one self-contained HTML file for a run, a study or benchmark results.

The output file is `--output` only: `-o` means `--override` in every command (issue 25 item 10).
"""
from __future__ import annotations

from typing import Optional

import typer

from dlbench.cli.console import err


def report(path: str = typer.Argument(..., help="A run directory, a studies/<name> folder, or a results/ folder"),
           output: Optional[str] = typer.Option(None, "--output",
                                                help="Where to write the HTML (default: PATH/report.html; "
                                                     "for results/, results-report.html beside it)"),
           profile: Optional[list[str]] = typer.Option(None, "--profile",
                                                      help="Benchmark reports: a `dlbench profile --json` file "
                                                           "for sizing advice (repeatable)")):
    """Write an HTML report with plots (opens offline in any browser, phones included)."""
    from dlbench.report import write_report  # matplotlib and the run loaders load only when the command runs

    out, rep = write_report(path, output, list(profile or []))
    for w in rep.warnings:
        err.print(f"[yellow]warning:[/yellow] {w}", highlight=False, soft_wrap=True)
    err.print(f"wrote {rep.kind} report {out}", highlight=False, soft_wrap=True)
    print(out)
