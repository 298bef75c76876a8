"""Each kind of report in a real headless Chromium, offline: every image decodes, nothing is fetched,
the console stays silent, and the page fits a phone's width."""
from __future__ import annotations

import pytest

from dlbench.report import write_report
from tests.unit.report import browser
from tests.unit.report.fixtures import make_gan_run, make_results, make_study

pytestmark = pytest.mark.skipif(
    browser.CHROMIUM is None,
    reason="chromium is not installed (scripts/system-deps.sh installs it: apt-get install chromium)")


@pytest.mark.parametrize("kind", ["classifier run", "gan run", "study", "benchmark"])
def test_report_renders_offline_in_chromium(kind, trained_run, tmp_path):
    src = {"classifier run": lambda: trained_run, "gan run": lambda: make_gan_run(tmp_path),
           "study": lambda: make_study(tmp_path, trials=6), "benchmark": lambda: make_results(tmp_path)}[kind]()
    html, report = write_report(src, tmp_path / "report.html")
    n_figures = html.read_text().count("<img ")
    assert n_figures >= {"classifier run": 4, "gan run": 3, "study": 5, "benchmark": 2}[kind]
    check = browser.assert_page_ok(html, tmp_path / "chromium", min_images=n_figures)
    assert len(check.images) == n_figures


def test_probe_catches_a_broken_page(tmp_path):
    """The check itself fails on what it must catch: a missing image, a remote reference, a console error."""
    page = tmp_path / "bad.html"
    page.write_text('<!doctype html><html><head><meta charset="utf-8"></head><body>'
                    '<img src="missing.png" alt="x"><img src="https://example.com/a.png" alt="y">'
                    '<script>console.error("boom")</script></body></html>')
    c = browser.check_page(page, tmp_path / "chromium")
    assert len(c.broken_images) == 2
    assert any("boom" in e for e in c.errors) and any("boom" in line for line in c.console)
