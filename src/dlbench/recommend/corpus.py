"""Inspecting text to continue (`dlbench recommend PATH --goal generate`): a .txt/.md file, a folder of text files,
or a CSV with a free-text column and no target. The profile is a `corpus` (data.kind corpus) that the language
models of the transformer and rnn recipes suggest themselves for."""
from __future__ import annotations

from pathlib import Path

from dlbench.errors import UserError

TEXT_SUFFIXES = (".txt", ".md", ".rst")
MIN_CHARS = 2000
"""Less text than this cannot train even a small language model (and leaves no validation text)."""
WINDOW = 128
"""Characters per training window: a corpus profile counts its samples (`Profile.n`) in windows, so training is
sized by the amount of text as for any data."""


def _read(f: Path) -> str:
    try:
        return f.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{f}: not UTF-8 text ({e.reason} at byte {e.start})", "save the file as UTF-8") from None


def corpus_profile(p: Path, target: str | None = None):
    """The corpus `Profile` of PATH, or None when PATH is not text to continue."""
    from dlbench.recommend.inspect import Profile

    data: dict = {"kind": "corpus"}
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in TEXT_SUFFIXES)
        if not files:
            return None
        suffixes = {f.suffix.lower() for f in files}
        if suffixes != {".txt"}:
            data["pattern"] = "*" + next(iter(suffixes)) if len(suffixes) == 1 else "*"
        docs = [_read(f) for f in files]
        where = f"{len(files)} text files"
    elif p.suffix.lower() in TEXT_SUFFIXES:
        docs, where = [_read(p)], "one text file"
    elif p.suffix.lower() == ".csv" and target is None:
        from dlbench.data.tabular import read_csv

        frame = read_csv(str(p))
        from pandas.api.types import is_numeric_dtype

        text = [c for c in frame.columns if not is_numeric_dtype(frame[c])
                and frame[c].dropna().astype(str).str.len().mean() > 40]
        if not text:
            return None
        data["text_column"] = str(text[0])
        docs, where = frame[text[0]].dropna().astype(str).tolist(), f"{len(frame)} rows of column '{text[0]}'"
    else:
        return None
    n = sum(map(len, docs))
    if n < MIN_CHARS:
        raise UserError(f"{p}: only {n} characters of text", f"a language model needs at least {MIN_CHARS:,}; give more text")
    chars = len(set("".join(docs)))
    facts = [f"{n:,} characters of text in {where}; {chars} distinct characters, about {n // WINDOW:,} windows of "
             f"{WINDOW} characters", "split into contiguous blocks for validation and test (never overlapping "
             "training text)"]
    return Profile(p, "corpus", "language_model", max(1, n // WINDOW), data, (), facts)
