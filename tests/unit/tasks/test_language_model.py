"""Language-model metrics (bits per character with a known answer for char and subword tokenizers), the random
training windows, and sampling (seeds, greedy, top-k/top-p, stop strings, bad options)."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from dlbench.data.bundle import DataSpec, Split
from dlbench.data.corpus import eval_rows, fit_corpus_tokenizer, token_chars
from dlbench.data.tokenize import TokenizerOptions
from dlbench.errors import UserError
from dlbench.tasks.generation import SamplingOptions, TextStream, encode_prompt, pick
from dlbench.tasks.language_model import LanguageModelTask, random_windows

TEXT = "".join(f"the {w} sat on the mat number {i}.\n" for i, w in zip(range(300), ["cat", "dog", "bird"] * 100))


class Uniform(nn.Module):
    """Equal logits for every token: exactly log V nats per token."""

    def __init__(self, vocab):
        super().__init__()
        self.vocab, self.w = vocab, nn.Parameter(torch.zeros(1))

    def forward(self, ids):
        return torch.zeros(*ids.shape, self.vocab) + 0 * self.w


def task_for(tok, context=16):
    spec = DataSpec("language_model", (context,), extras={
        "context": context, "pad_id": 0, "vocab_size": tok.vocab_size, "token_chars": token_chars(tok),
        "tokenizer": tok.to_json()})
    return LanguageModelTask(spec)


@pytest.mark.parametrize("kind", ["char", "sentencepiece"])
def test_bits_per_char_known_answer(kind):
    tok = fit_corpus_tokenizer(TEXT, TokenizerOptions(type=kind, vocab_size=60))
    ids = np.array(tok.encode(TEXT))
    task = task_for(tok)
    out = task.evaluate(Uniform(tok.vocab_size), Split(torch.from_numpy(eval_rows(ids, 16)), None), 64, "cpu")
    chars = len(TEXT) - len(tok.decode(ids[:1].tolist()))        # every character after the first token
    expected = (len(ids) - 1) * math.log2(tok.vocab_size) / chars
    assert out["bits_per_char"] == pytest.approx(expected, rel=1e-6)
    assert out["bits_per_token"] == pytest.approx(math.log2(tok.vocab_size), rel=1e-6)
    assert out["perplexity"] == pytest.approx(tok.vocab_size, rel=1e-6)
    if kind == "char":
        assert out["bits_per_char"] == pytest.approx(math.log2(tok.vocab_size), rel=1e-6)
    else:
        assert len(ids) < 0.9 * len(TEXT)  # subwords: fewer tokens than characters, same bits per char scale


def test_random_windows_are_contiguous_and_vary():
    x = torch.arange(100).repeat(8, 1)
    torch.manual_seed(0)
    w = random_windows(x, 10)
    assert w.shape == (8, 10) and bool(((w[:, 1:] - w[:, :-1]) == 1).all())
    assert len(set(w[:, 0].tolist())) > 1


def test_sampling_options_and_pick():
    logits = torch.tensor([0., 0., 0., 0., 5., 4., 3., 1.])
    assert pick(logits, SamplingOptions(greedy=True), None) == 4
    assert pick(logits, SamplingOptions(temperature=0), None) == 4
    draws = {pick(logits, SamplingOptions(top_k=2), torch.Generator().manual_seed(s)) for s in range(60)}
    assert draws == {4, 5}
    draws = {pick(logits, SamplingOptions(top_p=0.5), torch.Generator().manual_seed(s)) for s in range(30)}
    assert draws == {4}  # token 4 alone holds over half the mass
    specials = {pick(torch.zeros(8), SamplingOptions(), torch.Generator().manual_seed(s)) for s in range(80)}
    assert not specials & {0, 1, 2, 3}  # never <pad>, <bos>, <eos>, <unk>
    for bad in ({"temperature": -1}, {"top_k": 0}, {"top_p": 1.5}, {"max_new_tokens": 10**6}, {"seed": -1},
                {"stop": [""]}, {"beam": 3}):
        with pytest.raises(UserError):
            SamplingOptions.parse(**bad)


def test_prompt_outside_the_vocabulary_is_refused():
    tok = fit_corpus_tokenizer(TEXT, TokenizerOptions(type="char"))
    with pytest.raises(UserError, match="outside the model's vocabulary .'Z'"):
        encode_prompt(tok, "the Zebra")
    assert encode_prompt(tok, "") == tok.encode("\n")


def test_stop_strings_cut_the_text_and_hold_back_partial_matches():
    tok = fit_corpus_tokenizer(TEXT, TokenizerOptions(type="char"))
    sent = []
    s = TextStream(tok, ["mat"], sent.append)
    stopped = [s.add(t) for t in tok.encode("the cat sat on the mat and")]
    assert stopped.index(True) == len("the cat sat on the mat") - 1
    s.flush()
    assert s.text == "the cat sat on the " and "".join(sent) == s.text
