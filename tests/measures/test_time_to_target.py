"""Time-to-target with censoring (dropout_study.measures.time_to_target) on curves whose
answers are known by construction."""

import numpy as np
import pytest

from dropout_study.measures.time_to_target import (
    censored_median,
    censored_values,
    first_reach,
    own_target,
    reached_fraction,
    steps_to_own_fraction,
)

T = np.array([0, 10, 20, 30])
L = np.array([1.0, 0.6, 0.2, 0.3])


def test_the_docstring_example():
    assert own_target(L, 0.5) == pytest.approx(0.6)
    assert steps_to_own_fraction(T, L, 0.5) == 10
    assert steps_to_own_fraction(T, L, 0.9) == 20
    assert np.isnan(first_reach(T, L, 0.1))


def test_exponential_curves_have_closed_form_times():
    # L(t) = b + (L0 - b) exp(-t / tau): 90 % of the improvement at t = tau ln 10
    t = np.arange(0, 2001)
    for tau in (50.0, 120.0, 300.0):
        curve = 0.2 + 0.8 * np.exp(-t / tau)
        # the best is at the last step, so Delta is 0.8 (1 - e^-2000/tau) ~ 0.8
        expected = np.ceil(tau * np.log(1 / (1 - 0.9 * (1 - np.exp(-2000 / tau)))))
        assert steps_to_own_fraction(t, curve, 0.9) == expected


def test_a_run_that_levels_off_higher_is_fast_relative_and_censored_absolute():
    t = np.arange(0, 101)
    low = 0.1 + 0.9 * np.exp(-t / 30)  # slow, goes low
    high = 0.5 + 0.5 * np.exp(-t / 5)  # fast, levels off high
    assert steps_to_own_fraction(t, high, 0.9) < steps_to_own_fraction(t, low, 0.9)
    assert np.isnan(first_reach(t, high, 0.3))
    assert first_reach(t, low, 0.3) == pytest.approx(np.ceil(30 * np.log(0.9 / 0.2)))


def test_a_run_that_never_improves_is_censored():
    assert np.isnan(steps_to_own_fraction(T, [0.5, 0.6, 0.7, 0.5], 0.9))


def test_accuracy_targets_count_from_below():
    assert first_reach(T, [0.5, 0.7, 0.95, 0.9], 0.9, below=False) == 20


def test_censored_values_rank_last_and_the_cap_must_exceed_every_time():
    v = censored_values([10.0, np.nan, 30.0], 31)
    np.testing.assert_array_equal(v, [10, 31, 30])
    with pytest.raises(ValueError, match="'cap' parameter"):
        censored_values([10.0, np.nan, 30.0], 30)


def test_censored_median_is_not_reached_when_it_falls_on_a_censored_run():
    assert censored_median(np.array([10.0, 20.0, np.nan])) == 20.0
    assert censored_median(np.array([10.0, np.nan, np.nan])) is None
    assert censored_median(np.array([10.0, 20.0, np.nan, np.nan])) is None  # (20 + inf) / 2


def test_reached_fraction_is_a_step_function_that_stops_below_one_with_censoring():
    frac = reached_fraction([10.0, 20.0, np.nan, 40.0], [0, 10, 15, 20, 40, 1000])
    np.testing.assert_allclose(frac, [0, 0.25, 0.25, 0.5, 0.75, 0.75])


def test_bad_curves_are_named():
    with pytest.raises(ValueError, match="'values' parameter"):
        first_reach(T, L[:3], 0.5)
    with pytest.raises(ValueError, match="'eval_steps' parameter"):
        first_reach([0, 10, 10, 30], L, 0.5)
    with pytest.raises(ValueError, match="'fraction' parameter"):
        own_target(L, 1.5)
