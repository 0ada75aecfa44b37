"""The verdict rule of chapter 1 (cross-entropy), branch by branch on synthetic metrics: the
exact checks (a failed one raises), the contrast, the measured findings and the plain answer."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from dropout_study.chapters.cross_entropy import evidence as ev
from dropout_study.chapters.cross_entropy.verdict import (
    CURVATURE_TOL,
    ExactCheckFailed,
    decide,
    power_of,
    reading,
)
from dropout_study.chapters.findings import INCONCLUSIVE as F_INC
from dropout_study.chapters.findings import NO, REVERSED, YES
from dropout_study.chapters.verdicts import INCONCLUSIVE, PARTLY

S = 8


def _seeds(center, half):
    return list(center + half * np.linspace(-1, 1, S))


def _metrics(mse_min=-0.09, rise=(1.16, 0.05), scaled=(0.85, 0.03), ece=(1.6, 0.2), **change):
    """Synthetic metrics; ``rise``, ``scaled`` and ``ece``: centre and spread of the per-seed
    ratios end ÷ lowest (the lowest-point values fixed at 0.2 nats and 0.02)."""
    best = np.full(S, 0.2)
    m = {
        "n_seeds": S,
        "three_names": {"max_abs_difference": 7e-18},
        "mle": {
            "bernoulli_ce_at_mean": 0.66,
            "bernoulli_nll_over_n": 0.66,
            "bernoulli_theta_hat": 0.6274,
            "bernoulli_mean_y": 0.6274 + 5e-11,
            "categorical_max_abs_difference": 5e-9,
            "categorical_ce_min": 2.30,
            "categorical_entropy_of_freq": 2.30 + 1e-15,
        },
        "convexity": {
            "logreg_ce_min_curvature": 1.5e-4,
            "logreg_ce_scale": 0.25,
            "logreg_mse_min_curvature": mse_min,
            "logreg_mse_scale": 0.14,
            "mlp_endpoint_difference": [3e-18] * S,
            "alternatives": [
                {"logreg_ce_min_curvature": 1e-5, "logreg_ce_scale": 0.3},
                {"logreg_ce_min_curvature": 0.0, "logreg_ce_scale": 0.2},
            ],
        },
        "digits": {
            "constant_predictor_ce": 2.3023,
            "prior_entropy_held": 2.3000,
            "kl_held_train_prior": 0.0023,
            "geometric_mean_probability_end": {"mean": 0.78},
            "baseline_geometric_mean_probability": 0.1,
            "per_seed": {
                "ce_best": best.tolist(),
                "ce_end": (best * _seeds(*rise)).tolist(),
                "ce_scaled_best": (best * 0.9).tolist(),
                "ce_scaled_end": (best * 0.9 * np.asarray(_seeds(*scaled))).tolist(),
                "ece_best": [0.02] * S,
                "ece_end": (0.02 * np.asarray(_seeds(*ece))).tolist(),
            },
        },
    }
    m = copy.deepcopy(m)
    for key, value in change.items():
        section, _, name = key.partition("__")
        if name:
            m[section][name] = value
        else:
            m[key] = value
    return m


def test_partly_with_the_motive_sentence():
    v = decide(_metrics())
    assert v.word == PARTLY
    assert v.sentence.startswith("The claim is about a motive")
    assert "comes from maximum likelihood" in v.sentence
    assert "by-product" in v.sentence and "does not extend to networks" in v.sentence
    assert "+0.00015" in v.sentence and "\u22120.09" in v.sentence  # a true minus (numfmt)
    assert v.answer.startswith(
        "Partly: not as a motive — cross-entropy comes from maximum likelihood"
    )
    assert "geometric-mean probability of 0.78, against 0.10" in v.answer


def test_inconclusive_when_the_grid_does_not_show_the_squared_error_curving_down():
    v = decide(_metrics(mse_min=0.001))
    assert v.word == INCONCLUSIVE
    assert "cannot show" in v.sentence and "undecided" in v.answer
    assert v.answer.startswith("Undecided: ")


@pytest.mark.parametrize("mse_min", [-0.09, 0.001])
def test_the_answer_opens_with_the_verdict_word(mse_min):
    # one answer, not two: the plain answer's first word is built from the verdict word
    v = decide(_metrics(mse_min=mse_min))
    first = v.answer.split(":")[0]
    assert first == {PARTLY: "Partly", INCONCLUSIVE: "Undecided"}[v.word]
    assert not v.answer.startswith(("No", "Yes"))
    assert ev.contrast(_metrics(mse_min=0.001)).outcome == NO


def test_a_round_off_dip_below_the_tolerance_is_not_curving_down():
    tiny = -0.5 * CURVATURE_TOL * 0.14
    assert ev.contrast(_metrics(mse_min=tiny)).outcome == NO
    assert ev.contrast(_metrics(mse_min=-2 * CURVATURE_TOL * 0.14)).outcome == YES


@pytest.mark.parametrize(
    ("key", "value", "name"),
    [
        ("three_names__max_abs_difference", 1e-6, "log_loss agree"),
        ("convexity__logreg_ce_min_curvature", -0.01, "never curves down on the grid"),
        ("convexity__mlp_endpoint_difference", [1e-3] * S, "swapping two hidden units"),
        ("mle__bernoulli_mean_y", 0.7, "the mean label"),
        ("digits__kl_held_train_prior", 0.5, r"H \+ KL"),
    ],
)
def test_a_failed_exact_check_raises_instead_of_deciding(key, value, name):
    with pytest.raises(ExactCheckFailed, match=name):
        decide(_metrics(**{key: value}))


def test_the_exact_checks_are_equivalence_findings_with_rounding_margins():
    checks = ev.exact_checks(_metrics())
    assert len(checks) == 9
    assert all(f.kind == "equivalence" and f.outcome == YES for f in checks)
    assert all(f.margin_source.startswith("closed form: ") for f in checks)
    assert {f.margin for f in checks} == {ev.ROUNDING, *ev.OPTIMISER.values(), CURVATURE_TOL}


def test_an_alternative_grid_that_curves_down_is_a_failed_exact_check():
    m = _metrics()
    m["convexity"]["alternatives"][1]["logreg_ce_min_curvature"] = -0.05
    with pytest.raises(ExactCheckFailed, match="other grids"):
        decide(m)


# ---------------------------------------------------------------------------------------------
# the measured findings and the reading
# ---------------------------------------------------------------------------------------------
def test_rise_removed_by_temperature_scaling_reads_as_over_confidence():
    found = ev.measured(_metrics())
    rise, scaled, ece = found[:3]
    assert (rise.outcome, scaled.outcome, ece.outcome) == (YES, REVERSED, YES)
    assert all(f.scale == "log" and f.direction == 1 for f in found)
    text = reading(found)
    assert "removes the rise" in text and "even scores" in text
    assert "grew by more than its 25 % margin: the rise was over-confidence." in text
    assert text in decide(_metrics()).answer


@pytest.mark.parametrize(
    ("ece", "outcome", "words"),
    [
        ((1.4, 0.6), F_INC, "as over-confidence would; whether the calibration error grew is "
         "undecided at its 25 % margin."),
        ((1.0, 0.02), NO, "but the calibration error did not grow by 25 % or more: the two "
         "readings disagree."),
        ((0.5, 0.02), REVERSED, "but the calibration error shrank"),
    ],
)  # fmt: skip
def test_over_confidence_is_named_only_when_the_calibration_error_grew(ece, outcome, words):
    # the referee's point C: a rise removed by one temperature, but the ECE growth not shown
    found = ev.measured(_metrics(ece=ece))
    assert (found[0].outcome, found[1].outcome, found[2].outcome) == (YES, REVERSED, outcome)
    text = reading(found)
    assert "removes the rise" in text and words in text
    assert "the rise was over-confidence" not in text


def test_every_reading_names_the_calibration_finding_when_the_ce_rose():
    for scaled in ((1.16, 0.03), (1.05, 0.3)):
        found = ev.measured(_metrics(scaled=scaled, ece=(1.4, 0.6)))
        assert found[2].outcome == F_INC
        assert "whether the calibration error grew is undecided" in reading(found)


def test_rise_that_survives_scaling_reads_as_worse_ranking():
    found = ev.measured(_metrics(scaled=(1.16, 0.03)))
    assert found[1].outcome == YES
    assert "survives one temperature" in reading(found)


def test_no_rise_and_undecided_rise_read_differently():
    flat = ev.measured(_metrics(rise=(1.0, 0.01)))
    assert flat[0].outcome == NO and "did not rise by 5 %" in reading(flat)
    noisy = ev.measured(_metrics(rise=(1.08, 0.3)))
    assert noisy[0].outcome == F_INC and "undecided" in reading(noisy)
    # "not shown" and "did not rise" are never the same words
    assert reading(flat) != reading(noisy)


def test_a_seed_without_any_rise_is_a_tie_and_the_finding_not_applicable():
    m = _metrics()
    ps = m["digits"]["per_seed"]
    ps["ce_end"] = list(ps["ce_best"])  # every seed ended at its lowest point
    rise = ev.measured(m)[0]
    assert not rise.applicable and "tied in 8 of 8" in rise.reason
    assert "undecided" in reading(ev.measured(m))


def test_measured_margins_are_varied_at_half_and_double():
    found = ev.measured(_metrics())
    alts = [f for f in found if f.role == "alternative"]
    assert len(alts) == 6
    assert {round(f.margin, 4) for f in alts} == {
        round(1.05**0.5, 4),
        round(1.05**2, 4),
        round(1.25**0.5, 4),
        round(1.25**2, 4),
    }


def test_power_for_each_measured_finding():
    pw = power_of(_metrics(ece=(1.3, 0.5)))
    assert len(pw) == 3
    assert pw[0]["seeds_needed"] is None  # decided
    assert pw[2]["finding"].outcome == F_INC and pw[2]["seeds_needed"] > S
    assert pw[0]["margin"] == pytest.approx(np.log(1.05))


def test_all_findings_have_unique_names():
    names = [f.name for f in ev.all_findings(_metrics())]
    assert len(names) == len(set(names)) == 9 + 1 + 9
