"""`dlbench configs [show | keys | copy]`: the shipped configs and the config reference.

The listing reads YAML comments only, so `dlbench configs` starts without torch; `keys` and
`show --resolved` load the schema (and with it every family's recipe) inside their functions.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from dlbench.cli.console import err, out
from dlbench.cli.parsing import Group
from dlbench.errors import UserError

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
def configs_keys(section: Optional[str] = typer.Argument(None, help="data, model, optim or train")):
    """Every config key with its type, default and meaning."""
    from dlbench.schema.reference import reference

    if section not in (None, "data", "model", "optim", "train"):
        raise UserError(f"unknown section '{section}'", "use data, model, optim or train")
    t = Table(title="config keys (YAML holds only what differs from these defaults)")
    for c in ("key", "type", "default", "meaning"):
        t.add_column(c, overflow="fold")
    for row in reference(section):
        t.add_row(*row)
    out.print(t)


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
