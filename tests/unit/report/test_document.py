"""The HTML document: self-contained, escaped, readable on a phone."""
from __future__ import annotations

import re

from dlbench.report.document import Absent, Columns, Facts, Pre, Report, Section, Table, Text, fmt, render


def test_render_is_self_contained_and_escaped():
    r = Report("Run <x>", "run", "runs/<x>", warnings=["half <done>"])
    r.sections.append(Section("A & B").add(
        Text('<script>alert("x")</script>', "warn"), Table(["k", "v"], [["<i>", 1.23456789]]),
        Facts([("a", None), ("b", True)]), Pre("x: <y>"), Absent("thing", "because <z>"),
        Columns([Text("left")], [Text("right")])))
    html = render(r)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "<script" not in html and "&lt;script&gt;" in html and "&lt;i&gt;" in html
    assert "because &lt;z&gt;" in html and "half &lt;done&gt;" in html
    # nothing that a browser would fetch: no URLs, no external stylesheets or scripts, no @import
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "@import" not in html and "url(" not in html and "<link" not in html
    assert "1.235" in html and "—" in html


def test_fmt():
    assert fmt(None) == "—" and fmt(True) == "yes" and fmt(0.80701754) == "0.807" and fmt(12345.678) == "1.235e+04"
    assert fmt(3e-5) == "3.000e-05" and fmt(7) == "7" and fmt([1.0, 2.5]) == "1, 2.5"
