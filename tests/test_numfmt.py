"""numfmt.distinct and numfmt.shortest: intervals never read constant, typed margins never
read rounded."""

import math

import pytest

from dropout_study.numfmt import distinct, general, percent, plain, shortest


@pytest.mark.parametrize(
    "values",
    [(1.0213, 1.0198, 1.0229), (0.35, 0.29, 0.4), (100.4, 100.1, 100.9), (-0.0012, -0.00121, 0.5)],
)
def test_distinct_values_are_written_distinctly_with_the_fewest_digits(values):
    texts = distinct(values)
    assert len(set(texts)) == len(set(values))
    d = next(d for d in range(3, 7) if texts == [general(v, d) for v in values])
    if d > 3:  # one digit fewer would write two different values alike
        assert len({general(v, d - 1) for v in values}) < len(set(values))


def test_distinct_keeps_three_digits_where_they_suffice_and_equal_values_equal():
    assert distinct((1.05, 1.04, 1.07)) == ["1.05", "1.04", "1.07"]
    assert distinct((2.0, 2.0, 3.0)) == ["2", "2", "3"]
    assert distinct((1.0213, 1.0198, 1.0229), 2, plain) == ["1.021", "1.020", "1.023"]
    assert distinct((1.0213, 1.0198, 1.0229)) == ["1.021", "1.02", "1.023"]


def test_distinct_gives_up_after_extra_digits_and_passes_non_finite_values_through():
    texts = distinct((1.0, 1.0 + 1e-12, math.nan))
    assert texts[:2] == ["1", "1"] and texts[2] == "nan"


@pytest.mark.parametrize(
    "value, text",
    [(1.1025, "1.1025"), (0.1, "0.1"), (1.2, "1.2"), (2**0.5, "1.41"), (4.0, "4"),
     (1.2345678, "1.23"), (-0.05, "\u22120.05"), (2.5e-7, "2.5 × 10⁻⁷")],
)  # fmt: skip
def test_shortest_writes_a_typed_value_exactly_and_a_computed_one_at_three_digits(value, text):
    assert shortest(value) == text
    if text.replace("\u2212", "-").replace(".", "").lstrip("-").isdigit():
        exact = float(text.replace("\u2212", "-")) == value
        assert exact or len(text.replace("\u2212", "").replace(".", "").lstrip("0")) == 3


def test_ratio_gives_the_excess_over_one_three_significant_digits():
    from dropout_study.numfmt import ratio

    assert [ratio(v) for v in (1.0247, 1.2**0.5, 1.2, 1.1025, 4.0)] == [
        "1.0247", "1.0954", "1.2", "1.1025", "4"
    ]  # fmt: skip


def test_a_computed_value_keeps_its_trailing_zero_and_a_typed_one_is_exact():
    assert shortest(1.2**0.5) == "1.10"  # not "1.1", which reads like a typed 1.1
    assert shortest(100 * (1.1025 - 1)) == "10.25"  # float error is not a computed value


def test_distinct_keeps_a_bound_apart_from_the_margin_it_is_decided_against():
    zeros = lambda v, d: general(v, d, zeros=True)  # noqa: E731
    assert distinct((2.416, 1.19882, 4.8692), fmt=zeros) == ["2.42", "1.20", "4.87"]
    assert distinct((2.416, 1.19882, 4.8692), fmt=zeros, against=(1.2, 1 / 1.2)) == [
        "2.416", "1.199", "4.869"
    ]  # fmt: skip


def test_bracket_writes_the_rounding_residue_of_an_exact_zero_as_zero():
    from dropout_study.numfmt import bracket

    # a mean of differences of k/n fractions whose exact value is 0 (Wager's test-error gap)
    residue = (0.1 + 0.2) - 0.3
    assert residue != 0.0
    assert bracket(residue, -0.105, 0.178) == "0 [\u22120.105, 0.178]"
    # a small value that is not residue beside its own scale stays as it is
    assert bracket(2.5e-7, 1e-7, 4e-7) == "2.5 × 10⁻⁷ [10⁻⁷, 4 × 10⁻⁷]"
    assert bracket(float("nan"), 1.0, 2.0) == "— [1, 2]" and bracket(None, 1, 2) == "—"


def test_mean_interval_keeps_the_bounds_apart_and_signs_and_scales():
    from dropout_study.numfmt import mean_interval, sci

    c = {"mean": 0.01213, "low": 0.01209, "high": 0.01216}
    assert mean_interval(c, 2, 100) == "1.213 [1.209, 1.216]"  # not 1.21 [1.21, 1.22]
    assert mean_interval({"mean": 0.02, "low": -0.01, "high": 0.05}, 2, sign=True) == (
        "+0.02 [\u22120.01, +0.05]"
    )
    assert mean_interval({"mean": 3e-5, "low": 2e-5, "high": 4e-5}, 1, form=sci) == (
        "3.0 × 10⁻⁵ [2.0 × 10⁻⁵, 4.0 × 10⁻⁵]"
    )
    assert mean_interval(None) == "—"


def test_percent_never_rounds_a_share_to_all_or_none():
    assert percent(0.999) == "99.9 %"  # not "100 %": cost-under-dropout's masks above J(θ)
    assert percent(0.9999) == "99.99 %"
    assert percent(0.004) == "0.4 %"
    assert percent(1.0) == "100 %" and percent(0.0) == "0 %"  # exact: all and none
    assert percent(0.5) == "50 %" and percent(0.12345, 1) == "12.3 %"
    assert percent(0.25, 2) == "25.00 %"
    assert percent(-0.001) == "−0.1 %"
