"""Seq2SeqTask: the interface the core loop calls, BLEU cadence, detailed evaluation."""
import pytest
import torch

from dlbench.schema import parse_config
from dlbench.data import build_data
from dlbench.errors import UserError
from dlbench.recipes.registry import build_model
from dlbench.recipes.registry import get_recipe


def config(**train):
    return parse_config({
        "data": {"kind": "numbers", "low": 0, "high": 999, "train_size": 200, "val_size": 30, "test_size": 30},
        "model": {"name": "transformer-seq2seq", "d_model": 16, "heads": 2, "encoder_layers": 1, "decoder_layers": 1,
                  "decode": {"bleu_every": 2, "bleu_samples": 10}},
        "train": {"label_smoothing": 0.1, **train}})


@pytest.fixture(scope="module")
def setup():
    cfg = config()
    bundle = build_data(cfg.data)
    torch.manual_seed(0)
    model = build_model(cfg.model, bundle.spec)
    return cfg, bundle, model, get_recipe(cfg.model.name).build_task(cfg, bundle.spec)


def test_loss_and_the_selection_metric(setup):
    cfg, bundle, model, task = setup
    assert (task.metric, task.metrics["bleu"], task.label_smoothing) == ("val.bleu", "max", 0.1)
    loss = task.loss(model, bundle.train.x[:8], bundle.train.y[:8])
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert model.tgt_embed.tokens.weight.grad is not None


def test_bleu_is_decoded_every_n_evaluations_and_detailed_mode_adds_samples(setup, monkeypatch):
    cfg, bundle, model, task = setup
    calls = []
    real = task._scores
    monkeypatch.setattr(task, "_scores", lambda *a, **k: calls.append(k or a[-2]) or real(*a, **k))
    m = [task.evaluate(model, bundle.val, 64, torch.device("cpu")) for _ in range(3)]
    assert len(calls) == 2, "evaluations 1 and 3 decode, 2 repeats the last scores"
    assert {"loss", "token_accuracy", "bleu", "chrf", "exact_match"} <= set(m[0]) and m[1]["bleu"] == m[0]["bleu"]
    assert "samples" not in m[0] and "bleu_signature" not in m[0]
    d = task.evaluate(model, bundle.val, 64, torch.device("cpu"), detailed=True)
    assert d["decoded"] == 30, "the final evaluation decodes the whole split"
    assert d["bleu_signature"].startswith("nrefs:1") and len(d["samples"]) == 10
    assert set(d["samples"][0]) == {"source", "reference", "hypothesis"}
    assert d["samples"][0]["reference"] == bundle.val.targets[0]


def test_translate_and_predictions(setup):
    cfg, bundle, model, task = setup
    texts = task.translate(model, bundle.val.x[:4].numpy(), torch.device("cpu"), beam=2)
    assert len(texts) == 4 and all(isinstance(t, str) for t in texts)
    ids = torch.tensor([[5, 6, 2, 0]])
    assert task.predictions(ids)["translation"][0] == task.target.decode([5, 6])


def test_patience_must_cover_the_bleu_cadence():
    with pytest.raises(UserError, match="patience .1. is below model.decode.bleu_every .2."):
        cfg = config(early_stopping={"metric": "val.bleu", "patience": 1})
        get_recipe(cfg.model.name).build_task(cfg, build_data(cfg.data).spec)


@pytest.mark.parametrize("name", ["transformer-seq2seq", "rnn-seq2seq"])
def test_bf16_autocast_trains_and_decodes(name):
    """train.precision: bf16 runs the task under torch.autocast (checked on CPU here; the same path on a GPU)."""
    from dlbench.training.device import autocast_for

    cfg = config()
    bundle = build_data(cfg.data)
    model = build_model(cfg.model if name == "transformer-seq2seq" else
                        parse_config({**cfg.model_dump(mode="json"), "model": {"name": name, "embedding_dim": 16,
                                                                             "hidden_size": 16}}).model, bundle.spec)
    task = get_recipe(cfg.model.name).build_task(cfg, bundle.spec)
    autocast = autocast_for(torch.device("cpu"), "bf16")
    with autocast():
        loss = task.loss(model, bundle.train.x[:8], bundle.train.y[:8])
    loss.backward()
    assert torch.isfinite(loss)
    m = task.evaluate(model, bundle.val, 64, torch.device("cpu"), detailed=True, autocast=autocast)
    assert 0 <= m["bleu"] <= 100 and len(m["samples"]) == 10
