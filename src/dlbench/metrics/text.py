"""Translation metrics: corpus BLEU and chrF through sacrebleu (with its signature), token accuracy.

sacrebleu's signature (`nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`) says exactly
how a score was computed, so scores from different runs or papers can be compared honestly.
"""
from __future__ import annotations

import torch


def corpus_scores(hypotheses: list[str], references: list[str]) -> dict:
    """BLEU and chrF (0-100) of detokenized hypotheses against one reference each."""
    from sacrebleu.metrics import BLEU, CHRF

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:  # sacrebleu signs only a computed score
        return {"bleu": 0.0, "chrf": 0.0, "bleu_signature": "", "chrf_signature": ""}
    bleu, chrf = BLEU(), CHRF()
    b = bleu.corpus_score(hypotheses, [references])
    c = chrf.corpus_score(hypotheses, [references])
    return {"bleu": float(b.score), "chrf": float(c.score), "bleu_signature": str(bleu.get_signature()),
            "chrf_signature": str(chrf.get_signature())}


def exact_match(hypotheses: list[str], references: list[str]) -> float:
    return sum(h == r for h, r in zip(hypotheses, references)) / max(1, len(references))


def token_accuracy(logits: torch.Tensor, target: torch.Tensor, pad_id: int) -> tuple[int, int]:
    """(correct, counted) next-token predictions over non-padding target positions.

    logits [B, T, V], target [B, T]; returned as counts so batches can be summed exactly.
    """
    real = target != pad_id
    correct = ((logits.argmax(-1) == target) & real).sum()
    return int(correct), int(real.sum())
