"""Options several commands share, so that a flag means the same thing everywhere (`-o` is always
`--override`, issue 25 item 10)."""
from __future__ import annotations

import typer


def _key_value(values: list[str] | None) -> list[str]:
    # Checked while the command line is read, so `-o train.steps 100` is a usage error naming the override,
    # not "unexpected extra argument 100" nor a config error after the data has loaded.
    for v in values or []:
        key, eq, _ = v.partition("=")
        if not eq or not key.strip():
            raise typer.BadParameter(f"'{v}' is not dotted.key=value, e.g. -o train.steps=100")
    return list(values or [])


def override_option(help: str = "dotted.key=value (repeatable), e.g. -o optim.lr=3e-3"):
    return typer.Option(None, "--override", "-o", help=help, callback=_key_value)
