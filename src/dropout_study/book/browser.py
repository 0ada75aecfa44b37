"""The book in a real browser: Debian's Chromium driven by Playwright.

Playwright's own browser download is impossible on these machines, so it drives the system's
``/usr/bin/chromium`` (``apt-get install --no-install-recommends chromium``) through
``executable_path``. Used by ``make pdf`` (:func:`print_pdf`) and by the browser test.

- :func:`find_chromium` — the Chromium executable, or ``None``;
- :func:`serve` — a context manager serving a directory on ``127.0.0.1`` (a free port);
- :func:`launch` — a headless Chromium with no network feature that phones home;
- :func:`wait_for_maths` — wait until MathJax has typeset the page;
- :func:`print_pdf` — print one HTML file (the ``singlehtml`` build) to PDF after MathJax.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path

__all__ = [
    "find_chromium",
    "serve",
    "launch",
    "wait_for_maths",
    "print_pdf",
    "pdf_page_count",
    "site_pages",
    "check_links",
    "check_site",
    "ARGS",
]

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--no-pings",
]
"""Chromium flags: headless in a container, and nothing that makes requests of its own."""


def find_chromium() -> str | None:
    """Path of the system's Chromium (``DROPOUT_STUDY_CHROMIUM`` overrides), or ``None``."""
    env = os.environ.get("DROPOUT_STUDY_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in ("chromium", "chromium-browser"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@contextlib.contextmanager
def serve(directory: Path):
    """Serve ``directory`` at ``http://127.0.0.1:<port>/``; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def launch(executable: str | None = None):
    """A headless Chromium (Playwright ``Browser``). Raises ``RuntimeError`` if there is no
    Chromium and ``ImportError`` without Playwright (``pip install -e '.[browser]'``)."""
    from playwright.sync_api import sync_playwright

    exe = executable or find_chromium()
    if exe is None:
        raise RuntimeError(
            "Chromium not found: apt-get install -y --no-install-recommends chromium"
        )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


MATHJAX_DONE = """async () => {
  if (!window.MathJax) { return true; }
  for (let i = 0; i < 200 && !(MathJax.startup && MathJax.startup.promise); i++) {
    await new Promise(r => setTimeout(r, 50));
  }
  if (MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  return true;
}"""


def wait_for_maths(page, timeout_ms: int = 30_000) -> None:
    """Wait until MathJax (if the page loads it) has typeset everything."""
    page.wait_for_load_state("load")
    page.evaluate(MATHJAX_DONE)


_LOAD_IMAGES = """async () => {
  for (const img of document.images) { img.loading = 'eager'; }
  await Promise.all(Array.from(document.images).map(i => (i.complete && i.naturalWidth)
      ? null : new Promise(r => { i.onload = i.onerror = r; setTimeout(r, 5000); })));
  return true;
}"""


def settle(page, attempts: int = 3) -> None:
    """Load every image (lazy ones too) and wait for MathJax; retried if a script of the
    page replaced the document meanwhile (Playwright then loses the execution context)."""
    from playwright.sync_api import Error

    for i in range(attempts):
        try:
            page.wait_for_load_state("load")
            page.evaluate(_LOAD_IMAGES)
            wait_for_maths(page)
            return
        except Error as exc:
            if "context was destroyed" not in str(exc) or i == attempts - 1:
                raise
            page.wait_for_timeout(200)


def print_pdf(html_file: Path, out: Path, *, executable: str | None = None) -> Path:
    """Print ``html_file`` (served from its directory on 127.0.0.1) to ``out`` (A4, with
    backgrounds) once MathJax has finished. Returns ``out``."""
    html_file = Path(html_file).resolve()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with serve(html_file.parent) as base, launch(executable) as browser:
        page = browser.new_page()
        page.emulate_media(media="print")
        page.goto(base + html_file.name, wait_until="networkidle")
        settle(page)
        page.pdf(
            path=str(out),
            format="A4",
            print_background=True,
            margin={"top": "18mm", "bottom": "18mm", "left": "16mm", "right": "16mm"},
        )
    return out


def pdf_page_count(path: Path) -> int:
    """Number of pages of a PDF (counts ``/Type /Page`` objects; enough for Chromium's
    uncompressed page tree)."""
    data = Path(path).read_bytes()
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))


# ------------------------------------------------------------------------------------------
# checking a built site as a reader's browser sees it
# ------------------------------------------------------------------------------------------

_PAGE_STATE = """async () => {
  for (const img of document.images) { img.loading = 'eager'; }
  await Promise.all(Array.from(document.images).map(i => (i.complete && i.naturalWidth)
      ? null : new Promise(r => { i.onload = i.onerror = r; setTimeout(r, 5000); })));
  const broken = Array.from(document.images)
      .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'));
  const noAlt = Array.from(document.querySelectorAll('.bd-article img'))
      .filter(i => !(i.getAttribute('alt') || '').trim()).map(i => i.getAttribute('src'));
  const untypeset = Array.from(document.querySelectorAll('span.math, div.math'))
      .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60));
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, textarea')
      .forEach(e => e.remove());
  const text = clone.textContent;
  const raw = [];
  for (const tok of ['\\\\(', '\\\\[', '$$', '{glue:', '{cite', '{doc}', '{numref}', '{bdg-']) {
    const i = text.indexOf(tok);
    if (i >= 0) { raw.push(text.slice(Math.max(0, i - 30), i + 40).replace(/\\s+/g, ' ')); }
  }
  const el = document.documentElement;
  const wide = [];
  if (el.scrollWidth > el.clientWidth + 1) {
    for (const e of document.querySelectorAll('body *')) {
      const r = e.getBoundingClientRect();
      if (r.right > el.clientWidth + 1 && r.width > 0) {
        let p = e.parentElement, clipped = false;
        while (p && p !== document.body) {
          const s = getComputedStyle(p);
          if (['auto', 'scroll', 'hidden', 'clip'].includes(s.overflowX)) { clipped = true; break; }
          p = p.parentElement;
        }
        if (!clipped) {
          const cls = typeof e.className === 'string' && e.className
              ? '.' + e.className.split(' ')[0] : '';
          wide.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + cls +
                    ' ' + Math.round(r.right) + 'px');
        }
      }
      if (wide.length >= 5) { break; }
    }
  }
  return {broken, noAlt, untypeset, raw, scrollWidth: el.scrollWidth,
          clientWidth: el.clientWidth, wide};
}"""


def site_pages(html_dir: Path) -> list[str]:
    """Relative paths of the site's pages (no search/index pages or static assets)."""
    html_dir = Path(html_dir)
    pages = []
    for p in sorted(html_dir.rglob("*.html")):
        rel = p.relative_to(html_dir).as_posix()
        if rel.startswith(("_static/", "_sources/", "_images/")) or rel in (
            "search.html",
            "genindex.html",
        ):
            continue
        if 'http-equiv="refresh"' in p.read_text(encoding="utf-8", errors="replace")[:2000].lower():
            continue  # a redirect page
        pages.append(rel)
    return pages


def _ids(html: str) -> set[str]:
    return set(re.findall(r"""\bid=["']([^"']+)["']""", html))


def check_links(html_dir: Path, pages: list[str]) -> list[str]:
    """Every internal link of every page points at an existing file and, with a fragment, at
    an element with that id. Returns one problem per broken link."""
    from html.parser import HTMLParser
    from urllib.parse import unquote, urldefrag, urljoin, urlparse

    class Links(HTMLParser):
        def __init__(self):
            super().__init__()
            self.hrefs = []

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "a" and a.get("href"):
                self.hrefs.append(a["href"])
            if tag in ("img", "script") and a.get("src"):
                self.hrefs.append(a["src"])
            if tag == "link" and a.get("href"):
                self.hrefs.append(a["href"])

    html_dir = Path(html_dir)
    cache: dict[str, set[str]] = {}
    problems = []
    for page in pages:
        base = "http://site/" + page
        parser = Links()
        parser.feed((html_dir / page).read_text(encoding="utf-8"))
        for href in parser.hrefs:
            url = urljoin(base, href)
            parts = urlparse(url)
            if parts.scheme in ("mailto", "data", "javascript"):
                continue
            if parts.netloc != "site":
                continue  # external links are not followed (and not requested)
            target, frag = urldefrag(url)
            path = unquote(urlparse(target).path).lstrip("/") or "index.html"
            if path.endswith("/"):
                path += "index.html"
            f = html_dir / path
            if not f.is_file():
                problems.append(f"{page}: link {href!r} -> missing file {path}")
                continue
            if frag and f.suffix == ".html":
                if path not in cache:
                    cache[path] = _ids(f.read_text(encoding="utf-8"))
                if unquote(frag) not in cache[path]:
                    problems.append(f"{page}: link {href!r} -> no #{frag} in {path}")
    return problems


def check_site(
    html_dir: Path,
    shots: Path,
    *,
    widths=(1280, 390),
    executable: str | None = None,
    pages: list[str] | None = None,
) -> list[str]:
    """Open every page of a built site at each width in headless Chromium and return the
    problems found (empty: all good): console errors and page errors, images that do not
    load or lack alt text, maths not typeset or raw markup left, a page that scrolls
    sideways, any request that leaves 127.0.0.1. A full-page screenshot of every page at
    every width goes to ``shots/<width>/<page>.png``."""
    from urllib.parse import urlparse

    html_dir = Path(html_dir)
    pages = site_pages(html_dir) if pages is None else pages
    problems = check_links(html_dir, pages)
    with serve(html_dir) as base, launch(executable) as browser:
        for width in widths:
            context = browser.new_context(
                viewport={"width": width, "height": 900},
                device_scale_factor=1,
                is_mobile=width < 600,
                has_touch=width < 600,
            )
            outside: list[str] = []

            def route(r, outside=outside):
                host = urlparse(r.request.url).hostname
                if r.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
                    return r.continue_()
                outside.append(r.request.url)
                return r.abort()

            context.route("**/*", route)
            for rel in pages:
                page = context.new_page()
                errors: list[str] = []
                page.on(
                    "console",
                    lambda m, errors=errors: (
                        errors.append(m.text)
                        if m.type in ("error", "warning") and "[Deprecation]" not in m.text
                        else None
                    ),
                )
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.on(
                    "requestfailed",
                    lambda r, errors=errors: (
                        errors.append(f"request failed: {r.url}")
                        if urlparse(r.url).hostname == "127.0.0.1"
                        else None
                    ),
                )
                before = len(outside)
                page.goto(base + rel, wait_until="load")
                settle(page)
                state = page.evaluate(_PAGE_STATE)
                page.wait_for_timeout(100)
                where = f"{rel} @ {width}px"
                for e in errors:
                    problems.append(f"{where}: console: {e}")
                for src in state["broken"]:
                    problems.append(f"{where}: image does not load: {src}")
                for src in state["noAlt"]:
                    problems.append(f"{where}: image without alt text: {src}")
                for t in state["untypeset"]:
                    problems.append(f"{where}: formula not typeset: {t!r}")
                for t in state["raw"]:
                    problems.append(f"{where}: raw markup in the text: {t!r}")
                if state["scrollWidth"] > state["clientWidth"] + 1:
                    problems.append(
                        f"{where}: page scrolls sideways ({state['scrollWidth']} px > "
                        f"{state['clientWidth']} px): {', '.join(state['wide'])}"
                    )
                for url in outside[before:]:
                    problems.append(f"{where}: request leaves 127.0.0.1: {url}")
                out = Path(shots) / str(width) / (rel.replace("/", "__")[:-5] + ".png")
                out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out), full_page=True)
                page.close()
            context.close()
    return problems
