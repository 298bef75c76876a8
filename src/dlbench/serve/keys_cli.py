"""`dlbench serve keys add|list|revoke`: a Typer app for cli.py to mount (thin over auth.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from dlbench.serve.auth import add_key, default_keys_path, list_keys, revoke_key

keys_app = typer.Typer(help="Manage the API keys of the inference server.", no_args_is_help=True)

KeysFile = typer.Option(None, "--keys-file", help="Keys file (default: $DLBENCH_API_KEYS or ~/.config/dlbench/api_keys.json).")


@keys_app.command("add")
def add(name: str = typer.Option(..., "--name", help="Who or what uses the key."), keys_file: Optional[Path] = KeysFile) -> None:
    """Create a key and print it once; only its hash is stored."""
    path = keys_file or default_keys_path()
    key = add_key(path, name)
    typer.echo(key)
    typer.echo(f"key '{name}' stored (hash only) in {path}; it is shown only now: copy it", err=True)


@keys_app.command("list")
def list_(keys_file: Optional[Path] = KeysFile) -> None:
    """List keys: name, creation time, revocation time."""
    for k in list_keys(keys_file or default_keys_path()):
        state = f"revoked {k['revoked']}" if k["revoked"] else "active"
        typer.echo(f"{k['name']}\tcreated {k['created']}\t{state}")


@keys_app.command("revoke")
def revoke(name: str = typer.Argument(..., help="Name of the key to revoke."), keys_file: Optional[Path] = KeysFile) -> None:
    """Revoke a key; a running server refuses it from its next request on."""
    path = keys_file or default_keys_path()
    revoke_key(path, name)
    typer.echo(f"key '{name}' revoked in {path}")
