"""The robustness table, counted honestly: not-applicable rows left out, exploratory rows
shown only, and with an inconclusive primary the inconclusive rows never counted as agreeing."""

from __future__ import annotations

import pytest

from dropout_study.chapters.verdicts import (
    FIXED_BY_RULE,
    INCONCLUSIVE,
    NO_NEW_EVIDENCE,
    NOT_SUPPORTED,
    PARTLY,
    SUPPORTED,
    Alternative,
    robustness,
)


def test_a_not_applicable_row_is_shown_and_left_out_of_the_count():
    rob = robustness(
        SUPPORTED,
        [
            ("a", SUPPORTED),
            ("b", PARTLY),
            ("c", INCONCLUSIVE),
            Alternative("tied target", SUPPORTED, "ρ = 0.00 [0, 0]", False, "tied in 7 of 8"),
            Alternative("hidden layer", NOT_SUPPORTED, "", exploratory=True),
        ],
    )
    assert (rob.n, rob.agree, rob.flips, rob.to_inconclusive) == (3, 1, 1, 1)
    assert (rob.not_applicable, rob.exploratory) == (1, 1)
    assert rob.summary() == (
        "1 of 3 agree, 1 flip, 1 only inconclusive (not counted: 1 not applicable)"
    )
    md = rob.markdown()
    assert "not applicable (not counted)" in md and "tied in 7 of 8" in md
    assert "exploratory" in md


def test_the_summary_says_why_each_left_out_row_is_left_out():
    rows = [
        ("a", SUPPORTED),
        Alternative("tied", SUPPORTED, "", False, "tied in 7 of 8"),
        Alternative("margin ×2", SUPPORTED, "", False, FIXED_BY_RULE),
        Alternative("alone", PARTLY, "", False, f"same numbers as the primary: {NO_NEW_EVIDENCE}"),
        Alternative(
            "again", SUPPORTED, "", False, f"same numbers as the row “a”: {NO_NEW_EVIDENCE}"
        ),
        Alternative("hidden layer", NOT_SUPPORTED, "", exploratory=True),
    ]
    rob = robustness(SUPPORTED, rows)
    assert [a.not_counted for a in rob.alternatives] == [
        "", "not applicable", "fixed by the rule", "no new evidence", "no new evidence",
        "exploratory",
    ]  # fmt: skip
    assert rob.left_out == {"not applicable": 1, "fixed by the rule": 1, "no new evidence": 2}
    assert rob.not_applicable == 4 and rob.n == 1
    assert rob.summary() == (
        "1 of 1 agree, 0 flip, 0 only inconclusive "
        "(not counted: 1 not applicable, 1 fixed by the rule, 2 no new evidence)"
    )
    assert rob.as_dict()["left_out"] == rob.left_out
    md = rob.markdown()
    assert "fixed by the rule (not counted)" in md and "no new evidence (not counted)" in md
    # a reason that only mentions the words elsewhere is not a repeat of numbers
    odd = Alternative("x", SUPPORTED, "", False, "no new evidence was possible: tied in 8 of 8")
    assert odd.not_counted == "not applicable"


def test_with_an_inconclusive_primary_inconclusive_rows_are_also_inconclusive_not_agreeing():
    rob = robustness(
        INCONCLUSIVE,
        [("a", INCONCLUSIVE), ("b", INCONCLUSIVE), ("margin ×2", PARTLY), ("x", SUPPORTED)],
    )
    assert rob.agree == 0 and rob.also_inconclusive == 2
    assert [a.choice for a in rob.decided] == ["margin ×2", "x"]
    assert rob.summary() == (
        "2 of 4 also inconclusive, 2 decided: margin ×2 → partly supported; x → supported"
    )
    assert "also inconclusive" in rob.markdown() and "decided" in rob.markdown()


def test_a_not_applicable_row_needs_its_reason():
    with pytest.raises(ValueError, match="'reason' parameter of Alternative"):
        Alternative("x", SUPPORTED, "", applicable=False)


def test_rows_given_as_mappings_keep_their_marks():
    rob = robustness(
        SUPPORTED,
        [{"choice": "x", "word": SUPPORTED, "applicable": False, "reason": "undefined in 3 of 8"}],
    )
    assert rob.n == 0 and rob.not_applicable == 1
    assert rob.as_dict()["alternatives"][0]["reason"] == "undefined in 3 of 8"


def test_a_row_whose_word_the_rule_fixes_is_found_and_one_that_can_move_is_not():
    """A rule in which any "no" gives "not supported" (chapter 6's shape): with finding a at
    "no", a row moving only b cannot change the word; a row moving a can (exhaustive check)."""
    from dropout_study.chapters.reach import fixed_by_rule

    def rule(o):
        if "no" in o.values():
            return "not supported"
        return "supported" if all(v == "yes" for v in o.values()) else "inconclusive"

    outcomes = {"a": "no", "b": "yes", "c": "inconclusive"}
    assert fixed_by_rule(rule, outcomes, ["b"])
    assert fixed_by_rule(rule, outcomes, ["b", "c"])
    assert not fixed_by_rule(rule, outcomes, ["a"])
    assert not fixed_by_rule(rule, {"a": "yes", "b": "yes", "c": "yes"}, ["c"])
    assert fixed_by_rule(rule, outcomes, [])  # a row that moves nothing


@pytest.mark.parametrize("kind", ["effect", "trend", "equivalence"])
def test_margin_reach_holds_every_outcome_decide_gives_when_only_the_margin_moves(kind):
    """Oracle: findings.decide itself, on a grid of intervals and pairs of margins — every
    outcome at the moved margin lies in margin_reach of the outcome at the first one."""
    import itertools

    from dropout_study.chapters.findings import decide
    from dropout_study.chapters.reach import margin_reach

    ends = [-0.9, -0.5, -0.25, -0.1, 0.0, 0.1, 0.25, 0.5, 0.9]
    margins = [0.05, 0.15, 0.3, 0.6]
    seen = set()
    for low, high in itertools.combinations_with_replacement(ends, 2):
        for m1, m2 in itertools.permutations(margins, 2):
            before = decide(kind, 1, "linear", low, high, m1)
            after = decide(kind, 1, "linear", low, high, m2)
            reach = margin_reach("effect" if kind == "trend" else kind, before, m2 > m1)
            assert after in reach, (low, high, m1, m2, before, after)
            seen.add((before, after, m2 > m1))
    assert len(seen) >= 6  # the grid moved outcomes both ways, not only kept them
    with pytest.raises(ValueError, match="'kind' parameter of margin_reach"):
        margin_reach("sign", "yes", True)
