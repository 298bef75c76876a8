"""`dlbench serve ...`: thin over dlbench.serve (server.py, auth.py, runs.py).

    dlbench serve runs/mnist1d-cnn                           # = `serve run ...`; name = the run directory's name
    dlbench serve run cnn:1=runs/old cnn:2=runs/new           # two versions side by side
    dlbench serve keys add --name ci | keys list | keys revoke ci
    dlbench serve keys add --name ops --role admin --expires 90d     # may load/unload models and route
    dlbench serve route cnn --default 2 | --canary 3 --percent 10 | --shadow 3 | --clear
    dlbench serve check runs/mnist1d-cnn --host 0.0.0.0      # what is unsafe in this configuration (exit 1: high)

Importing the dlbench.serve package loads the predictors' codecs and with them torch, so this module
imports it only inside the command functions: `dlbench serve --help` stays fast.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import List, Optional

import typer

from dlbench.cli.parsing import Group, RunByDefault
from dlbench.errors import UserError

# `dlbench serve RUN...` is short for `dlbench serve run RUN...`; `serve keys ...` stays a group
app = typer.Typer(cls=RunByDefault, add_completion=False, no_args_is_help=True,
                  help="Serve trained runs over the Open Inference Protocol (KServe v2).")
keys_app = typer.Typer(cls=Group, add_completion=False, no_args_is_help=True,
                       help="Manage the API keys of the inference server.")
app.add_typer(keys_app, name="keys")

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


@app.command("run")
def run(
    models: Optional[List[str]] = typer.Argument(
        None, help="RUN_DIR, NAME=RUN_DIR or NAME:VERSION=RUN_DIR; several allowed (or none, with --model-repository)."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind; loopback unless told otherwise."),
    port: int = typer.Option(8000),
    keys_file: Optional[Path] = KeysFile,
    no_auth: bool = typer.Option(False, "--no-auth", help="Serve without API keys (logged as a warning)."),
    max_batch_size: int = typer.Option(64, help="Rows per predict call; 1 turns dynamic batching off."),
    max_batch_delay_ms: float = typer.Option(5.0, help="Longest wait for a batch to fill."),
    max_queue: int = typer.Option(256, help="Waiting requests per model before 503."),
    request_timeout_s: float = typer.Option(30.0, help="Queue wait + predict before 504."),
    max_body_bytes: int = typer.Option(8 * 2**20, help="Larger request bodies get 413."),
    header_timeout_s: float = typer.Option(10.0, help="Request line + headers must arrive within this (else 408)."),
    body_timeout_s: float = typer.Option(30.0, help="A request body must arrive within this (else 408)."),
    keep_alive_s: float = typer.Option(5.0, help="Idle keep-alive connections are closed after this."),
    max_header_bytes: int = typer.Option(32 * 2**10, help="Larger request line + headers get 431."),
    max_connections: int = typer.Option(2048, help="Open connections in all; at the cap the oldest idle one is closed."),
    max_connections_per_client: int = typer.Option(
        64, help="Open connections per client address (more get 429); raise it behind a proxy."
    ),
    max_new_tokens: int = typer.Option(1024, help="Text generators: most new tokens one request may ask for (else 400)."),
    max_prompt_chars: int = typer.Option(20_000, help="Text generators: longest prompt in characters (else 400)."),
    ssl_certfile: Optional[Path] = typer.Option(None, help="PEM certificate: serve HTTPS."),
    ssl_keyfile: Optional[Path] = typer.Option(None, help="PEM private key for --ssl-certfile."),
    monitor: bool = typer.Option(True, "--monitor/--no-monitor", help="Drift monitoring against each run's reference profile."),
    monitor_window: int = typer.Option(1000, help="Most recent rows per model version that drift is scored on."),
    drift_min_rows: int = typer.Option(100, help="Rows the window needs before drift is scored."),
    drift_interval_s: float = typer.Option(10.0, help="Rescore drift at most this often (0: at every /metrics scrape)."),
    drift_psi_threshold: float = typer.Option(0.2, help="PSI at which a feature counts as drifted..."),
    drift_pvalue_threshold: float = typer.Option(0.01, help="...when the two-sample test's p-value is also below this."),
    far_outside_std: float = typer.Option(3.0, help="Flag requests beyond the training range by this many stds."),
    request_log: Optional[Path] = typer.Option(None, help="Append sampled inputs + predictions here (JSON lines, no keys)."),
    request_log_sample_rate: float = typer.Option(0.1, help="Share of requests written to --request-log."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, ... (default: the best available)."),
    model_repository: Optional[Path] = typer.Option(
        None, help="Triton-layout directory DIR/<model>/<version>/ of run directories: all served at start, and "
        "what POST /v2/repository/models/<model>/load reloads (docs/model-management.md)."),
    audit_log: Optional[Path] = typer.Option(None, help="Append every model-management call to this file (JSON lines)."),
) -> None:
    """Serve run directories until Ctrl-C (in-flight requests finish first)."""
    from dlbench.serve.auth import KeyVerifier, default_keys_path  # torch loads only when the command runs

    # Every setting (and the TLS files) is checked before any model loads: a typo costs a line, not
    # a model load followed by a traceback.
    settings = _settings(locals())
    specs = _model_specs(models, model_repository)
    if not settings.no_auth:
        KeyVerifier(settings.api_keys_path or default_keys_path())  # no usable keys: say so before loading
    from dlbench.serve.runs import load_predictor
    from dlbench.serve.server import run_server

    predictors = [load_predictor(run_dir, name=name, version=version, device=device) for name, version, run_dir in specs]
    run_server(predictors, settings, families={(p.name, p.version): _family(p) for p in predictors})


def _model_specs(models: list[str] | None, model_repository: Path | None) -> list[tuple[str | None, str, str]]:
    """(name, version, run_dir) of the models given and of those in --model-repository."""
    specs = [_parse_model(spec) for spec in models or []]
    if model_repository is not None:
        from dlbench.serve.repository import scan_repository

        found = scan_repository(model_repository)
        if not found:
            raise UserError(f"--model-repository {model_repository}: no <model>/<version>/ run directories in it",
                            "lay it out as DIR/<model>/<version>/ with a run directory (or a link to one) in each")
        specs += [(name, version, str(path)) for name, versions in found.items() for version, path in versions.items()]
    if not specs:
        raise UserError("no models to serve", "give run directories, or --model-repository DIR")
    return specs


def _settings(options: dict):
    """ServeSettings from the options of `serve run` (each option is the setting of its name)."""
    from dlbench.serve.settings import ServeSettings

    options = {**options, "api_keys_path": options.get("keys_file")}
    return ServeSettings.from_options(**{k: v for k, v in options.items() if k in ServeSettings.model_fields})


@functools.wraps(run)
def check(**options) -> None:
    from dlbench.serve.check import check_deployment, print_findings  # loads no model

    settings = _settings(options)
    findings = check_deployment(settings, [run_dir for _, _, run_dir in map(_parse_model, options["models"] or [])])
    raise typer.Exit(print_findings(findings))


check.__doc__ = """List what is unsafe in a serving configuration, without serving: give the same RUNs and options
as `dlbench serve run`. Each finding names the option that fixes it; exit 1 on any high finding."""
app.command("check")(check)


def _family(predictor) -> str:
    run = getattr(predictor, "run", None)  # the recipes' predictors keep the LoadedRun they serve
    return run.recipe.name if run is not None else predictor.platform


@keys_app.command("add")
def add(name: str = typer.Option(..., "--name", help="Who or what uses the key."), keys_file: Optional[Path] = KeysFile,
        role: str = typer.Option("inference", "--role", help="inference (infer, metadata, metrics) or admin (also "
                                 "load/unload models, routing, logs)."),
        expires: Optional[str] = typer.Option(None, "--expires", help="Refused after this: a duration (30d, 12h, 2w) "
                                              "or an ISO date (2027-01-31); default: never.")) -> None:
    """Create a key and print it once; only its hash is stored."""
    from dlbench.serve.auth import add_key, default_keys_path, parse_expiry

    path = keys_file or default_keys_path()
    until = parse_expiry(expires)
    key = add_key(path, name, role=role, expires=until)
    typer.echo(key)
    until_text = f", valid until {until.isoformat(timespec='seconds')}" if until else ""
    typer.echo(f"{role} key '{name}' stored (hash only) in {path}{until_text}; it is shown only now: copy it", err=True)


@keys_app.command("list")
def list_(keys_file: Optional[Path] = KeysFile) -> None:
    """List keys: name, creation time, revocation time."""
    from dlbench.serve.auth import default_keys_path, list_keys

    for k in list_keys(keys_file or default_keys_path()):
        state = f"revoked {k['revoked']}" if k["revoked"] else f"expired {k['expires']}" if k["expired"] else "active"
        until = f"\texpires {k['expires']}" if k["expires"] and state == "active" else ""
        typer.echo(f"{k['name']}\t{k['role']}\tcreated {k['created']}\t{state}{until}")


@keys_app.command("revoke")
def revoke(name: str = typer.Argument(..., help="Name of the key to revoke."), keys_file: Optional[Path] = KeysFile) -> None:
    """Revoke a key; a running server refuses it from its next request on."""
    from dlbench.serve.auth import default_keys_path, revoke_key

    path = keys_file or default_keys_path()
    revoke_key(path, name)
    typer.echo(f"key '{name}' revoked in {path}")


@app.command("route")
def route(
    model: str = typer.Argument(..., help="The served model's name."),
    url: str = typer.Option("http://127.0.0.1:8000", "--url", help="The server's base URL."),
    key_file: Optional[Path] = typer.Option(None, "--key-file", help="File holding an admin key (default: "
                                            "$DLBENCH_API_KEY)."),
    default: Optional[str] = typer.Option(None, "--default", help="Version answering the unversioned URL "
                                          "(promote or roll back); 'none': the highest version."),
    canary: Optional[str] = typer.Option(None, "--canary", help="Candidate version answering --percent of "
                                         "unversioned requests; 'none' ends the canary."),
    percent: Optional[float] = typer.Option(None, "--percent", min=0, max=100, help="The canary's share, 0-100."),
    shadow: Optional[str] = typer.Option(None, "--shadow", help="Candidate getting copies of unversioned requests: "
                                         "compared and logged, never returned; 'none' ends it."),
    clear: bool = typer.Option(False, "--clear", help="Back to the plain rule: the highest version answers; no "
                               "canary, no shadow."),
) -> None:
    """Show or change which version answers a model's unversioned URL on a running server (admin key)."""
    from dlbench.serve.client import admin_call

    change: dict = {"default": None, "canary": None, "canary_percent": 0, "shadow": None} if clear else {}
    for k, v in (("default", default), ("canary", canary), ("canary_percent", percent), ("shadow", shadow)):
        if v is not None:
            change[k] = None if v in ("none", "off") else v
    state = admin_call(url, f"/v2/repository/models/{model}/routing", key_file, change or None)
    canary_text = f"{state['canary']} ({state['canary_percent']:g} %)" if state["canary"] else "none"
    typer.echo(f"{model}: unversioned requests -> version {state['answers_unversioned']}; canary {canary_text}; "
               f"shadow {state['shadow'] or 'none'}; versions {', '.join(state['versions'])}")
