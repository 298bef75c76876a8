"""The one exception type users see.

Anything wrong with what the user gave us (a config, a data file, a checkpoint, a request) is raised
as `UserError` with one line that says what is wrong and how to fix it. The CLI prints that line
and exits with code 2; nothing else is ever shown as a traceback for bad input.
"""


class UserError(Exception):
    """Bad input: printed as one line, exit code 2 on the CLI (HTTP 4xx on the server)."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(self.line())

    def line(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message
