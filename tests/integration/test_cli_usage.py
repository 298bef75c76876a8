"""Usage mistakes (issue 25 item 1): every command and subcommand of the command table x {a bogus option, a
missing argument, a bad value for a typed option} prints the usage line and one `error:` sentence, exits 2,
never a traceback. A bare group prints its help and exits 0, as a bare `docker` or `kubectl` does."""
from __future__ import annotations

import inspect
import re
import typing

import pytest
import typer

from dlbench.cli.commands import walk
from dlbench.cli.parsing import RunByDefault

COMMANDS = [(path, fn) for path, fn, is_group in walk() if not is_group]
GROUPS = [path for path, _, is_group in walk() if is_group]


def assert_usage_error(result, *needles):
    code, out, err = result
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 2, err
    usage, error = lines
    assert usage.startswith("Usage: dlbench"), err
    assert error.startswith("error: "), err
    sentence = error.removeprefix("error: ")
    assert not re.search(r"[.!?] +[A-Z]", sentence), f"more than one sentence: {sentence}"
    for n in needles:
        assert n in sentence, (n, sentence)


def _params(fn):
    """(option flags, is required, annotation) of each parameter of a command function, from its typer defaults."""
    hints = typing.get_type_hints(fn)
    for name, p in inspect.signature(fn).parameters.items():
        info = p.default
        if isinstance(info, typer.models.ParameterInfo):
            flags = [d for d in (info.param_decls or ()) if d.startswith("-")] or [f"--{name.replace('_', '-')}"]
            yield flags, info.default is ..., hints[name], isinstance(info, typer.models.OptionInfo)


def _typed_option(fn) -> str | None:
    for flags, _, hint, is_option in _params(fn):
        if is_option and (hint in (int, float) or {int, float} & set(typing.get_args(hint))):
            return flags[0]
    return None


def _id(path) -> str:
    return " ".join(path) or "dlbench"


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=_id)
def test_bogus_option(run_cli, path):
    assert_usage_error(run_cli(*path, "--no-such-option"), "no such option --no-such-option")


@pytest.mark.parametrize("path", [p for p, fn in COMMANDS if any(req for _, req, _, _ in _params(fn))], ids=_id)
def test_missing_argument(run_cli, path):
    assert_usage_error(run_cli(*path), "missing")


@pytest.mark.parametrize("path,flag", [(p, _typed_option(fn)) for p, fn in COMMANDS if _typed_option(fn)],
                         ids=lambda v: _id(v) if isinstance(v, tuple) else v)
def test_bad_value_of_a_typed_option(run_cli, path, flag):
    # Options are checked in the order given, so a bad value is reported before missing arguments.
    assert_usage_error(run_cli(*path, flag, "abc"), "invalid value", flag)


@pytest.mark.parametrize("path", GROUPS, ids=_id)
def test_group_bogus_option_and_bare_group(run_cli, path):
    assert_usage_error(run_cli(*path, "--no-such-option"), "no such option")
    if path != ("configs",):  # a bare `dlbench configs` lists the configs
        code, out, err = run_cli(*path)
        assert code == 0 and "Usage: dlbench" in out and not err, (code, out, err)


def _group_classes():
    from dlbench.cli.commands import app

    found = {}
    for path, _, is_group in walk():
        if is_group and path:
            g = app
            for word in path:
                g = next(i.typer_instance for i in g.registered_groups if i.name == word)
            found[path] = g.info.cls
    return found


@pytest.mark.parametrize("path", [p for p, cls in _group_classes().items() if cls is not RunByDefault], ids=_id)
def test_unknown_subcommand_names_the_closest(run_cli, path):
    assert_usage_error(run_cli(*path, "no-such-command"), "no such command 'no-such-command'")


# The mistakes issue 25 reproduced, each with what its one sentence must say.
REPORTED = [
    (["trian"], ["no such command 'trian'", "did you mean 'train'?"]),
    (["train"], ["missing argument"]),
    (["train", "x.yaml", "--steps", "10"], ["no such option --steps", "-o train.steps="]),
    (["train", "x.yaml", "--run-dri", "runs/a"], ["did you mean --run-dir?"]),
    (["train", "x.yaml", "-o", "train.steps", "100"], ["'train.steps' is not dotted.key=value"]),
    (["tune", "mnist1d-cnn", "--space", "s.yaml", "--trials", "abc"], ["invalid value for '--trials'"]),
    (["serve", "runs/x", "--port", "abc"], ["invalid value for '--port'"]),
    (["report", "runs/x", "-o", "r.html"], ["no such option -o"]),  # -o is --override everywhere (item 10)
    (["bench", "rnu"], ["did you mean 'run'?"]),
]


@pytest.mark.parametrize("args,needles", REPORTED, ids=[" ".join(a) for a, _ in REPORTED])
def test_reported_mistakes(run_cli, args, needles):
    assert_usage_error(run_cli(*args), *needles)


def test_bare_dlbench_prints_help_and_exits_0(run_cli):
    code, out, err = run_cli()
    assert code == 0 and "Usage: dlbench" in out and "train" in out and not err


def test_help_is_not_an_error(run_cli):
    for words in ([], ["train"], ["serve"], ["serve", "keys", "add"], ["tune"]):
        code, out, _ = run_cli(*words, "--help")
        assert code == 0 and "Usage: dlbench" in out, words
    assert run_cli("-h")[0] == 0
