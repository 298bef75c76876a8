"""An RNN text classifier: token embedding -> (bi)LSTM/GRU over the packed (unpadded) tokens -> pooling -> linear.

Inputs are right-padded token ids [B, L] (pad id 0, the text-csv data); packing keeps padding out of the
recurrent states, so a padded batch gives the same outputs as its texts one by one.
Pooling: last (the final states of both directions), mean or max over the real tokens.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class TextRNNClassifier(nn.Module):
    def __init__(self, vocab: int, num_classes: int, pad_id: int, cfg):
        """cfg: the rnn recipe's section, head defaults resolved (cell, embedding_dim, hidden_size, layers,
        bidirectional, dropout, pooling in last/mean/max)."""
        super().__init__()
        self.pad_id, self.pooling, self.bidirectional = pad_id, cfg.pooling, cfg.bidirectional
        self.embed = nn.Embedding(vocab, cfg.embedding_dim, padding_idx=pad_id)
        Cell = nn.LSTM if cfg.cell == "lstm" else nn.GRU
        self.rnn = Cell(cfg.embedding_dim, cfg.hidden_size, cfg.layers, batch_first=True,
                        bidirectional=cfg.bidirectional, dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden_size * (2 if cfg.bidirectional else 1), num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:  # ids [B, L] -> logits [B, C]
        ids = ids.long()
        real = ids != self.pad_id
        lengths = real.sum(1).clamp_min(1)
        packed = pack_padded_sequence(self.drop(self.embed(ids)), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        out, h = self.rnn(packed)
        if self.pooling == "last":
            h = h[0] if isinstance(h, tuple) else h          # [layers * dirs, B, H]
            feat = torch.cat([h[-2], h[-1]], -1) if self.bidirectional else h[-1]
        else:
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])  # [B, L, H * dirs]
            mask = (torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None]).unsqueeze(-1)
            if self.pooling == "mean":
                feat = (out * mask).sum(1) / lengths[:, None].to(out.dtype)
            else:
                feat = out.masked_fill(~mask, float("-inf")).amax(1)
        return self.head(self.drop(feat))
