"""run/rundir.py: a run directory is absent or complete enough to resume; model.json is verified whole."""
import json
import logging

import pytest
import torch

from dlbench.errors import UserError
from dlbench.run import rundir
from dlbench.run.rundir import RunDir, load_model, load_model_json, plan_run_dir
from tests.unit.run.disk import fill_disk


# --- lifecycle ---------------------------------------------------------------------------------------

def test_a_new_run_is_planned_and_created_only_with_its_config(tmp_path):
    run = RunDir.new(tmp_path / "a" / "r", "x", "name: x\n")
    assert not (tmp_path / "a").exists() and not run.created
    run.create()
    assert run.created and run.config_path.read_text() == "name: x\n"
    run.create()  # idempotent
    with pytest.raises(UserError, match="already exists"):
        RunDir.new(tmp_path / "a" / "r", "x", "")


def test_every_write_creates_a_planned_directory_with_its_config_first(tmp_path):
    run = RunDir.new(tmp_path / "r", "x", "cfg\n")
    run.log({"step": 1})
    assert run.config_path.read_text() == "cfg\n"
    run2 = RunDir.new(tmp_path / "r2", "x", "cfg\n")
    assert run2.checkpoints == tmp_path / "r2" / "checkpoints" and run2.config_path.is_file()


def test_a_full_disk_while_writing_the_config_leaves_nothing(tmp_path, monkeypatch):
    """Issue 27.9: no dead end; the retry finds the path unused."""
    fill_disk(monkeypatch, "config.yaml")
    run = RunDir.new(tmp_path / "runs" / "r", "x", "cfg\n" * 100)
    with pytest.raises(UserError, match="No space left"):
        run.create()
    assert list(tmp_path.iterdir()) == []  # runs/ too: this run made it
    monkeypatch.undo()
    RunDir.new(tmp_path / "runs" / "r", "x", "cfg\n").create()


def test_an_existing_empty_directory_is_kept_when_the_config_cannot_be_written(tmp_path, monkeypatch):
    (tmp_path / "r").mkdir()
    fill_disk(monkeypatch, "config.yaml")
    with pytest.raises(UserError):
        RunDir.new(tmp_path / "r", "x", "cfg\n").create()
    assert list((tmp_path / "r").iterdir()) == []


def test_a_directory_with_only_a_leftover_temporary_is_reused(tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / ".config.yaml.tmp").write_text("half a conf")  # kill -9 during the first write
    assert rundir.is_unused(d) and not rundir.has_run(d)
    RunDir.new(d, "x", "cfg\n").create()
    assert sorted(p.name for p in d.iterdir()) == ["config.yaml"]
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="already exists"):
        plan_run_dir(tmp_path / "s", "x")


def test_auto_named_runs_do_not_collide(tmp_path):
    a = RunDir.new(None, "x", "cfg\n", root=tmp_path)
    b = RunDir.new(None, "x", "cfg\n", root=tmp_path)
    a.create()
    b.create()  # planned at the same second: takes the next free name
    assert a.path != b.path and a.config_path.is_file() and b.config_path.is_file()


def test_metrics_survive_a_cut_line(tmp_path):
    run = RunDir(tmp_path)
    run.log({"step": 1, "kind": "eval", "val.loss": float("nan")})
    with open(run.metrics_path, "a") as f:
        f.write('{"step": 2, "ki')  # a full disk cut the line
    assert run.read_metrics() == [{"step": 1, "kind": "eval", "val.loss": None}]
    run.truncate_metrics(5)
    assert run.metrics_path.read_text() == '{"step": 1, "kind": "eval", "val.loss": null}\n'


# --- model.json: the whole description hashed with the weights --------------------------------------

INFO = {"format": "dlbench-model/1", "family": "mlp", "config": {"model": {"name": "mlp"}},
        "spec": {"task": "classification", "class_names": ["cat", "dog"]},
        "preprocessing": {"kind": "tabular", "mean": [0.5, 1.0], "std": [1.0, 2.0]}, "parameters": 6}


@pytest.fixture
def saved(tmp_path):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.save_model({"w": torch.ones(2, 3)}, INFO)
    return run


def test_model_json_records_format_weights_and_description_hash(saved):
    info = json.loads(saved.model_json_path.read_text())
    assert info["format"] == rundir.MODEL_FORMAT and len(info["description_sha256"]) == 64
    loaded, weights = load_model(saved.path)
    assert loaded == info and torch.equal(weights["w"], torch.ones(2, 3))
    assert load_model_json(saved.path)[0] == info


@pytest.mark.parametrize("edit", [
    lambda i: i["preprocessing"].update(mean=[0.0, 1.0]),
    lambda i: i["spec"].update(class_names=["dog", "cat"]),
    lambda i: i["config"]["model"].update(hidden=[64]),
    lambda i: i.update(tokenizer="abc"),
    lambda i: i.update(sha256="0" * 64),
    lambda i: i.update(description_sha256="0" * 64),
], ids=["preprocessing", "class-names", "config", "added-key", "weights-sha", "hash-itself"])
def test_an_edited_description_is_refused_naming_the_file(saved, edit):
    info = json.loads(saved.model_json_path.read_text())
    edit(info)
    saved.model_json_path.write_text(json.dumps(info, indent=1))
    with pytest.raises(UserError, match=r"r/model.json: the model description does not match") as e:
        load_model(saved.path)
    assert "\n" not in e.value.line()
    with pytest.raises(UserError):
        load_model_json(saved.path)


def test_a_deleted_description_hash_is_refused(saved):
    info = json.loads(saved.model_json_path.read_text())
    del info["description_sha256"]
    saved.model_json_path.write_text(json.dumps(info))
    with pytest.raises(UserError, match="no description_sha256"):
        load_model(saved.path)


def test_a_run_of_the_previous_version_loads_with_a_warning(tmp_path, caplog):
    """dlbench-model/1 runs carry no description hash: accepted, with a warning that they are unverified."""
    run = RunDir(tmp_path)
    digest = rundir.atomic_save_tensors(run.model_path, {"w": torch.ones(1)})
    run.model_json_path.write_text(json.dumps({**INFO, "sha256": digest}))
    with caplog.at_level(logging.WARNING):
        info, _ = load_model(tmp_path)
    assert info["sha256"] == digest and "without a description hash" in caplog.text
    run.model_json_path.write_text(json.dumps({**INFO, "sha256": "0" * 64}))
    with pytest.raises(UserError, match="sha256 does not match"):  # its weights are still verified
        load_model(tmp_path)


@pytest.mark.parametrize("text", ["[]", '"model"', "42", "null", "[" * 100000, "{"])
def test_model_json_that_is_not_an_object_is_one_line(saved, text):
    saved.model_json_path.write_text(text)
    with pytest.raises(UserError, match=r"model.json (is not a JSON object|\(corrupt)|corrupt model.json"):
        load_model(saved.path)


@pytest.mark.parametrize("content", [b"\x80\x04garbage", b""], ids=["pickle", "empty"])
def test_weights_that_are_not_safetensors_are_refused_even_with_matching_hashes(saved, content):
    """A pickle written over model.safetensors, its hashes recomputed: still never parsed as anything else."""
    import hashlib

    saved.model_path.write_bytes(content)
    info = json.loads(saved.model_json_path.read_text())
    info["sha256"] = hashlib.sha256(content).hexdigest()
    body = {k: v for k, v in info.items() if k != "description_sha256"}
    info["description_sha256"] = rundir.canonical_sha256(body)
    saved.model_json_path.write_text(json.dumps(info))
    with pytest.raises(UserError, match="not a safetensors file"):
        load_model(saved.path)


# --- the test split ----------------------------------------------------------------------------------

def test_test_split_openings_are_appended_and_counted(tmp_path):
    run = RunDir(tmp_path)
    assert run.record_test_access("final test after training") == []
    earlier = run.record_test_access("dlbench evaluate")
    assert [r["by"] for r in earlier] == ["final test after training"]
    assert len(run.test_accesses()) == 2 and all("time" in r for r in run.test_accesses())
