"""Hostile inputs to `dlbench train` (issue 27): each gets one `error:` line, exit code 2, no traceback,
and leaves nothing behind. Each case writes its small input into a fresh folder and returns the CLI arguments."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from tests.conftest import tiny


def _config(tmp: Path, raw: dict) -> list:
    raw["train"].update(steps=2, eval_every=1, log_every=1, checkpoint_every=2)
    p = tmp / "cfg.yaml"
    p.write_text(yaml.safe_dump(raw))
    return ["train", p, "-q"]


def _text_config(tmp: Path, text: str) -> list:
    p = tmp / "cfg.yaml"
    p.write_text(text)
    return ["train", p, "-q"]


def _named(name: str):
    return lambda tmp: _config(tmp, {**tiny(), "name": name})


def _csv(edit, text: bool = False, **data):
    """A CSV classification config over a 200-row table changed by `edit` (a frame, or its CSV text)."""
    def make(tmp: Path) -> list:
        rng = np.random.default_rng(0)
        frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200), "y": rng.integers(0, 2, 200)})
        p = tmp / "d.csv"
        if text:
            p.write_text(edit(frame.to_csv(index=False)))
        else:
            edit(frame).to_csv(p, index=False)
        raw = tiny(model="mlp")
        raw["data"] = {"kind": "csv", "path": str(p), "target": "y", **data}
        return _config(tmp, raw)
    return make


def _set(col, row, value):
    def edit(frame):
        frame = frame.astype({col: object}) if isinstance(value, str) else frame
        frame.loc[row, col] = value
        return frame
    return edit


def _png_header(width: int, height: int) -> bytes:
    """A valid PNG signature and header claiming width x height pixels, with almost no pixel data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


def _images(edit):
    def make(tmp: Path) -> list:
        root = tmp / "imgs"
        for c, shade in (("cats", 40), ("dogs", 200)):
            (root / c).mkdir(parents=True)
            for i in range(6):
                Image.new("L", (8, 8), shade).save(root / c / f"{i}.png")
        edit(root)
        raw = tiny()
        raw["data"] = {"kind": "image-folder", "path": str(root), "size": [8, 8],
                       "val_fraction": 0.2, "test_fraction": 0.2}
        return _config(tmp, raw)
    return make


def _tiny_yaml() -> str:
    return yaml.safe_dump(tiny())


def _yaml(text_of):
    return lambda tmp: _text_config(tmp, text_of())


def _laughs() -> str:
    """Ten aliases of ten aliases ... of a ten-item list: 100 lines that expand to 10**9 values."""
    levels = "abcdefghi"
    return "a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
        f"{k}: &{k} [{', '.join([f'*{prev}'] * 10)}]\n" for prev, k in zip(levels, levels[1:]))


def _extra_field_first_row(text: str) -> str:
    header, first, rest = text.split("\n", 2)
    return f"{header}\n{first},9\n{rest}"


# (id, make(tmp) -> CLI arguments, stage, what the error line says): "config" cases fail before anything
# is created; "data" cases fail while reading the data.
CORPUS = [
    ("name-traversal", _named("../../../tmp/x"), "config", "run name uses only"),
    ("name-absolute", _named("/tmp/x"), "config", "run name uses only"),
    ("name-hidden", _named(".x"), "config", "run name uses only"),
    ("name-300-chars", _named("a" * 300), "config", "at most 100 characters"),
    ("name-override-traversal", lambda tmp: _config(tmp, tiny()) + ["-o", "name=../x"], "config", "run name uses only"),
    ("yaml-nested-100000", _yaml(lambda: "data: " + "[" * 100_000 + "]" * 100_000 + "\n"), "config",
     "nested deeper than"),
    ("yaml-duplicate-key", _yaml(lambda: _tiny_yaml().replace("  lr:", "  lr: 1.0\n  lr:")), "config",
     "duplicate key 'lr'"),
    ("yaml-2000000-list", _yaml(lambda: "data: [" + ",".join(["1"] * 2_000_000) + "]\n"), "config",
     "larger than 1 MiB"),
    ("yaml-200000-list", _yaml(lambda: "data: [" + ",".join(["1"] * 200_000) + "]\n"), "config",
     "more than 100,000 values"),
    ("yaml-billion-laughs", _yaml(_laughs), "config", "more than 100,000 values"),
    ("yaml-over-1MiB", _yaml(lambda: _tiny_yaml() + "#" * (1 << 20) + "\n"), "config", "larger than 1 MiB"),
    ("png-60000x60000", _images(lambda root: (root / "dogs" / "bomb.png").write_bytes(_png_header(60000, 60000))),
     "data", "bomb.png is larger than"),
    ("image-empty-class-folder", _images(lambda root: (root / "birds").mkdir()), "data", "birds has no PNG/JPEG"),
    ("csv-inf-feature", _csv(_set("a", 7, np.inf)), "data", "column a holds inf in row 7"),
    ("csv-minus-inf-feature", _csv(_set("b", 3, -np.inf)), "data", "column b holds -inf in row 3"),
    ("csv-single-class", _csv(_set("y", slice(None), 1)), "data", "single value"),
    ("csv-stray-strings", _csv(_set("a", [4, 90], "?")), "data", "row 4 holds '?', row 90 holds '?'"),
    ("csv-extra-field-first-row", _csv(_extra_field_first_row, text=True), "data",
     "line 2 has 4 fields, the header has 3"),
    ("csv-extra-field-late-row", _csv(lambda t: t.rstrip("\n") + ",9\n", text=True), "data",
     "line 201 has 4 fields, the header has 3"),
]

def _cases():
    return [pytest.param(make, needle, id=name) for name, make, _stage, needle in CORPUS]


def _run(make, tmp_path, monkeypatch, run_cli):
    inputs = tmp_path / "in"
    inputs.mkdir()
    args = make(inputs)
    work = tmp_path / "w" / "a" / "b"  # deep enough that runs/../../../tmp/x stays inside tmp_path
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    before = sorted(tmp_path.rglob("*"))
    code, out, err = run_cli(*args)
    return code, out, err, before, sorted(tmp_path.rglob("*"))


@pytest.mark.parametrize("make,needle", _cases())
def test_one_clean_line(make, needle, tmp_path, monkeypatch, run_cli):
    code, out, err, _, _ = _run(make, tmp_path, monkeypatch, run_cli)
    assert code == 2, err
    assert "Traceback" not in out + err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert needle in err
    assert len(err) < 600, err  # hostile values are cut, not echoed whole


@pytest.mark.parametrize("make,needle", _cases())
def test_nothing_left_behind(make, needle, tmp_path, monkeypatch, run_cli):
    code, _, err, before, after = _run(make, tmp_path, monkeypatch, run_cli)
    assert code == 2, err
    assert after == before
