"""`dlbench monitor RUN SOURCE...`: the drift report of a run against live data (a request log or new inputs).

    dlbench monitor runs/m1 requests.jsonl                   # what `serve --request-log requests.jsonl` sampled
    dlbench monitor runs/m1 new.csv --output drift.html      # new inputs, predicted here
"""
from __future__ import annotations

import json
from typing import List, Optional

import typer

from dlbench.cli.console import err


def monitor(
    run: str = typer.Argument(..., help="The run directory whose reference profile is the baseline."),
    sources: List[str] = typer.Argument(..., help="The server's --request-log file(s) (rotated ones too), or one "
                                                  "file or folder of new inputs (what `dlbench predict` reads)."),
    model: Optional[str] = typer.Option(None, help="Request log: the served model (default: the only one logged)."),
    version: Optional[str] = typer.Option(None, help="Request log: the served version (default: the only one)."),
    output: Optional[str] = typer.Option(None, "--output", help="HTML file (default: RUN/drift-report.html)."),
    psi_threshold: float = typer.Option(0.2, help="PSI at which a feature counts as drifted..."),
    pvalue_threshold: float = typer.Option(0.01, help="...when the two-sample test's p-value is also below this."),
    min_rows: int = typer.Option(50, help="Fewer live rows than this: no drift score."),
    far_outside_std: float = typer.Option(3.0, help="Rows beyond the training range by this many stds are counted."),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON on stdout."),
) -> None:
    """Compare live inputs and predictions with the run's reference profile: HTML report; exit 1 on drift."""
    from pathlib import Path

    from dlbench.errors import UserError
    from dlbench.monitor.stats import Thresholds
    from dlbench.report.document import write
    from dlbench.report.drift import compare

    if not 0 < pvalue_threshold <= 1 or psi_threshold <= 0 or min_rows < 1:
        raise UserError("--psi-threshold must be above 0, --pvalue-threshold in (0, 1], --min-rows at least 1")
    out = Path(output) if output else Path(run) / "drift-report.html"
    if not out.parent.is_dir():
        raise UserError(f"--output {out}: folder {out.parent} does not exist")
    report, summary = compare(run, list(sources), model, version,
                              Thresholds(psi_threshold, pvalue_threshold, min_rows), far_outside_std)
    write(report, out)
    err.print(f"{summary['verdict']} ({summary['rows']} live rows)", highlight=False, soft_wrap=True)
    err.print(f"wrote drift report {out}", highlight=False, soft_wrap=True)
    print(json.dumps(summary, indent=1) if as_json else out)
    if summary["drift"]:
        raise typer.Exit(1)
