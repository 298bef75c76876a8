"""ServeSettings: every knob of the inference server, validated once at startup."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ServeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Loopback by default; bind 0.0.0.0 only on purpose.")
    port: int = Field(8000, ge=0, le=65535)
    api_keys_path: Path | None = Field(None, description="Keys file; None means the default path.")
    no_auth: bool = Field(False, description="Serve without API keys (logged as a WARNING).")
    max_batch_size: int = Field(64, ge=1, description="Rows per predict call; 1 turns batching off.")
    max_batch_delay_ms: float = Field(5.0, ge=0, le=10_000, description="Longest wait to fill a batch.")
    max_queue: int = Field(256, ge=1, description="Requests waiting per model before 503.")
    request_timeout_s: float = Field(30.0, gt=0, description="Queue wait + predict, before 504.")
    max_body_bytes: int = Field(8 * 2**20, ge=1, description="Larger request bodies get 413.")
    limit_concurrency: int | None = Field(
        1024, ge=1, description="Open connections+tasks before uvicorn answers 503; bounds memory."
    )
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    @model_validator(mode="after")
    def _tls_pair(self) -> "ServeSettings":
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("TLS needs both ssl_certfile and ssl_keyfile")
        return self
