"""Transformers: an encoder for text classification and an encoder-decoder for translation.

Pre-norm blocks (LayerNorm before attention / feed-forward, a final LayerNorm after the stack),
attention through F.scaled_dot_product_attention, learned or sinusoidal positions. Token ids are
right-padded with `pad_id`; padded keys are masked, so a padded batch gives the same outputs as its
items one by one. The decoder is causal and keeps a key/value cache for incremental decoding.

Decoding models (this one and models.seq2seq_rnn) share one interface used by tasks.decoding:
    forward(src [B, S], tgt_in [B, T]) -> logits [B, T, V]          (teacher forcing)
    encode(src) -> state: dict of batch-first tensors
    step(tokens [B], state) -> (logits [B, V], state)               (one more target token)
"""
from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from dlbench.config.base import Section
from dlbench.errors import UserError


class DecodeConfig(Section):
    beam: int = Field(1, ge=1)
    """Beam size; 1 is greedy decoding. `dlbench predict --beam N` overrides it."""
    length_penalty: float = Field(1.0, ge=0)
    """GNMT length normalization alpha: hypotheses are ranked by log-prob / ((5 + len) / 6) ** alpha."""
    max_len: int | None = Field(None, gt=0)
    """Most generated tokens; null: the data's max_len."""
    bleu_every: int = Field(1, ge=1)
    """Decode the validation split for val.bleu at every N-th evaluation (others repeat the last value)."""
    bleu_samples: int | None = Field(500, ge=1)
    """Sentences decoded per evaluation during training (null: all); the final evaluation decodes all."""


class _Common(Section):
    d_model: int = Field(128, gt=0)
    """Width of the token representations (divisible by heads)."""
    heads: int = Field(4, gt=0)
    """Attention heads per layer."""
    ff: int | None = Field(None, gt=0)
    """Feed-forward width (default 4 * d_model)."""
    dropout: float = Field(0.1, ge=0, lt=1)
    """Dropout on embeddings, attention weights and feed-forward outputs."""
    positions: Literal["learned", "sinusoidal"] = "learned"
    """learned position embeddings, or fixed sinusoidal ones."""
    activation: Literal["gelu", "relu"] = "gelu"
    """Nonlinearity of the feed-forward blocks."""

    @model_validator(mode="after")
    def _heads_divide(self):
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by heads ({self.heads})")
        return self


class TransformerClassifierConfig(_Common):
    """Encoder-only Transformer over token ids, for text classification (the `transformer` recipe's
    head on classification data)."""
    layers: int = Field(2, ge=1)
    """Encoder layers of the classifier."""
    pooling: Literal["mean", "cls"] = "mean"
    """mean: average over non-padding tokens; cls: a learned class token prepended to every sequence."""


class TransformerSeq2SeqConfig(_Common):
    """Encoder-decoder Transformer (Vaswani et al. 2017, pre-norm) for translation (the head on
    sequence-to-sequence data)."""
    encoder_layers: int = Field(3, ge=1)
    """Encoder layers (translation)."""
    decoder_layers: int = Field(3, ge=1)
    """Decoder layers (translation)."""
    tie_embeddings: bool = True
    """The output projection reuses the target embedding matrix."""
    share_embeddings: bool = False
    """Source and target share one embedding matrix (needs data.shared_vocab: true)."""
    decode: DecodeConfig = DecodeConfig()
    """How translations are generated: beam size, length penalty, BLEU during training."""


def sinusoidal(n: int, d: int) -> torch.Tensor:
    """[n, d] fixed positions: sin on even dims, cos on odd, wavelengths 2pi .. 10000 * 2pi."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    pe = torch.zeros(n, d)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)[:, : d // 2]
    return pe


class Embedder(nn.Module):
    """ids [B, L] -> [B, L, D]: token embedding * sqrt(D) + position, then dropout."""

    def __init__(self, vocab: int, d: int, max_len: int, positions: str, dropout: float, tokens: nn.Embedding | None = None):
        super().__init__()
        self.tokens = tokens if tokens is not None else nn.Embedding(vocab, d)
        if tokens is None:
            nn.init.normal_(self.tokens.weight, std=d ** -0.5)  # * sqrt(d) in forward: unit-variance inputs
        self.scale, self.max_len = math.sqrt(d), max_len
        if positions == "learned":
            self.pos = nn.Parameter(torch.randn(max_len, d) * d ** -0.5)
        else:
            self.register_buffer("pos", sinusoidal(max_len, d), persistent=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        if start + ids.shape[1] > self.max_len:
            raise UserError(f"sequence of {start + ids.shape[1]} tokens exceeds the model's {self.max_len} positions",
                            "raise data.max_len and retrain, or give shorter inputs")
        return self.drop(self.tokens(ids) * self.scale + self.pos[start:start + ids.shape[1]])


class Attention(nn.Module):
    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.p = heads, dropout
        self.q, self.kv, self.out = nn.Linear(d, d), nn.Linear(d, 2 * d), nn.Linear(d, d)

    def split(self, x: torch.Tensor) -> torch.Tensor:  # [B, L, D] -> [B, H, L, D / H]
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def keys_values(self, src: torch.Tensor):
        k, v = self.kv(src).chunk(2, -1)
        return self.split(k), self.split(v)

    def attend(self, x, k, v, mask=None, causal=False):
        """x [B, Lq, D] attends to k, v [B, H, Lk, D/H]; mask: bool, True = may attend, broadcast to [B, H, Lq, Lk]."""
        y = F.scaled_dot_product_attention(self.split(self.q(x)), k, v, attn_mask=mask, is_causal=causal,
                                           dropout_p=self.p if self.training else 0.0)
        return self.out(y.transpose(1, 2).flatten(2))

    def forward(self, x, src, mask=None, causal=False):
        return self.attend(x, *self.keys_values(src), mask=mask, causal=causal)


def feed_forward(d: int, ff: int, activation: str, dropout: float) -> nn.Sequential:
    act = nn.GELU() if activation == "gelu" else nn.ReLU()
    return nn.Sequential(nn.Linear(d, ff), act, nn.Dropout(dropout), nn.Linear(ff, d))


class EncoderLayer(nn.Module):
    def __init__(self, cfg: _Common):
        super().__init__()
        d = cfg.d_model
        self.ln1, self.attn = nn.LayerNorm(d), Attention(d, cfg.heads, cfg.dropout)
        self.ln2, self.ff = nn.LayerNorm(d), feed_forward(d, cfg.ff or 4 * d, cfg.activation, cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, mask):
        h = self.ln1(x)
        x = x + self.drop(self.attn(h, h, mask))
        return x + self.drop(self.ff(self.ln2(x)))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: _Common):
        super().__init__()
        d = cfg.d_model
        self.ln1, self.self_attn = nn.LayerNorm(d), Attention(d, cfg.heads, cfg.dropout)
        self.ln2, self.cross = nn.LayerNorm(d), Attention(d, cfg.heads, cfg.dropout)
        self.ln3, self.ff = nn.LayerNorm(d), feed_forward(d, cfg.ff or 4 * d, cfg.activation, cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, memory, src_mask, cache: dict | None = None, i: int = 0):
        """Whole target (cache None, causal mask) or one new position whose keys/values join `cache`."""
        h = self.ln1(x)
        k, v = self.self_attn.keys_values(h)
        if cache is not None:  # the new token attends to every earlier one: no causal mask needed
            if f"k{i}" in cache:
                k, v = torch.cat([cache[f"k{i}"], k], 2), torch.cat([cache[f"v{i}"], v], 2)
            cache[f"k{i}"], cache[f"v{i}"] = k, v
            cross_kv = cache[f"ck{i}"], cache[f"cv{i}"]
        else:
            cross_kv = self.cross.keys_values(memory)
        x = x + self.drop(self.self_attn.attend(h, k, v, causal=cache is None))
        x = x + self.drop(self.cross.attend(self.ln2(x), *cross_kv, mask=src_mask))
        return x + self.drop(self.ff(self.ln3(x)))


def key_mask(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """[B, L] ids -> [B, 1, 1, L] bool, True at real tokens (broadcast over heads and queries)."""
    return (ids != pad_id)[:, None, None, :]


class TransformerClassifier(nn.Module):
    def __init__(self, vocab: int, max_len: int, num_classes: int, pad_id: int, cfg: TransformerClassifierConfig):
        super().__init__()
        self.pad_id, self.pooling = pad_id, cfg.pooling
        extra = 1 if cfg.pooling == "cls" else 0
        self.embed = Embedder(vocab, cfg.d_model, max_len + extra, cfg.positions, cfg.dropout)
        if extra:
            self.cls = nn.Parameter(torch.zeros(1, 1, cfg.d_model))
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(cfg.d_model, num_classes))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:  # ids [B, L] -> logits [B, C]
        ids = ids.long()
        real = ids != self.pad_id                                  # [B, L]
        x = self.embed(ids, start=1 if self.pooling == "cls" else 0)
        if self.pooling == "cls":  # the class token takes position 0 and is never padding
            x = torch.cat([self.cls.expand(len(x), -1, -1) + self.embed.pos[:1], x], 1)
            real = torch.cat([real.new_ones(len(x), 1), real], 1)
        mask = real[:, None, None, :]
        for layer in self.layers:
            x = layer(x, mask)
        x = self.norm(x)
        if self.pooling == "cls":
            return self.head(x[:, 0])
        w = real.unsqueeze(-1).to(x.dtype)                         # [B, L, 1]: average real tokens only
        return self.head((x * w).sum(1) / w.sum(1).clamp_min(1))


class TransformerSeq2Seq(nn.Module):
    def __init__(self, src_vocab: int, tgt_vocab: int, max_len: int, pad_id: int, cfg: TransformerSeq2SeqConfig):
        super().__init__()
        d, self.pad_id = cfg.d_model, pad_id
        self.tgt_embed = Embedder(tgt_vocab, d, max_len, cfg.positions, cfg.dropout)
        shared = self.tgt_embed.tokens if cfg.share_embeddings else None
        self.src_embed = Embedder(src_vocab, d, max_len, cfg.positions, cfg.dropout, tokens=shared)
        self.encoder = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.encoder_layers))
        self.decoder = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.decoder_layers))
        self.enc_norm, self.dec_norm = nn.LayerNorm(d), nn.LayerNorm(d)
        self.proj = nn.Linear(d, tgt_vocab, bias=not cfg.tie_embeddings)
        if cfg.tie_embeddings:  # logits = h . E^T; E has std d^-0.5, h is layer-normed: logits start near unit scale
            self.proj.weight = self.tgt_embed.tokens.weight

    def encode(self, src: torch.Tensor) -> dict:
        src = src.long()
        mask = key_mask(src, self.pad_id)
        x = self.src_embed(src)
        for layer in self.encoder:
            x = layer(x, mask)
        state = {"memory": self.enc_norm(x), "src_mask": mask}
        for i, layer in enumerate(self.decoder):  # cross-attention keys/values are fixed per sentence: once
            state[f"ck{i}"], state[f"cv{i}"] = layer.cross.keys_values(state["memory"])
        return state

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        memory = self.encode(src)
        x = self.tgt_embed(tgt_in.long())
        for layer in self.decoder:
            x = layer(x, memory["memory"], memory["src_mask"])
        return self.proj(self.dec_norm(x))                         # [B, T, V]

    def step(self, tokens: torch.Tensor, state: dict):
        """tokens [B]: the latest target token of each hypothesis -> next-token logits [B, V]."""
        t = state["k0"].shape[2] if "k0" in state else 0           # tokens already decoded
        x = self.tgt_embed(tokens.long()[:, None], start=t)
        for i, layer in enumerate(self.decoder):
            x = layer(x, state["memory"], state["src_mask"], cache=state, i=i)
        return self.proj(self.dec_norm(x))[:, 0], state
