"""The one table of `dlbench` commands, in the order `dlbench --help` lists them.

Every entry is imported here, unconditionally: a command module that fails to import fails the whole
command line, and a test (tests/unit/test_cli_imports.py) shows that none of them loads torch.
"""
from __future__ import annotations

import typer

from dlbench.cli import bench, configs, core, export, generate, machine, monitor, recommend, report, serve, size, tune
from dlbench.cli.parsing import Group

app = typer.Typer(cls=Group, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["--help", "-h"]},
                  help="Train, validate, benchmark, tune and deploy deep-learning models on your own hardware.")

# (name, a command function or a group's typer app, help panel)
COMMANDS = [
    ("recommend", recommend.recommend, "Choose and train"),
    ("configs", configs.app, "Choose and train"),
    ("train", core.train, "Choose and train"),
    ("evaluate", core.evaluate, "Choose and train"),
    ("compare", core.compare, "Choose and train"),
    ("predict", core.predict, "Choose and train"),
    ("generate", generate.generate, "Choose and train"),
    ("report", report.report, "Choose and train"),
    ("sysinfo", machine.sysinfo, "Measure"),
    ("profile", machine.profile, "Measure"),
    ("bench", bench.app, "Measure"),
    ("size", size.size, "Measure"),
    ("tune", tune.app, "Tune and deploy"),
    ("serve", serve.app, "Tune and deploy"),
    ("monitor", monitor.monitor, "Tune and deploy"),
    ("export", export.export, "Tune and deploy"),
]

for name, command, panel in COMMANDS:
    if isinstance(command, typer.Typer):
        app.add_typer(command, name=name, rich_help_panel=panel)
    else:
        app.command(name, rich_help_panel=panel)(command)


def walk(group: typer.Typer = app, path: tuple[str, ...] = ()):
    """Every command under `group`, depth first: (words after `dlbench`, the command function, is_group).

    A group's function is its callback (None for most); tests enumerate the command line through this.
    """
    callback = group.registered_callback.callback if group.registered_callback else None
    yield path, callback, True
    for info in group.registered_commands:
        yield (*path, info.name or info.callback.__name__), info.callback, False
    for info in group.registered_groups:
        yield from walk(info.typer_instance, (*path, info.name))
