"""How the command line reads its words: command groups that name the closest command, groups that run a
default command, and usage errors as the usage line plus one sentence.

typer >= 0.2x runs a copy of click vendored as `typer._click`, older typer runs click itself; a check
against `click.exceptions` never matches the vendored classes (issue 25: every usage mistake became a
traceback). The classes are therefore taken from the click that typer really runs: the module that
typer's own `BadParameter` comes from.
"""
from __future__ import annotations

import difflib
import importlib

import typer
from typer.core import TyperGroup

click_exceptions = importlib.import_module(typer.BadParameter.__module__)
UsageError = click_exceptions.UsageError
NoSuchOption = click_exceptions.NoSuchOption
# click < 8.2 shows the help of a bare group by exiting 0 itself; later versions raise this usage error
NoArgsIsHelpError = getattr(click_exceptions, "NoArgsIsHelpError", ())


def closest(word: str, choices) -> str | None:
    match = difflib.get_close_matches(word, list(choices), n=1)
    return match[0] if match else None


class Group(TyperGroup):
    """A command group whose unknown-command error names the closest visible command (difflib)."""

    def resolve_command(self, ctx, args):
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            visible = [n for n in self.list_commands(ctx) if not self.get_command(ctx, n).hidden]
            guess = closest(name, visible)
            hint = f"did you mean '{guess}'?" if guess else f"{ctx.command_path} --help lists the commands"
            raise UsageError(f"no such command '{name}' ({hint})", ctx)
        return super().resolve_command(ctx, args)


class RunByDefault(Group):
    """A group whose first word, when it is not a subcommand, belongs to its `run` command:
    `dlbench tune CONFIG ...` is `dlbench tune run CONFIG ...`, `dlbench serve RUN...` is `dlbench serve run RUN...`,
    while `tune show` and `serve keys` stay subcommands."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


def usage_sentence(e) -> str:
    """The one sentence that says what is wrong with the command line, ending with where to look."""
    ctx = e.ctx
    where = f"{ctx.command_path} --help" if ctx is not None else "dlbench --help"
    if isinstance(e, NoSuchOption):
        known = [o for p in ctx.command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")] if ctx else []
        guess = closest(e.option_name, known) or _config_key(e.option_name, known)
        hint = f"did you mean {guess}?" if guess else f"{where} lists the options"
        return f"no such option {e.option_name} ({hint})"
    text = " ".join(e.format_message().split()).rstrip(".")
    if text.startswith("no such command"):  # Group's own sentence carries its hint
        return text
    return f"{text[:1].lower()}{text[1:]} (see {where})"


def _config_key(option: str, known: list[str]) -> str | None:
    """`--steps` on a command that takes `-o`: the config key it most likely means, as an override."""
    if "-o" not in known or not option.startswith("--"):
        return None
    from dlbench.config.sections import OptimConfig, TrainConfig  # pydantic only, and only on this error path

    field = option[2:].replace("-", "_")
    for section, model in (("train", TrainConfig), ("optim", OptimConfig)):
        if field in model.model_fields:
            return f"-o {section}.{field}=VALUE"
    return None
