"""`dlbench serve ...`: a Typer group for plugins.GROUPS, thin over server.py and auth.py.

    dlbench serve runs/mnist1d-cnn                           # = `serve run ...`; name = the run directory's name
    dlbench serve run cnn:1=runs/old cnn:2=runs/new           # two versions side by side
    dlbench serve keys add --name ci | keys list | keys revoke ci
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from dlbench.errors import UserError
from dlbench.serve.auth import add_key, default_keys_path, list_keys, revoke_key

serve_app = typer.Typer(help="Serve trained runs over the Open Inference Protocol (KServe v2).", no_args_is_help=True)
keys_app = typer.Typer(help="Manage the API keys of the inference server.", no_args_is_help=True)
serve_app.add_typer(keys_app, name="keys")

KeysFile = typer.Option(
    None, "--api-keys", "--keys-file", help="Keys file (default: $DLBENCH_API_KEYS or ~/.config/dlbench/api_keys.json)."
)


def _parse_model(spec: str) -> tuple[str | None, str, str]:
    """'[NAME[:VERSION]=]RUN_DIR' -> (name or None, version, run_dir)."""
    label, sep, run_dir = spec.rpartition("=")
    if not sep:
        return None, "1", spec
    name, _, version = label.partition(":")
    if not name or not run_dir:
        raise UserError(f"cannot read model {spec!r}", "write RUN_DIR, NAME=RUN_DIR or NAME:VERSION=RUN_DIR")
    return name, version or "1", run_dir


@serve_app.command("run")
def run(
    models: List[str] = typer.Argument(..., help="RUN_DIR, NAME=RUN_DIR or NAME:VERSION=RUN_DIR; several allowed."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind; loopback unless told otherwise."),
    port: int = typer.Option(8000),
    keys_file: Optional[Path] = KeysFile,
    no_auth: bool = typer.Option(False, "--no-auth", help="Serve without API keys (logged as a warning)."),
    max_batch_size: int = typer.Option(64, help="Rows per predict call; 1 turns dynamic batching off."),
    max_batch_delay_ms: float = typer.Option(5.0, help="Longest wait for a batch to fill."),
    max_queue: int = typer.Option(256, help="Waiting requests per model before 503."),
    request_timeout_s: float = typer.Option(30.0, help="Queue wait + predict before 504."),
    max_body_bytes: int = typer.Option(8 * 2**20, help="Larger request bodies get 413."),
    ssl_certfile: Optional[Path] = typer.Option(None, help="PEM certificate: serve HTTPS."),
    ssl_keyfile: Optional[Path] = typer.Option(None, help="PEM private key for --ssl-certfile."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, ... (default: the best available)."),
) -> None:
    """Serve run directories until Ctrl-C (in-flight requests finish first)."""
    try:
        from dlbench.predictors import load_predictor
    except ImportError:
        from dlbench.inference import load_predictor
    from dlbench.serve.server import run_server

    predictors = []
    for spec in models:
        name, version, run_dir = _parse_model(spec)
        predictors.append(load_predictor(run_dir, name=name, version=version, device=device))
    run_server(
        predictors, host=host, port=port, api_keys_path=keys_file, no_auth=no_auth, max_batch_size=max_batch_size,
        max_batch_delay_ms=max_batch_delay_ms, max_queue=max_queue, request_timeout_s=request_timeout_s,
        max_body_bytes=max_body_bytes, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
    )


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
