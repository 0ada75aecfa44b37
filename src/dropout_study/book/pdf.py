"""``make pdf``: the book as one PDF, with maths, numbered figures and the bibliography.

Jupyter Book 1's ``pdfhtml`` builder goes through pyppeteer, which downloads its own Chromium
(impossible on these machines) and cannot be pointed at Debian's; LaTeX would need a large
TeX Live install and renders the notebook outputs (SVG figures, badges) differently from the
book. So: build the ``singlehtml`` version of the already executed book (the same pages and
theme), serve it on 127.0.0.1 and print it with Debian's Chromium through Playwright once
MathJax has finished (:func:`dropout_study.book.browser.print_pdf`).

    python -m dropout_study.book.pdf [--out _build/pdf/dropout-study.pdf]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

from dropout_study.book.browser import pdf_page_count, print_pdf
from dropout_study.book.project import BuildFailed, Project

__all__ = ["singlehtml", "build_pdf", "main"]


def singlehtml(project: Project) -> Path:
    """``jupyter-book build <root> --builder singlehtml``; returns its ``index.html``."""
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(project.root)]
    cmd += ["--builder", "singlehtml", "-q"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=project.root)
    site = Path(project.root).resolve() / "_build" / "singlehtml"
    index = site / "index.html"
    if proc.returncode != 0 or not index.is_file():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise BuildFailed(f"jupyter-book singlehtml build failed:\n{tail}")
    # index.html redirects to the root page (book/intro.html), whose links to _static/ and
    # _images/ are written relative to the site's top: put a copy there
    m = re.search(r'url=([^"]+)"', index.read_text(encoding="utf-8"))
    page = site / m.group(1) if m else index
    book = site / "book.html"
    shutil.copy(page, book)
    return book


def build_pdf(project: Project | None = None, out: Path | None = None, log=print) -> Path:
    """Build the single-page HTML of the executed book and print it to ``out`` (default
    ``_build/pdf/dropout-study.pdf``)."""
    project = project or Project()
    out = Path(out) if out else Path(project.root) / "_build" / "pdf" / "dropout-study.pdf"
    index = singlehtml(project)
    print_pdf(index, out)
    log(f"PDF: {out} ({pdf_page_count(out)} pages)")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m dropout_study.book.pdf", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--out", type=Path, default=None, help="the PDF to write")
    args = ap.parse_args(argv)
    try:
        build_pdf(out=args.out)
    except (BuildFailed, RuntimeError, ImportError) as exc:
        print(f"make pdf: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
