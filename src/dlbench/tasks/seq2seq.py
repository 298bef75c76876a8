"""Sequence-to-sequence (translation): teacher-forced loss, decoded BLEU / chrF, translations.

Same interface as tasks.supervised, so translation trains in the core loop unchanged:
  loss(model, x, y)   x [B, S] source ids, y [B, T] = <bos> target <eos> <pad>...; cross-entropy of
                      model(x, y[:, :-1]) against y[:, 1:], padding ignored, optional label smoothing
  evaluate(...)       loss and token accuracy (teacher forcing), then BLEU / chrF / exact match of
                      decoded translations against the raw reference texts; detailed mode adds
                      sacrebleu's signatures and sample translations
  predictions(ids)    generated ids -> {"translation": texts}
"""
from __future__ import annotations

import contextlib
import weakref

import numpy as np
import torch
import torch.nn.functional as F

from dlbench.data.loaders import eval_batches
from dlbench.data.tokenize import tokenizer_from_json
from dlbench.errors import UserError
from dlbench.metrics.text import corpus_scores, exact_match, token_accuracy
from dlbench.models.transformer import DecodeConfig
from dlbench.tasks.decoding import decode
from dlbench.tasks.errors import input_name, worst

N_SAMPLES = 10


def trim(ids: torch.Tensor, pad: int) -> torch.Tensor:
    """Drop the all-padding columns at the right of a right-padded [B, L] batch (splits pad to their longest)."""
    n = int((ids != pad).sum(1).max()) if ids.numel() else 1
    return ids[:, :max(n, 1)]


class Seq2SeqTask:
    name = "seq2seq"
    metrics = {"loss": "min", "token_accuracy": "max", "bleu": "max", "chrf": "max", "exact_match": "max"}
    metric = "val.bleu"
    """The metric that selects the best checkpoint when early stopping names none."""

    def __init__(self, spec, label_smoothing: float = 0.0, decode_cfg: DecodeConfig | None = None):
        self.spec, self.label_smoothing = spec, label_smoothing
        self.decode_cfg = decode_cfg or DecodeConfig()
        e = spec.extras
        self.pad = int(e["pad_id"])
        # positions hold <bos> + generated tokens, so at most max_len - 1 can be generated
        self.max_len = min(self.decode_cfg.max_len or e["max_len"], e["max_len"] - 1)
        self.target = tokenizer_from_json(e["target_tokenizer"])
        self._cadence: dict[int, tuple] = {}   # id(split) -> (weakref, evaluations so far, last scores)

    @classmethod
    def from_config(cls, spec, cfg) -> "Seq2SeqTask":
        dc = getattr(cfg.model, "decode", None) or DecodeConfig()
        es = cfg.train.early_stopping
        metric = (getattr(es, "metric", None) or cls.metric) if es else None  # no metric named: the task's
        if metric and metric.rsplit(".", 1)[-1] in ("bleu", "chrf", "exact_match") and es.patience < dc.bleu_every:
            raise UserError(f"train.early_stopping.patience ({es.patience}) is below model.decode.bleu_every "
                            f"({dc.bleu_every}): {metric} would stop training before it is measured again",
                            "make patience >= bleu_every")
        return cls(spec, cfg.train.label_smoothing, dc)

    def loss(self, model, x, y):
        if x.device.type != "cuda":  # on CPU compute dominates: skip padding; on a GPU, avoid the host sync
            x, y = trim(x, self.pad), trim(y, self.pad)
        logits = model(x, y[:, :-1])                                       # [B, T - 1, V]
        return F.cross_entropy(logits.flatten(0, 1), y[:, 1:].flatten(), ignore_index=self.pad,
                               label_smoothing=self.label_smoothing)

    @torch.no_grad()
    def translate(self, model, src, device, batch_size: int = 256, beam: int | None = None, autocast=None) -> list[str]:
        """src [N, S] source ids (tensor or array) -> N detokenized translations."""
        src = torch.as_tensor(np.asarray(src) if not torch.is_tensor(src) else src)
        beam = beam or self.decode_cfg.beam
        texts = []
        for i in range(0, len(src), batch_size):
            xb = trim(src[i:i + batch_size].to(device), self.pad)
            with autocast() if autocast else contextlib.nullcontext():
                ids = decode(model, xb, self.max_len, beam, self.decode_cfg.length_penalty)
            texts += [self.target.decode(row) for row in ids.tolist()]
        return texts

    def _scores(self, model, split, batch_size, device, detailed, autocast) -> dict:
        n = len(split) if detailed or self.decode_cfg.bleu_samples is None else min(len(split), self.decode_cfg.bleu_samples)
        hyps = self.translate(model, split.x[:n], device, batch_size, autocast=autocast)
        refs = getattr(split, "targets", None)
        refs = refs[:n] if refs else [self.target.decode(row[1:]) for row in split.y[:n].tolist()]
        out = corpus_scores(hyps, refs)
        out["exact_match"] = exact_match(hyps, refs)
        if detailed:
            sources = getattr(split, "sources", None) or [None] * n
            out["decoded"], out["beam"] = n, self.decode_cfg.beam
            out["samples"] = [{"source": s, "reference": r, "hypothesis": h}
                              for s, r, h in list(zip(sources, refs, hyps))[:N_SAMPLES]]
        else:
            out = {k: v for k, v in out.items() if not k.endswith("_signature")}
        return out

    def evaluate(self, model, split, batch_size, device, detailed=False, num_workers=0, autocast=None) -> dict:
        was_training = model.training
        model.eval()
        loss_sum, correct, count = 0.0, 0, 0
        with torch.no_grad():
            for xb, yb in eval_batches(split, batch_size, device, num_workers):
                xb, yb = trim(xb, self.pad), trim(yb, self.pad)
                with autocast() if autocast else contextlib.nullcontext():
                    logits = model(xb, yb[:, :-1]).float()
                tgt = yb[:, 1:]
                # plain cross-entropy (no smoothing), comparable across label_smoothing settings
                loss_sum += float(F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=self.pad,
                                                  reduction="sum"))
                c, k = token_accuracy(logits, tgt, self.pad)
                correct, count = correct + c, count + k
        out = {"loss": loss_sum / max(count, 1), "token_accuracy": correct / max(count, 1)}
        # decoding is the expensive part: at every `bleu_every`-th evaluation of this split, else the last scores
        ref, seen, last = self._cadence.get(id(split), (None, 0, None))
        if ref is None or ref() is not split:
            seen, last = 0, None
        if detailed or last is None or seen % self.decode_cfg.bleu_every == 0:
            last = self._scores(model, split, batch_size, device, detailed, autocast)
        if not detailed:
            self._cadence[id(split)] = (weakref.ref(split), seen + 1, last)
        model.train(was_training)
        return {**out, **last}

    def errors(self, model, split, n: int, device, batch_size: int = 256) -> list[dict]:
        """The n worst translated sentences of a split: every sentence is decoded (the model's decoding
        settings), those that differ from their reference are ranked by sentence-level chrF, lowest first
        (ties in split order). Each: rank, input, source, reference, hypothesis, chrf."""
        from sacrebleu import sentence_chrf

        hyps = self.translate(model, split.x, device, batch_size)
        refs = getattr(split, "targets", None) or [self.target.decode(row[1:]) for row in split.y.tolist()]
        sources = getattr(split, "sources", None)
        chrf = np.array([sentence_chrf(h, [r]).score for h, r in zip(hyps, refs)], dtype=np.float64)
        wrong = np.flatnonzero([h != r for h, r in zip(hyps, refs)])
        out = []
        for rank, i in enumerate(worst(chrf, wrong, n), 1):
            rec = {"rank": rank, "input": input_name(split, i)}
            if sources is not None:
                rec["source"] = sources[i]
            rec.update(reference=refs[i], hypothesis=hyps[i], chrf=float(chrf[i]))
            out.append(rec)
        return out

    def predict(self, model, x, device, beam: int | None = None) -> dict[str, np.ndarray]:
        """Source token ids -> {"translation": texts} (greedy, or beam search of width `beam`)."""
        return {"translation": np.array(self.translate(model, x, device, beam=beam), dtype=str)}

    def predictions(self, outputs: torch.Tensor) -> dict[str, np.ndarray]:
        """Generated ids [N, T] -> {"translation": N texts}."""
        return {"translation": np.array([self.target.decode(r) for r in outputs.tolist()], dtype=str)}
