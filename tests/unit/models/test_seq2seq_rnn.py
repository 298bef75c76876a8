"""RNN encoder-decoder with attention: padding-invariance and step/forward agreement."""
import pytest
import torch

from dlbench.data.bundle import DataSpec
from dlbench.errors import UserError
from dlbench.recipes.registry import build_model
from dlbench.recipes.rnn import RNNConfig

SPEC = DataSpec("seq2seq", (16,), extras={"src_vocab_size": 30, "tgt_vocab_size": 25, "max_len": 16, "pad_id": 0})


def ragged(lengths, vocab, seed=0):
    g = torch.Generator().manual_seed(seed)
    rows = [torch.randint(4, vocab, (n,), generator=g) for n in lengths]
    batch = torch.zeros(len(rows), max(lengths), dtype=torch.long)
    for i, r in enumerate(rows):
        batch[i, :len(r)] = r
    return batch, rows


@pytest.mark.parametrize("cell, attention, bidirectional, layers", [
    ("lstm", "luong", True, 1), ("gru", "bahdanau", False, 2), ("lstm", "none", True, 2)])
def test_padded_batch_equals_items_one_by_one(cell, attention, bidirectional, layers):
    torch.manual_seed(0)
    model = build_model(RNNConfig(cell=cell, attention=attention, bidirectional=bidirectional,
                                               layers=layers, embedding_dim=8, hidden_size=12), SPEC).eval()
    src, src_rows = ragged([5, 2, 9], 30, seed=1)
    tgt, tgt_rows = ragged([4, 6, 3], 25, seed=2)
    out = model(src, tgt)
    assert out.shape == (3, 6, 25)
    for i in range(3):
        one = model(src_rows[i][None], tgt_rows[i][None])[0]
        torch.testing.assert_close(out[i, :len(tgt_rows[i])], one, atol=1e-5, rtol=1e-5)


def test_step_by_step_equals_teacher_forcing():
    torch.manual_seed(0)
    model = build_model(RNNConfig(embedding_dim=8, hidden_size=8, tie_embeddings=True), SPEC).eval()
    assert model.proj.weight is model.tgt_embed.weight
    src, _ = ragged([5, 7], 30)
    tgt, _ = ragged([4, 4], 25, seed=4)
    full = model(src, tgt)
    state = model.encode(src)
    for t in range(4):
        logits, state = model.step(tgt[:, t], state)
        torch.testing.assert_close(logits, full[:, t])


def test_tying_needs_equal_sizes_and_the_data_picks_the_head():
    from dlbench.models.rnn import RNN
    from dlbench.models.seq2seq_rnn import RNNSeq2Seq

    with pytest.raises(UserError, match="embedding_dim == model.hidden_size"):
        build_model(RNNConfig(embedding_dim=8, hidden_size=12, tie_embeddings=True), SPEC)
    assert isinstance(build_model(RNNConfig(embedding_dim=8, hidden_size=8), SPEC), RNNSeq2Seq)
    sequence = build_model(RNNConfig(), DataSpec("classification", (4,), 2))  # the same family on sequences
    assert isinstance(sequence, RNN) and sequence.rnn.hidden_size == 64 and sequence.bidirectional  # GRU, both ways
    assert isinstance(sequence.rnn, torch.nn.GRU) and sequence.pooling == "flatten"  # 4 steps <= 64: flattened
