"""Tokenizers fitted on the training split only, stored as JSON, replayed exactly by predict and serve.

Three kinds share one id layout: 0 <pad>, 1 <bos>, 2 <eos>, 3 <unk>, then the vocabulary.
  char           one token per character (spaces included), so decode(encode(s)) == s
  word           whitespace-separated words; decode joins with single spaces
  sentencepiece  BPE or unigram pieces trained with the `sentencepiece` package; its model proto
                 travels base64-encoded inside the JSON (model.json), never as a pickle

`TextPreprocessor` (preprocessing kind "text") turns raw lines into padded id arrays for a model,
counting and warning about unknown tokens and enforcing the model's maximum length.
"""
from __future__ import annotations

import base64
import collections
import io
import logging
import sys
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from dlbench.config.base import Section
from dlbench.errors import UserError

log = logging.getLogger(__name__)
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD, BOS, EOS, UNK = 0, 1, 2, 3


class TokenizerOptions(Section):
    type: Literal["char", "word", "sentencepiece"] = "word"
    """char: one token per character; word: whitespace-separated words; sentencepiece: BPE/unigram pieces."""
    lowercase: bool = False
    """Lowercase every text before tokenizing: a smaller vocabulary, at the cost of case distinctions."""
    min_freq: int = Field(1, ge=1)
    """char/word: tokens seen fewer times in the training split map to <unk>."""
    max_vocab: int | None = Field(None, gt=0)
    """char/word: keep only the most frequent tokens (specials not counted)."""
    vocab_size: int = Field(1000, gt=len(SPECIALS))
    """sentencepiece: target vocabulary size including specials (soft: smaller if the data has fewer pieces)."""
    model_type: Literal["bpe", "unigram"] = "unigram"
    """sentencepiece only."""
    character_coverage: float = Field(1.0, gt=0, le=1)
    """sentencepiece: fraction of characters covered; the rarest others become <unk>."""


class VocabTokenizer:
    """char or word tokens with an explicit vocabulary list."""

    def __init__(self, type: str, tokens: list[str], lowercase: bool = False):
        self.type, self.lowercase = type, lowercase
        self.itos = list(SPECIALS) + list(tokens)
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def pieces(self, text: str) -> list[str]:
        text = text.lower() if self.lowercase else text
        return list(text) if self.type == "char" else text.split()

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(p, UNK) for p in self.pieces(text)]

    def unknown(self, text: str) -> list[str]:
        return [p for p in self.pieces(text) if p not in self.stoi]

    def decode(self, ids) -> str:
        toks = [self.itos[i] for i in _strip(ids) if 0 <= i < len(self.itos)]
        return ("" if self.type == "char" else " ").join(toks)

    @classmethod
    def fit(cls, texts: list[str], opts: TokenizerOptions, what: str) -> "VocabTokenizer":
        probe = cls(opts.type, [], opts.lowercase)
        counts = collections.Counter(p for t in texts for p in probe.pieces(t))
        kept = sorted((t for t, c in counts.items() if c >= opts.min_freq and t not in SPECIALS),
                      key=lambda t: (-counts[t], t))  # frequency, then text: deterministic
        if opts.max_vocab is not None:
            kept = kept[:opts.max_vocab]
        if not kept:
            raise UserError(f"{what}: the {opts.type} vocabulary would be empty "
                            f"({len(texts)} training texts, {len(counts)} distinct tokens, min_freq {opts.min_freq})",
                            "give non-empty training texts or lower tokenizer.min_freq")
        return cls(opts.type, kept, opts.lowercase)

    def to_json(self) -> dict:
        return {"type": self.type, "lowercase": self.lowercase, "tokens": self.itos[len(SPECIALS):]}


class SentencePieceTokenizer:
    def __init__(self, model_proto: bytes, lowercase: bool = False):
        import sentencepiece as spm

        self.proto, self.lowercase = model_proto, lowercase
        self.sp = spm.SentencePieceProcessor(model_proto=model_proto)
        self.type = "sentencepiece"

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text.lower() if self.lowercase else text, out_type=int)

    def unknown(self, text: str) -> list[str]:
        text = text.lower() if self.lowercase else text
        return [piece.lstrip("\u2581") or piece for piece, i in zip(self.sp.encode(text, out_type=str),
                                                                   self.sp.encode(text, out_type=int)) if i == UNK]

    def decode(self, ids) -> str:
        return self.sp.decode([int(i) for i in _strip(ids)])

    @classmethod
    def fit(cls, texts: list[str], opts: TokenizerOptions, what: str) -> "SentencePieceTokenizer":
        import sentencepiece as spm

        texts = [t.lower() if opts.lowercase else t for t in texts if t.strip()]
        if not texts:
            raise UserError(f"{what}: the sentencepiece vocabulary would be empty (no non-empty training texts)")
        buf = io.BytesIO()
        try:  # one thread and no sampling: the same texts give the same model, byte for byte
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(texts), model_writer=buf, vocab_size=opts.vocab_size,
                model_type=opts.model_type, character_coverage=opts.character_coverage,
                pad_id=PAD, bos_id=BOS, eos_id=EOS, unk_id=UNK, pad_piece=SPECIALS[PAD], bos_piece=SPECIALS[BOS],
                eos_piece=SPECIALS[EOS], unk_piece=SPECIALS[UNK], normalization_rule_name="identity",
                hard_vocab_limit=False, num_threads=1, input_sentence_size=0, minloglevel=2)
        except RuntimeError as e:
            raise UserError(f"{what}: sentencepiece could not train a vocabulary ({str(e).splitlines()[0]})",
                            "use a smaller tokenizer.vocab_size or more training text") from None
        return cls(buf.getvalue(), opts.lowercase)

    def to_json(self) -> dict:
        return {"type": "sentencepiece", "lowercase": self.lowercase,
                "model": base64.b64encode(self.proto).decode("ascii")}


def _strip(ids) -> list[int]:
    """Ids up to the first <eos>, without <pad>/<bos>."""
    out = []
    for i in ids:
        i = int(i)
        if i == EOS:
            break
        if i not in (PAD, BOS):
            out.append(i)
    return out


def fit_tokenizer(texts: list[str], opts: TokenizerOptions, what: str):
    if opts.type == "sentencepiece":
        return SentencePieceTokenizer.fit(texts, opts, what)
    return VocabTokenizer.fit(texts, opts, what)


def tokenizer_from_json(d: dict):
    try:
        if d["type"] == "sentencepiece":
            return SentencePieceTokenizer(base64.b64decode(d["model"]), d.get("lowercase", False))
        return VocabTokenizer(d["type"], d["tokens"], d.get("lowercase", False))
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise UserError(f"the stored tokenizer is damaged ({e})", "retrain the run") from None


def encode_batch(tok, texts: list[str], *, bos: bool, eos: bool) -> list[list[int]]:
    return [([BOS] if bos else []) + tok.encode(t) + ([EOS] if eos else []) for t in texts]


def pad_batch(seqs: list[list[int]], width: int | None = None) -> np.ndarray:
    """Right-padded [N, width] int64 ids (width: the longest sequence by default)."""
    width = max((len(s) for s in seqs), default=1) if width is None else width
    out = np.full((len(seqs), max(width, 1)), PAD, dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s[:width]
    return out


class TextPreprocessor:
    """Raw text lines -> [N, L] token ids, exactly as the model saw them in training."""
    kind = "text"

    def __init__(self, tokenizer: dict, max_len: int, eos: bool, overflow: Literal["error", "truncate"],
                 text_column: str = "text"):
        self.tokenizer_json, self.max_len, self.eos, self.overflow = tokenizer, int(max_len), bool(eos), overflow
        self.tokenizer = tokenizer_from_json(tokenizer)
        self.text_column = text_column
        """The CSV column the texts came from in training: `predict` reads a CSV's texts from it."""

    @classmethod
    def from_json(cls, d: dict) -> "TextPreprocessor":
        return cls(d["tokenizer"], d["max_len"], d["eos"], d["overflow"], d.get("text_column", "text"))

    def transform(self, texts) -> np.ndarray:
        texts = [str(t) for t in texts]
        seqs = encode_batch(self.tokenizer, texts, bos=False, eos=self.eos)
        n_unk = sum(s.count(UNK) for s in seqs)
        if n_unk:
            unknown = collections.Counter(p for t in texts for p in self.tokenizer.unknown(t))
            shown = ", ".join(repr(p) for p, _ in unknown.most_common(5))
            log.warning("%d unknown token(s) in %d input(s) mapped to <unk> (%s): the model never saw them in training",
                        n_unk, sum(UNK in s for s in seqs), shown)
        long = [i for i, s in enumerate(seqs) if len(s) > self.max_len]
        if long and self.overflow == "error":
            i = long[0]
            raise UserError(f"input {i + 1} has {len(seqs[i])} tokens; the model accepts at most {self.max_len}"
                            f"{f' ({len(long)} inputs are too long)' if len(long) > 1 else ''}",
                            "split long sentences, or retrain with a larger data.max_len")
        if long:
            log.warning("%d input(s) longer than the model's %d tokens were truncated", len(long), self.max_len)
            seqs = [s[:self.max_len - 1] + [EOS] if self.eos and len(s) > self.max_len else s[:self.max_len]
                    for s in seqs]
        return pad_batch(seqs)

    def to_json(self) -> dict:
        return {"kind": self.kind, "tokenizer": self.tokenizer_json, "max_len": self.max_len, "eos": self.eos,
                "overflow": self.overflow, **({"text_column": self.text_column} if self.text_column != "text" else {})}


def read_text_lines(path: str) -> list[str]:
    """'-' = stdin, else a UTF-8 text file; one input per line (trailing newlines dropped)."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})", "save the file as UTF-8") from None
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}") from None
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    if not lines:
        raise UserError(f"{path}: no input lines", "give one sentence per line")
    return lines


def read_text_inputs(pre: TextPreprocessor, path: str) -> tuple[np.ndarray, list[str]]:
    """A .txt file (or stdin, or a CSV with the text column the model was trained on) -> (token ids, the lines)."""
    if path != "-" and Path(path).suffix == ".csv":
        from dlbench.data.tabular import read_csv

        frame = read_csv(path)
        col = pre.text_column
        if col not in frame.columns:
            raise UserError(f"{path}: a CSV input needs a '{col}' column (the text column the model was trained on)",
                            "or give a .txt file, one input per line")
        lines = frame[col].fillna("").astype(str).tolist()
    else:
        lines = read_text_lines(path)
    return pre.transform(lines), lines


def write_text_outputs(values: list[str], output: str | None) -> str:
    """One output per line: to `output` (.txt) or returned as text."""
    if output and not output.endswith(".txt"):
        raise UserError(f"--output {output}: text outputs are written one per line", "use a .txt file name")
    text = "".join(v.replace("\n", " ") + "\n" for v in values)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        return ""
    return text
