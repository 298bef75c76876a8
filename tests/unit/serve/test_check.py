"""`dlbench serve check`: each unsafe setting is a finding naming its fix; high findings make the exit code 1."""
import json
import os

import pytest

from dlbench.serve.auth import add_key
from dlbench.serve.check import check_deployment, print_findings
from dlbench.serve.settings import ServeSettings


def keys(tmp_path, *roles):
    path = tmp_path / "keys.json"
    for i, role in enumerate(roles):
        add_key(path, f"k{i}")
        if role != "inference":  # written as the roles-aware keys file records it
            doc = json.loads(path.read_text())
            doc["keys"][-1]["role"] = role
            path.write_text(json.dumps(doc))
    os.chmod(path, 0o600)
    return path


def findings(settings, runs=()):
    return [(f.severity, f.what, f.fix) for f in check_deployment(settings, list(runs))]


def test_a_safe_loopback_configuration_has_no_findings(tmp_path, capsys):
    assert findings(ServeSettings(api_keys_path=keys(tmp_path, "inference", "admin"))) == []
    assert print_findings([]) == 0
    assert "no findings" in capsys.readouterr().out


def test_exposed_without_tls_or_keys_is_high(tmp_path, capsys):
    found = findings(ServeSettings(host="0.0.0.0", no_auth=True))
    assert [s for s, _, _ in found] == ["high", "high"]
    assert "--ssl-certfile" in found[0][2] and "--no-auth" in found[1][2]
    assert findings(ServeSettings(no_auth=True))[0][0] == "medium"  # loopback: only this machine's users
    check = check_deployment(ServeSettings(host="0.0.0.0", no_auth=True), [])
    assert print_findings(check) == 1
    assert "2 high" in capsys.readouterr().out


def test_keys_file_problems(tmp_path):
    missing = findings(ServeSettings(api_keys_path=tmp_path / "none.json"))
    assert missing[0][0] == "high" and "dlbench serve keys add" in missing[0][2]
    path = keys(tmp_path, "inference")
    os.chmod(path, 0o644)
    readable = findings(ServeSettings(api_keys_path=path))
    assert readable == [("high", f"keys file {path} is readable by group and others: the key hashes let anyone "
                                 "holding them check guesses offline", f"chmod 600 {path}")]


def test_admin_and_inference_keys_must_differ(tmp_path):
    only_admin = findings(ServeSettings(api_keys_path=keys(tmp_path, "admin")))
    assert only_admin[0][0] == "high" and "every active key is an admin key" in only_admin[0][1]
    (tmp_path / "x").mkdir()
    path = keys(tmp_path / "x", "inference")
    doc = json.loads(path.read_text())
    doc["keys"].append({**doc["keys"][0], "name": "same", "role": "admin"})  # one key registered with both roles
    path.write_text(json.dumps(doc))
    both = findings(ServeSettings(api_keys_path=path))
    assert both[0][0] == "high" and "both an admin and an inference key" in both[0][1]


def test_limits_monitoring_and_request_log(tmp_path):
    log = tmp_path / "requests.jsonl"
    log.write_text("")
    os.chmod(log, 0o644)
    found = findings(ServeSettings(api_keys_path=keys(tmp_path, "inference"), max_body_bytes=2**30, monitor=False,
                                   request_log=log))
    assert [s for s, _, _ in found] == ["medium"] * 3
    assert [fix.split()[0] for _, _, fix in found] == ["--max-body-bytes", "drop", "chmod"]


def test_runs_verified_weights(trained_run, tmp_path):
    import shutil

    settings = ServeSettings(no_auth=True)
    assert findings(settings, [trained_run]) == [findings(settings)[0]]  # only the --no-auth note
    bad = tmp_path / "bad"
    shutil.copytree(trained_run, bad)
    with open(bad / "model.safetensors", "r+b") as f:
        f.seek(-1, 2)
        f.write(b"\0" if f.read(1) != b"\0" else b"\1")
    high = [f for f in findings(settings, [bad]) if f[0] == "high"]
    assert len(high) == 1 and "sha256" in high[0][1] and "refuses to load it" in high[0][1]


@pytest.mark.parametrize("args,code", [(["--no-auth"], 0), (["--host", "0.0.0.0", "--no-auth"], 1)])
def test_cli(run_cli, trained_run, args, code):
    rc, out, err = run_cli("serve", "check", trained_run, *args)
    assert rc == code, err
    assert ("HIGH" in out) == (code == 1)


def test_runs_of_the_model_repository_are_checked_too(trained_run, tmp_path):
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(trained_run, repo / "m" / "1")
    (repo / "m" / "1" / "reference_profile.json").write_text("{}")
    found = findings(ServeSettings(no_auth=True, model_repository=repo))
    assert any(s == "high" and "repo/m/1" in what and "reference_profile.json" in what for s, what, _ in found)
