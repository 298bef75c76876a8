"""Hostile run directories (issue 27, items 1, 2, 8 and 9): damaged, edited or swapped files that evaluate,
predict and `train --resume` read back, and a disk that fills up under a run.

Nothing corrupt is ever accepted: what evaluate and predict cannot trust gets one `error:` line naming the
file, exit code 2, no traceback; a damaged checkpoint or best-weights file is skipped with a warning and
the resumed run ends with a verified model; a full disk is one line, and leaves a run directory that is
either absent or resumable. Each case damages a copy of one tiny finished run."""
from __future__ import annotations

import hashlib
import json
import logging
import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from dlbench.run.files import canonical_sha256, sha256_file
from dlbench.run.rundir import load_model
from tests.conftest import tiny
from tests.unit.run.disk import fill_disk


def _model_json(run: Path) -> dict:
    return json.loads((run / "model.json").read_text())


def _rehash(info: dict) -> dict:
    """What someone who knows the format does after an edit: recompute the description hash."""
    body = {k: v for k, v in info.items() if k != "description_sha256"}
    return {**body, "description_sha256": canonical_sha256(body)}


def _write(run: Path, name: str, content) -> None:
    (run / name).write_bytes(content if isinstance(content, bytes) else content.encode())


def _edit_info(fn, rehash: bool = False):
    def damage(run: Path):
        info = _model_json(run)
        fn(info)
        _write(run, "model.json", json.dumps(_rehash(info) if rehash else info, indent=1))
    return damage


def _weights(content: bytes, rehash: bool):
    """model.safetensors replaced by `content`; with rehash, model.json is made to match it."""
    def damage(run: Path):
        _write(run, "model.safetensors", content)
        if rehash:
            _edit_info(lambda i: i.update(sha256=hashlib.sha256(content).hexdigest()), rehash=True)(run)
    return damage


def _truncated(run: Path) -> bytes:
    return (run / "model.safetensors").read_bytes()[:-7]


PICKLE = pickle.dumps({"conv.weight": np.zeros(3)})  # never unpickled: refused before or while parsing

# (id, damage(run), error needle): every one is refused by both evaluate and predict
REFUSED = [
    ("model-json-list", lambda r: _write(r, "model.json", "[]"), "model.json is not a JSON object"),
    ("model-json-string", lambda r: _write(r, "model.json", '"model"'), "model.json is not a JSON object"),
    ("model-json-null", lambda r: _write(r, "model.json", "null"), "model.json is not a JSON object"),
    ("model-json-cut", lambda r: _write(r, "model.json", (r / "model.json").read_text()[:50]), "corrupt model.json"),
    ("model-json-deep", lambda r: _write(r, "model.json", "[" * 200_000), "corrupt model.json"),
    ("model-json-binary", lambda r: _write(r, "model.json", b"\xff\xfe\x00garbage"), "corrupt model.json"),
    ("model-json-empty", lambda r: _write(r, "model.json", ""), "corrupt model.json"),
    ("preprocessing-edited", _edit_info(lambda i: i["preprocessing"].update(kind="array", mean=7.0)),
     "model description does not match"),
    ("class-names-swapped", _edit_info(lambda i: i["spec"]["class_names"].reverse()),
     "model description does not match"),
    ("config-edited", _edit_info(lambda i: i["config"]["train"].update(seed=1)), "model description does not match"),
    ("hash-deleted", _edit_info(lambda i: i.pop("description_sha256")), "no description_sha256"),
    ("hash-deleted-format-1", _edit_info(lambda i: (i.pop("description_sha256"), i.update(format="dlbench-model/3"))),
     "no description_sha256"),
    ("weights-sha-edited", _edit_info(lambda i: i.update(sha256="0" * 64)), "model description does not match"),
    ("weights-pickle", _weights(PICKLE, rehash=False), "sha256 does not match"),
    ("weights-pickle-rehashed", _weights(PICKLE, rehash=True), "not a safetensors file"),
    ("weights-truncated", lambda r: _weights(_truncated(r), rehash=False)(r), "sha256 does not match"),
    ("weights-truncated-rehashed", lambda r: _weights(_truncated(r), rehash=True)(r), "not a safetensors file"),
    ("weights-empty-rehashed", _weights(b"", rehash=True), "not a safetensors file"),
    ("weights-missing", lambda r: (r / "model.safetensors").unlink(), "model.safetensors is missing"),
    ("model-json-missing", lambda r: (r / "model.json").unlink(), "no model.json"),
    ("model-json-is-a-folder", lambda r: ((r / "model.json").unlink(), (r / "model.json").mkdir()), "no model.json"),
]


@pytest.fixture
def damaged(trained_run, tmp_path):
    def make(damage) -> Path:
        run = tmp_path / "run"
        shutil.copytree(trained_run, run)
        damage(run)
        return run
    return make


def _one_line(code, out, err, needle):
    assert code == 2, err
    assert "Traceback" not in out + err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert needle in err, err


@pytest.mark.parametrize("damage,needle", [pytest.param(d, n, id=i) for i, d, n in REFUSED])
@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_a_damaged_run_is_refused_in_one_line(damage, needle, command, damaged, run_cli, tmp_path):
    run = damaged(damage)
    inputs = tmp_path / "x.npz"
    np.savez(inputs, x=np.zeros((3, 1, 40), dtype=np.float32))
    args = [command, run, "--split", "test"] if command == "evaluate" else [command, run, inputs]
    _one_line(*run_cli(*args), needle)
    assert not (run / "test_access.jsonl").read_text().count("dlbench evaluate")  # a refused run was not opened


# --- train --resume over damaged checkpoints: skipped with a warning, never accepted -----------------

CFG = tiny(steps=60, checkpoint_every=20, eval_every=20, log_every=10)


def _ckpt(name: str, content):
    return lambda run: _write(run / "checkpoints", name, content)


def _edit_record(fn):
    def damage(run):
        p = run / "checkpoints" / "step-60.json"
        meta = json.loads(p.read_text())
        fn(meta)
        p.write_text(json.dumps(meta))
    return damage


# (id, damage(run), warning needle, the step training resumes from)
SKIPPED = [
    ("record-list", _ckpt("step-60.json", "[]"), "skipping checkpoint step-60.json", 40),
    ("record-number", _ckpt("step-60.json", "60"), "skipping checkpoint step-60.json", 40),
    ("record-cut", _ckpt("step-60.json", '{"step": 60, "sha'), "skipping checkpoint step-60.json", 40),
    ("record-no-rng", _edit_record(lambda m: m.pop("rng")), "skipping checkpoint step-60.json", 40),
    ("record-edited-position", _edit_record(lambda m: m["state"].update(position=[0, 0])),
     "does not match its record_sha256", 40),
    ("tensors-pickle", _ckpt("step-60.safetensors", PICKLE), "sha256 does not match", 40),
    ("tensors-swapped", lambda r: shutil.copyfile(r / "checkpoints" / "step-40.safetensors",
                                                  r / "checkpoints" / "step-60.safetensors"),
     "sha256 does not match", 40),
    ("every-record-broken", lambda r: [p.write_text("[]") for p in (r / "checkpoints").glob("step-*.json")],
     "no intact checkpoint", 0),
    ("best-garbage", _ckpt("best.safetensors", b"\x00" * 4096), "ignoring", 60),
    ("best-pickle", _ckpt("best.safetensors", PICKLE), "ignoring", 60),
    ("best-missing", lambda r: (r / "checkpoints" / "best.safetensors").unlink(), "ignoring", 60),
]


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A run killed after its last checkpoint and before its model was written."""
    import dlbench

    run = tmp_path_factory.mktemp("stopped") / "run"
    dlbench.train(CFG, run_dir=run)
    for f in ("model.safetensors", "model.json", "result.json", "test_access.jsonl"):
        (run / f).unlink()
    return run


@pytest.mark.parametrize("damage,needle,from_step", [pytest.param(d, n, s, id=i) for i, d, n, s in SKIPPED])
def test_resume_skips_what_is_damaged_and_ends_with_a_verified_model(damage, needle, from_step, stopped_run,
                                                                     tmp_path, run_cli, caplog):
    run = tmp_path / "run"
    shutil.copytree(stopped_run, run)
    damage(run)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(CFG))
    caplog.set_level(logging.INFO, logger="dlbench")
    code, out, err = run_cli("train", cfg, "--run-dir", run, "-q", "--resume")
    assert code == 0, err
    assert "Traceback" not in out + err and needle in caplog.text + err
    assert (f"resumed from step {from_step}" in caplog.text) if from_step else ("resumed from" not in caplog.text)
    info, _ = load_model(run)  # description and weights verified
    assert info["sha256"] == sha256_file(run / "model.safetensors")
    result = json.loads((run / "result.json").read_text())
    assert result["diagnosis"]["verdict"] not in ("invalid", "diverged") and result["val"]["loss"] is not None
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 60 and steps.count(60) == 2  # what was redone was logged once


# --- a full disk ------------------------------------------------------------------------------------

SHORT = tiny(steps=8, eval_every=4, log_every=4, checkpoint_every=4)


@pytest.mark.parametrize("pattern", ["config.yaml", "metrics.jsonl", "step-*.safetensors", "step-*.json",
                                     "best.safetensors", "model.safetensors", "model.json", "result.json"])
def test_a_full_disk_is_one_line_and_leaves_the_run_absent_or_resumable(pattern, tmp_path, monkeypatch, run_cli):
    cfg, run = tmp_path / "c.yaml", tmp_path / "runs" / "r"
    cfg.write_text(yaml.safe_dump(SHORT))
    refused = fill_disk(monkeypatch, pattern)
    code, out, err = run_cli("train", cfg, "--run-dir", run, "-q")
    assert refused
    _one_line(code, out, err, "No space left on device")
    assert not list(tmp_path.rglob(".*.tmp"))  # no temporary is left behind
    monkeypatch.undo()  # space is freed
    if pattern == "config.yaml":
        assert not (tmp_path / "runs").exists()  # absent: the plain retry works
        code, _, err = run_cli("train", cfg, "--run-dir", run, "-q")
    else:
        code, _, err = run_cli("train", cfg, "--run-dir", run, "-q", "--resume")
    assert code == 0, err
    load_model(run)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 48 KiB tmpfs: a real ENOSPC from the kernel (skipped where mounting is not permitted)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mnt)], check=True,
                       capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("mounting a tmpfs is not permitted here")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False, capture_output=True, timeout=10)


def test_a_real_full_disk_during_training(tiny_disk, tmp_path, run_cli):
    """The run does not fit in 48 KiB: one line, exit 2; copied to a disk with space, it resumes."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tiny(steps=40, checkpoint_every=10, eval_every=10, log_every=10)))
    code, out, err = run_cli("train", cfg, "--run-dir", tiny_disk / "r", "-q")
    _one_line(code, out, err, "No space left on device")
    assert not list(tiny_disk.rglob(".*.tmp"))
    moved = tmp_path / "moved"
    shutil.copytree(tiny_disk / "r", moved)
    code, _, err = run_cli("train", cfg, "--run-dir", moved, "-q", "--resume")
    assert code == 0, err
    load_model(moved)


def test_a_real_full_disk_before_the_config_leaves_nothing(tiny_disk, tmp_path, run_cli):
    filler = tiny_disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(SHORT))
    code, out, err = run_cli("train", cfg, "--run-dir", tiny_disk / "r", "-q")
    _one_line(code, out, err, "config.yaml: No space left on device")
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler"]
    filler.unlink()  # the retry is not refused: it starts (the whole run does not fit in 48 KiB anyway)
    code, _, err = run_cli("train", cfg, "--run-dir", tiny_disk / "r", "-q")
    assert "already exists" not in err and (tiny_disk / "r" / "config.yaml").is_file()
