"""Causal language models: KV-cache parity (logits and greedy tokens, also past the position window), seeded
sampling, the RNN LM, and the RNN text classifier's padding invariance."""
import pytest
import torch

from dlbench.models.causal_lm import CausalTransformerLM, RNNLM
from dlbench.models.rnn_text import TextRNNClassifier
from dlbench.recipes.rnn import RNNConfig
from dlbench.recipes.transformer import TransformerConfig
from dlbench.tasks.generation import SamplingOptions, generate_ids


def transformer(positions=24, tie=True):
    torch.manual_seed(0)
    cfg = TransformerConfig(d_model=32, heads=4, layers=2, dropout=0.0, tie_embeddings=tie)
    return CausalTransformerLM(40, positions, cfg).eval()


def rnn_lm(cell="lstm"):
    torch.manual_seed(0)
    cfg = RNNConfig(cell=cell, embedding_dim=16, hidden_size=24, layers=2, dropout=0.0, tie_embeddings=True)
    return RNNLM(40, cfg).eval()


@pytest.mark.parametrize("make", [transformer, rnn_lm, lambda: rnn_lm("gru")])
def test_cache_steps_match_the_full_forward(make):
    model = make()
    ids = torch.randint(4, 40, (3, 12))
    with torch.no_grad():
        full = model(ids)
        logits, state = model.prefill(ids[:, :5])
        got = [logits]
        for t in range(5, 12):
            logits, state = model.step(ids[:, t], state)
            got.append(logits)
    torch.testing.assert_close(torch.stack(got, 1), full[:, 4:], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("make", [transformer, rnn_lm])
def test_greedy_generation_is_identical_with_and_without_cache(make):
    model = make()
    opts = SamplingOptions(max_new_tokens=60, greedy=True)  # 60 > 24 positions: the window slides
    with_cache, reason = generate_ids(model, [5, 6, 7], opts, use_cache=True)
    without, _ = generate_ids(model, [5, 6, 7], opts, use_cache=False)
    assert with_cache == without
    assert len(with_cache) == 60 and reason == "length"


def test_seeded_sampling_is_reproducible():
    model = transformer()
    opts = SamplingOptions(max_new_tokens=30, temperature=1.0, top_k=20, seed=7)
    a, _ = generate_ids(model, [5, 6], opts)
    b, _ = generate_ids(model, [5, 6], opts)
    c, _ = generate_ids(model, [5, 6], opts.model_copy(update={"seed": 8}))
    assert a == b and a != c


def test_weight_tying():
    m = transformer()
    assert m.head.weight.data_ptr() == m.embed.tokens.weight.data_ptr()
    m = transformer(tie=False)
    assert m.head.weight.data_ptr() != m.embed.tokens.weight.data_ptr()


@pytest.mark.parametrize("pooling", ["mean", "max", "last"])
def test_text_rnn_ignores_padding(pooling):
    torch.manual_seed(0)
    cfg = RNNConfig(cell="gru", embedding_dim=8, hidden_size=8, bidirectional=True, dropout=0.0, pooling=pooling)
    m = TextRNNClassifier(30, 3, 0, cfg).eval()
    a = torch.tensor([[5, 6, 7, 8]])
    padded = torch.tensor([[5, 6, 7, 8, 0, 0, 0], [9, 10, 0, 0, 0, 0, 0]])
    with torch.no_grad():
        torch.testing.assert_close(m(padded)[:1], m(a), atol=1e-6, rtol=1e-5)
