"""ServeSettings: every knob of the inference server, validated once at startup, before any model loads.

`ServeSettings.from_options(...)` is what the CLI and run_server use: a bad value becomes one
UserError line naming the flag, what is wrong and how to fix it (exit code 2, no traceback).
"""

from __future__ import annotations

import ssl
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dlbench.errors import UserError

_SECONDS = {"gt": 0, "le": 86_400, "allow_inf_nan": False}


class ServeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Loopback by default; bind 0.0.0.0 only on purpose.")
    port: int = Field(8000, ge=0, le=65535, description="0 picks any free port.")
    api_keys_path: Path | None = Field(None, description="Keys file; None means the default path.")
    no_auth: bool = Field(False, description="Serve without API keys (logged as a WARNING).")
    max_batch_size: int = Field(64, ge=1, description="Rows per predict call; 1 turns batching off.")
    max_batch_delay_ms: float = Field(5.0, ge=0, le=10_000, allow_inf_nan=False, description="Longest wait to fill a batch.")
    max_queue: int = Field(256, ge=1, description="Requests waiting per model before 503.")
    request_timeout_s: float = Field(30.0, **_SECONDS, description="Queue wait + predict, before 504.")
    max_body_bytes: int = Field(8 * 2**20, ge=1, description="Larger request bodies get 413.")
    # The limits below keep clients without a key from starving everyone else (issue 27): an idle
    # or slow connection costs a socket and a few KB, so its count and its lifetime are what we bound.
    header_timeout_s: float = Field(10.0, **_SECONDS, description="Request line + headers must arrive within this (408).")
    body_timeout_s: float = Field(30.0, **_SECONDS, description="A request body must arrive within this (408).")
    keep_alive_s: float = Field(5.0, **_SECONDS, description="An idle keep-alive connection is closed after this.")
    max_header_bytes: int = Field(32 * 2**10, ge=1024, le=2**20, description="Larger request line + headers get 431.")
    max_connections: int = Field(
        2048, ge=1, description="Open connections in all; at the cap the oldest idle one is closed, else 503."
    )
    max_connections_per_client: int = Field(64, ge=1, description="Open connections per client address; more get 429.")
    # Text generation (serve/generate.py): over these, a request gets 400 before it reaches the model.
    # The upper bounds are what the sampler itself accepts (tasks/generation.py MAX_NEW_TOKENS, MAX_PROMPT_CHARS).
    max_new_tokens: int = Field(1024, ge=1, le=4096, description="Most tokens one generate request may ask for.")
    max_prompt_chars: int = Field(20_000, ge=1, le=20_000, description="Longest prompt, in characters.")
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    # Drift monitoring (drift.py, docs/monitoring.md).
    monitor: bool = Field(True, description="Compare live inputs and predictions with each run's reference profile.")
    monitor_window: int = Field(1000, ge=10, le=1_000_000, description="Most recent rows per model version scored.")
    drift_min_rows: int = Field(100, ge=1, description="Rows the window needs before drift is scored.")
    drift_interval_s: float = Field(10.0, ge=0, le=86_400, allow_inf_nan=False,
                                    description="Drift is rescored at most this often (0: at every /metrics scrape).")
    drift_psi_threshold: float = Field(0.2, gt=0, allow_inf_nan=False, description="PSI at which a feature drifted.")
    drift_pvalue_threshold: float = Field(0.01, gt=0, le=1, description="...and the test's p-value below this.")
    far_outside_std: float = Field(3.0, ge=0, allow_inf_nan=False,
                                   description="Beyond the training range by this many stds: a flagged request.")
    request_log: Path | None = Field(None, description="JSON lines of sampled inputs and predictions (no keys).")
    request_log_sample_rate: float = Field(0.1, ge=0, le=1, description="Share of requests written to --request-log.")
    request_log_max_bytes: int = Field(100 * 2**20, ge=4096, description="--request-log rotates at this size.")
    # Live model management (repository.py, docs/model-management.md).
    model_repository: Path | None = Field(None, description="Triton layout DIR/<model>/<version>/ = a run directory.")
    audit_log: Path | None = Field(None, description="Management calls appended here as JSON lines (also logged).")
    device: str | None = Field(None, description="Where models loaded at run time go (default: the best available).")

    @model_validator(mode="after")
    def _tls(self) -> "ServeSettings":
        cert, key = self.ssl_certfile, self.ssl_keyfile
        if cert is None and key is None:
            return self
        if cert is None or key is None:
            given, missing = ("--ssl-certfile", "--ssl-keyfile") if key is None else ("--ssl-keyfile", "--ssl-certfile")
            raise UserError(
                f"{given} needs {missing} too", "HTTPS needs a PEM certificate and its private key: give both, or neither"
            )
        _read_pem("--ssl-certfile", cert, b"-----BEGIN CERTIFICATE-----", "a PEM certificate")
        key_text = _read_pem("--ssl-keyfile", key, b"PRIVATE KEY-----", "a PEM private key")
        if b"ENCRYPTED" in key_text:
            raise UserError(
                f"--ssl-keyfile {key} is encrypted", "give it unencrypted: openssl pkey -in KEY -out PLAIN_KEY"
            )
        # Loaded here, not first inside uvicorn, so that a wrong file is one line before any model
        # loads; the certificate alone first, so that the line can say which file is wrong.
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(cert))
        except (ssl.SSLError, OSError):
            raise UserError(f"--ssl-certfile {cert}: the PEM certificate in it is damaged", "give a PEM certificate") from None
        try:
            # The password callback keeps OpenSSL from ever prompting on the terminal.
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key, password=lambda: b"")
        except (ssl.SSLError, OSError) as e:
            if getattr(e, "reason", None) == "KEY_VALUES_MISMATCH":
                raise UserError(
                    f"--ssl-keyfile {key} is not the key of --ssl-certfile {cert}",
                    "give the private key the certificate was made with",
                ) from None
            raise UserError(f"--ssl-keyfile {key}: the PEM private key in it is damaged", "give a PEM private key") from None
        return self

    @classmethod
    def from_options(cls, **options) -> "ServeSettings":
        """Settings from CLI-style options; any bad value is one UserError line naming its flag."""
        try:
            return cls(**options)
        except ValidationError as e:
            raise UserError("; ".join(_describe(err) for err in e.errors()), _hint(e.errors())) from None


def _read_pem(flag: str, path: Path, marker: bytes, what: str) -> bytes:
    if not path.is_file():
        raise UserError(f"{flag} {path}: {'not a file' if path.exists() else 'no such file'}", f"give the path of {what}")
    try:
        with path.open("rb") as f:
            head = f.read(2**20)  # PEM files are a few KB; this bounds what a wrong path makes us read
    except OSError as e:
        raise UserError(f"{flag} {path}: cannot read it ({e.strerror or e})", f"give the path of {what}") from None
    if marker not in head:
        raise UserError(f"{flag} {path} is not {what} (no '{marker.decode().strip('-')}' line)", f"give the path of {what}")
    return head


def flag(field: str) -> str:
    return {"api_keys_path": "--api-keys"}.get(field, "--" + field.replace("_", "-"))


_HINTS = {
    "port": "use a TCP port from 1 to 65535, or 0 for any free port",
    "max_batch_size": "give the most rows per predict call, 1 or more; 1 turns batching off",
    "max_batch_delay_ms": "give a wait from 0 to 10000 ms; 0 never waits",
    "max_queue": "give how many requests may wait per model, 1 or more",
    "max_body_bytes": "give a size in bytes, 1 or more; the default is 8388608, 8 MiB",
    "max_header_bytes": "give a size in bytes from 1024 to 1048576; the default is 32768",
    "max_connections": "give a count, 1 or more; the default is 2048",
    "max_connections_per_client": "give a count, 1 or more; the default is 64",
    "monitor_window": "give a number of rows from 10 to 1000000; the default is 1000",
    "drift_psi_threshold": "give a PSI above 0; 0.1 is a moderate shift, 0.25 a large one (default 0.2)",
    "drift_pvalue_threshold": "give a p-value above 0 and at most 1; the default is 0.01",
    "far_outside_std": "give a number of standard deviations, 0 or more; the default is 3",
    "request_log_sample_rate": "give a share of requests from 0 to 1, e.g. 0.1",
    "max_new_tokens": "give a number of tokens from 1 to 4096; the default is 1024",
    "max_prompt_chars": "give a number of characters from 1 to 20000; the default is 20000",
}


def _describe(err: dict) -> str:
    field = str(err["loc"][0]) if err.get("loc") else ""
    if err.get("type") == "extra_forbidden":
        return f"unknown server setting '{field}'"
    message = err["msg"][:1].lower() + err["msg"][1:]
    value = err.get("input")
    shown = repr(value) if isinstance(value, str) else f"{value:g}" if isinstance(value, float) else value
    return f"{flag(field)} {shown}: {message}" if field else message


def _hint(errors: list[dict]) -> str | None:
    field = str(errors[0]["loc"][0]) if errors and errors[0].get("loc") else ""
    if field.endswith("_s") or field.endswith("_ms"):
        return _HINTS.get(field, "give a number of seconds above 0, e.g. 30")
    return _HINTS.get(field)
