"""The adversarial loop: D/G alternation and ratio, losses, bit-identical resume, divergence stops."""
import contextlib
import json

import pytest
import torch
from safetensors.torch import load_file

import dlbench
from dlbench.data.bundle import DataSpec
from dlbench.errors import UserError
from dlbench.recipes.registry import build_model
from dlbench.recipes.gan.model import GANConfig
from dlbench.recipes.gan import loop as gan_loop
from dlbench.training.loop import Diverged, Interrupted


def gan_cfg(model=None, **train):
    """An unconditional table GAN on diabetes (no classes, so no reference classifier): a second or two."""
    t = {"steps": 12, "batch_size": 32, "eval_every": 6, "log_every": 3, "checkpoint_every": 4, "threads": 1,
         "eval_train_samples": 100}
    t.update(train)
    m = {"name": "gan", "width": 16, "latent_dim": 8, "eval_samples": 64, "d_steps": 2, "ema": 0.9, "conditional": False}
    m.update(model or {})
    return {"data": {"kind": "diabetes"}, "model": m, "train": t, "name": "tiny-gan"}


def test_losses():
    zero = torch.zeros(4)
    log2 = torch.log(torch.tensor(2.0))
    assert gan_loop.d_loss_fn("non_saturating", zero, zero) == pytest.approx(2 * log2)
    assert gan_loop.g_loss_fn("non_saturating", zero) == pytest.approx(log2)
    assert gan_loop.d_loss_fn("hinge", torch.full((4,), 2.0), torch.full((4,), -2.0)) == 0
    assert gan_loop.d_loss_fn("hinge", zero, zero) == 2
    assert gan_loop.g_loss_fn("hinge", torch.full((4,), 3.0)) == -3


@pytest.mark.parametrize("d_steps", [1, 3])
def test_alternation_and_ratio(d_steps):
    mc = GANConfig(width=8, latent_dim=4, d_steps=d_steps, conditional=False)
    gan = build_model(mc, DataSpec("regression", (5,)))
    G, D = gan.generator, gan.discriminator
    opt_g, opt_d = torch.optim.Adam(G.parameters()), torch.optim.Adam(D.parameters())
    order, d_grads = [], {}
    real_step_d, real_step_g = opt_d.step, opt_g.step

    def step_d(*a, **k):
        order.append("D")
        d_grads["last"] = [p.grad.clone() for p in D.parameters()]
        return real_step_d(*a, **k)

    def step_g(*a, **k):
        order.append("G")
        # the G step computed no discriminator gradients: D's grads are still those of its own last step
        assert all(torch.equal(p.grad, g) for p, g in zip(D.parameters(), d_grads["last"]))
        assert all(p.grad is not None for p in G.parameters())
        return real_step_g(*a, **k)

    opt_d.step, opt_g.step = step_d, step_g
    served = []

    def batches():
        while True:
            served.append(1)
            yield torch.randn(6, 5), None

    it = batches()
    for _ in range(2):
        gan_loop.adversarial_step(gan, opt_d, opt_g, it, mc, torch.device("cpu"))
    assert order == (["D"] * d_steps + ["G"]) * 2
    assert len(served) == 2 * d_steps  # every D step sees a fresh real batch
    assert all(p.requires_grad for p in D.parameters())


@contextlib.contextmanager
def interrupt_after(monkeypatch, n_steps):
    """Make the loop see a SIGINT after `n_steps` steps, as Ctrl-C would."""
    count = {"n": 0}
    real_step = gan_loop.adversarial_step

    def counting(*a, **k):
        count["n"] += 1
        return real_step(*a, **k)

    class Flag(dict):
        def __getitem__(self, key):
            return 2 if count["n"] >= n_steps else None

    @contextlib.contextmanager
    def fake_signals():
        yield Flag()

    with monkeypatch.context() as m:
        m.setattr(gan_loop, "adversarial_step", counting)
        m.setattr(gan_loop, "stop_signals", fake_signals)
        yield


def test_resume_after_interruption_is_bit_identical(tmp_path, monkeypatch):
    whole = dlbench.train(gan_cfg(), run_dir=tmp_path / "whole")
    assert whole.result["training"]["d_updates"] == 12 * 2 and whole.result["training"]["g_updates"] == 12
    with interrupt_after(monkeypatch, 7):
        with pytest.raises(Interrupted):
            dlbench.train(gan_cfg(), run_dir=tmp_path / "cut")
    assert (tmp_path / "cut" / "checkpoints" / "step-7.json").is_file()
    dlbench.train(None, run_dir=tmp_path / "cut", resume=True)
    a, b = load_file(str(tmp_path / "whole" / "model.safetensors")), load_file(str(tmp_path / "cut" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    def evals(d):
        return [{k: v for k, v in json.loads(line).items()} for line in (d / "metrics.jsonl").read_text().splitlines()
                if '"eval"' in line]
    assert evals(tmp_path / "whole") == evals(tmp_path / "cut")
    r = json.loads((tmp_path / "cut" / "result.json").read_text())
    assert r["val"]["data_fd_untrained"] > 0 and "column_stats" in r["val"] and (tmp_path / "cut" / "samples.png").is_file()


def test_nan_losses_stop_the_run_and_keep_the_last_good_checkpoint(tmp_path, monkeypatch):
    real = gan_loop.g_loss_fn
    calls = {"n": 0}

    def poisoned(kind, fake):
        calls["n"] += 1
        return real(kind, fake) * (float("nan") if calls["n"] > 5 else 1.0)

    monkeypatch.setattr(gan_loop, "g_loss_fn", poisoned)
    with pytest.raises(Diverged, match=r"non-finite.*step-4\.json"):
        dlbench.train(gan_cfg(), run_dir=tmp_path / "r")
    ck = tmp_path / "r" / "checkpoints"
    assert (ck / "step-4.json").is_file() and not (ck / "step-6.json").exists()
    assert not (tmp_path / "r" / "model.safetensors").exists()


def test_a_discriminator_that_wins_for_many_evals_stops_the_run(tmp_path, monkeypatch):
    real = gan_loop.measure

    def d_wins(gan, *a, **k):
        m, fake = real(gan, *a, **k)
        m.update(d_accuracy_real=1.0, d_accuracy_fake=1.0)
        return m, fake

    monkeypatch.setattr(gan_loop, "measure", d_wins)
    cfg = gan_cfg({"divergence_patience": 2}, eval_every=2, checkpoint_every=1, keep_checkpoints=1)
    with pytest.raises(Diverged, match=r"discriminator has won completely for 2 evaluations.*step-1\.json"):
        dlbench.train(cfg, run_dir=tmp_path / "r")
    ck = tmp_path / "r" / "checkpoints"
    assert (ck / "step-1.json").is_file()  # the checkpoint from before the streak survives rotation


def test_optim_section_is_refused_for_gans(tmp_path):
    cfg = gan_cfg()
    cfg["optim"] = {"lr": 0.1}
    with pytest.raises(UserError, match="model.g_lr"):
        dlbench.train(cfg, run_dir=tmp_path / "r")
