"""The dropout-paper page types no finding: every direction, comparison and causal word a rerun
could contradict comes from glue (STUDY.md, "No hand-typed findings")."""

from __future__ import annotations

from helpers import typed_claim_words

from dropout_study import paths

ALLOW = (
    # the rule statements, fixed before the results (they say what each outcome means)
    "**supported** if all five are",
    "**not supported** if any is",
    "**partly supported** if at least one is",
)


def test_the_page_types_no_claim_words():
    text = (paths.CHAPTER_SOURCES / "dropout-paper.md").read_text(encoding="utf-8")
    assert typed_claim_words(text, allow=ALLOW) == []


def test_the_check_can_fail():
    assert typed_claim_words("Dropout lowers the error because it is noisier.") != []
