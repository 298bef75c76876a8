"""`dlbench generate RUN`: new samples from a generative run, through its recipe.

    dlbench generate runs/g1 --n 64 --label 7 --output sevens.png
    dlbench generate runs/tab --n 500 --output rows.csv
"""
from __future__ import annotations

from typing import Optional

import typer

from dlbench.cli.console import err


def generate(
        run_dir: str = typer.Argument(..., help="A finished generative run directory (model.name: gan)"),
        n: int = typer.Option(64, "--n", help="How many samples"),
        label: Optional[str] = typer.Option(None, "--label", help="Class name or index (conditional GANs); "
                                            "default: every class in turn"),
        seed: int = typer.Option(0, "--seed", help="Seed of the noise: the same seed gives the same samples"),
        output: str = typer.Option(..., "--output", help=".png (a grid), .npz (arrays) or .csv (one row per sample)"),
        device: Optional[str] = typer.Option(None, "--device")):
    """Generate samples with a trained generative model: a PNG grid, an .npz of arrays, or a CSV of rows."""
    from dlbench.run.load import load_run  # torch loads only when the command runs

    loaded = load_run(run_dir, device)
    res = loaded.recipe.generate(loaded, n=n, label=label, seed=seed, output=output)
    err.print(f"wrote {res['count']} samples to {res['path']}", highlight=False)
