"""The paired clock (dropout_study.measures.time_to_target) on curves whose answers are known by
construction or computed by hand: interpolated crossings, censoring of stalled runs at the
budget, the reference target and its minimum improvement, Kaplan–Meier and the RMST."""

import numpy as np
import pytest

from dropout_study.measures.time_to_target import (
    censored_median,
    crossing_time,
    kaplan_meier,
    reference_target,
    restricted_time,
    rmst,
)

T = np.array([0, 10, 20, 30])
REF = np.array([1.0, 0.6, 0.2, 0.3])


def test_the_docstring_example():
    c = reference_target(REF, 0.9)
    assert c == pytest.approx(0.28)
    assert crossing_time(T, REF, c) == pytest.approx(18.0)
    stalled = [1.0, 0.5, 0.4, 0.4]
    assert np.isnan(crossing_time(T, stalled, c))
    assert restricted_time(crossing_time(T, stalled, c), 30) == 30.0


def test_a_run_that_reaches_the_target_at_step_t_scores_t():
    steps = np.arange(6)
    curve = np.array([1.0, 0.9, 0.7, 0.5, 0.45, 0.4])
    for t in range(1, 6):
        assert crossing_time(steps, curve, curve[t]) == float(t)


def test_the_crossing_is_interpolated_linearly_between_evaluations():
    # the line 1 - 0.05 t evaluated every 10 steps: its crossing of c is (1 - c) / 0.05 exactly
    steps = np.array([0, 10, 20])
    line = 1.0 - 0.05 * steps
    for c in (0.95, 0.7, 0.5, 0.31, 0.0):
        assert crossing_time(steps, line, c) == pytest.approx((1.0 - c) / 0.05)
    # a convex curve lies below its chords: the interpolated crossing is at most one step
    # after the true one, L(t) = 0.2 + 0.8 exp(-t / 40), evaluated every step
    t = np.arange(0, 601)
    curve = 0.2 + 0.8 * np.exp(-t / 40.0)
    for f in (0.5, 0.8, 0.9):
        c = 1.0 - f * 0.8
        exact = 40.0 * np.log(0.8 / (c - 0.2))
        got = crossing_time(t, curve, c)
        assert exact <= got <= exact + 1.0
        assert got == pytest.approx(exact, abs=0.02)


def test_a_run_on_a_plateau_above_its_seeds_target_is_censored_never_fast():
    t = np.arange(0, 301)
    reference = 0.15 + 0.55 * np.exp(-t / 30.0)  # p = 0: reaches 0.15 + small
    stalled = np.where(t < 3, reference, 0.30)  # drops fast, then sits at 0.30
    target = reference_target(reference, 0.9)
    assert target < 0.30
    # its *own* 90 % target would be reached within 3 steps: the paired clock ignores it
    own = 0.30 + 0.1 * (reference[0] - 0.30)
    assert crossing_time(t, stalled, own) <= 3
    assert np.isnan(crossing_time(t, stalled, target))
    r_stalled = restricted_time(crossing_time(t, stalled, target), 300)
    r_ref = restricted_time(crossing_time(t, reference, target), 300)
    assert r_stalled == 300.0 and r_stalled / r_ref > 1.0


def test_a_reference_that_barely_improves_gives_no_target():
    assert np.isnan(reference_target([1.0, 0.95, 0.92], 0.9, min_improvement=0.1))
    assert reference_target([1.0, 0.95, 0.89], 0.9, min_improvement=0.1) == pytest.approx(0.901)
    assert np.isnan(reference_target([1.0, 1.1, 1.0], 0.9))  # never improved
    assert np.isnan(crossing_time(T, REF, float("nan")))  # no target: no time


def test_diverged_values_never_reach_a_target():
    assert np.isnan(crossing_time(T, [1.0, np.nan, np.nan, np.nan], 0.5))


def test_kaplan_meier_against_a_hand_computation():
    # four runs: at target at steps 3, 7 and 8; one censored at step 5
    # t = 3: 4 at risk, 1 event -> S = 3/4; the censored run leaves at 5;
    # t = 7: 2 at risk, 1 event -> S = 3/8; t = 8: 1 at risk, 1 event -> S = 0
    steps, surv = kaplan_meier([3.0, np.nan, 7.0, 8.0], [10.0, 5.0, 10.0, 10.0])
    np.testing.assert_array_equal(steps, [3.0, 7.0, 8.0])
    np.testing.assert_allclose(surv, [0.75, 0.375, 0.0])
    # RMST to 10: 3 * 1 + 4 * 3/4 + 1 * 3/8 + 2 * 0 = 6.375
    assert rmst([3.0, np.nan, 7.0, 8.0], 10.0, [10.0, 5.0, 10.0, 10.0]) == pytest.approx(6.375)


def test_kaplan_meier_with_ties_and_censoring_at_the_budget_is_one_minus_the_share_reached():
    times = np.array([2.0, 4.0, np.nan, 4.0, 6.0])
    steps, surv = kaplan_meier(times, 10.0)
    np.testing.assert_array_equal(steps, [2.0, 4.0, 6.0])
    np.testing.assert_allclose(surv, [4 / 5, 2 / 5, 1 / 5])
    # RMST by hand: 2 * 1 + 2 * 4/5 + 2 * 2/5 + 4 * 1/5 = 5.2 = mean of min(T, 10)
    assert rmst(times, 10.0) == pytest.approx(5.2)
    assert rmst(times, 10.0) == pytest.approx(restricted_time(times, 10.0).mean())


def test_rmst_stops_at_the_budget():
    # a run at target after the budget counts as censored at the budget
    assert rmst([2.0, 12.0], 10.0) == pytest.approx((2.0 + 10.0) / 2)
    assert rmst([np.nan, np.nan], 10.0) == 10.0


def test_censored_median_is_not_reached_when_it_falls_on_a_censored_run():
    assert censored_median(np.array([10.0, 20.0, np.nan])) == 20.0
    assert censored_median(np.array([10.0, np.nan, np.nan])) is None
    assert censored_median(np.array([10.0, 20.0, np.nan, np.nan])) is None  # (20 + inf) / 2


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="'values' parameter"):
        crossing_time(T, REF[:3], 0.5)
    with pytest.raises(ValueError, match="'eval_steps' parameter"):
        crossing_time([0, 10, 10, 30], REF, 0.5)
    with pytest.raises(ValueError, match="'fraction' parameter"):
        reference_target(REF, 1.5)
    with pytest.raises(ValueError, match="'min_improvement' parameter"):
        reference_target(REF, 0.9, min_improvement=1.0)
    with pytest.raises(ValueError, match="'budget' parameter"):
        restricted_time([1.0], 0)
    with pytest.raises(ValueError, match="'censored_at' parameter"):
        kaplan_meier([1.0, np.nan], [np.nan, 2.0])
