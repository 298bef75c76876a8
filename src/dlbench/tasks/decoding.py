"""Batched greedy and beam-search decoding for any model with encode(src) / step(tokens, state).

`state` is a dict of batch-first tensors (non-tensors pass through), so beam search reorders
hypotheses with one index_select per entry, whatever the model keeps in it (a Transformer's
key/value cache, an RNN's hidden state).
"""
from __future__ import annotations

import torch

from dlbench.data.tokenize import BOS, EOS, PAD


def _select(state: dict, idx: torch.Tensor) -> dict:
    return {k: v.index_select(0, idx) if torch.is_tensor(v) else v for k, v in state.items()}


@torch.no_grad()
def greedy(model, src: torch.Tensor, max_len: int) -> torch.Tensor:
    """src [B, S] -> [B, <= max_len] generated ids (no <bos>), <eos> then <pad> after each ends."""
    state = model.encode(src)
    B = src.shape[0]
    tokens = torch.full((B,), BOS, dtype=torch.long, device=src.device)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    out = []
    for _ in range(max_len):
        logits, state = model.step(tokens, state)
        tokens = logits.argmax(-1).masked_fill(done, PAD)
        out.append(tokens)
        done |= tokens == EOS
        if bool(done.all()):
            break
    return torch.stack(out, 1) if out else torch.zeros(B, 0, dtype=torch.long, device=src.device)


def length_penalty(length: torch.Tensor, alpha: float) -> torch.Tensor:
    """GNMT (Wu et al. 2016): ((5 + |Y|) / 6) ** alpha; alpha 0 ranks by total log-probability."""
    return ((5.0 + length.float()) / 6.0) ** alpha


@torch.no_grad()
def beam_search(model, src: torch.Tensor, max_len: int, beam: int, alpha: float = 1.0) -> torch.Tensor:
    """src [B, S] -> [B, <= max_len] best hypothesis per sentence.

    All B * K hypotheses advance together. A finished hypothesis keeps its score and can only be
    extended by <pad> at no cost, so it stays in the beam while the others grow. Hypotheses are
    ranked by summed log-probability during the search and by log-prob / length_penalty at the end.
    With beam 1 this is exactly greedy decoding.
    """
    B, K, dev = src.shape[0], beam, src.device
    state = _select(model.encode(src), torch.arange(B, device=dev).repeat_interleave(K))   # [B*K, ...]
    scores = torch.full((B, K), float("-inf"), device=dev)
    scores[:, 0] = 0.0                              # K copies of one start: expand only the first
    tokens = torch.full((B * K,), BOS, dtype=torch.long, device=dev)
    done = torch.zeros(B * K, dtype=torch.bool, device=dev)
    lengths = torch.zeros(B * K, dtype=torch.long, device=dev)
    history = torch.zeros(B * K, 0, dtype=torch.long, device=dev)
    for _ in range(max_len):
        logits, state = model.step(tokens, state)
        logp = logits.float().log_softmax(-1)                                   # [B*K, V]
        V = logp.shape[-1]
        frozen = torch.full_like(logp, float("-inf"))
        frozen[:, PAD] = 0.0
        logp = torch.where(done[:, None], frozen, logp)                         # finished: <pad>, free
        cand = (scores.reshape(-1, 1) + logp).reshape(B, K * V)
        scores, flat = cand.topk(K, dim=-1)                                     # [B, K]
        origin = (flat // V + torch.arange(B, device=dev)[:, None] * K).reshape(-1)   # parent hypothesis
        tokens = (flat % V).reshape(-1)
        state = _select(state, origin)
        done, lengths = done[origin], lengths[origin]
        lengths = lengths + (~done).long()
        history = torch.cat([history[origin], tokens[:, None]], 1)
        done = done | (tokens == EOS)
        if bool(done.all()):
            break
    final = scores.reshape(-1) / length_penalty(lengths, alpha)
    best = final.reshape(B, K).argmax(-1) + torch.arange(B, device=dev) * K
    return history[best]


def decode(model, src: torch.Tensor, max_len: int, beam: int = 1, alpha: float = 1.0) -> torch.Tensor:
    was_training = model.training
    model.eval()
    try:
        return greedy(model, src, max_len) if beam == 1 else beam_search(model, src, max_len, beam, alpha)
    finally:
        model.train(was_training)
