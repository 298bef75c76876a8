"""`dlbench export RUN --format onnx|safetensors --output PATH`."""
from __future__ import annotations

import json

import typer

from dlbench.cli.console import err


def export(run_dir: str = typer.Argument(..., help="A finished run directory"),
           fmt: str = typer.Option("onnx", "--format", help="onnx or safetensors"),
           output: str = typer.Option(..., "--output", help="model.onnx, or a directory for safetensors"),
           atol: float = typer.Option(1e-4, "--atol", help="Largest allowed |onnxruntime - torch|")):
    """Export a trained model (ONNX is checked in onnxruntime against the torch outputs)."""
    from dlbench.export import export_run  # torch loads only when the command runs

    r = export_run(run_dir, fmt, output, atol)
    msg = f"wrote {r['output']}"
    if fmt == "onnx":
        msg += (f"; onnxruntime {r['onnxruntime']} matches torch on {r['checked_samples']} samples "
                f"(max |diff| {r['max_abs_diff']:.2e} <= {r['atol']})")
    else:
        msg += f" (sha256 {r['sha256'][:12]}... verified)"
    err.print(msg)
    print(json.dumps(r))
