"""The findings kit: one decision function for every kind, outcome and boundary."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dropout_study.chapters import findings as fk
from dropout_study.chapters import power, wording
from dropout_study.chapters.findings import INCONCLUSIVE, NO, REVERSED, YES, decide


@pytest.mark.parametrize(
    ("low", "high", "want"),
    [
        (0.2, 0.5, YES),  # entirely beyond +margin (0.1)
        (-0.05, 0.05, NO),  # entirely inside (−0.1, 0.1)
        (-0.5, -0.2, REVERSED),  # entirely beyond −margin
        (0.05, 0.5, INCONCLUSIVE),  # above 0, straddles the margin: too small to call yes
        (0.01, 0.09, NO),  # above 0 but inside the margin: no effect worth the name
        (-0.5, 0.5, INCONCLUSIVE),
        (0.1, 0.5, INCONCLUSIVE),  # touches +margin: not beyond it
        (-0.1, 0.05, INCONCLUSIVE),  # touches −margin: not inside
        (-0.3, -0.1, INCONCLUSIVE),  # touches −margin from below: not beyond it
    ],
)
def test_effect_reaches_every_outcome_and_boundaries_count_as_not_beyond(low, high, want):
    assert decide("effect", 1, "linear", low, high, 0.1) == want


def test_direction_minus_one_mirrors_the_effect():
    assert decide("effect", -1, "linear", -0.5, -0.2, 0.1) == YES
    assert decide("effect", -1, "linear", 0.2, 0.5, 0.1) == REVERSED


@pytest.mark.parametrize(
    ("low", "high", "want"),
    [
        (-0.05, 0.05, YES),
        (0.2, 0.3, NO),
        (-0.3, -0.2, NO),
        (0.05, 0.2, INCONCLUSIVE),
        (-0.1, 0.05, INCONCLUSIVE),  # touches the margin: not inside
        (0.1, 0.3, INCONCLUSIVE),  # touches from outside: not entirely outside
    ],
)
def test_equivalence_reaches_yes_no_and_inconclusive(low, high, want):
    assert decide("equivalence", 1, "linear", low, high, 0.1) == want


@pytest.mark.parametrize(
    ("low", "high", "want"),
    [(0.3, 0.9, YES), (-0.1, 0.15, NO), (-0.9, -0.3, REVERSED), (0.1, 0.5, INCONCLUSIVE)],
)
def test_trend_is_an_effect_with_margin_02_on_rho(low, high, want):
    assert decide("trend", 1, "linear", low, high, None) == want
    assert decide("trend", -1, "linear", -high, -low, None) == want


@pytest.mark.parametrize(
    ("low", "high", "want"), [(0.01, 0.2, YES), (-0.2, -0.01, REVERSED), (-0.1, 0.1, INCONCLUSIVE)]
)
def test_sign_never_says_no(low, high, want):
    assert decide("sign", 1, "linear", low, high, None) == want
    assert decide("sign", 1, "linear", 0.0, 0.2, None) == INCONCLUSIVE  # touching 0


def test_ratios_are_decided_on_the_log_scale():
    # margin 1.2: yes above 1.2, no inside (1/1.2, 1.2), reversed below 1/1.2
    assert decide("effect", 1, "log", 1.3, 2.0, 1.2) == YES
    assert decide("effect", 1, "log", 0.9, 1.1, 1.2) == NO
    assert decide("effect", 1, "log", 0.5, 0.8, 1.2) == REVERSED
    assert decide("effect", 1, "log", 1 / 1.2, 1.1, 1.2) == INCONCLUSIVE  # touches 1/1.2
    assert decide("effect", -1, "log", 0.5, 0.8, 1.2) == YES  # the claim predicts smaller


@pytest.mark.parametrize("margin", [1.0, 0.8, -2.0])
def test_a_ratio_margin_of_one_or_less_is_refused(margin):
    with pytest.raises(ValueError, match=r"'margin' parameter of findings.decide must be a ratio"):
        decide("effect", 1, "log", 1.1, 1.3, margin)


@pytest.mark.parametrize(
    ("args", "exc", "match"),
    [
        (("size", 1, "linear", 0, 1, 0.1), ValueError, "'kind'"),
        (("effect", 2, "linear", 0, 1, 0.1), ValueError, "'direction'"),
        (("effect", 1, "cubic", 0, 1, 0.1), ValueError, "'scale'"),
        (("effect", 1, "linear", 1, 0, 0.1), ValueError, "'high'"),
        (("effect", 1, "linear", math.nan, 0, 0.1), ValueError, "'low'"),
        (("effect", 1, "linear", 0, 1, 0.0), ValueError, "'margin'"),
        (("trend", 1, "log", 0.1, 0.2, None), ValueError, "'scale'"),
    ],
)
def test_bad_input_is_named(args, exc, match):
    with pytest.raises(exc, match=match):
        decide(*args)


def test_a_finding_needs_a_margin_source_and_records_exactly_the_fields():
    with pytest.raises(ValueError, match="'margin_source'"):
        fk.finding("slower", "effect", estimate=1, low=0.5, high=1.5, n=8, margin=0.1)
    f = fk.finding(
        "slower",
        "effect",
        estimate=1.5,
        low=1.3,
        high=1.8,
        n=8,
        margin=1.2,
        scale="log",
        margin_source="convention: a 20 % slowdown",
    )
    assert f.outcome == YES and tuple(f.as_dict()) == fk.FIELDS
    assert fk.check_record(f.as_dict()) == f
    edited = f.as_dict() | {"outcome": NO}
    with pytest.raises(ValueError, match="'outcome' parameter of finding 'slower' must be 'yes'"):
        fk.check_record(edited)
    with pytest.raises(ValueError, match="exactly the fields"):
        fk.check_record({**f.as_dict(), "label": "x"})


def test_not_applicable_is_shown_with_its_reason_and_counts_as_inconclusive():
    tied = fk.from_seeds(
        "50 % target",
        "effect",
        [0.0] * 7 + [0.4],
        margin=0.1,
        margin_source="convention: x",
        ties=[True] * 7 + [False],
        role="alternative",
    )
    assert tied.degenerate and tied.reason == "tied in 7 of 8 seeds"
    assert tied.counted == INCONCLUSIVE and wording.outcome_words(tied).startswith("not applicable")
    undefined = fk.from_seeds(
        "mean over layers", "effect", [0.3, np.nan, 0.2], margin=0.1, margin_source="convention: x"
    )
    assert undefined.degenerate and undefined.reason == "undefined in 1 of 3 seeds"
    algebra = fk.from_seeds(
        "variance at θ₀",
        "effect",
        [0.5, 0.6, 0.55],
        margin=0.1,
        margin_source="convention: x",
        reason="fixed by algebra: p/(1 − p) at a shared θ",
    )
    assert algebra.degenerate and algebra.counted == INCONCLUSIVE


def test_a_constant_sample_without_ties_is_decided_from_its_point_interval():
    f = fk.from_seeds("rho", "trend", [-1.0] * 8, direction=-1)
    assert (f.low, f.high) == (-1.0, -1.0) and f.outcome == YES and not f.degenerate


def test_from_seeds_on_ratios_is_the_geometric_mean_with_a_t_interval_on_logs():
    from scipy import stats as sps

    r = np.array([1.5, 2.0, 1.8, 1.2, 2.5, 1.6, 1.9, 2.2])
    f = fk.from_seeds("slower", "effect", r, margin=1.2, scale="log", margin_source="paper: x")
    logs = np.log(r)
    lo, hi = sps.t.interval(0.95, 7, loc=logs.mean(), scale=logs.std(ddof=1) / np.sqrt(8))
    assert f.estimate == pytest.approx(np.exp(logs.mean()))
    assert (f.low, f.high) == pytest.approx((np.exp(lo), np.exp(hi)))
    assert f.outcome == YES


def test_power_gives_the_seeds_an_inconclusive_finding_would_need():
    f = fk.finding(
        "d", "effect", estimate=0.2, low=-0.1, high=0.5, n=8, margin=0.1,
        margin_source="convention: x",
    )  # fmt: skip
    pw = power.power(f, sd=0.36)
    # d = 0.2 − 0.1 = 0.1; t(0.975, 7) = 2.365 → (2.365 · 0.36 / 0.1)² ≈ 72.5
    assert pw["seeds_needed"] == 73 and pw["half_width"] == pytest.approx(0.3)
    decided = fk.finding(
        "d", "effect", estimate=0.4, low=0.3, high=0.5, n=8, margin=0.1,
        margin_source="convention: x",
    )  # fmt: skip
    assert power.power(decided, sd=0.1)["seeds_needed"] is None


def test_half_and_double():
    assert power.half_and_double(0.1) == (0.05, 0.2)
    assert power.half_and_double(1.21, "log") == pytest.approx((1.1, 1.4641))


def test_the_words_for_not_shown_and_for_no_never_coincide():
    for kind in fk.KINDS:
        words = wording._WORDS[kind]
        assert words[INCONCLUSIVE] not in (words[NO], words[REVERSED], words[YES])
        assert "not shown" in words[INCONCLUSIVE] or "undecided" in words[INCONCLUSIVE]
        assert "not shown" not in words[NO] and "not shown" not in words[REVERSED]


def test_equal_numbers_decided_at_two_margins_are_written_equally():
    # noisy-loss's slower finding at ×/÷ 1.2 and its robustness row at ×/÷ √1.2: the bound
    # 1.199 must not read as the margin 1.2 in the primary, nor 1.20 in the row beside it
    kw = dict(estimate=2.416, low=1.1988, high=4.869, n=8, scale="log")
    src = "convention: c"
    prim = fk.finding("slower", "effect", margin=1.2, margin_source=src, **kw)
    alt = fk.finding("slower [√1.2]", "effect", margin=1.2**0.5, margin_source=src, **kw)
    other = fk.finding("other", "effect", margin=1.2, margin_source=src, **{**kw, "low": 1.3})
    assert wording.interval_text(prim) == "2.416× [1.199, 4.869]"
    assert wording.interval_text(alt) == "2.42× [1.20, 4.87]"  # alone: its own margin only
    assert wording.interval_text(alt, [prim, other]) == wording.interval_text(prim)
    assert wording.interval_text(alt, [other]) == "2.42× [1.20, 4.87]"  # other numbers
    table = wording.table_markdown([prim, alt])
    assert table.count("2.416× [1.199, 4.869]") == 2
