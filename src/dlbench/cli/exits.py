"""What the command line prints and returns when a command does not simply succeed.

    0    success, and a bare `dlbench` / `dlbench GROUP`, which print help (as docker and kubectl do)
    1    a measured failure: a diverged run, an invalid benchmark score, a failed compliance check
    2    usage mistakes (the usage line and one sentence) and bad input (one `error:` line)
    130  interrupted; the run keeps its last checkpoint
"""
from __future__ import annotations

import typer
from rich.markup import escape

from dlbench.cli.console import err
from dlbench.cli.parsing import NoArgsIsHelpError, UsageError, usage_sentence
from dlbench.errors import UserError


def exit_code(e: BaseException) -> int:
    """Print what `e` means for the person at the terminal and return the exit code; re-raise what is a bug."""
    if isinstance(e, NoArgsIsHelpError):
        print(e.ctx.get_help())
        return 0
    if isinstance(e, UsageError):
        if e.ctx is not None:
            err.print(e.ctx.get_usage(), markup=False, highlight=False, soft_wrap=True)
        err.print(f"[red]error:[/red] {escape(usage_sentence(e))}", highlight=False, soft_wrap=True)
        return 2
    if isinstance(e, UserError):
        err.print(f"[red]error:[/red] {escape(e.line())}", highlight=False, soft_wrap=True)
        return 2
    if isinstance(e, SystemExit):
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    if isinstance(e, (KeyboardInterrupt, typer.Abort)):
        err.print("interrupted")
        return 130
    # The training outcomes: only a command that trained can raise them, so torch is loaded already.
    from dlbench.training.loop import Diverged, Interrupted

    if isinstance(e, Interrupted):
        # the train command attaches the exact command (cli/core.py); the run's config.yaml holds its -o options
        command = getattr(e, "resume_command", None) or "dlbench train --run-dir RUN --resume"
        err.print(f"{escape(str(e))}; continue with: {escape(command)}", highlight=False, soft_wrap=True)
        return 130
    if isinstance(e, Diverged):
        err.print(f"[red]error:[/red] {escape(str(e))}", highlight=False)
        return 1
    raise e


def returned_code(rv) -> int:
    """click hands back a command's `typer.Exit(n)` as the return value when it does not run standalone."""
    return rv if isinstance(rv, int) and not isinstance(rv, bool) else 0

