"""The verdict of chapter 4 (verdicts.l1_vs_l2), branch by branch on synthetic metrics.

The metrics are built by hand: per-seed paths over a λ grid with known accuracies, losses,
Hoyer indices, zeros, norm ratios and dead units, so every branch of the rule, the λ*
selection, the matched-loss pairing and the robustness table can be checked against values
worked out here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dropout_study.chapters.l1_vs_l2 import verdict as rule
from dropout_study.chapters.verdicts import INCONCLUSIVE, NOT_SUPPORTED, PARTLY, SUPPORTED, Verdict
from dropout_study.measures.stats import seed_interval

LAMS = [0.001, 0.01, 0.1, 1.0]
S = 8
OFFS = np.linspace(-0.02, 0.02, S)  # per-seed spread, mean 0


def _col(values):
    """(S, L) array: each λ's value plus the per-seed spread."""
    return (np.asarray(values, float)[None, :] + OFFS[:, None] * 0.5).tolist()


def metrics(*, h1=(0.3, 0.5, 0.7, 0.2), h2=(0.2, 0.22, 0.25, 0.3), acc1=(0.98, 0.975, 0.972,
            0.6), acc2=(0.98, 0.98, 0.975, 0.8), l2_zeros=(0, 0, 0, 0),
            ratio2=(1.0, 0.8, 0.3, 0.1), dead2=(0, 0, 1, 3), dead_none=0, n_seeds=S,
            **extra) -> dict:  # fmt: skip
    """Synthetic metrics: λ*(L1) = λ*(L2) = 0.1 at margin 0.01 by default; L2 matched at 0.1."""
    loss1 = [0.06, 0.08, 0.11, 0.6]
    loss2 = [0.06, 0.07, 0.12, 0.4]
    m = {
        "lambdas": LAMS,
        "acc_margin": 0.01,
        "hoyer_delta": 0.1,
        "n_seeds": n_seeds,
        "paths": {
            "l1": {
                "val_acc": _col(acc1),
                "val_loss": _col(loss1),
                "hoyer": _col(h1),
                "hoyer_first": _col(h1),
                "hoyer_unweighted": _col(h1),
                "exact_zero": _col([0.2, 0.6, 0.9, 0.95]),
                "near_zero": _col([0.2, 0.6, 0.9, 0.95]),
                "norm_ratio_ref": _col([1.0, 0.7, 0.4, 0.1]),
                "dead": _col([0, 2, 10, 14]),
                "test_acc": _col([0.5, 0.5, 0.5, 0.5]),
            },
            "l2": {
                "val_acc": _col(acc2),
                "val_loss": _col(loss2),
                "hoyer": _col(h2),
                "hoyer_first": _col(h2),
                "hoyer_unweighted": _col(h2),
                "exact_zero": np.tile(l2_zeros, (S, 1)).astype(float).tolist(),
                "near_zero": _col([0.0, 0.01, 0.05, 0.3]),
                "norm_ratio_ref": _col(ratio2),
                "dead": np.tile(dead2, (S, 1)).astype(float).tolist(),
                "test_acc": _col([0.5, 0.5, 0.5, 0.5]),
            },
        },
        "none_runs": {
            "val_acc": (0.98 + OFFS * 0.5).tolist(),
            "dead": [float(dead_none)] * S,
            "test_acc": [0.9] * S,
        },
    }
    m.update(extra)
    return m


def test_selection_matching_and_the_supported_branch():
    m = metrics(dead2=(0, 0, 0, 3))
    e = rule.evaluate(m)
    assert (e["star_l1"], e["star_l2"]) == (0.1, 0.1)
    assert e["j1"] == 2 and e["j2"] == 2  # L1's loss 0.11 at λ* is nearest L2's 0.12
    diff = seed_interval(np.zeros(S) + 0.45)  # constant per-seed difference 0.7 − 0.25
    assert e["diff"]["estimate"] == pytest.approx(diff.estimate)
    assert e["diff"]["low"] == pytest.approx(0.45) and e["diff"]["high"] == pytest.approx(0.45)
    v = rule.decide(m)
    assert isinstance(v, Verdict) and v.word == SUPPORTED
    assert "Over 8 paired seeds" in v.sentence and "λ*(L1) = 0.1" in v.sentence
    assert "matched in validation loss by L2 at λ = 0.1" in v.sentence
    assert "δ = 0.1" in v.sentence and "L2 left 0.0 % of its weights exactly 0" in v.sentence
    assert "does select at the level of units" not in v.sentence
    assert v.claim == "L1 makes weights sparse, L2 shrinks them."


def test_strongest_within_margin_and_matched_index():
    acc = np.array([[0.97, 0.965, 0.96, 0.5]])
    assert rule.strongest_within_margin(LAMS, acc, [0.97], 0.01) == 2
    assert rule.strongest_within_margin(LAMS, [[0.97, 0.95, 0.97, 0.5]], [0.97], 0.01) == 2
    assert rule.strongest_within_margin(LAMS, [[0.9] * 4], [0.97], 0.01) is None
    assert rule.strongest_within_margin(LAMS, [[0.97] * 4], [0.97], 0.0) == 3
    assert rule.matched_index([[0.1, 0.2, 0.5], [0.1, 0.4, 0.5]], 0.29) == 1  # mean 0.3
    c = rule.collapse(LAMS, acc, 2, [0.97], 0.01, 100)
    assert c == {"next_lambda": 1.0, "next_ratio": 10.0, "next_acc": 0.5,
                 "slack": pytest.approx(0.0 * 100, abs=1e-9)}  # fmt: skip
    assert rule.collapse(LAMS, acc, 3, [0.5], 0.01, 100)["next_lambda"] is None


def test_l2_with_exact_zeros_is_partly_supported():
    v = rule.decide(metrics(l2_zeros=(0, 0, 0.01, 0)))
    assert v.word == PARTLY
    assert "L2 left 1.0 % of its weights exactly 0 (8 of 8 seeds with any)" in v.sentence


def test_l2_that_does_not_shrink_is_partly_supported():
    assert rule.decide(metrics(ratio2=(1.0, 1.1, 1.2, 1.3))).word == PARTLY


def test_l2_shrinkage_interval_containing_one_is_inconclusive():
    m = metrics()
    m["paths"]["l2"]["norm_ratio_ref"] = [[1.0, 0.8, 0.9 + 0.1 * (s % 3), 0.1] for s in range(S)]
    e = rule.evaluate(m)
    assert e["ratio"]["low"] < 1 < e["ratio"]["high"]
    assert e["word"] == INCONCLUSIVE and e["reason"] == "shrink_straddles"


def test_hoyer_difference_below_delta_is_not_supported():
    v = rule.decide(metrics(h1=(0.3, 0.3, 0.3, 0.3), h2=(0.28, 0.28, 0.28, 0.28)))
    assert v.word == NOT_SUPPORTED


def test_hoyer_difference_straddling_delta_is_inconclusive():
    m = metrics()
    spread = np.linspace(-0.2, 0.2, S)  # mean difference 0.45 − 0.35 = 0.1 ± wide
    m["paths"]["l1"]["hoyer"] = [[0.3, 0.5, 0.35 + d, 0.2] for d in spread]
    m["paths"]["l2"]["hoyer"] = [[0.2, 0.22, 0.25, 0.3]] * S
    e = rule.evaluate(m)
    assert e["diff"]["low"] < 0.1 < e["diff"]["high"]
    assert rule.decide(m).word == INCONCLUSIVE


def test_too_few_qualifying_seeds_is_inconclusive():
    m = metrics()
    h = np.asarray(m["paths"]["l1"]["hoyer"])
    h[:4, 2] = np.nan  # 4 of 8 seeds: every unit dead, no index
    m["paths"]["l1"]["hoyer"] = h.tolist()
    v = rule.decide(m)
    assert v.word == INCONCLUSIVE
    assert "only 4 of 8 seeds had a defined Hoyer index" in v.sentence
    assert "at least 5 seeds and at least half of them are needed" in v.sentence
    two = metrics()
    for pen in ("l1", "l2"):
        for k, val in two["paths"][pen].items():
            two["paths"][pen][k] = val[:2]
    two["none_runs"] = {k: v[:2] for k, v in two["none_runs"].items()}
    v2 = rule.decide({**two, "n_seeds": 2})
    assert v2.word == INCONCLUSIVE  # smoke: 2 seeds
    assert "2 seeds are too few for a definite verdict" in v2.sentence


def test_no_l1_lambda_within_the_margin_is_not_supported():
    v = rule.decide(metrics(acc1=(0.9, 0.9, 0.9, 0.6)))
    assert v.word == NOT_SUPPORTED
    assert "no L1 λ > 0 qualified, so L1 gets no credit for sparsity" in v.sentence


def test_no_l2_lambda_within_the_margin_gives_no_credit_for_shrinkage():
    v = rule.decide(metrics(acc2=(0.9, 0.9, 0.9, 0.6)))
    assert v.word == PARTLY
    assert "L2 gets no credit for shrinkage" in v.sentence


def test_dead_units_under_l2_are_reported_and_count_only_in_their_alternative():
    m = metrics(dead2=(0, 0, 2, 3))
    v = rule.decide(m)
    assert v.word == SUPPORTED
    assert "L2 does select at the level of units" in v.sentence
    assert rule.evaluate(m, units=True)["word"] == PARTLY
    rows = dict((c, e["word"]) for c, e in rule.alternatives(m))
    assert rows["dead units under L2 count as selection"] == PARTLY


def test_selection_reads_validation_data_only():
    m = metrics()
    base = rule.evaluate(m)
    for pen in ("l1", "l2"):  # test accuracies turned upside down: nothing changes
        m["paths"][pen]["test_acc"] = (1 - np.asarray(m["paths"][pen]["test_acc"])).tolist()
    m["none_runs"]["test_acc"] = [0.0] * S
    assert rule.evaluate(m) == base
    m["paths"]["l1"]["val_acc"] = _col((0.98, 0.975, 0.95, 0.6))  # validation: λ*(L1) moves
    assert rule.evaluate(m)["star_l1"] == 0.01


def test_robustness_table_rows_and_margins():
    m = metrics(dead2=(0, 0, 2, 3))
    rob = rule.robustness(m)
    choices = [a.choice for a in rob.alternatives]
    assert choices[:2] == ["accuracy margin 0.005", "accuracy margin 0.02"]
    assert "Hoyer margin δ = 0.05" in choices and "Hoyer margin δ = 0.2" in choices
    assert rob.n == 11 and rob.primary == SUPPORTED
    assert rob.agree == 10 and rob.flips == 1  # only the dead-units row flips
    assert "1 flip" in rob.summary()
    assert "λ = 0.1" in rob.alternatives[2].detail
    # at margin 0.005 λ*(L1) is 0.01 (0.972 < 0.98 − 0.005)
    assert rule.evaluate(m, margin=0.005)["star_l1"] == 0.01
    md = rob.markdown()
    assert md.startswith("```{list-table}") and "accuracy margin 0.005" in md


def test_nan_interval_bounds_never_count():
    m = metrics()
    m["paths"]["l2"]["norm_ratio_ref"] = [[1.0, math.nan, math.nan, math.nan]] * S
    with pytest.raises(ValueError, match=r"'values' parameter of seed_interval must be finite"):
        rule.evaluate(m)


def test_missing_metric_is_named():
    m = metrics()
    del m["paths"]
    with pytest.raises(ValueError, match=r"'metrics' parameter of l1_vs_l2 must hold .*"
                       r"got no 'paths'"):  # fmt: skip
        rule.decide(m)
