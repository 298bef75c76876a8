"""`dlbench configs [show | keys | copy]`: the shipped configs and the config reference.

The listing reads YAML comments only, so `dlbench configs` starts without torch; `keys` and
`show --resolved` load the schema (and with it every family's recipe) inside their functions.
"""
from __future__ import annotations

import shutil
import textwrap
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from dlbench.cli.console import err, out
from dlbench.cli.parsing import Group
from dlbench.errors import UserError

WIDE_TABLES = 110
"""Terminal columns from which `configs keys` prints tables; narrower (or piped) output lists each key."""

app = typer.Typer(cls=Group, add_completion=False, help="List, show and copy the shipped configs.")


@app.callback(invoke_without_command=True)
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


@app.command("show")
def configs_show(name: str = typer.Argument(..., help="A shipped config name or a YAML path"),
                 resolved: bool = typer.Option(False, "--resolved", help="All keys, with defaults")):
    """Print a shipped config (or, --resolved, the full config with every default)."""
    from dlbench.config.load import dump_config, resolve_config_path
    from dlbench.schema import load_config

    path = resolve_config_path(name)
    print(dump_config(load_config(path)) if resolved else path.read_text(), end="")


@app.command("keys")
def configs_keys(section: Optional[str] = typer.Argument(
                     None, help="data, model, optim, train, tracking or name; or a data kind / model family"),
                 name: Optional[str] = typer.Argument(None, help="After data: a data kind; after model: a family")):
    """Every config key with its type, default and meaning: a table per data kind and per model family.

    dlbench configs keys model cnn    # the keys of one family;  dlbench configs keys data csv: one data kind"""
    from dlbench.schema.reference import groups

    selected = groups(section, name)
    wide = out.width >= WIDE_TABLES
    for i, g in enumerate(selected):
        if i:
            out.print()
        title = f"[bold]{escape(g.title)}[/bold]" + (f" — {escape(g.about)}" if g.about else "")
        if wide:
            t = Table(title=title, title_justify="left")
            t.add_column("key", no_wrap=True)
            t.add_column("type", overflow="fold", max_width=24)
            t.add_column("default", overflow="fold", max_width=24)
            t.add_column("meaning", overflow="fold", ratio=1)
            for row in g.rows:
                t.add_row(*map(escape, row))
            out.print(t)
            continue
        out.print(title)  # narrow (or piped): key, type and default on a line, the meaning indented under it
        for key, typ, default, meaning in g.rows:
            value = " (required)" if default == "(required)" else f" = {escape(default)}"
            out.print(f"  [bold]{escape(key)}[/bold]: {escape(typ)}{value}", soft_wrap=True)
            out.print(textwrap.fill(meaning, width=max(40, out.width - 1), initial_indent=" " * 6,
                                    subsequent_indent=" " * 6), markup=False, highlight=False, soft_wrap=True)
    if section is None:
        out.print("A YAML config holds only what differs from these defaults; "
                  "`dlbench configs keys model cnn` shows one family, `dlbench configs keys data csv` one data kind.")


@app.command("copy")
def configs_copy(name: str = typer.Argument(..., help="A shipped config name"),
                 dest: str = typer.Argument(..., help="Where to write the copy")):
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
