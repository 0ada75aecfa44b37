"""The chapter's prose types no finding: every direction, comparison or causal word a rerun
could contradict comes from glue (STUDY.md, "No hand-typed findings")."""

from __future__ import annotations

from helpers import ROOT, typed_claim_words

ALLOW = (
    # the rule stated before the results: "**partly supported** if the exact checks hold …"
    # names a verdict word and its condition; it reports nothing
    "supported** if",  # as written: the verdict word in bold
)


def test_no_claim_word_is_typed_outside_glue():
    text = (ROOT / "book" / "chapters" / "cross-entropy.md").read_text(encoding="utf-8")
    assert typed_claim_words(text, allow=ALLOW) == []


def test_the_check_catches_a_typed_finding():
    # the same check on a sentence that types a result must fail (the test can fail)
    assert typed_claim_words("The validation loss rises after step 50.", allow=ALLOW)
