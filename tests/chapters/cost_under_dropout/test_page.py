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


def test_control_agreement_leaves_out_rows_that_cannot_disagree():
    from dropout_study.chapters.cost_under_dropout.evidence import control_agreement
    from dropout_study.chapters.findings import finding

    def f(name, lo, hi, margin, role="alternative", **kw):
        return finding(name, "effect", estimate=(lo * hi) ** 0.5, low=lo, high=hi, n=8,
                       margin=margin, margin_source="convention: test", scale="log",
                       direction=-1, role=role, **kw)  # fmt: skip

    prim = f("K = 64 ÷ K = 1", 0.0003, 0.008, 2.0, role="primary")  # yes: far below ÷ 2
    rows = [
        prim,
        f("K = 16 ÷ K = 1", 0.03, 0.05, 2.0),  # re-estimated: counted, agrees
        f("margin ×/÷ 1.41", 0.0003, 0.008, 2**0.5),  # narrower margin on a "yes": fixed
        f("margin ×/÷ 4", 0.0003, 0.008, 4.0),  # wider: could disagree, counted
        f("tied", 0.4, 0.9, 2.0, degenerate=True, reason="tied in 5 of 8 seeds"),
        f("other data", 0.3, 1.5, 2.0),  # inconclusive: counted, disagrees
    ]
    assert control_agreement(rows) == (
        "2 of 3 give the same outcome (not counted: 1 not applicable, 1 fixed by its margin)"
    )
