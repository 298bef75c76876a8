"""Greedy and beam search: beam 1 is greedy, batching changes nothing, a wider beam finds better sentences."""
import pytest
import torch

from dlbench.data.bundle import DataSpec
from dlbench.data.tokenize import BOS, EOS, PAD
from dlbench.recipes.registry import build_model
from dlbench.recipes.rnn import RNNConfig
from dlbench.recipes.transformer import TransformerConfig
from dlbench.tasks.decoding import beam_search, decode, greedy, length_penalty

SPEC = DataSpec("seq2seq", (12,), extras={"src_vocab_size": 20, "tgt_vocab_size": 9, "max_len": 12, "pad_id": PAD})


def models():
    torch.manual_seed(0)
    yield build_model(TransformerConfig(d_model=16, heads=2, encoder_layers=1, decoder_layers=1),
                                    SPEC).eval()
    yield build_model(RNNConfig(embedding_dim=8, hidden_size=8), SPEC).eval()


def source():
    g = torch.Generator().manual_seed(1)
    src = torch.randint(4, 20, (6, 7), generator=g)
    for i, n in enumerate([7, 3, 5, 1, 6, 2]):
        src[i, n - 1] = EOS
        src[i, n:] = PAD
    return src


@pytest.mark.parametrize("model", list(models()), ids=["transformer", "rnn"])
def test_beam_one_equals_greedy_and_batching_changes_nothing(model):
    src = source()
    g = greedy(model, src, 10)
    assert torch.equal(beam_search(model, src, 10, beam=1), g)
    assert g.shape[0] == 6 and g.shape[1] <= 10
    for i in range(6):
        n = int((src[i] != PAD).sum())
        one = greedy(model, src[i:i + 1, :n], 10)[0]
        assert one.tolist() == g[i, :len(one)].tolist() and (g[i, len(one):] == PAD).all()
    b4 = beam_search(model, src, 10, beam=4)
    assert b4.shape[0] == 6 and model.training is False


class Toy(torch.nn.Module):
    """Next-token table, ignores the source. From <bos>: A .6, B .4; after A: A .35, B .35, <eos> .3;
    after B: <eos>. Greedy follows A forever (p .6 * .35^n); the best sentence is 'B <eos>' (p .4)."""
    A, B = 4, 5

    def __init__(self):
        super().__init__()
        p = torch.full((6, 6), 1e-6)
        p[BOS, self.A], p[BOS, self.B] = 0.6, 0.4
        p[self.A, self.A], p[self.A, self.B], p[self.A, EOS] = 0.35, 0.35, 0.3
        p[self.B, EOS] = 1.0
        p[EOS, EOS] = p[PAD, PAD] = 1.0
        self.register_buffer("table", p.log())

    def encode(self, src):
        return {"src": src}

    def step(self, tokens, state):
        return self.table[tokens], state


def test_a_wider_beam_finds_the_more_probable_sentence():
    toy, src = Toy(), torch.ones(2, 3, dtype=torch.long)
    assert greedy(toy, src, 5)[0].tolist() == [Toy.A] * 5
    best = beam_search(toy, src, 5, beam=2, alpha=0.0)
    assert [[t for t in row if t != PAD] for row in best.tolist()] == [[Toy.B, EOS], [Toy.B, EOS]]
    assert decode(toy, src, 5, beam=2, alpha=0.0).tolist() == best.tolist()


def test_length_penalty_is_gnmt():
    assert length_penalty(torch.tensor([1]), 0.0).item() == 1.0
    assert length_penalty(torch.tensor([7]), 1.0).item() == pytest.approx(2.0)
