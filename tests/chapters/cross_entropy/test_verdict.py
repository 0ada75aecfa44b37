"""The verdict rule of chapter 1 (cross-entropy), branch by branch on synthetic metrics."""

from __future__ import annotations

import pytest

from dropout_study.chapters.cross_entropy.verdict import CURVATURE_TOL
from dropout_study.chapters.cross_entropy.verdict import decide as cross_entropy
from dropout_study.chapters.cross_entropy.verdict import robustness as ce_robustness
from dropout_study.chapters.verdicts import INCONCLUSIVE, NOT_SUPPORTED, PARTLY


# ---------------------------------------------------------------------------------------------
# Chapter 1: "cross-entropy is introduced to make the cost function convex"
# ---------------------------------------------------------------------------------------------
def _ce_metrics(
    ce_min=1.5e-4, mse_min=-0.09, mlp_min=(-0.7, -1.7, -0.9), alternatives=(), excess=0.03
) -> dict:
    return {
        "convexity": {
            "logreg_ce_min_curvature": ce_min,
            "logreg_ce_scale": 0.25,
            "logreg_mse_min_curvature": mse_min,
            "logreg_mse_scale": 0.14,
            "mlp_min_curvature": list(mlp_min),
            "mlp_scale": [abs(m) if m < 0 else 1.0 for m in mlp_min],
            "mlp_midpoint_excess": [excess] * len(mlp_min),
            "mlp_width": 8,
            "alternatives": list(alternatives),
        },
        "mle": {"bernoulli_ce_at_mean": 0.66, "bernoulli_nll_over_n": 0.66},
    }


def _alt(choice, ce_min, mse_min):
    return {
        "choice": choice,
        "logreg_ce_min_curvature": ce_min,
        "logreg_ce_scale": 0.25,
        "logreg_mse_min_curvature": mse_min,
        "logreg_mse_scale": 0.14,
    }


def test_ce_partly_when_convex_for_logistic_regression_only():
    v = cross_entropy(_ce_metrics())
    assert v.word == PARTLY
    assert "comes from maximum likelihood" in v.sentence
    assert "consequence of that choice, not its motive" in v.sentence
    assert "non-convex for certain" in v.sentence and "3 of 3 seeds" in v.sentence
    assert "+0.00015" in v.sentence and "\u22120.09" in v.sentence  # a true minus (numfmt)


def test_ce_never_supported_even_if_the_network_segment_shows_nothing():
    # the hidden-layer segment is shown, not decided: it cannot make the verdict "supported"
    v = cross_entropy(_ce_metrics(mlp_min=(0.01, 0.02, 0.0), excess=-0.025))
    assert v.word == PARTLY
    # no seed shows it (midpoint below the ends, no curving down): the sentence must not say
    # "shown" (a tester's run with one training step did), and its minus is a true one
    assert "not shown by this run's networks" in v.sentence and "shown in" not in v.sentence
    assert "\u22120.025 to \u22120.025 nats" in v.sentence and "curves down in 0 of 3" in v.sentence


def test_ce_network_segment_counts_the_seeds_that_show_it():
    # a midpoint above the ends shows it even where the segment never curves down
    v = cross_entropy(_ce_metrics(mlp_min=(0.01, -0.5, 0.0), excess=0.03))
    assert "shown in 3 of 3 seeds" in v.sentence and "curves down in 1 of 3" in v.sentence


def test_ce_not_supported_when_the_logistic_ce_cost_curves_down():
    v = cross_entropy(_ce_metrics(ce_min=-0.01))
    assert v.word == NOT_SUPPORTED
    assert "not convex" in v.sentence


def test_ce_inconclusive_when_neither_cost_curves_down_on_the_grid():
    v = cross_entropy(_ce_metrics(mse_min=0.001))
    assert v.word == INCONCLUSIVE
    assert "cannot attribute" in v.sentence


def test_ce_round_off_below_the_tolerance_counts_as_convex():
    tiny = -0.5 * CURVATURE_TOL * 0.25
    assert cross_entropy(_ce_metrics(ce_min=tiny)).word == PARTLY
    assert cross_entropy(_ce_metrics(ce_min=-2 * CURVATURE_TOL * 0.25)).word == NOT_SUPPORTED
    # and the tolerance is a parameter (robustness)
    assert cross_entropy(_ce_metrics(ce_min=tiny), tol=1e-9).word == NOT_SUPPORTED


def test_ce_robustness_counts_flips_and_moves_to_inconclusive():
    alts = [
        _alt("grid ×2", 1e-7, -0.08),  # agrees
        _alt("small grid", 0.005, 0.002),  # MSE convex there: only inconclusive
        _alt("other data", -0.02, -0.1),  # CE curves down: a flip
    ]
    rob = ce_robustness(_ce_metrics(alternatives=alts))
    assert rob.primary == PARTLY
    assert rob.n == 2 + 3  # two tolerances and three alternatives
    words = {a.choice: a.word for a in rob.alternatives}
    assert words["small grid"] == INCONCLUSIVE and words["other data"] == NOT_SUPPORTED
    assert rob.agree == 3 and rob.flips == 1 and rob.to_inconclusive == 1
    assert rob.summary() == "3 of 5 agree, 1 flip, 1 only inconclusive (0 not applicable)"


def test_ce_missing_or_inconsistent_metrics_raise():
    with pytest.raises(ValueError, match=r"The 'metrics' parameter of cross_entropy must hold"):
        cross_entropy({})
    bad = _ce_metrics()
    bad["convexity"]["mlp_midpoint_excess"] = [0.1]
    with pytest.raises(ValueError, match=r"The 'metrics' parameter of cross_entropy"):
        cross_entropy(bad)
