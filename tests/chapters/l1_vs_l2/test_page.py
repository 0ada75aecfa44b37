"""The l1-vs-l2 notebook types no finding into its prose: every direction, comparison or
causal word a rerun could contradict comes from glue (``helpers.typed_claim_words``)."""

from __future__ import annotations

from helpers import typed_claim_words

from dropout_study import paths

ALLOW = (
    # the title asks the source's question in its own words
    "l2 only shrinks them",
    # the rule, stated before the results: which outcome gives which verdict word
    "**supported** if",
    "**partly supported** if",
    "**not supported** if",
)


def test_the_notebook_prose_types_no_claim_word():
    text = (paths.ROOT / "book" / "chapters" / "l1-vs-l2.md").read_text(encoding="utf-8")
    assert typed_claim_words(text, allow=ALLOW) == []


def test_the_check_can_fail():
    assert typed_claim_words("On moons Z falls with p.", allow=ALLOW) != []
