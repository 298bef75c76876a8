"""API keys: shown once, stored as hashes, revocable, checked in constant time."""

import json
import os
import stat
import time

import pytest

from dlbench.errors import UserError
from dlbench.serve.auth import KEY_PREFIX, KeyVerifier, add_key, hash_key, list_keys, revoke_key


def test_add_stores_only_a_hash(tmp_path):
    path = tmp_path / "keys.json"
    key = add_key(path, "alice")
    assert key.startswith(KEY_PREFIX) and len(key) > 40
    text = path.read_text()
    assert key not in text and key[len(KEY_PREFIX):] not in text
    doc = json.loads(text)
    assert doc["keys"][0]["name"] == "alice"
    assert doc["keys"][0]["hash"] == hash_key(key)
    assert doc["keys"][0]["revoked"] is None and doc["keys"][0]["created"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_keys_are_unique_and_names_checked(tmp_path):
    path = tmp_path / "keys.json"
    assert add_key(path, "a") != add_key(path, "b")
    with pytest.raises(UserError, match="already exists"):
        add_key(path, "a")
    with pytest.raises(UserError, match="invalid key name"):
        add_key(path, "has space")


def test_list_and_revoke(tmp_path):
    path = tmp_path / "keys.json"
    add_key(path, "a")
    add_key(path, "b")
    revoke_key(path, "a")
    listed = {k["name"]: k for k in list_keys(path)}
    assert set(listed) == {"a", "b"} and "hash" not in listed["a"]
    assert listed["a"]["revoked"] and listed["b"]["revoked"] is None
    with pytest.raises(UserError, match="no active key named 'a'"):
        revoke_key(path, "a")
    add_key(path, "a")  # a revoked name may be reused


def test_verifier_accepts_active_keys_and_sees_revocation(tmp_path):
    path = tmp_path / "keys.json"
    good, other = add_key(path, "good"), add_key(path, "other")
    verifier = KeyVerifier(path)
    assert verifier.verify(good) and verifier.verify(other)
    assert not verifier.verify(None) and not verifier.verify("") and not verifier.verify(good + "x")
    time.sleep(0.01)  # a distinct mtime, so the running verifier notices the change
    revoke_key(path, "good")
    assert not verifier.verify(good) and verifier.verify(other)


def test_verifier_needs_an_active_key_and_a_sane_file(tmp_path):
    with pytest.raises(UserError, match="no active API keys"):
        KeyVerifier(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"keys": 3}')
    with pytest.raises(UserError, match="is not of the form"):
        KeyVerifier(bad)
    bad.write_text("{not json")
    with pytest.raises(UserError, match="cannot read API keys file"):
        list_keys(bad)
