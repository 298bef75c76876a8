"""run/files.py: atomic writes that fail cleanly on a full disk, and tensor reads that verify before parsing."""
import pickle

import pytest
import torch

from dlbench.errors import UserError
from dlbench.run import files
from tests.unit.run.disk import fill_disk


def test_a_full_disk_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    p = tmp_path / "config.yaml"
    files.atomic_write_bytes(p, b"old")
    fill_disk(monkeypatch, "config.yaml")
    with pytest.raises(UserError, match=r"cannot write .*config.yaml: No space left on device") as e:
        files.atomic_write_bytes(p, b"new" * 1000)
    assert "--resume" in e.value.line()
    assert p.read_bytes() == b"old" and sorted(x.name for x in tmp_path.iterdir()) == ["config.yaml"]


def test_a_full_disk_while_saving_tensors_or_appending_is_one_error(tmp_path, monkeypatch):
    fill_disk(monkeypatch, "*.safetensors", "metrics.jsonl")
    with pytest.raises(UserError, match="No space left"):
        files.atomic_save_tensors(tmp_path / "m.safetensors", {"w": torch.zeros(100)})
    with pytest.raises(UserError, match="metrics.jsonl: No space left"):
        files.append_text(tmp_path / "metrics.jsonl", "{}\n")
    assert not list(tmp_path.glob(".*.tmp"))


def test_tensors_are_verified_before_they_are_parsed(tmp_path):
    p = tmp_path / "t.safetensors"
    digest = files.atomic_save_tensors(p, {"w": torch.arange(4.0)})
    assert digest == files.sha256_file(p)
    assert torch.equal(files.load_verified_tensors(p, digest)["w"], torch.arange(4.0))
    for sha in (None, "", "abc", 42):
        with pytest.raises(ValueError, match="no valid sha256"):
            files.load_verified_tensors(p, sha)
    with pytest.raises(ValueError, match="sha256 does not match"):
        files.load_verified_tensors(p, "0" * 64)
    with pytest.raises(ValueError, match="unreadable"):
        files.load_verified_tensors(tmp_path / "none.safetensors", digest)


@pytest.mark.parametrize("content", [pickle.dumps({"w": [1.0, 2.0]}), b"", b"\x10\x00\x00\x00\x00\x00\x00\x00{"],
                         ids=["pickle", "empty", "truncated"])
def test_a_file_that_hashes_right_but_is_no_safetensors_is_refused(tmp_path, content):
    p = tmp_path / "t.safetensors"
    p.write_bytes(content)
    with pytest.raises(ValueError, match="not a safetensors file"):
        files.load_verified_tensors(p, files.sha256_file(p))


def test_canonical_sha256_is_the_same_before_and_after_a_json_round_trip():
    import json

    obj = {"b": (1, 2.5), "a": {"3": [None, "x"]}, "c": float("nan")}
    assert files.canonical_sha256(obj) == files.canonical_sha256(json.loads(json.dumps(obj, indent=1)))
    assert files.canonical_sha256(obj) != files.canonical_sha256({**obj, "b": [1, 2.6]})
