"""Text datasets: translation pairs (seq2seq) and labelled texts (classification).

  numbers           built-in, offline: number words from num2words in a source and a target language;
                    train, validation and test use disjoint numbers, so BLEU measures generalization
  parallel-tsv      a user file of `source<TAB>target` lines
  text-csv          a user CSV with a text column and a label column
  numbers-language  built-in, offline classification: which language a number is written in

Tokenizers are fitted on the training split only. Seq2seq splits hold `x` [N, S] source ids
(tokens + <eos>) and `y` [N, T] target ids (<bos> + tokens + <eos>), right-padded with 0, and keep
the raw texts so BLEU is scored against the original references, not a detokenized copy.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator

from dlbench.config.base import Section
from dlbench.data.bundle import DataBundle, DataSpec, SealedSplit, Split, check_nonempty
from dlbench.data import replay
from dlbench.data.common import SplitOptions
from dlbench.data.preprocess import preprocessor_from_json
from dlbench.data.split import split_indices
from dlbench.data.tokenize import (PAD, TextPreprocessor, TokenizerOptions, encode_batch, fit_tokenizer,
                                   pad_batch)
from dlbench.errors import UserError

log = logging.getLogger(__name__)


@dataclass
class TextSplit(Split):
    """A Split that also carries the raw texts its ids came from."""
    sources: list[str] | None = None
    targets: list[str] | None = None

    def subset(self, n: int) -> "TextSplit":
        return TextSplit(self.x[:n], self.y[:n], ids=None if self.ids is None else self.ids[:n],
                         sources=(self.sources or [])[:n] or None, targets=(self.targets or [])[:n] or None)


class TextOptions(Section):
    tokenizer: TokenizerOptions = TokenizerOptions()
    """How texts become tokens (type, vocabulary size); the vocabulary is fitted on the training split only."""
    max_len: int = Field(128, ge=4)
    """Most tokens per sequence, <bos>/<eos> included; it sizes the model's position table. Longer training
    pairs are skipped (seq2seq) or truncated (classification), with a count in the log; at predict time a
    longer input is refused for translation and truncated, with a warning, for classification."""


# --- seq2seq ------------------------------------------------------------------------------------

class Seq2SeqOptions(TextOptions):
    shared_vocab: bool = False
    """One tokenizer fitted on both sides (needed for model.share_embeddings)."""


def _languages():
    from num2words import CONVERTER_CLASSES

    return CONVERTER_CLASSES


class NumbersData(Seq2SeqOptions):
    kind: Literal["numbers"] = "numbers"
    """Number words translated between two languages (num2words), e.g. 'three hundred and forty-two' ->
    'trois cent quarante-deux'. Numbers in the test split never occur in training or validation."""
    source_lang: str = "en"
    """Language of the source sentences (a num2words code: en, fr, de, ...)."""
    target_lang: str = "fr"
    """Any language num2words supports (en, fr, de, es, it, pt, nl, ...)."""
    low: int = Field(0, ge=0)
    """Smallest number drawn."""
    high: int = Field(999_999, ge=0)
    """Numbers are drawn from [low, high], without repetition."""
    sampling: Literal["log", "uniform"] = "log"
    """log: every digit count is equally likely, so small numbers are learned too; uniform: every number."""
    train_size: int = Field(20_000, gt=0)
    """Sentence pairs in the training split."""
    val_size: int = Field(500, gt=0)
    """Sentence pairs in the validation split."""
    test_size: int = Field(1000, gt=0)
    """Sentence pairs in the test split (numbers never seen in training)."""
    seed: int = 0
    """Seed of the drawn numbers and of their split."""

    @field_validator("source_lang", "target_lang")
    @classmethod
    def _supported(cls, lang: str) -> str:
        langs = _languages()
        if lang not in langs:
            import difflib

            close = difflib.get_close_matches(lang, list(langs), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"choose one of {', '.join(sorted(langs))}"
            raise ValueError(f"num2words does not support language '{lang}' ({hint})")
        return lang

    @model_validator(mode="after")
    def _enough_numbers(self):
        if self.high < self.low:
            raise ValueError("data.high must be >= data.low")
        need = self.train_size + self.val_size + self.test_size
        if need > self.high - self.low + 1:
            raise ValueError(f"train_size + val_size + test_size = {need} distinct numbers, but [{self.low}, "
                             f"{self.high}] holds only {self.high - self.low + 1}; widen the range or shrink the splits")
        return self


def sample_numbers(cfg: NumbersData) -> np.ndarray:
    """Distinct numbers, drawn without replacement by weighted top-k with Gumbel keys (Efraimidis-Spirakis)."""
    rng = np.random.default_rng(cfg.seed)
    pool = np.arange(cfg.low, cfg.high + 1, dtype=np.int64)
    n = cfg.train_size + cfg.val_size + cfg.test_size
    if cfg.sampling == "log":  # weight 1 / (numbers with the same digit count): each digit count equally likely
        digits = np.char.str_len(pool.astype(str))
        weight = 1.0 / np.bincount(digits)[digits]
    else:
        weight = np.ones(len(pool))
    keys = np.log(weight) + rng.gumbel(size=len(pool))
    chosen = pool[np.argpartition(-keys, n - 1)[:n]]
    return rng.permutation(chosen)


@functools.lru_cache(maxsize=500_000)
def _words(k: int, lang: str) -> str:
    from num2words import num2words

    return num2words(k, lang=lang)


def number_words(numbers, lang: str) -> list[str]:
    """num2words is slow (~0.1-0.4 ms a call): cached, so rebuilding a dataset in one process is free."""
    try:
        return [_words(int(k), lang) for k in numbers]
    except (NotImplementedError, OverflowError, ValueError, TypeError) as e:
        raise UserError(f"num2words cannot write numbers up to {max(numbers)} in '{lang}' ({e})",
                        "lower data.high or choose another language") from None


def build_numbers(cfg: NumbersData) -> DataBundle:
    nums = sample_numbers(cfg)
    te, va, tr = np.split(nums, [cfg.test_size, cfg.test_size + cfg.val_size])
    pairs = [list(zip(number_words(s, cfg.source_lang), number_words(s, cfg.target_lang))) for s in (tr, va, te)]
    ids = [[f"number {k}" for k in s] for s in (tr, va, te)]
    return bundle_from_pairs(f"numbers {cfg.source_lang}->{cfg.target_lang}", *pairs, cfg,
                             extras={"source_lang": cfg.source_lang, "target_lang": cfg.target_lang}, ids=ids)


class ParallelTsvData(Seq2SeqOptions, SplitOptions):
    kind: Literal["parallel-tsv"] = "parallel-tsv"
    """A UTF-8 file of `source<TAB>target` lines (a parallel corpus)."""
    path: str
    """The corpus file; relative paths are from the working directory."""
    dedupe: bool = True
    """Drop repeated (source, target) pairs before splitting, so no test pair is also a training pair."""


def read_parallel_tsv(path: str | Path) -> list[tuple[str, str]]:
    """(source, target) pairs; malformed lines are counted and skipped, a mostly malformed file refused."""
    return _read_parallel_tsv(path)[0]


def _read_parallel_tsv(path: str | Path) -> tuple[list[tuple[str, str]], list[int]]:
    """(pairs, the 1-based line of the file each pair is on)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"data file not found: {path}", "check data.path (relative paths are from the working directory)")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})", "save the file as UTF-8") from None
    pairs, bad, numbers = [], [], []
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            bad.append(no)
            continue
        pairs.append((parts[0].strip(), parts[1].strip()))
        numbers.append(no)
    if not pairs and not bad:
        raise UserError(f"{path}: the file is empty", "give one `source<TAB>target` pair per line")
    if len(bad) > len(pairs):
        raise UserError(f"{path}: {len(bad)} of {len(bad) + len(pairs)} lines are not `source<TAB>target` "
                        f"(first at line {bad[0]}); is this a TSV file?",
                        "each line needs exactly one TAB between a non-empty source and target")
    if bad:
        log.warning("%s: skipped %d malformed line(s) (not exactly one TAB, or an empty side), e.g. line(s) %s",
                    path, len(bad), ", ".join(map(str, bad[:5])))
    return pairs, numbers


def build_parallel_tsv(cfg: ParallelTsvData) -> DataBundle:
    pairs, lines = _read_parallel_tsv(cfg.path)
    if cfg.dedupe:  # a repeated pair is named by its first line
        first = dict(zip(reversed(pairs), reversed(lines)))
        pairs = list(dict.fromkeys(pairs))
        lines = [first[pair] for pair in pairs]
    tr, va, te = split_indices(len(pairs), None, (cfg.val_fraction, cfg.test_fraction), cfg.seed, False)
    return bundle_from_pairs(cfg.path, *[[pairs[i] for i in idx] for idx in (tr, va, te)], cfg,
                             ids=[[f"line {lines[i]}" for i in idx] for idx in (tr, va, te)])


def bundle_from_pairs(name: str, train, val, test, cfg: Seq2SeqOptions, extras: dict | None = None,
                      ids: list[list[str]] | None = None) -> DataBundle:
    """Fit tokenizers on the training pairs, encode every split, drop pairs longer than max_len.
    `ids`: per split, what names each pair (`Split.ids`); by default the source text."""
    check_nonempty(name, {"train": len(train), "validation": len(val), "test": len(test)},
                   "use more data or change data.val_fraction / data.test_fraction")
    src_train, tgt_train = [s for s, _ in train], [t for _, t in train]
    if cfg.shared_vocab:
        src_tok = tgt_tok = fit_tokenizer(src_train + tgt_train, cfg.tokenizer, f"{name} (shared vocabulary)")
    else:
        src_tok = fit_tokenizer(src_train, cfg.tokenizer, f"{name} (source side)")
        tgt_tok = fit_tokenizer(tgt_train, cfg.tokenizer, f"{name} (target side)")
    splits, dropped = [], 0
    for k, pairs in enumerate((train, val, test)):
        names = ids[k] if ids is not None else [s for s, _ in pairs]
        src = encode_batch(src_tok, [s for s, _ in pairs], bos=False, eos=True)
        tgt = encode_batch(tgt_tok, [t for _, t in pairs], bos=True, eos=True)
        keep = [i for i in range(len(pairs)) if len(src[i]) <= cfg.max_len and len(tgt[i]) <= cfg.max_len]
        dropped += len(pairs) - len(keep)
        splits.append(TextSplit(torch.from_numpy(pad_batch([src[i] for i in keep])),
                                torch.from_numpy(pad_batch([tgt[i] for i in keep])), ids=[names[i] for i in keep],
                                sources=[pairs[i][0] for i in keep], targets=[pairs[i][1] for i in keep]))
    if dropped:
        log.warning("%s: skipped %d pair(s) longer than data.max_len = %d tokens", name, dropped, cfg.max_len)
    check_nonempty(name, {"train": len(splits[0]), "validation": len(splits[1]), "test": len(splits[2])},
                   f"pairs longer than data.max_len = {cfg.max_len} tokens were skipped; raise it")
    pre = TextPreprocessor(src_tok.to_json(), cfg.max_len, eos=True, overflow="error")
    spec = DataSpec("seq2seq", (cfg.max_len,), extras={
        **(extras or {}), "src_vocab_size": src_tok.vocab_size, "tgt_vocab_size": tgt_tok.vocab_size,
        "shared_vocab": cfg.shared_vocab, "max_len": cfg.max_len, "pad_id": PAD,
        "tokenizer": cfg.tokenizer.type, "target_tokenizer": tgt_tok.to_json()})
    return DataBundle(splits[0], splits[1], SealedSplit(splits[2]), spec, pre.to_json())


# --- classification -----------------------------------------------------------------------------

class TextCsvData(TextOptions, SplitOptions):
    kind: Literal["text-csv"] = "text-csv"
    """A CSV with one text and one label per row, for text classification."""
    path: str
    """The CSV file, with a header row; relative paths are from the working directory."""
    text_column: str = "text"
    """Column holding each row's text."""
    label_column: str = "label"
    """Column holding each row's label (any strings: each distinct value is a class)."""


def _column(frame, name: str, path: str, what: str):
    if name not in frame.columns:
        import difflib

        close = difflib.get_close_matches(name, [str(c) for c in frame.columns], n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"columns are: {', '.join(map(str, frame.columns))}"
        raise UserError(f"{path}: no {what} column '{name}'", hint)
    return frame[name]


def build_text_csv(cfg: TextCsvData) -> DataBundle:
    from dlbench.data.tabular import read_csv

    frame = read_csv(cfg.path)
    text = _column(frame, cfg.text_column, cfg.path, "text (data.text_column)")
    label = _column(frame, cfg.label_column, cfg.path, "label (data.label_column)")
    bad = text.isna() | label.isna() | (text.astype(str).str.strip() == "")
    if bad.sum() > len(frame) / 2:
        raise UserError(f"{cfg.path}: {int(bad.sum())} of {len(frame)} rows have no text or no label",
                        f"fill columns '{cfg.text_column}' and '{cfg.label_column}'")
    if bad.any():
        rows = np.flatnonzero(bad.values)[:5].tolist()
        log.warning("%s: skipped %d row(s) without text or label (rows %s)", cfg.path, int(bad.sum()), rows)
    rows = [f"row {r + 1}" for r in np.flatnonzero(~bad.to_numpy())]  # 1-based data rows, the header not counted
    bundle = bundle_from_texts(cfg.path, text[~bad].astype(str).tolist(), label[~bad].astype(str).tolist(), cfg,
                               ids=rows)
    if cfg.text_column != "text":  # predict reads a CSV's texts from the column the model was trained on
        bundle.preprocessing["text_column"] = cfg.text_column
    return bundle


class NumbersLanguageData(TextOptions, SplitOptions):
    kind: Literal["numbers-language"] = "numbers-language"
    """Built-in text classification, generated offline: which language a number is written in
    (num2words), e.g. 'quatre-vingt-dix' -> fr."""
    languages: list[str] = Field(default_factory=lambda: ["en", "fr", "de", "es", "it", "pt", "nl"], min_length=2)
    """The classes: num2words codes of the languages the numbers are written in (at least two)."""
    size: int = Field(3000, ge=10)
    """Examples generated in all (before the split), balanced over the languages."""
    low: int = Field(0, ge=0)
    """Smallest number drawn."""
    high: int = Field(9999, ge=1)
    """Largest number drawn."""
    tokenizer: TokenizerOptions = TokenizerOptions(type="char")
    """How texts become tokens; characters by default (words of a language are told apart by their spelling)."""

    @field_validator("languages")
    @classmethod
    def _supported(cls, langs: list[str]) -> list[str]:
        unknown = [x for x in langs if x not in _languages()]
        if unknown:
            raise ValueError(f"num2words does not support language(s) {', '.join(unknown)} "
                             f"(choose from {', '.join(sorted(_languages()))})")
        return langs


def build_numbers_language(cfg: NumbersLanguageData) -> DataBundle:
    rng = np.random.default_rng(cfg.seed)
    nums = rng.integers(cfg.low, cfg.high + 1, cfg.size)
    langs = [cfg.languages[i % len(cfg.languages)] for i in range(cfg.size)]  # balanced classes
    by_lang = {lang: iter(number_words([k for k, l2 in zip(nums, langs) if l2 == lang], lang)) for lang in cfg.languages}
    texts = [next(by_lang[lang]) for lang in langs]
    return bundle_from_texts("numbers-language", texts, langs, cfg)


def bundle_from_texts(name: str, texts: list[str], labels: list[str], cfg: TextOptions,
                      ids: list[str] | None = None) -> DataBundle:
    """Classification: class ids from sorted labels, stratified split, tokenizer fitted on training texts.
    `ids` names each text (`Split.ids`); by default the text itself."""
    classes = replay.classes(sorted(set(labels), key=lambda s: (0, int(s), s) if s.lstrip("-").isdigit() else (1, 0, s)),
                             name)  # built for a finished model (data/replay.py): its classes and tokenizer
    if len(classes) < 2:
        raise UserError(f"{name}: found only {len(classes)} label", "a classifier needs at least two labels")
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[s] for s in labels], dtype=np.int64)
    if replay.whole():
        tr = va = te = np.arange(len(texts))
    else:
        tr, va, te = split_indices(len(texts), y, (cfg.val_fraction, cfg.test_fraction), cfg.seed, True)
        check_nonempty(name, {"train": len(tr), "validation": len(va), "test": len(te)},
                       "use more data or change data.val_fraction / data.test_fraction")
    vocab = {}

    def fit():
        tok = fit_tokenizer([texts[i] for i in tr], cfg.tokenizer, name)
        vocab["size"] = tok.vocab_size
        return TextPreprocessor(tok.to_json(), cfg.max_len, eos=False, overflow="truncate")

    pre = replay.preprocessor(fit, preprocessor_from_json)
    splits = []
    for idx in (tr, va, te):
        x = pre.transform([texts[i] for i in idx])
        splits.append(TextSplit(torch.from_numpy(x), torch.from_numpy(y[idx]),
                                ids=[(ids or texts)[i] for i in idx], sources=[texts[i] for i in idx]))
    spec = DataSpec("classification", (cfg.max_len,), len(classes), classes,
                    extras=replay.extras({"vocab_size": vocab.get("size"), "max_len": cfg.max_len, "pad_id": PAD,
                                          "tokenizer": cfg.tokenizer.type}, ("vocab_size", "max_len", "tokenizer")))
    return DataBundle(splits[0], splits[1], SealedSplit(splits[2]), spec, pre.to_json())
