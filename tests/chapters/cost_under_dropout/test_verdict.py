"""The verdict rule of chapter 2 (cost-under-dropout), branch by branch on synthetic metrics."""

from __future__ import annotations

import copy

import pytest

from dropout_study.chapters.cost_under_dropout.verdict import decide as cost_under_dropout
from dropout_study.chapters.cost_under_dropout.verdict import interval_word
from dropout_study.chapters.cost_under_dropout.verdict import robustness as cud_robustness
from dropout_study.chapters.verdicts import INCONCLUSIVE, NOT_SUPPORTED, PARTLY, SUPPORTED


# ---------------------------------------------------------------------------------------------
# Chapter 2: "dropout does not change the cost function"
# ---------------------------------------------------------------------------------------------
def _ci(mean, low, high):
    return {"mean": mean, "low": low, "high": high}


def _cud_metrics(r_prim=(0.027, 0.024, 0.030), **change) -> dict:
    m = {
        "rates": [0.0, 0.1, 0.5],
        "primary_rate": 0.5,
        "margin": 0.01,
        "alt_margins": [0.005, 0.02],
        "n_seeds": 8,
        "p0_identical": True,
        "eval_deterministic": True,
        "r_own": [_ci(0.0, 0.0, 0.0), _ci(0.007, 0.006, 0.009), _ci(*r_prim)],
        "r_theta0": [None, _ci(0.034, 0.026, 0.042), _ci(0.37, 0.30, 0.44)],
        "checkpoints": [0, 100, 400],
        "along_primary": [_ci(0.11, 0.08, 0.14), _ci(0.030, 0.028, 0.032), None],
        "along_reached": [8, 8, 3],
    }
    m = copy.deepcopy(m)
    m.update(change)
    return m


def test_cud_partly_when_r_is_above_the_margin():
    v = cost_under_dropout(_cud_metrics())
    assert v.word == PARTLY
    assert "+0.0270 [+0.0240, +0.0300] nats" in v.sentence
    assert "above +0.01" in v.sentence and "J + R" in v.sentence


def test_cud_partly_when_r_is_below_minus_the_margin():
    # with dropout in earlier layers R may be negative; the rule is symmetric
    v = cost_under_dropout(_cud_metrics(r_prim=(-0.03, -0.04, -0.02)))
    assert v.word == PARTLY
    assert "below −0.01" in v.sentence


def test_cud_supported_when_r_is_inside_the_margin():
    v = cost_under_dropout(_cud_metrics(r_prim=(0.002, -0.004, 0.008)))
    assert v.word == SUPPORTED
    assert "inside ±0.01" in v.sentence


@pytest.mark.parametrize("r", [(0.01, 0.005, 0.015), (-0.009, -0.012, -0.006), (0, -0.02, 0.02)])
def test_cud_inconclusive_when_r_straddles_the_margin(r):
    v = cost_under_dropout(_cud_metrics(r_prim=r))
    assert v.word == INCONCLUSIVE
    assert "cannot decide" in v.sentence


@pytest.mark.parametrize("key", ["p0_identical", "eval_deterministic"])
def test_cud_not_supported_when_an_exact_check_fails(key):
    # even with R inside the margin: the function itself changed
    v = cost_under_dropout(_cud_metrics(r_prim=(0.0, -0.001, 0.001), **{key: False}))
    assert v.word == NOT_SUPPORTED
    assert "function itself changed" in v.sentence


def test_cud_the_margin_is_read_from_the_metrics_and_can_be_overridden():
    m = _cud_metrics(r_prim=(0.015, 0.012, 0.018))
    assert cost_under_dropout(m).word == PARTLY
    assert cost_under_dropout({**m, "margin": 0.02}).word == SUPPORTED
    assert cost_under_dropout(m, margin=0.015).word == INCONCLUSIVE


def test_interval_word_edges():
    assert interval_word(-0.0099, 0.0099, 0.01) == SUPPORTED
    assert interval_word(-0.01, 0.005, 0.01) == INCONCLUSIVE  # touches the margin
    assert interval_word(0.0101, 0.02, 0.01) == PARTLY
    assert interval_word(-0.02, -0.0101, 0.01) == PARTLY


def test_cud_robustness_rows_and_counts():
    rob = cud_robustness(_cud_metrics())
    choices = [a.choice for a in rob.alternatives]
    assert rob.primary == PARTLY
    # p = 0.1 at θ*_p; p = 0.1 and 0.5 at θ*0; two margins; two checkpoints every seed reached
    assert rob.n == 7
    assert any("p = 0.1 at θ*_p" in c for c in choices)
    assert sum("θ*₀" in c for c in choices) == 2
    assert any("initialisation" in c for c in choices)
    assert not any("step 400" in c for c in choices)  # reached by 3 of 8 seeds only
    # p = 0.1 at θ*_p is inside the margin: the one flip
    assert rob.agree == 6 and rob.flips == 1 and rob.to_inconclusive == 0
    assert rob.summary() == "6 of 7 agree, 1 flip, 0 only inconclusive (0 not applicable)"
    # the primary interval [0.024, 0.030] lies above δ = 0.02 too
    assert dict((a.choice, a.word) for a in rob.alternatives)["margin δ = 0.02 nats"] == PARTLY


def test_cud_robustness_counts_a_move_to_inconclusive():
    rob = cud_robustness(_cud_metrics(r_prim=(0.03, 0.018, 0.042)))
    words = {a.choice: a.word for a in rob.alternatives}
    assert words["margin δ = 0.02 nats"] == INCONCLUSIVE
    assert rob.to_inconclusive >= 1


def test_cud_missing_or_inconsistent_metrics_raise():
    with pytest.raises(ValueError, match=r"The 'metrics' parameter of cost_under_dropout"):
        cost_under_dropout({})
    with pytest.raises(ValueError, match=r"primary_rate 0.3"):
        cost_under_dropout(_cud_metrics(primary_rate=0.3))
    with pytest.raises(ValueError, match=r"margin"):
        cost_under_dropout(_cud_metrics(margin=0.0))
