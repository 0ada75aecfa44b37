"""Chapter 3's verdict rule (dropout_study.chapters.noisy_loss.verdict) on synthetic metrics: every
sub-outcome, every branch of the combining rule (including inconclusive), and the robustness
table."""

import copy
import math

import pytest

from dropout_study.chapters.noisy_loss.verdict import (
    NO,
    UNDECIDED,
    YES,
    because_outcome,
    combine,
    decide,
    robustness,
    trend_outcome,
)
from dropout_study.chapters.verdicts import INCONCLUSIVE, NOT_SUPPORTED, PARTLY, SUPPORTED

UP = {"rho": 0.6, "low": 0.3, "high": 0.9}
DOWN = {"rho": -0.6, "low": -0.9, "high": -0.3}
FLAT = {"rho": 0.1, "low": -0.2, "high": 0.4}
FASTER = {"estimate": -30.0, "low": -45.0, "high": -15.0, "margin": 10.0}  # yes
SAME = {"estimate": 1.0, "low": -6.0, "high": 8.0, "margin": 10.0}  # no
WIDE = {"estimate": -5.0, "low": -25.0, "high": 15.0, "margin": 10.0}  # inconclusive


def _ds(spread=UP, steps=UP):
    return {
        "rho_spread0": spread,
        "rho_spread_avg": spread,
        "rho_variance": [spread, spread],
        "rho_snr": [DOWN if spread is UP else FLAT] * 2,
        "steps": {
            "primary": {**steps, "censored": 0},
            "own 0.5": {**steps, "censored": 0},
            "own 0.8": {**steps, "censored": 0},
            "abs 1": {**steps, "censored": 0},
            "abs 2": {**steps, "censored": 3},
        },
        "steps_best_lr": {**steps, "censored": 0},
        "abs_targets": [0.5, 0.2],
    }


def metrics(spread=UP, steps=UP, because=FASTER, spread_bc=None, steps_bc=None):
    return {
        "datasets": ["moons", "breast_cancer"],
        "control_datasets": ["moons"],
        "n_seeds": 8,
        "target_fraction": 0.9,
        "checkpoints": [0, 30],
        "by_dataset": {
            "moons": _ds(spread, steps),
            "breast_cancer": _ds(spread_bc or spread, steps_bc or steps),
        },
        "control": {"moons": {"extrapolated": because, "k_max": because}},
    }


@pytest.mark.parametrize(
    "ivs, sign, out",
    [
        ([UP, UP], 1, YES),
        ([UP, DOWN], 1, NO),
        ([UP, FLAT], 1, UNDECIDED),
        ([DOWN, DOWN], -1, YES),
        ([{"rho": math.nan, "low": math.nan, "high": math.nan}, UP], 1, UNDECIDED),
        ([{"rho": 0.5, "low": 0.0, "high": 0.9}, UP], 1, UNDECIDED),  # touching 0 is not above
    ],
)
def test_trend_outcome(ivs, sign, out):
    assert trend_outcome(dict(enumerate(ivs)), sign) == out


@pytest.mark.parametrize(
    "diff, out",
    [
        (FASTER, YES),
        (SAME, NO),
        (WIDE, UNDECIDED),
        ({"estimate": 30.0, "low": 15.0, "high": 45.0, "margin": 10.0}, UNDECIDED),  # slower
        ({"estimate": -9.0, "low": -10.0, "high": -8.0, "margin": 10.0}, NO),  # edge: inside
    ],
)
def test_because_outcome_with_the_ten_percent_band(diff, out):
    assert because_outcome(diff) == out


@pytest.mark.parametrize(
    "kw, word",
    [
        ({}, SUPPORTED),
        ({"because": SAME}, PARTLY),
        ({"because": WIDE}, PARTLY),
        ({"spread": DOWN}, NOT_SUPPORTED),
        ({"steps": DOWN}, NOT_SUPPORTED),
        ({"steps_bc": DOWN}, NOT_SUPPORTED),  # below 0 on either data set
        ({"steps": FLAT}, INCONCLUSIVE),
        ({"spread_bc": FLAT}, INCONCLUSIVE),
        ({"steps": FLAT, "because": SAME}, INCONCLUSIVE),
    ],
)
def test_every_branch_of_the_combining_rule(kw, word):
    v = decide(metrics(**kw))
    assert v.word == word
    assert "noisier:" in v.sentence and "slower:" in v.sentence


def test_combine_table():
    assert combine(YES, YES, YES) == SUPPORTED
    assert combine(YES, YES, NO) == PARTLY
    assert combine(YES, YES, UNDECIDED) == PARTLY
    assert combine(NO, UNDECIDED, YES) == NOT_SUPPORTED
    assert combine(UNDECIDED, YES, YES) == INCONCLUSIVE


def test_sentence_carries_the_numbers():
    s = decide(metrics()).sentence
    assert "0.60 [0.30, 0.90] on moons" in s
    assert "-30.0 steps [-45.0, -15.0], margin ±10.0" in s


def test_sentence_flags_a_degenerate_interval():
    # smoke, 2 seeds: both gave ρ = 1 → [1.00, 1.00], a zero-width interval, not certainty
    same = {"rho": 1.0, "low": 1.0, "high": 1.0, "degenerate": True}
    s = decide(metrics(spread_bc=same)).sentence
    assert "1.00 [1.00, 1.00] (degenerate) on breast cancer" in s
    assert "0.60 [0.30, 0.90] on moons" in s  # not flagged


def test_robustness_all_agree_when_every_alternative_agrees():
    rob = robustness(metrics())
    assert rob.primary == SUPPORTED
    assert rob.agree == rob.n and rob.n >= 10
    assert (
        rob.summary() == f"{rob.n} of {rob.n} agree, 0 flip, 0 only inconclusive (0 not applicable)"
    )


def test_robustness_one_flipping_alternative_is_n_minus_one_of_n():
    m = metrics()
    m["by_dataset"]["moons"]["steps"]["abs 2"] = {**DOWN, "censored": 3}
    rob = robustness(m)
    assert rob.primary == SUPPORTED
    assert rob.agree == rob.n - 1
    assert rob.flips == 1 and rob.to_inconclusive == 0
    assert rob.summary().startswith(f"{rob.n - 1} of {rob.n} agree, 1 flip")
    flipped = [a for a in rob.alternatives if a.word != SUPPORTED]
    assert flipped[0].word == NOT_SUPPORTED and "absolute target 2" in flipped[0].choice
    assert "{list-table}" in rob.markdown()


def test_robustness_counts_a_move_to_inconclusive_apart():
    m = metrics()
    m["control"]["moons"]["k_max"] = WIDE
    rob = robustness(m)
    assert (rob.agree, rob.flips, rob.to_inconclusive) == (rob.n - 1, 1, 0)  # PARTLY is definite
    m2 = copy.deepcopy(metrics())
    m2["by_dataset"]["breast_cancer"]["steps_best_lr"] = {**FLAT, "censored": 0}
    rob2 = robustness(m2)
    assert (rob2.agree, rob2.flips, rob2.to_inconclusive) == (rob2.n - 1, 0, 1)


def test_snr_row_reads_a_falling_snr_as_noisier():
    rob = robustness(metrics())
    row = next(a for a in rob.alternatives if "SNR" in a.choice)
    assert row.word == SUPPORTED and "noisier: yes" in row.detail


def test_optional_rows_appear_when_the_controls_ran():
    m = metrics()
    m["control_datasets"] = ["moons", "breast_cancer"]
    m["control"]["breast_cancer"] = {"extrapolated": SAME, "k_max": SAME}
    m["control"]["moons"]["surrogate"] = FASTER
    rob = robustness(m)
    choices = [a.choice for a in rob.alternatives]
    assert "control on breast cancer" in choices
    assert "fixed-mask surrogate on moons" in choices
    assert rob.agree == rob.n - 1  # the breast-cancer control says "no" → partly supported


def test_missing_metric_is_named():
    m = metrics()
    del m["control"]
    with pytest.raises(
        ValueError, match="'metrics' parameter of noisy_loss must hold .*got no 'control'"
    ):
        decide(m)
