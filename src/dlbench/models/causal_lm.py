"""Causal language models: a decoder-only Transformer (GPT-style, pre-norm) and an LSTM/GRU language model.

Both share the generation interface `tasks.generation` drives:
    forward(ids [B, T]) -> logits [B, T, V]                       (teacher forcing, training)
    prefill(ids [B, T]) -> (logits [B, V] of the last position, state)
    step(tokens [B], state) -> (logits [B, V], state)             (one more token)
    positions: the most tokens the model can see at once (None: unbounded, an RNN)

The Transformer's state is a key/value cache per layer; attention is F.scaled_dot_product_attention (causal
over a whole sequence, unmasked for one new token attending to the cache). The output projection reuses the
token embedding (weight tying, Press & Wolf 2017) unless tie_embeddings is false.
"""
from __future__ import annotations

import torch
from torch import nn

from dlbench.models.transformer import Attention, Embedder, feed_forward


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg.d_model
        self.ln1, self.attn = nn.LayerNorm(d), Attention(d, cfg.heads, cfg.dropout)
        self.ln2, self.ff = nn.LayerNorm(d), feed_forward(d, cfg.ff or 4 * d, cfg.activation, cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, cache: dict | None = None, i: int = 0):
        """x [B, T, D]. cache None: the whole sequence, causal. Else x's keys/values join cache[k{i}], cache[v{i}]
        and x attends to everything cached (the new positions come after it)."""
        h = self.ln1(x)
        k, v = self.attn.keys_values(h)
        causal = True
        if cache is not None:
            if f"k{i}" in cache:
                k, v = torch.cat([cache[f"k{i}"], k], 2), torch.cat([cache[f"v{i}"], v], 2)
                causal = x.shape[1] > 1  # one query after the cache sees all keys: no mask needed
            cache[f"k{i}"], cache[f"v{i}"] = k, v
        if causal and k.shape[2] != x.shape[1]:
            raise ValueError("several new tokens after a cache are not supported")  # prefill starts empty
        x = x + self.drop(self.attn.attend(h, k, v, causal=causal and x.shape[1] > 1))
        return x + self.drop(self.ff(self.ln2(x)))


class CausalTransformerLM(nn.Module):
    def __init__(self, vocab: int, positions: int, cfg):
        """cfg: the transformer recipe's section (d_model, heads, layers, ff, dropout, positions, activation,
        tie_embeddings)."""
        super().__init__()
        self.positions = positions
        self.embed = Embedder(vocab, cfg.d_model, positions, cfg.positions, cfg.dropout)
        if cfg.positions == "learned":  # half the scale of the (sqrt(d)-scaled) token embeddings, as GPT-2's
            nn.init.normal_(self.embed.pos, std=0.5)  # 0.01 vs 0.02: position must be visible to learn n-grams
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, vocab, bias=False)
        if cfg.tie_embeddings:  # logits = h . E^T; E has std d^-0.5 and h is layer-normed: unit-scale logits
            self.head.weight = self.embed.tokens.weight
        else:
            nn.init.normal_(self.head.weight, std=cfg.d_model ** -0.5)
        for name, p in self.named_parameters():  # GPT-2: residual projections scaled by depth
            if name.endswith(("attn.out.weight", "ff.3.weight")):
                nn.init.normal_(p, std=0.02 / (2 * cfg.layers) ** 0.5)

    def _run(self, ids: torch.Tensor, cache: dict | None, start: int) -> torch.Tensor:
        x = self.embed(ids.long(), start=start)
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i)
        return self.head(self.norm(x))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self._run(ids, None, 0)

    def prefill(self, ids: torch.Tensor):
        cache: dict = {"t": ids.shape[1]}
        return self._run(ids, cache, 0)[:, -1], cache

    def step(self, tokens: torch.Tensor, cache: dict):
        t = cache["t"]
        logits = self._run(tokens.long()[:, None], cache, t)[:, 0]
        cache["t"] = t + 1
        return logits, cache


class RNNLM(nn.Module):
    """Embedding -> stacked LSTM/GRU -> dropout -> projection (tied to the embedding when the sizes match)."""

    def __init__(self, vocab: int, cfg):
        """cfg: the rnn recipe's section (cell, embedding_dim, hidden_size, layers, dropout, tie_embeddings)."""
        super().__init__()
        self.positions = None
        E, H = cfg.embedding_dim, cfg.hidden_size
        self.embed = nn.Embedding(vocab, E)
        Cell = nn.LSTM if cfg.cell == "lstm" else nn.GRU
        self.rnn = Cell(E, H, cfg.layers, batch_first=True, dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.drop = nn.Dropout(cfg.dropout)
        self.proj = nn.Linear(H, E) if E != H else nn.Identity()
        self.head = nn.Linear(E, vocab)
        if cfg.tie_embeddings:
            self.head.weight = self.embed.weight

    def _run(self, ids, state=None):
        out, state = self.rnn(self.drop(self.embed(ids.long())), state)
        return self.head(self.proj(self.drop(out))), state

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self._run(ids)[0]

    def prefill(self, ids: torch.Tensor):
        logits, state = self._run(ids)
        return logits[:, -1], state

    def step(self, tokens: torch.Tensor, state):
        logits, state = self._run(tokens[:, None], state)
        return logits[:, 0], state
