"""A report as plain data (sections of blocks), rendered to one self-contained HTML file.

Report builders (run.py, study.py, bench.py) only assemble these dataclasses; the one Jinja2
template (template.html) decides how they look. Keeping the builders free of HTML means
autoescaping covers every value that comes from a run directory, a study or a result file.
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union


@dataclass
class Text:
    text: str
    tone: str = ""
    """"" (plain), "note", "good", "warn" or "bad": a coloured call-out."""
    kind: str = "text"


@dataclass
class Figure:
    uri: str
    """A data: URI (PNG, base64): the report never refers to another file."""
    alt: str
    caption: str = ""
    width: int = 0
    height: int = 0
    kind: str = "figure"


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""
    numeric: bool = True
    """Right-align columns after the first (numbers line up)."""
    kind: str = "table"


@dataclass
class Facts:
    """A key: value list (definition list)."""
    items: list[tuple[str, Any]]
    kind: str = "facts"


@dataclass
class Pre:
    text: str
    caption: str = ""
    kind: str = "pre"


@dataclass
class Absent:
    """Says plainly that something is not there, and why."""
    what: str
    why: str = ""
    kind: str = "absent"


@dataclass
class Columns:
    """Side by side on a wide screen, stacked on a phone (e.g. curves | the diagnosis they justify)."""
    left: list
    right: list
    kind: str = "columns"


Block = Union[Text, Figure, Table, Facts, Pre, Absent, Columns]


@dataclass
class Section:
    title: str
    blocks: list = field(default_factory=list)
    id: str = ""

    def __post_init__(self):
        if not self.id:
            self.id = "".join(c if c.isalnum() else "-" for c in self.title.lower()).strip("-")

    def add(self, *blocks) -> "Section":
        self.blocks.extend(b for b in blocks if b is not None)
        return self


@dataclass
class Report:
    title: str
    kind: str
    """run | study | benchmark"""
    source: str
    sections: list[Section] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    subtitle: str = ""
    generated: str = field(default_factory=lambda: _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"))


def fmt(v: Any, digits: int = 4) -> str:
    """A cell value as text: floats to `digits` significant digits, None as an em dash."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
            return f"{v:.{digits - 1}e}"
        return f"{v:.{digits}g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(fmt(x, digits) for x in v)
    return str(v)


def seconds(v: Any) -> str:
    if not isinstance(v, (int, float)):
        return "—"
    if v < 120:
        return f"{v:.1f} s"
    if v < 7200:
        return f"{v / 60:.1f} min"
    return f"{v / 3600:.2f} h"


def render(report: Report) -> str:
    import jinja2

    # The template ships as package data next to this file; autoescape is on for every value.
    env = jinja2.Environment(loader=jinja2.PackageLoader("dlbench.report", "."),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = fmt
    return env.get_template("template.html").render(r=report)


def write(report: Report, path: str | Path) -> Path:
    import os

    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(render(report), encoding="utf-8")
    os.replace(tmp, p)  # a browser reloading the file never sees half a report
    return p
