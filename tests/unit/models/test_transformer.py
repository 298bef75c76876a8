"""Transformer classifier and encoder-decoder: masks, incremental decoding, tying, limits."""
import pytest
import torch

from dlbench.data.bundle import DataSpec
from dlbench.errors import UserError
from dlbench.recipes.registry import build_model
from dlbench.recipes.transformer import TransformerConfig

PAD = 0


def seq2seq_spec(shared=False):
    return DataSpec("seq2seq", (16,), extras={"src_vocab_size": 30, "tgt_vocab_size": 30 if shared else 25,
                                              "max_len": 16, "pad_id": PAD, "shared_vocab": shared})


def ragged(lengths, vocab, seed=0):
    """Right-padded [B, max(lengths)] ids with no pad inside, and the unpadded rows."""
    g = torch.Generator().manual_seed(seed)
    rows = [torch.randint(4, vocab, (n,), generator=g) for n in lengths]
    batch = torch.zeros(len(rows), max(lengths), dtype=torch.long)
    for i, r in enumerate(rows):
        batch[i, :len(r)] = r
    return batch, rows


@pytest.mark.parametrize("pooling", ["mean", "cls"])
@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_classifier_padded_batch_equals_items_one_by_one(pooling, positions):
    torch.manual_seed(0)
    spec = DataSpec("classification", (12,), 3, ["a", "b", "c"], extras={"vocab_size": 20, "max_len": 12, "pad_id": PAD})
    model = build_model(TransformerConfig(d_model=16, heads=2, layers=2, pooling=pooling, positions=positions),
                              spec).eval()
    batch, rows = ragged([3, 7, 12, 1], 20)
    out = model(batch)
    assert out.shape == (4, 3)
    for i, r in enumerate(rows):
        torch.testing.assert_close(out[i], model(r[None])[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_seq2seq_padded_batch_equals_items_one_by_one(positions):
    torch.manual_seed(0)
    model = build_model(TransformerConfig(d_model=16, heads=2, encoder_layers=2, decoder_layers=2,
                                                               positions=positions), seq2seq_spec()).eval()
    src, src_rows = ragged([5, 2, 9], 30, seed=1)
    tgt, tgt_rows = ragged([4, 6, 3], 25, seed=2)
    out = model(src, tgt)
    assert out.shape == (3, 6, 25)
    for i in range(3):
        one = model(src_rows[i][None], tgt_rows[i][None])[0]
        # positions past a target's end attend to its padding (causally); only the real ones are compared
        torch.testing.assert_close(out[i, :len(tgt_rows[i])], one, atol=1e-5, rtol=1e-5)


def test_incremental_decoding_with_the_cache_equals_the_parallel_decoder():
    torch.manual_seed(0)
    model = build_model(TransformerConfig(d_model=16, heads=2, encoder_layers=1, decoder_layers=2),
                                      seq2seq_spec()).eval()
    src, _ = ragged([5, 8], 30)
    tgt, _ = ragged([6, 6], 25, seed=3)
    full = model(src, tgt)
    state = model.encode(src)
    for t in range(tgt.shape[1]):
        logits, state = model.step(tgt[:, t], state)
        torch.testing.assert_close(logits, full[:, t], atol=1e-5, rtol=1e-5)


def test_weight_tying_and_sharing():
    tied = build_model(TransformerConfig(d_model=16, heads=2), seq2seq_spec())
    assert tied.proj.weight is tied.tgt_embed.tokens.weight and tied.proj.bias is None
    untied = build_model(TransformerConfig(d_model=16, heads=2, tie_embeddings=False), seq2seq_spec())
    n_tied, n_untied = (sum(p.numel() for p in m.parameters()) for m in (tied, untied))
    assert n_untied - n_tied == 25 * 16 + 25
    shared = build_model(TransformerConfig(d_model=16, heads=2, share_embeddings=True),
                                       seq2seq_spec(shared=True))
    assert shared.src_embed.tokens is shared.tgt_embed.tokens
    with pytest.raises(UserError, match="share_embeddings needs one vocabulary"):
        build_model(TransformerConfig(d_model=16, heads=2, share_embeddings=True), seq2seq_spec())


def test_dropout_is_active_in_training_only():
    torch.manual_seed(0)
    model = build_model(TransformerConfig(d_model=16, heads=2, dropout=0.5), seq2seq_spec())
    src, _ = ragged([5, 8], 30)
    tgt, _ = ragged([4, 4], 25)
    assert not torch.equal(model(src, tgt), model(src, tgt))
    model.eval()
    assert torch.equal(model(src, tgt), model(src, tgt))


def test_config_checks_and_limits():
    with pytest.raises(ValueError, match="divisible by heads"):
        TransformerConfig(d_model=10, heads=3)
    with pytest.raises(UserError, match="without a vocabulary"):
        build_model(TransformerConfig(), DataSpec("classification", (4,), 2))
    with pytest.raises(UserError, match="model transformer classifies token sequences"):
        build_model(TransformerConfig(), DataSpec("regression", (4,)))
    model = build_model(TransformerConfig(d_model=16, heads=2), seq2seq_spec())
    with pytest.raises(UserError, match="exceeds the model's 16 positions"):
        model(torch.ones(1, 17, dtype=torch.long), torch.ones(1, 3, dtype=torch.long))
