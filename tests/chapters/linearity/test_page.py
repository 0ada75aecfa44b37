"""The linearity notebook types no finding into its prose: every direction, comparison or
causal word a rerun could contradict comes from glue (``helpers.typed_claim_words``)."""

from __future__ import annotations

from helpers import typed_claim_words

from dropout_study import paths

ALLOW = (
    # a property of every ratio, the pitfall section's title (method, not a finding)
    "a ratio can fall because its denominator grows",
    # the rule, stated before the results: which counts give which verdict word
    "→ **supported**",
    "→ **partly supported**",
    "→ **not supported**",
)


def test_the_notebook_prose_types_no_claim_word():
    text = (paths.ROOT / "book" / "chapters" / "linearity.md").read_text(encoding="utf-8")
    assert typed_claim_words(text, allow=ALLOW) == []


def test_the_check_can_fail():
    assert typed_claim_words("On moons Z falls with p, so dropout helps.", allow=ALLOW) != []
