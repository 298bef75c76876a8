"""`dlbench serve keys ...` and `dlbench serve run` argument parsing (the Typer group plugins.py mounts)."""

import json

from typer.testing import CliRunner

from dlbench.serve.auth import KeyVerifier
import pytest

from dlbench.errors import UserError
from dlbench.serve.cli import _parse_model, serve_app


def test_add_list_revoke(tmp_path):
    runner, path = CliRunner(), tmp_path / "keys.json"
    added = runner.invoke(serve_app, ["keys", "add", "--name", "ci", "--keys-file", str(path)])
    assert added.exit_code == 0, added.output
    key = added.stdout.strip().splitlines()[0]
    assert KeyVerifier(path).verify(key)
    assert key not in path.read_text() and json.loads(path.read_text())["keys"][0]["name"] == "ci"
    listed = runner.invoke(serve_app, ["keys", "list", "--keys-file", str(path)])
    assert "ci" in listed.stdout and "active" in listed.stdout and key not in listed.stdout
    revoked = runner.invoke(serve_app, ["keys", "revoke", "ci", "--keys-file", str(path)])
    assert revoked.exit_code == 0 and "revoked" in runner.invoke(serve_app, ["keys", "list", "--keys-file", str(path)]).stdout


def test_default_path_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBENCH_API_KEYS", str(tmp_path / "env-keys.json"))
    assert CliRunner().invoke(serve_app, ["keys", "add", "--name", "x"]).exit_code == 0
    assert (tmp_path / "env-keys.json").exists()


def test_model_specs():
    assert _parse_model("runs/a") == (None, "1", "runs/a")
    assert _parse_model("cnn=runs/a") == ("cnn", "1", "runs/a")
    assert _parse_model("cnn:2=runs/b") == ("cnn", "2", "runs/b")
    with pytest.raises(UserError, match="cannot read model"):
        _parse_model("=runs/a")
