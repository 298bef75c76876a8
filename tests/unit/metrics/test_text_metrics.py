"""BLEU / chrF through sacrebleu, and token accuracy."""
import pytest
import torch

from dlbench.metrics.text import corpus_scores, exact_match, token_accuracy

REFS = ["trois cent quarante-deux", "mille", "quatre-vingt-dix-neuf mille deux cents"]


def test_identical_corpora_score_100_with_signatures():
    s = corpus_scores(list(REFS), REFS)
    assert s["bleu"] == pytest.approx(100.0) and s["chrf"] == pytest.approx(100.0)
    assert s["bleu_signature"].startswith("nrefs:1|case:mixed") and "tok:13a" in s["bleu_signature"]
    assert "version:" in s["chrf_signature"]
    assert exact_match(REFS, REFS) == 1.0


def test_errors_lower_the_scores():
    hyps = ["trois cent quarante-trois", "mille", "quatre-vingt-dix-neuf mille deux cent"]
    s = corpus_scores(hyps, REFS)
    assert 0 < s["bleu"] < 100 and 0 < s["chrf"] < 100
    assert exact_match(hyps, REFS) == pytest.approx(1 / 3)
    assert corpus_scores([], [])["bleu"] == 0.0
    with pytest.raises(ValueError):
        corpus_scores(["a"], [])


def test_token_accuracy_ignores_padding():
    target = torch.tensor([[5, 6, 0], [7, 0, 0]])
    logits = torch.nn.functional.one_hot(torch.tensor([[5, 9, 3], [7, 1, 1]]), 10).float()
    assert token_accuracy(logits, target, pad_id=0) == (2, 3)
