"""The chapter's prose types no finding: every direction, comparison or causal word a rerun
could contradict comes from glue (STUDY.md, "No hand-typed findings")."""

from __future__ import annotations

from helpers import ROOT, typed_claim_words

ALLOW = (
    # the rule stated before the results ("**supported** if the interval lies inside …",
    # "**not supported** if either check finds a difference") names a verdict word and its
    # condition; it reports nothing
    "supported** if",  # as written: the verdict word in bold
    # the name of the control's measured quantity, defined on the page as the total of the
    # upward steps of J; the measured values and their outcome are glued
    "summed rises",
)


def test_no_claim_word_is_typed_outside_glue():
    text = (ROOT / "book" / "chapters" / "cost-under-dropout.md").read_text(encoding="utf-8")
    assert typed_claim_words(text, allow=ALLOW) == []


def test_the_check_catches_a_typed_finding():
    # the same check on sentences that type a result must fail (the test can fail)
    assert typed_claim_words("The rises of J are the mask noise.", allow=ALLOW)
    assert typed_claim_words("R falls because the optimiser descends J + R.", allow=ALLOW)
