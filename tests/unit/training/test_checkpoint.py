import json

import torch

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
    files.atomic_save_tensors(tmp_path / "t.safetensors", m.state_dict())
    loaded = files.load_verified_tensors(tmp_path / "t.safetensors", None)
    assert torch.equal(loaded["emb.weight"], loaded["head.weight"])
