"""The smoke book in a real browser (Debian's Chromium driven by Playwright), served on
127.0.0.1, every page at a desktop (1280 px) and a phone (390 px) width.

For every page and width: no console error or warning, every image loads and has alt text,
every formula is typeset by the local MathJax (no raw ``\\(`` or glue/role markup left),
every internal link and anchor resolves, nothing scrolls the page sideways (wide tables
scroll in their own box) and no request leaves 127.0.0.1. Full-page screenshots of every
page are kept in ``_build/screenshots/<width>/`` of the checkout for people to look at.

Skips with a message where Chromium or Playwright is missing; in CI
(``DROPOUT_STUDY_REQUIRE_BROWSER=1`` or ``CI=true``) that is a failure.
"""

from __future__ import annotations

import shutil

from fixtures.tinybook import built_smoke_book
from helpers import chromium_or_skip

from dropout_study import paths
from dropout_study.book.browser import check_links, check_site, site_pages
from dropout_study.book.source import chapter_ids

CHAPTERS = chapter_ids()


SHOTS = paths.ROOT / "_build" / "screenshots"


def test_the_smoke_book_reads_cleanly_in_chromium(tmp_path_factory, monkeypatch):
    exe = chromium_or_skip()
    project = built_smoke_book(tmp_path_factory, monkeypatch)
    html = project.root / "_build" / "html"
    pages = site_pages(html)
    # every chapter page, the intro and the reproduce page are checked (not a subset)
    expected = {"book/intro.html", "book/reproduce.html"}
    expected |= {
        f"book/generated/{c}/{c}.html"
        for c in CHAPTERS
        if (html / "book" / "generated" / c).is_dir()
    }
    assert expected <= set(pages), sorted(expected - set(pages))
    assert len([p for p in pages if p.startswith("book/generated/")]) >= len(CHAPTERS) - 1
    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    problems = check_site(html, SHOTS, widths=(1280, 390), executable=exe, pages=pages)
    assert not problems, "\n".join(problems)
    for width in (1280, 390):
        shots = sorted((SHOTS / str(width)).glob("*.png"))
        assert len(shots) == len(pages), (width, [s.name for s in shots])


def test_a_short_chapter_address_keeps_the_figure_anchor(tmp_path_factory, monkeypatch):
    # the address people cite: <site>/<chapter>.html#fig-<chapter>-<name>
    exe = chromium_or_skip()
    from dropout_study.book.browser import launch, serve

    project = built_smoke_book(tmp_path_factory, monkeypatch)
    html = project.root / "_build" / "html"
    page_file = html / "book" / "generated" / "cross-entropy" / "cross-entropy.html"
    anchor = "fig-cross-entropy-convexity"
    assert f'id="{anchor}"' in page_file.read_text(encoding="utf-8")
    with serve(html) as base, launch(exe) as browser:
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(f"{base}cross-entropy.html#{anchor}")
        page.wait_for_url("**/book/generated/cross-entropy/cross-entropy.html*", timeout=15_000)
        page.wait_for_load_state("load")
        assert page.url.endswith(f"#{anchor}"), page.url
        top = page.evaluate(
            f"() => document.getElementById('{anchor}').getBoundingClientRect().top"
        )
        assert abs(top) < 300, top  # scrolled to the figure, not left at the top of the page


def test_the_link_checker_finds_a_broken_anchor(tmp_path):
    # the checker itself can fail: a page with one good and two broken links
    (tmp_path / "a.html").write_text('<p id="here"></p><a href="b.html#there">x</a>')
    (tmp_path / "b.html").write_text(
        '<h1 id="there">t</h1><a href="a.html#nowhere">y</a><a href="c.html">z</a>'
        '<a href="https://example.org/">ext</a>'
    )
    problems = check_links(tmp_path, ["a.html", "b.html"])
    assert problems == [
        "b.html: link 'a.html#nowhere' -> no #nowhere in a.html",
        "b.html: link 'c.html' -> missing file c.html",
    ]
