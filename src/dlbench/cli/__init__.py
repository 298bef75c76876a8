"""The `dlbench` command line: one explicit table of commands (commands.py), one small module per group.

torch loads only when a command runs: command modules import typer, rich and the standard library at
their top and the library they drive inside the command function, so `dlbench --help`,
`dlbench CMD --help` and `dlbench configs` start in a fraction of `import torch`'s time
(tests/unit/test_cli_imports.py, bench/cli_startup.py).
"""
from __future__ import annotations

import logging
import sys

from dlbench.cli.commands import app
from dlbench.cli.exits import exit_code, returned_code

__all__ = ["app", "main"]


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        # Not standalone: click would print its own usage errors (three lines, no did-you-mean for options)
        # and exit 2 for a bare `dlbench`; exits.py decides both.
        code = returned_code(app(prog_name="dlbench", standalone_mode=False))
    except BaseException as e:  # noqa: BLE001 - exit_code re-raises what is not a known outcome
        code = exit_code(e)
    sys.exit(code)
