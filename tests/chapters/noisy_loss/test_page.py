"""Chapter 3's page types no finding: every direction, comparison or causal word a rerun could
contradict is glued from the run (tests/helpers.py, typed_claim_words), outside a short list of
method phrases, each justified below."""

from pathlib import Path

from helpers import typed_claim_words

NOTEBOOK = Path(__file__).parents[3] / "book" / "chapters" / "noisy-loss.md"

ALLOW = (
    # the chapter's title: the question the page answers, not an answer
    "does dropout make the loss noisier, and training slower because of it?",
    # the names of the three parts of the claim, in italics wherever the rule uses them
    "*because noisier*",
    "*noisier*",
    "*slower*",
    # the combining rule's verdict words (the rule, stated before the results)
    "**partly supported**",
    "**not supported**",
    "**supported**",
)


def test_the_page_types_no_claim_word():
    assert typed_claim_words(NOTEBOOK.read_text(encoding="utf-8"), allow=ALLOW) == []


def test_the_check_finds_a_typed_finding():
    # the same check on the page with one typed result added: it must be caught
    text = NOTEBOOK.read_text(encoding="utf-8") + "\nTraining is slower with dropout.\n"
    (hit,) = typed_claim_words(text, allow=ALLOW)
    assert hit.endswith("training is slower with dropout")
