"""`dlbench serve keys ...`, `dlbench serve run` argument parsing, the `serve RUN` shorthand, and what the
server prints when it starts (issue 25 item 12). Moved here from tests/unit/serve/test_cli.py with the command."""

import json

import pytest
from typer.testing import CliRunner

from dlbench.cli.serve import _parse_model, app
from dlbench.errors import UserError
from dlbench.serve.auth import KeyVerifier
from dlbench.serve.server import base_urls, startup_lines
from dlbench.serve.settings import ServeSettings


def test_add_list_revoke(tmp_path):
    runner, path = CliRunner(), tmp_path / "keys.json"
    added = runner.invoke(app, ["keys", "add", "--name", "ci", "--keys-file", str(path)])
    assert added.exit_code == 0, added.output
    key = added.stdout.strip().splitlines()[0]
    assert KeyVerifier(path).verify(key)
    assert key not in path.read_text() and json.loads(path.read_text())["keys"][0]["name"] == "ci"
    listed = runner.invoke(app, ["keys", "list", "--keys-file", str(path)])
    assert "ci" in listed.stdout and "active" in listed.stdout and key not in listed.stdout
    revoked = runner.invoke(app, ["keys", "revoke", "ci", "--keys-file", str(path)])
    assert revoked.exit_code == 0 and "revoked" in runner.invoke(app, ["keys", "list", "--keys-file", str(path)]).stdout


def test_default_path_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBENCH_API_KEYS", str(tmp_path / "env-keys.json"))
    assert CliRunner().invoke(app, ["keys", "add", "--name", "x"]).exit_code == 0
    assert (tmp_path / "env-keys.json").exists()


def test_model_specs():
    assert _parse_model("runs/a") == (None, "1", "runs/a")
    assert _parse_model("cnn=runs/a") == ("cnn", "1", "runs/a")
    assert _parse_model("cnn:2=runs/b") == ("cnn", "2", "runs/b")
    with pytest.raises(UserError, match="cannot read model"):
        _parse_model("=runs/a")


def test_serve_run_is_the_default_subcommand(run_cli, tmp_path):
    """`dlbench serve RUN` is `dlbench serve run RUN`; `serve keys` stays a group (the old argv rewrite)."""
    code, _, err = run_cli("serve", tmp_path / "missing-run", "--no-auth", "--port", "0")
    assert code == 2 and "missing-run" in err and "Usage:" not in err  # reached the run command's own check
    code, out, _ = run_cli("serve", "keys", "--help")
    assert code == 0 and "add" in out and "revoke" in out


class _Model:
    platform = "pytorch"

    def __init__(self, name, version):
        self.name, self.version = name, version


def test_startup_lines_name_urls_models_and_the_guide():
    settings = ServeSettings.from_options(host="127.0.0.1", port=8000, no_auth=True)
    lines = startup_lines([_Model("cnn", "1"), _Model("gen", "2")], settings, 8123, {("cnn", "1"): "cnn"})
    assert lines[0].startswith("serving 2 models at http://127.0.0.1:8123;") and "docs/serving.md" in lines[0]
    assert "without API keys" in lines[0]
    assert lines[1] == "  model cnn version 1 (cnn): POST http://127.0.0.1:8123/v2/models/cnn/versions/1/infer"
    assert "model gen version 2 (pytorch)" in lines[2]  # no family known: the platform


def test_base_urls():
    assert base_urls("127.0.0.1", 80, tls=False) == ["http://127.0.0.1:80"]
    assert base_urls("::1", 443, tls=True) == ["https://[::1]:443"]
    wildcard = base_urls("0.0.0.0", 8000, tls=False)
    assert len(wildcard) == 2 and wildcard[1] == "http://127.0.0.1:8000"



class _LM(_Model):
    def options(self, params):  # what marks a text generator (recipes/language_model.LMPredictor)
        return params


def test_startup_lines_name_the_generate_urls_of_a_language_model():
    settings = ServeSettings.from_options(host="127.0.0.1", port=8000, no_auth=True)
    lines = startup_lines([_LM("lm", "1"), _Model("cnn", "1")], settings, 8123, {("lm", "1"): "transformer"})
    base = "http://127.0.0.1:8123/v2/models/lm/versions/1"
    assert lines[2] == f"    text generation: POST {base}/generate, or {base}/generate_stream (server-sent events)"
    assert not any("generate" in line for line in lines[3:])
