"""Key roles and expiry: admin vs inference keys, keys from before roles, expiry dates, the audit file."""

import json
import os
import stat
from datetime import datetime, timedelta, timezone

import pytest

from dlbench.errors import UserError
from dlbench.serve.audit import AuditLog, read_audit
from dlbench.serve.auth import Identity, KeyVerifier, add_key, list_keys, needs_admin, parse_expiry


def test_roles_and_legacy_keys(tmp_path):
    path = tmp_path / "keys.json"
    admin, user = add_key(path, "ops", role="admin"), add_key(path, "app")
    doc = json.loads(path.read_text())
    doc["keys"].append({"name": "legacy", "hash": doc["keys"][1]["hash"].replace("a", "b"), "created": None,
                        "revoked": None})  # written before roles existed: no role, no expiry
    path.write_text(json.dumps(doc))
    v = KeyVerifier(path)
    assert v.identify(admin) == (Identity("ops", "admin"), "") and v.identify(user)[0].role == "inference"
    assert v.identify("dlb_nope") == (None, "invalid") and v.identify(None) == (None, "missing")
    assert {k["name"]: k["role"] for k in list_keys(path)} == {"ops": "admin", "app": "inference", "legacy": "inference"}
    with pytest.raises(UserError, match="unknown key role"):
        add_key(path, "x", role="root")
    assert needs_admin("/v2/repository/index") and needs_admin("/v2/logs") and not needs_admin("/v2/models/m/infer")


def test_expiry(tmp_path):
    now = datetime(2027, 1, 1, tzinfo=timezone.utc)
    assert parse_expiry("30d", now) == now + timedelta(days=30)
    assert parse_expiry("2027-02-01", now) == datetime(2027, 2, 1, tzinfo=timezone.utc)
    assert parse_expiry(None) is None
    for bad, message in [("2026-01-01", "in the past"), ("soon", "not a duration")]:
        with pytest.raises(UserError, match=message):
            parse_expiry(bad, now)
    path = tmp_path / "keys.json"
    past = add_key(path, "old", expires=datetime.now(timezone.utc) + timedelta(days=1))
    doc = json.loads(path.read_text())
    doc["keys"][0]["expires"] = "2020-01-01T00:00:00+00:00"  # as if that day had come
    path.write_text(json.dumps(doc))
    add_key(path, "new", expires=datetime.now(timezone.utc) + timedelta(days=1))
    assert KeyVerifier(path).identify(past) == (None, "expired")
    assert [k["expired"] for k in list_keys(path)] == [True, False]


def test_audit_file_holds_names_not_keys(tmp_path):
    audit = AuditLog(tmp_path / "logs" / "audit.jsonl")
    assert stat.S_IMODE(os.stat(audit.path).st_mode) == 0o600
    audit.record(Identity("ops", "admin"), "load", "cnn", 200, "ok", loaded=["2"])
    audit.record(None, "index", None, 400, "refused: bad body")
    first, second = read_audit(audit.path)
    assert first["key"] == "ops" and first["role"] == "admin" and first["loaded"] == ["2"] and first["time"]
    assert second["key"] is None and second["status"] == 400
