"""Branch-by-branch tests of the verdicts of chapters 1 and 2 on synthetic metrics."""

from __future__ import annotations

import copy

import pytest

from dropout_study.verdicts import NOT_SUPPORTED, PARTLY, SUPPORTED
from dropout_study.verdicts.cost_under_dropout import EVAL_UP_TOL
from dropout_study.verdicts.cost_under_dropout import decide as cost_under_dropout
from dropout_study.verdicts.cross_entropy import CURVATURE_TOL
from dropout_study.verdicts.cross_entropy import decide as cross_entropy


# ---------------------------------------------------------------------------------------------
# Chapter 1: "cross-entropy makes the cost function convex"
# ---------------------------------------------------------------------------------------------
def _ce_metrics(ce_min=1.5e-4, mse_min=-0.09, mlp_min=(-0.7, -1.7, -0.9)) -> dict:
    return {
        "convexity": {
            "logreg_ce_min_curvature": ce_min,
            "logreg_ce_scale": 0.25,
            "logreg_mse_min_curvature": mse_min,
            "logreg_mse_scale": 0.14,
            "mlp_min_curvature": list(mlp_min),
            "mlp_scale": [abs(m) if m < 0 else 1.0 for m in mlp_min],
            "mlp_midpoint_excess": [0.03] * len(mlp_min),
            "mlp_width": 8,
        }
    }


def test_ce_partly_when_convex_for_logistic_regression_only():
    v = cross_entropy(_ce_metrics())
    assert v.word == PARTLY
    assert "logistic regression only" in v.sentence
    assert "3 of 3 seeds" in v.sentence
    assert "+0.00015" in v.sentence and "-0.09" in v.sentence


def test_ce_supported_when_the_network_cost_never_curves_down():
    v = cross_entropy(_ce_metrics(mlp_min=(0.01, 0.02, 0.0)))
    assert v.word == SUPPORTED
    assert "0 of 3 seeds" in v.sentence


def test_ce_not_supported_when_the_logistic_ce_cost_curves_down():
    v = cross_entropy(_ce_metrics(ce_min=-0.01))
    assert v.word == NOT_SUPPORTED
    assert "not convex" in v.sentence


def test_ce_partly_when_mse_is_convex_too_and_the_network_is_convex():
    v = cross_entropy(_ce_metrics(mse_min=0.001, mlp_min=(0.1, 0.2)))
    assert v.word == PARTLY
    assert "squared error was too" in v.sentence


def test_ce_not_supported_when_mse_is_convex_and_the_network_is_not():
    v = cross_entropy(_ce_metrics(mse_min=0.001))
    assert v.word == NOT_SUPPORTED
    assert "no difference" in v.sentence


def test_ce_round_off_below_the_tolerance_counts_as_convex():
    tiny = -0.5 * CURVATURE_TOL * 0.25
    assert cross_entropy(_ce_metrics(ce_min=tiny)).word == PARTLY
    assert cross_entropy(_ce_metrics(ce_min=-2 * CURVATURE_TOL * 0.25)).word == NOT_SUPPORTED


def test_ce_one_seed_curving_down_is_enough():
    v = cross_entropy(_ce_metrics(mlp_min=(0.1, 0.2, -0.5)))
    assert v.word == PARTLY
    assert "1 of 3 seeds" in v.sentence


def test_ce_missing_or_inconsistent_metrics_raise():
    with pytest.raises(ValueError, match=r"The 'metrics' parameter of cross_entropy must hold"):
        cross_entropy({})
    m = _ce_metrics()
    del m["convexity"]["logreg_mse_scale"]
    with pytest.raises(ValueError, match=r"'metrics' parameter of cross_entropy .*logreg_mse"):
        cross_entropy(m)
    m = _ce_metrics()
    m["convexity"]["mlp_scale"] = [1.0]
    with pytest.raises(ValueError, match=r"one mlp_min_curvature, mlp_scale"):
        cross_entropy(m)


# ---------------------------------------------------------------------------------------------
# Chapter 2: "dropout does not change the cost function"
# ---------------------------------------------------------------------------------------------
def _cud_metrics(**change) -> dict:
    m = {
        "rates": [0.0, 0.2, 0.5],
        "train_up": {"mean": [0.0, 0.47, 0.48]},
        "eval_up": {"mean": [0.0, 0.03, 0.28]},
        "gap": {
            "mean": [0.0, 0.03, 0.064],
            "low": [0.0, 0.027, 0.059],
            "high": [0.0, 0.032, 0.069],
        },
        "p0_identical": True,
        "p0_train_equals_eval": True,
        "expectation": {"ok": True, "max_abs_z": 3.6, "z_crit": 4.9},
        "p0_eval_up_steps": 0,
        "p0_steps_total": 2400,
    }
    m = copy.deepcopy(m)
    for key, value in change.items():
        m[key] = value
    return m


def test_cud_partly_when_the_gap_is_positive():
    v = cost_under_dropout(_cud_metrics())
    assert v.word == PARTLY
    assert "0.064 nats [0.059, 0.069] at p = 0.5" in v.sentence
    assert "48%" in v.sentence and "28%" in v.sentence
    assert "J + gap" in v.sentence


def test_cud_supported_when_the_gap_is_zero_and_the_cost_descends():
    m = _cud_metrics(
        eval_up={"mean": [0.0, 0.0, EVAL_UP_TOL]},  # at the tolerance still counts as falling
        gap={"mean": [0.0, 0.001, -0.002], "low": [0.0, -0.01, -0.02], "high": [0.0, 0.01, 0.01]},
    )
    v = cost_under_dropout(m)
    assert v.word == SUPPORTED
    assert "equals J(θ) within its interval" in v.sentence


def test_cud_partly_when_gap_is_zero_but_the_eval_cost_rises():
    m = _cud_metrics(
        gap={"mean": [0.0, 0.001, 0.0], "low": [0.0, -0.01, -0.02], "high": [0.0, 0.01, 0.01]}
    )
    v = cost_under_dropout(m)
    assert v.word == PARTLY
    assert "does not simply descend J" in v.sentence


def test_cud_partly_when_the_gap_is_negative():
    m = _cud_metrics(
        eval_up={"mean": [0.0, 0.0, 0.0]},
        gap={"mean": [0.0, -0.02, -0.05], "low": [0.0, -0.03, -0.06], "high": [0.0, -0.01, -0.04]},
    )
    assert cost_under_dropout(m).word == PARTLY


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"p0_identical": False}, "not bit-identical"),
        ({"p0_train_equals_eval": False}, "not bit-identical"),
        ({"expectation": {"ok": False, "max_abs_z": 12.0, "z_crit": 4.9}}, "max |z| = 12.0"),
    ],
)
def test_cud_not_supported_when_the_function_changed(change, text):
    v = cost_under_dropout(_cud_metrics(**change))
    assert v.word == NOT_SUPPORTED
    assert "function itself changed" in v.sentence and text in v.sentence


def test_cud_not_supported_when_the_p0_cost_already_rises():
    v = cost_under_dropout(_cud_metrics(p0_eval_up_steps=7))
    assert v.word == NOT_SUPPORTED
    assert "7 of 2400 steps" in v.sentence and "smaller" in v.sentence


def test_cud_not_supported_when_the_training_number_is_not_noisier():
    v = cost_under_dropout(_cud_metrics(train_up={"mean": [0.0, 0.47, 0.2]}))
    assert v.word == NOT_SUPPORTED
    assert "p = 0.5" in v.sentence and "noisy sample" in v.sentence


def test_cud_bad_metrics_raise():
    with pytest.raises(ValueError, match=r"The 'metrics' parameter of cost_under_dropout"):
        cost_under_dropout({"rates": [0.0, 0.5]})
    with pytest.raises(ValueError, match=r"rates starting at 0"):
        cost_under_dropout(_cud_metrics(rates=[0.1, 0.2, 0.5]))
    with pytest.raises(ValueError, match=r"one value per rate"):
        cost_under_dropout(_cud_metrics(train_up={"mean": [0.0, 0.4]}))


# ---------------------------------------------------------------------------------------------
# the vocabulary and the robustness table (shared by every chapter)
# ---------------------------------------------------------------------------------------------
def test_vocabulary_has_inconclusive_with_symbol_and_colour():
    from dropout_study.verdicts import COLOURS, INCONCLUSIVE, SYMBOLS, WORDS, Verdict, badge

    assert INCONCLUSIVE in WORDS
    assert set(SYMBOLS) == set(WORDS) == set(COLOURS)
    assert len(set(SYMBOLS.values())) == len(WORDS)  # each word its own symbol
    assert badge(INCONCLUSIVE) == "{bdg-info}`? inconclusive`"
    Verdict("c", INCONCLUSIVE, "s")
    with pytest.raises(ValueError, match="'word' parameter of Verdict"):
        Verdict("c", "maybe", "s")


def test_robustness_counts_agreement_flips_and_inconclusive():
    from dropout_study.verdicts import INCONCLUSIVE, robustness

    rob = robustness(
        SUPPORTED,
        [("a", SUPPORTED), ("b", SUPPORTED, "x"), ("c", PARTLY), ("d", INCONCLUSIVE)],
    )
    assert (rob.n, rob.agree, rob.flips, rob.to_inconclusive) == (4, 2, 1, 1)
    assert rob.summary() == "2 of 4 alternatives agree (1 flip, 1 only inconclusive)"
    one_flip = robustness(PARTLY, [("a", PARTLY), ("b", PARTLY), ("c", NOT_SUPPORTED)])
    assert one_flip.summary().startswith("2 of 3 alternatives agree")
    assert one_flip.as_dict()["flips"] == 1
    # from an inconclusive primary, a definite alternative is a flip
    assert robustness(INCONCLUSIVE, [("a", SUPPORTED)]).flips == 1
    md = rob.markdown()
    assert md.startswith("```{list-table}") and "{bdg-warning}`◐ partly supported`" in md
