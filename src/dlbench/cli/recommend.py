"""`dlbench recommend DATA`: a model family for the data, why, and a starter config that trains."""
from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console


def recommend(
        data: str = typer.Argument(..., help="A CSV, TSV (source<TAB>target), NPZ file, or a folder of class sub-folders of images"),
        target: Optional[str] = typer.Option(None, "--target", help="CSV: the column to predict"),
        goal: str = typer.Option("predict", "--goal", help="predict (default) or generate (more data like this: a GAN)"),
        output: Optional[str] = typer.Option(None, "--output", help="Config to write (default: <data>-<family>.yaml here)")):
    """Recommend a model family for your data, say why, and write a starter config that trains."""
    from dlbench.recommend import recommend as recommend_fn  # torch loads only when the command runs (dry build)

    con = Console(highlight=False, soft_wrap=True)
    rec = recommend_fn(data, target, goal, output)
    con.print(f"[bold]data:[/bold] {rec.profile.kind} ({rec.profile.task if rec.profile.task != 'none' else 'no labels'})")
    for f in rec.profile.facts:
        con.print(f"  - {f}")
    con.print(f"[bold]recommended:[/bold] {rec.title}")
    for r in rec.reasons:
        con.print(f"  - {r}")
    if rec.note:
        con.print(f"[yellow]note:[/yellow] {rec.note}")
    if rec.output:
        m, t = rec.config["model"], rec.config["train"]
        con.print(f"[bold]wrote[/bold] {rec.output}: {m['name']} "
                  f"{', '.join(f'{k}={v}' for k, v in m.items() if k != 'name' and not isinstance(v, list))}; "
                  f"batch {t['batch_size']}, {t['steps']} steps")
        con.print(f"next: dlbench train {rec.output}")
