import json

import pytest
import torch

from dlbench.errors import UserError
from dlbench.run import files
from dlbench.training import checkpoint as ck
from dlbench.training.optim import build_optimizer, build_scheduler
from dlbench.schema import OptimConfig


def _setup():
    torch.manual_seed(0)
    m = torch.nn.Linear(3, 2)
    cfg = OptimConfig(schedule="cosine")
    opt = build_optimizer(cfg, m)
    sch = build_scheduler(cfg, opt, 10)
    m(torch.randn(4, 3)).sum().backward()
    opt.step()
    sch.step()
    return m, opt, sch


def test_roundtrip_restores_model_optimizer_scheduler_and_rng(tmp_path):
    m, opt, sch = _setup()
    ck.save_checkpoint(tmp_path, 1, m, opt, sch, {"step": 1, "x": [1, 2]}, keep=2)
    expected_next = torch.rand(3)
    m2, opt2, sch2 = _setup()
    torch.manual_seed(99)
    tensors, meta = ck.load_latest_checkpoint(tmp_path)
    state = ck.restore_checkpoint(tensors, meta, m2, opt2, sch2)
    assert state == {"step": 1, "x": [1, 2]}
    assert torch.equal(torch.rand(3), expected_next)
    for a, b in zip(m.parameters(), m2.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(opt.state_dict()["state"][0]["exp_avg"], opt2.state_dict()["state"][0]["exp_avg"])
    assert sch2.last_epoch == sch.last_epoch


def test_corrupt_or_truncated_checkpoints_are_skipped(tmp_path, caplog):
    m, opt, sch = _setup()
    for step in (1, 2, 3):
        ck.save_checkpoint(tmp_path, step, m, opt, sch, {"step": step}, keep=5)
    # step 3: truncated tensors; step 2: JSON record cut short
    p3 = tmp_path / "step-3.safetensors"
    p3.write_bytes(p3.read_bytes()[:100])
    (tmp_path / "step-2.json").write_text('{"step": 2, "sha')
    tensors, meta = ck.load_latest_checkpoint(tmp_path)
    assert meta["step"] == 1
    assert "skipping checkpoint step-3.json" in caplog.text and "step-2.json" in caplog.text


def test_keep_prunes_old_checkpoints_and_leaves_no_temp_files(tmp_path):
    m, opt, sch = _setup()
    for step in range(1, 6):
        ck.save_checkpoint(tmp_path, step, m, opt, sch, {"step": step}, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-4.json", "step-4.safetensors",
                                                           "step-5.json", "step-5.safetensors"]
    assert json.loads((tmp_path / "step-5.json").read_text())["sha256"] == files.sha256_file(tmp_path / "step-5.safetensors")


def test_tied_weights_are_saved(tmp_path):
    emb = torch.nn.Embedding(5, 4)
    head = torch.nn.Linear(4, 5, bias=False)
    head.weight = emb.weight
    m = torch.nn.ModuleDict({"emb": emb, "head": head})
    digest = files.atomic_save_tensors(tmp_path / "t.safetensors", m.state_dict())
    loaded = files.load_verified_tensors(tmp_path / "t.safetensors", digest)
    assert torch.equal(loaded["emb.weight"], loaded["head.weight"])


def _three(tmp_path):
    m, opt, sch = _setup()
    for step in (1, 2, 3):
        ck.save_checkpoint(tmp_path, step, m, opt, sch, {"step": step}, keep=5)
    return m, opt, sch


def _edit(path, fn):
    meta = json.loads(path.read_text())
    fn(meta)
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize("damage", [
    lambda p: p.write_text("[]"),
    lambda p: p.write_text('"step-3"'),
    lambda p: _edit(p, lambda m: m.pop("rng")),
    lambda p: _edit(p, lambda m: m.update(step=7)),
    lambda p: _edit(p, lambda m: m["rng"].update(python=[3, [1, 2], None])),
    lambda p: _edit(p, lambda m: m["state"].update(step=99)),
], ids=["list", "string", "no-rng", "other-step", "rng-edited", "state-edited"])
def test_a_record_that_is_not_what_was_written_is_skipped_for_an_older_one(tmp_path, caplog, damage):
    """Issue 27.8: `train --resume` over a record that is `[]`, lacks its RNG state or was edited."""
    _three(tmp_path)
    damage(tmp_path / "step-3.json")
    tensors, meta = ck.load_latest_checkpoint(tmp_path)
    assert meta["step"] == 2 and "skipping checkpoint step-3.json" in caplog.text


def test_records_of_the_previous_version_without_their_own_hash_still_load(tmp_path):
    _three(tmp_path)
    _edit(tmp_path / "step-3.json", lambda m: m.pop("record_sha256"))
    assert ck.load_latest_checkpoint(tmp_path)[1]["step"] == 3
    _edit(tmp_path / "step-3.json", lambda m: m["rng"].pop("numpy"))  # but they are still checked
    assert ck.load_latest_checkpoint(tmp_path)[1]["step"] == 2


def test_tensors_without_an_rng_state_are_skipped(tmp_path, caplog):
    m, opt, sch = _three(tmp_path)
    from safetensors.torch import load_file

    t = load_file(str(tmp_path / "step-3.safetensors"))
    del t["rng.torch"]
    digest = files.atomic_save_tensors(tmp_path / "step-3.safetensors", t)
    _edit(tmp_path / "step-3.json", lambda meta: (meta.update(sha256=digest), meta.pop("record_sha256")))
    assert ck.load_latest_checkpoint(tmp_path)[1]["step"] == 2 and "no torch RNG state" in caplog.text


def test_nothing_intact_means_starting_over_with_a_warning(tmp_path, caplog):
    _three(tmp_path)
    for p in tmp_path.glob("step-*.json"):
        p.write_text("[]")
    assert ck.load_latest_checkpoint(tmp_path) is None
    assert "no intact checkpoint" in caplog.text and "step 0" in caplog.text


def test_a_checkpoint_of_another_model_is_one_error(tmp_path):
    _three(tmp_path)
    tensors, meta = ck.load_latest_checkpoint(tmp_path)
    other = torch.nn.Linear(5, 2)
    with pytest.raises(UserError, match="checkpoint step-3 does not fit"):
        ck.restore_checkpoint(tensors, meta, other, None, None)
