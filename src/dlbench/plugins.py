"""Subcommand groups owned by other parts of the package, attached to the CLI here.

Each entry is (module, attribute, name): the module defines a typer app (or a plain function for a
single command). A module that is not present is skipped, so parts can land independently.
"""
from __future__ import annotations

import importlib

GROUPS = [
    # (module, typer app or command function attribute, command name, is_group)
    ("dlbench.bench.cli", "bench_app", "bench", True),
    ("dlbench.bench.cli", "sysinfo", "sysinfo", False),
    ("dlbench.bench.cli", "profile", "profile", False),
    ("dlbench.tune.cli", "app", "tune", True),
    ("dlbench.report.cli", "report", "report", False),
    ("dlbench.recommend", "recommend_command", "recommend", False),
    ("dlbench.prediction.generate_cli", "generate_command", "generate", False),
    ("dlbench.serve.cli", "serve_app", "serve", True),
    ("dlbench.export.cli", "export_command", "export", False),
]


def rewrite_argv(argv: list[str]) -> list[str]:
    """`dlbench serve RUN...` is short for `dlbench serve run RUN...` (`serve keys ...` stays a group)."""
    if len(argv) > 2 and argv[1] == "serve" and argv[2] not in ("run", "keys", "--help", "-h"):
        return [*argv[:2], "run", *argv[2:]]
    return argv


def register_commands(app) -> None:
    for module, attr, name, is_group in GROUPS:
        try:
            obj = getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as e:
            if e.name != module:  # a missing dependency inside the module is a real error
                raise
            continue
        if is_group:
            app.add_typer(obj, name=name)
        else:
            app.command(name)(obj)
