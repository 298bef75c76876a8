"""Open a report in a real headless Chromium with no network; report what the page did.

Two runs of Debian's chromium per page: `--dump-dom` of a copy of the page with a small probe script
injected at the top of <head> (it records error events and console.error calls, and after `load`
writes image sizes, errors and layout facts into the DOM as JSON), and `--screenshot` of the
original page at a phone's width. Chromium's own log (--enable-logging=stderr) is searched for
console messages as a second witness. The report itself carries no script; the probe exists only in
the temporary copy.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
         "--hide-scrollbars", "--mute-audio",
         # no network at all: every host resolves nowhere, so any external reference would fail loudly
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]
PHONE = (390, 844)

PROBE = """<script id="__probe">
window.__errors = [];
addEventListener('error', e => __errors.push('error: ' + (e.message || (e.target && (e.target.src || e.target.href)) || '?')), true);
addEventListener('securitypolicyviolation', e => __errors.push('csp: ' + e.blockedURI));
for (const level of ['error', 'warn']) {
  const orig = console[level];
  console[level] = function (...a) { __errors.push('console.' + level + ': ' + a.join(' ')); orig.apply(console, a); };
}
addEventListener('load', () => {
  const imgs = [...document.images].map(i => ({alt: i.alt, naturalWidth: i.naturalWidth, complete: i.complete,
                                               src: i.src.slice(0, 30)}));
  const out = document.createElement('pre');
  out.id = '__probe_result';
  out.textContent = JSON.stringify({images: imgs, errors: __errors,
    resources: performance.getEntriesByType('resource').map(r => r.name),
    scrollWidth: document.documentElement.scrollWidth, innerWidth: innerWidth, title: document.title});
  document.body.appendChild(out);
});
</script>"""


@dataclass
class PageCheck:
    images: list[dict]
    errors: list[str]
    console: list[str]
    resources: list[str]
    scroll_width: int
    inner_width: int
    screenshot: Path

    @property
    def broken_images(self) -> list[dict]:
        return [i for i in self.images if not i["complete"] or i["naturalWidth"] <= 0]


def _run(args: list[str], profile: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=timeout)


def check_page(html: Path, workdir: Path | None = None, size: tuple[int, int] = PHONE) -> PageCheck:
    work = Path(workdir or tempfile.mkdtemp(prefix="dlbench-browser-"))
    work.mkdir(parents=True, exist_ok=True)
    probe = work / "probed.html"
    text = html.read_text(encoding="utf-8")
    probe.write_text(text.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    win = f"--window-size={size[0]},{size[1]}"
    dom = _run(["--virtual-time-budget=10000", "--enable-logging=stderr", "--v=0", win, "--dump-dom",
                probe.resolve().as_uri()], work / "profile-dom")
    m = re.search(r'<pre id="__probe_result">(.*?)</pre>', dom.stdout, re.S)
    if not m:
        raise AssertionError(f"chromium did not run the probe (rc {dom.returncode}): {dom.stderr[-2000:]}")
    import html as _html

    res = json.loads(_html.unescape(m.group(1)))
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    shot = work / "screenshot.png"
    cap = _run(["--virtual-time-budget=5000", win, f"--screenshot={shot}", html.resolve().as_uri()], work / "profile-shot")
    if not shot.is_file():
        raise AssertionError(f"chromium wrote no screenshot (rc {cap.returncode}): {cap.stderr[-2000:]}")
    return PageCheck(res["images"], res["errors"], console, res["resources"], res["scrollWidth"], res["innerWidth"],
                     shot)


def assert_page_ok(html: Path, workdir: Path | None = None, min_images: int = 1) -> PageCheck:
    """Every image decoded, no error or console message, nothing fetched, no sideways scrolling on a phone."""
    from PIL import Image

    c = check_page(html, workdir)
    assert len(c.images) >= min_images, f"expected at least {min_images} images, found {len(c.images)}"
    assert not c.broken_images, f"images that did not load: {c.broken_images}"
    assert not c.errors, f"page errors: {c.errors}"
    assert not c.console, f"console messages: {c.console}"
    assert not c.resources, f"the page fetched resources: {c.resources}"
    assert c.scroll_width <= c.inner_width, f"page is {c.scroll_width}px wide in a {c.inner_width}px phone viewport"
    with Image.open(c.screenshot) as im:
        assert im.size[0] == PHONE[0] and im.getextrema() != ((255, 255), (255, 255), (255, 255)), "blank screenshot"
    return c
