"""RNN encoder-decoder with attention (Luong et al. 2015 / Bahdanau et al. 2015), for translation.

Encoder: embedding -> (bi)LSTM/GRU over the packed source, so padding never enters the states.
Decoder: one RNN step per target token, fed [embedding; previous attentional vector] (input feeding),
then attention over the encoder outputs (padded positions masked) and
attentional vector = tanh(W [h_t; context]) -> logits. Training (forward) runs the same `step`
that decoding uses, so teacher forcing and inference cannot drift apart. Same interface as
models.transformer.TransformerSeq2Seq: forward / encode / step.
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from dlbench.config.base import Section
from dlbench.models.transformer import DecodeConfig


class RNNSeq2SeqConfig(Section):
    """LSTM/GRU encoder-decoder with attention, for translation (the `rnn` recipe's head on
    sequence-to-sequence data)."""
    cell: Literal["lstm", "gru"] = "lstm"
    """lstm or gru, in the encoder and the decoder."""
    embedding_dim: int = Field(128, gt=0)
    """Size of the token embeddings (translation)."""
    hidden_size: int = Field(256, gt=0)
    layers: int = Field(1, ge=1)
    """Layers of the encoder and of the decoder."""
    bidirectional: bool = True
    """Bidirectional encoder (its two directions are projected to hidden_size)."""
    attention: Literal["luong", "bahdanau", "none"] = "luong"
    """luong: score = h_t . W e_s; bahdanau: score = v . tanh(W h_t + U e_s); none: context is the mean encoding."""
    dropout: float = Field(0.1, ge=0, lt=1)
    tie_embeddings: bool = False
    """The output projection reuses the target embedding (needs embedding_dim == hidden_size)."""
    decode: DecodeConfig = DecodeConfig()
    """How translations are generated: beam size, length penalty, BLEU during training."""


class RNNSeq2Seq(nn.Module):
    def __init__(self, src_vocab: int, tgt_vocab: int, pad_id: int, cfg: RNNSeq2SeqConfig):
        super().__init__()
        E, H, L = cfg.embedding_dim, cfg.hidden_size, cfg.layers
        self.pad_id, self.cell, self.attention, self.layers = pad_id, cfg.cell, cfg.attention, L
        Cell = nn.LSTM if cfg.cell == "lstm" else nn.GRU
        drop_between = cfg.dropout if L > 1 else 0.0
        self.src_embed = nn.Embedding(src_vocab, E, padding_idx=pad_id)
        self.tgt_embed = nn.Embedding(tgt_vocab, E, padding_idx=pad_id)
        self.encoder = Cell(E, H, L, batch_first=True, bidirectional=cfg.bidirectional, dropout=drop_between)
        dirs = 2 if cfg.bidirectional else 1
        self.enc_out = nn.Linear(dirs * H, H)                   # encoder outputs -> H
        self.bridge = nn.Linear(dirs * H, H)                    # final encoder states -> initial decoder states
        self.decoder = Cell(E + H, H, L, batch_first=True, dropout=drop_between)
        if cfg.attention == "luong":
            self.score = nn.Linear(H, H, bias=False)
        elif cfg.attention == "bahdanau":
            self.query, self.key = nn.Linear(H, H, bias=False), nn.Linear(H, H)
            self.v = nn.Linear(H, 1, bias=False)
        self.combine = nn.Linear(2 * H, H)
        self.drop = nn.Dropout(cfg.dropout)
        self.proj = nn.Linear(H, tgt_vocab)
        if cfg.tie_embeddings:
            if E != H:
                from dlbench.errors import UserError

                raise UserError("model.tie_embeddings needs model.embedding_dim == model.hidden_size")
            self.proj.weight = self.tgt_embed.weight

    def _bridge(self, h: torch.Tensor, bidirectional: bool) -> torch.Tensor:
        """[L * dirs, B, H] final states -> [B, L, H] initial decoder states (batch-first, for beam reordering)."""
        if bidirectional:
            h = torch.cat([h[0::2], h[1::2]], -1)               # forward and backward of each layer
        return torch.tanh(self.bridge(h)).transpose(0, 1)

    def encode(self, src: torch.Tensor) -> dict:
        src = src.long()
        mask = src != self.pad_id                                # [B, S]
        lengths = mask.sum(1).clamp_min(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.drop(self.src_embed(src)), lengths, batch_first=True,
                                                   enforce_sorted=False)
        out, h = self.encoder(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        memory = self.enc_out(out)                               # [B, S, H]
        bi = self.encoder.bidirectional
        state = {"memory": memory, "mask": mask, "feed": memory.new_zeros(len(src), memory.shape[-1])}
        if self.cell == "lstm":
            state["h"], state["c"] = self._bridge(h[0], bi), self._bridge(h[1], bi)
        else:
            state["h"] = self._bridge(h, bi)
        if self.attention == "bahdanau":
            state["keys"] = self.key(memory)                     # U e_s, fixed per sentence
        return state

    def _attend(self, q: torch.Tensor, state: dict) -> torch.Tensor:
        """q [B, H] -> context [B, H]: softmax over real source positions of the encoder outputs."""
        memory, mask = state["memory"], state["mask"]
        if self.attention == "none":
            w = mask.to(memory.dtype)
            return (memory * w[..., None]).sum(1) / w.sum(1, keepdim=True).clamp_min(1)
        if self.attention == "luong":
            scores = torch.einsum("bsh,bh->bs", memory, self.score(q))
        else:
            scores = self.v(torch.tanh(state["keys"] + self.query(q)[:, None])).squeeze(-1)
        scores = scores.masked_fill(~mask, float("-inf"))
        return torch.einsum("bs,bsh->bh", F.softmax(scores, -1), memory)

    def step(self, tokens: torch.Tensor, state: dict):
        """tokens [B] -> logits [B, V]; updates the recurrent state and the input-feeding vector."""
        x = torch.cat([self.drop(self.tgt_embed(tokens.long())), state["feed"]], -1)[:, None]   # [B, 1, E + H]
        hidden = state["h"].transpose(0, 1).contiguous()        # [L, B, H] as the RNN wants it
        if self.cell == "lstm":
            out, (h, c) = self.decoder(x, (hidden, state["c"].transpose(0, 1).contiguous()))
            state = {**state, "h": h.transpose(0, 1), "c": c.transpose(0, 1)}
        else:
            out, h = self.decoder(x, hidden)
            state = {**state, "h": h.transpose(0, 1)}
        q = out[:, 0]                                            # [B, H]
        feed = torch.tanh(self.combine(torch.cat([q, self._attend(q, state)], -1)))
        state["feed"] = feed
        return self.proj(self.drop(feed)), state

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        state = self.encode(src)
        logits = []
        for t in range(tgt_in.shape[1]):                         # teacher forcing, one step per target token
            lt, state = self.step(tgt_in[:, t], state)
            logits.append(lt)
        return torch.stack(logits, 1)                            # [B, T, V]
