"""Every chapter the book lists checks its page for typed findings, and so does the intro.

The chapters' own ``test_page.py`` run :func:`helpers.typed_claim_words` with a short,
justified allow-list; this test makes that a contract for every chapter in ``_toc.yml`` (a new
chapter without such a test fails here), and runs the same check on the intro, whose claims are
quoted and whose verdict table is generated.
"""

import ast
import re
from pathlib import Path

import pytest
from helpers import typed_claim_words

from dropout_study.book import source

ROOT = Path(__file__).parents[2]

INTRO_ALLOW = (
    # the four verdict words, defined
    "*supported*, *partly supported*, *not supported*, or *inconclusive*",
    # the claims as people repeat them (the list the chapters test), in italics
    "*dropout makes the loss surface noisier, so training takes longer*",
    "*l1 makes weights sparse, l2 shrinks them*",
    # method: how a degenerate finding is treated, and why v3 draws fresh seeds
    "decide anything: it is shown, marked",
    "and left out of every count",
    "had been seen, so those seeds are no longer fresh",
    # method: the random streams
    "independent streams per purpose, so runs",
)


@pytest.mark.parametrize("chapter", source.chapter_ids())
def test_every_chapter_checks_its_page_for_typed_findings(chapter):
    test = ROOT / "tests" / "chapters" / chapter.replace("-", "_") / "test_page.py"
    assert test.is_file(), f"{chapter}: no {test.relative_to(ROOT)}"
    tree = ast.parse(test.read_text(encoding="utf-8"))
    called = {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    assert "typed_claim_words" in called, f"{test.name} of {chapter} never runs the check"
    names = set(re.findall(r"\"([a-z0-9-]+)\.md\"", test.read_text(encoding="utf-8")))
    assert names == {chapter}, f"{test.name} of {chapter} reads {names or 'no notebook'}"


def test_the_intro_types_no_claim_word():
    text = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    assert typed_claim_words(text, allow=INTRO_ALLOW) == []
