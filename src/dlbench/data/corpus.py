"""Text corpora for language models (`data.kind: corpus`).

Sources: a UTF-8 text file, a folder of text files (`pattern`, sorted by path), a CSV column (one document
per row), or the offline built-in `pydoc-topics` (the reference topics that ship with Python's `pydoc_data`).
Documents are joined with a blank line.

Split by contiguous blocks, never by windows: the text is cut into `blocks` character ranges (each cut
moved to the next line break), and whole blocks are drawn (seeded) for validation and test, so no held-out
character is ever inside a training window. The tokenizer (characters, or a SentencePiece model trained
on the training blocks) is fitted on training text only and stored in the run.

Splits hold windows of token ids:
  train  x [N, 2 * context + 1]: row i starts at token i * context; the task takes `context + 1` tokens at
         a random offset inside each row at every step (tasks/language_model.py), so an epoch visits every
         region of the text once, each time at a fresh offset; N = training tokens / context
  val/test x [N, context + 1]: consecutive windows overlapping by one token, the last padded with <pad>;
         every held-out token after the first of its block is scored exactly once
`spec.extras["token_chars"]` holds how many characters each token id spells, so bits per character are
computed the same way for any tokenizer.
"""
from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from dlbench.data.bundle import DataBundle, DataSpec, SealedSplit, Split
from dlbench.data.common import SplitOptions
from dlbench.data.tokenize import (EOS, PAD, SPECIALS, UNK, SentencePieceTokenizer, TextPreprocessor,
                                   TokenizerOptions, VocabTokenizer)
from dlbench.errors import UserError

log = logging.getLogger(__name__)
SEPARATOR = "\n\n"
"""Between documents (files, CSV rows, topics)."""
MAX_BYTES = 2 * 2**30


class CorpusData(SplitOptions):
    kind: Literal["corpus"] = "corpus"
    """Plain text for a language model: a .txt file, a folder of text files, a CSV column, or a built-in."""
    path: str | None = None
    """A text file, a folder of text files, or a .csv (see text_column); relative paths are from the working
    directory. Give path or builtin."""
    builtin: Literal["pydoc-topics"] | None = None
    """pydoc-topics: the ~0.46 MB of English technical text in Python's own `pydoc_data.topics` (offline)."""
    pattern: str = "*.txt"
    """Folders: which files are documents (glob, searched recursively)."""
    text_column: str = "text"
    """CSV files: the column holding each document."""
    context: int = Field(128, ge=4, le=8192)
    """Tokens the model sees at once (its positions); training windows of this length start at random offsets."""
    blocks: int = Field(20, ge=3)
    """Contiguous blocks the text is cut into before whole blocks are drawn for validation and test."""
    val_fraction: float = Field(0.05, gt=0, lt=1)
    """Share of the blocks held out for validation."""
    test_fraction: float = Field(0.05, gt=0, lt=1)
    """Share of the blocks held out for the final test."""
    tokenizer: TokenizerOptions = TokenizerOptions(type="char")
    """char (every character a token) or sentencepiece (subwords trained on the training blocks; vocab_size)."""

    @model_validator(mode="after")
    def _one_source(self):
        if (self.path is None) == (self.builtin is None):
            raise ValueError("give data.path (a text file, a folder or a CSV) or data.builtin, exactly one")
        if self.tokenizer.type == "word":
            raise ValueError("data.tokenizer.type word does not suit a language model (it loses spacing and "
                             "line breaks); use char or sentencepiece")
        return self


# --- reading ------------------------------------------------------------------------------------

def _read_file(p: Path) -> str:
    try:
        if p.stat().st_size > MAX_BYTES:
            raise UserError(f"{p}: larger than {MAX_BYTES // 2**30} GiB", "give a smaller corpus")
        raw = p.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read {p}: {e.strerror}") from None
    if b"\x00" in raw[:65536]:
        raise UserError(f"{p}: a binary file, not text (it holds NUL bytes)", "give UTF-8 text files")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start})",
                        "convert it, e.g. iconv -f latin1 -t utf-8 FILE > FILE.utf8") from None


def read_documents(cfg: CorpusData) -> list[str]:
    """The corpus as documents, in a fixed order."""
    if cfg.builtin == "pydoc-topics":
        from pydoc_data.topics import topics

        return [topics[k] for k in sorted(topics)]
    p = Path(cfg.path)
    if not p.exists():
        raise UserError(f"data file not found: {cfg.path}", "check data.path (relative paths are from the working directory)")
    if p.is_dir():
        files = sorted(f for f in p.rglob(cfg.pattern) if f.is_file())
        if not files:
            raise UserError(f"{p}: no files match data.pattern '{cfg.pattern}'", "put .txt files in it or set data.pattern")
        return [_read_file(f) for f in files]
    if p.suffix.lower() == ".csv":
        from dlbench.data.tabular import read_csv
        from dlbench.data.text import _column

        frame = read_csv(str(p))
        col = _column(frame, cfg.text_column, str(p), "text (data.text_column)")
        return col.dropna().astype(str).tolist()
    return [_read_file(p)]


def block_bounds(text: str, blocks: int) -> list[tuple[int, int]]:
    """`blocks` contiguous [start, end) character ranges covering the text, each cut moved to the next line
    break (when one is within a block's length) so no line is split."""
    n = len(text)
    cuts = [0]
    for k in range(1, blocks):
        c = max(k * n // blocks, cuts[-1])
        nl = text.find("\n", c, c + max(1, n // blocks))
        cuts.append(nl + 1 if nl >= 0 else c)
    cuts.append(n)
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def assign_blocks(n: int, val_fraction: float, test_fraction: float, seed: int) -> dict[str, list[int]]:
    """Block indices per split (each sorted): at least one block for validation and one for test."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, round(n * val_fraction))
    n_test = max(1, round(n * test_fraction))
    if n_val + n_test >= n:
        raise UserError(f"data.blocks = {n} leaves no training block after validation and test",
                        "raise data.blocks or lower the fractions")
    return {"val": sorted(order[:n_val].tolist()), "test": sorted(order[n_val:n_val + n_test].tolist()),
            "train": sorted(order[n_val + n_test:].tolist())}


# --- tokenizers -------------------------------------------------------------------------------

def fit_corpus_tokenizer(text: str, opts: TokenizerOptions):
    """char: every character of the training text; sentencepiece: subwords that keep spaces and line breaks
    exactly (no whitespace normalization, no dummy prefix), so decode(encode(s)) == s."""
    if opts.type == "char":
        return VocabTokenizer.fit([text], opts, "corpus (training text)")
    import sentencepiece as spm

    text = text.lower() if opts.lowercase else text
    chunks = [text[i:i + 4000] for i in range(0, len(text), 4000)]
    buf = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(chunks), model_writer=buf, vocab_size=opts.vocab_size, model_type=opts.model_type,
            character_coverage=opts.character_coverage, pad_id=PAD, bos_id=1, eos_id=EOS, unk_id=UNK,
            pad_piece=SPECIALS[PAD], bos_piece=SPECIALS[1], eos_piece=SPECIALS[EOS], unk_piece=SPECIALS[UNK],
            normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=False,
            user_defined_symbols=["\n"], allow_whitespace_only_pieces=True, hard_vocab_limit=False,
            num_threads=1, input_sentence_size=0, max_sentence_length=16384, minloglevel=2)
    except RuntimeError as e:
        raise UserError(f"corpus: sentencepiece could not train a vocabulary ({str(e).splitlines()[0]})",
                        "use a smaller tokenizer.vocab_size or more training text") from None
    return SentencePieceTokenizer(buf.getvalue(), opts.lowercase)


def token_chars(tok) -> list[int]:
    """Characters each token id spells (specials: <eos> and <unk> count one, <pad>/<bos> none)."""
    if isinstance(tok, SentencePieceTokenizer):
        out = [len(tok.sp.id_to_piece(i).replace("\u2581", " ")) for i in range(tok.vocab_size)]
    else:
        out = [len(t) for t in tok.itos]
    out[PAD], out[1], out[EOS], out[UNK] = 0, 0, 1, 1
    return out


# --- windows ------------------------------------------------------------------------------------

def train_rows(ids: np.ndarray, context: int) -> np.ndarray:
    """[N, 2 * context + 1] rows starting every `context` tokens (the tail padded with <pad>)."""
    width = 2 * context + 1
    n = max(1, (len(ids) - context - 1) // context + 1)
    padded = np.full(n * context + width, PAD, dtype=np.int64)
    padded[:len(ids)] = ids
    return np.lib.stride_tricks.sliding_window_view(padded, width)[::context][:n].copy()


def eval_rows(ids: np.ndarray, context: int) -> np.ndarray:
    """[N, context + 1] consecutive windows overlapping by one token: each token after the first is a target
    exactly once; the last window padded with <pad> (not scored)."""
    n = max(1, -(-(len(ids) - 1) // context))
    padded = np.full(n * context + 1, PAD, dtype=np.int64)
    padded[:len(ids)] = ids
    return np.lib.stride_tricks.sliding_window_view(padded, context + 1)[::context][:n].copy()


def build_corpus(cfg: CorpusData) -> DataBundle:
    name = cfg.builtin or cfg.path
    docs = [d for d in read_documents(cfg) if d.strip()]
    text = SEPARATOR.join(d.strip("\n") for d in docs)
    if not text.strip():
        raise UserError(f"{name}: the corpus is empty", "give a file or folder with text in it")
    bounds = block_bounds(text, cfg.blocks)
    parts = assign_blocks(len(bounds), cfg.val_fraction, cfg.test_fraction, cfg.seed)
    texts = {s: [text[a:b] for a, b in (bounds[i] for i in idx)] for s, idx in parts.items()}
    train_text = "".join(texts["train"])
    tok = fit_corpus_tokenizer(train_text, cfg.tokenizer)
    encoded = {s: [np.asarray(tok.encode(t), dtype=np.int64) for t in ts] for s, ts in texts.items()}
    for s, arrays in encoded.items():
        n = sum(map(len, arrays))
        if n <= (cfg.context if s == "train" else 1):
            raise UserError(f"{name}: the corpus is too short: its {s} split has {n} tokens, "
                            + (f"not more than one window of data.context = {cfg.context}" if s == "train" else
                               "nothing to score") + f" ({len(text)} characters in all)",
                            "give more text, or lower data.context" + (" or data.blocks" if s != "train" else ""))
    train = Split(torch.from_numpy(train_rows(np.concatenate(encoded["train"]), cfg.context)), None,
                  ids=None)
    held = {}
    for s in ("val", "test"):
        rows, ids = [], []
        for block, arr in zip(parts[s], encoded[s]):
            r = eval_rows(arr, cfg.context)
            rows.append(r)
            start = bounds[block][0]
            ids += [f"block {block} (characters {start}-{bounds[block][1]}), window {k}" for k in range(len(r))]
        held[s] = Split(torch.from_numpy(np.concatenate(rows)), None, ids=ids)
    train.ids = [f"training window {k}" for k in range(len(train))]
    chars = {s: len("".join(texts[s])) for s in texts}
    log.info("corpus %s: %d characters in %d documents; %s characters train/val/test; vocabulary %d",
             name, len(text), len(docs), "/".join(str(chars[s]) for s in ("train", "val", "test")), tok.vocab_size)
    spec = DataSpec("language_model", (cfg.context,), extras={
        "vocab_size": tok.vocab_size, "context": cfg.context, "pad_id": PAD, "tokenizer": tok.to_json(),
        "token_chars": token_chars(tok), "characters": chars,
        "tokens": {s: int(sum(map(len, a))) for s, a in encoded.items()}})
    pre = TextPreprocessor(tok.to_json(), cfg.context, eos=False, overflow="truncate")
    return DataBundle(train, held["val"], SealedSplit(held["test"]), spec, pre.to_json())
