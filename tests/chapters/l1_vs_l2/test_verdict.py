"""The verdict of chapter 4 (chapters.l1_vs_l2.verdict), branch by branch on synthetic metrics.

The metrics are built by hand: per-seed paths over a λ grid with known accuracies, losses,
Hoyer indices, zeros, norm ratios and dead units, so every branch of the rule (the Hoyer
finding's four outcomes and its not-applicable case, the two checks, no L1 λ within the
margin), the λ* selection, the matched-loss pairing, the unit findings and the robustness
table can be checked against values worked out here. The oracle for every interval is
``scipy.stats.t`` on the per-seed values written below.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from scipy import stats

from dropout_study.chapters.findings import INCONCLUSIVE as F_INCONCLUSIVE
from dropout_study.chapters.findings import NO, REVERSED, YES
from dropout_study.chapters.l1_vs_l2 import verdict as rule
from dropout_study.chapters.verdicts import (
    FIXED_BY_RULE,
    INCONCLUSIVE,
    NOT_SUPPORTED,
    PARTLY,
    SUPPORTED,
    Verdict,
)

LAMS = [0.001, 0.01, 0.1, 1.0]
S = 8
OFFS = np.linspace(-0.02, 0.02, S)  # per-seed spread, mean 0


def _col(values, spread=0.5):
    """(S, L) list: each λ's value plus the per-seed spread."""
    return (np.asarray(values, float)[None, :] + OFFS[:, None] * spread).tolist()


def _const(values):
    return np.tile(np.asarray(values, float), (S, 1)).tolist()


def metrics(*, h1=(0.3, 0.5, 0.7, 0.2), h2=(0.2, 0.22, 0.25, 0.3), acc1=(0.98, 0.975, 0.972,
            0.6), acc2=(0.98, 0.98, 0.975, 0.8), l2_zeros=(0, 0, 0, 0),
            ratio2=(1.0, 0.8, 0.3, 0.1), dead2=(0, 0, 1, 3), dead_none=0, n_seeds=S,
            **extra) -> dict:  # fmt: skip
    """Synthetic metrics: λ*(L1) = λ*(L2) = 0.1 at margin 0.01 by default; L2 matched at 0.1
    (L1's loss 0.11 is nearest L2's 0.12)."""
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
                "hoyer_all": _col(np.minimum(np.asarray(h1) + 0.2, 1.0)),
                "exact_zero": _col([0.2, 0.6, 0.9, 0.95]),
                "near_zero": _col([0.2, 0.6, 0.9, 0.95]),
                "norm_ratio_ref": _col([1.0, 0.7, 0.4, 0.1]),
                "dead": _const([0, 2, 10, 14]),
                "zeros_on_dead": _col([0.1, 0.5, 0.9, 0.95]),
                "living_exact_zero": _col([0.2, 0.3, 0.4, 0.5]),
                "living_last": _const([16, 14, 6, 2]),
                "test_acc": _col([0.5, 0.5, 0.5, 0.5]),
            },
            "l2": {
                "val_acc": _col(acc2),
                "val_loss": _col(loss2),
                "hoyer": _col(h2),
                "hoyer_first": _col(h2),
                "hoyer_unweighted": _col(h2),
                "hoyer_all": _col(h2),
                "exact_zero": _const(l2_zeros),
                "near_zero": _col([0.0, 0.01, 0.05, 0.3]),
                "norm_ratio_ref": _col(ratio2),
                "dead": _const(dead2),
                "zeros_on_dead": [[None] * 4] * S,
                "living_exact_zero": _const([0, 0, 0, 0]),
                "living_last": _const([16, 16, 15, 13]),
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


def _t_interval(values):
    v = np.asarray(values, float)
    half = stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size)
    return v.mean() - half, v.mean() + half


def test_selection_matching_and_the_supported_branch():
    m = metrics(dead2=(0, 0, 0, 3))
    e = rule.evaluate(m)
    assert (e["star_l1"], e["star_l2"]) == (0.1, 0.1)
    assert e["j1"] == 2 and e["j2"] == 2
    f = e["finding"]
    assert f.name == rule.HOYER_NAME and f.kind == "effect" and f.direction == 1
    assert f.margin == 0.1 and f.margin_source.startswith("convention: ")
    assert f.low == pytest.approx(0.45) and f.high == pytest.approx(0.45)  # constant 0.7 − 0.25
    assert f.outcome == YES and f.role == "primary"
    v = rule.decide(m)
    assert isinstance(v, Verdict) and v.word == SUPPORTED
    assert "Over 8 paired seeds" in v.sentence and "λ*(L1) = 0.1" in v.sentence
    assert "matched in validation loss by L2 at λ = 0.1" in v.sentence
    assert "δ = 0.1, shown" in v.sentence
    assert "L2 left no weight exactly 0 in any seed" in v.sentence
    assert v.claim == "L1 makes weights sparse, L2 shrinks them."
    assert v.answer.startswith("Yes.")


def test_the_interval_is_students_t_over_the_paired_differences():
    m = metrics()
    h1 = np.asarray(m["paths"]["l1"]["hoyer"])
    h1[:, 2] = 0.7 + np.linspace(-0.1, 0.1, S) ** 2 * 5  # uneven per-seed values
    m["paths"]["l1"]["hoyer"] = h1.tolist()
    f = rule.evaluate(m)["finding"]
    d = h1[:, 2] - np.asarray(m["paths"]["l2"]["hoyer"])[:, 2]
    lo, hi = _t_interval(d)
    assert (f.low, f.high) == (pytest.approx(lo), pytest.approx(hi))
    assert f.estimate == pytest.approx(d.mean())


def test_strongest_within_margin_and_matched_index():
    acc = np.array([[0.97, 0.965, 0.96, 0.5]])
    assert rule.strongest_within_margin(LAMS, acc, [0.97], 0.01) == 2
    assert rule.strongest_within_margin(LAMS, [[0.97, 0.95, 0.97, 0.5]], [0.97], 0.01) == 2
    assert rule.strongest_within_margin(LAMS, [[0.9] * 4], [0.97], 0.01) is None
    assert rule.strongest_within_margin(LAMS, [[0.97] * 4], [0.97], 0.0) == 3
    assert rule.matched_index([[0.1, 0.2, 0.5], [0.1, 0.4, 0.5]], 0.29) == 1  # mean 0.3
    c = rule.collapse(LAMS, acc, 2, [0.97], 0.01, 100)
    assert c == {"next_lambda": 1.0, "next_ratio": 10.0, "next_acc": 0.5,
                 "slack": pytest.approx(0.0 * 100, abs=1e-9),
                 "floor": pytest.approx(0.96)}  # fmt: skip
    assert rule.collapse(LAMS, acc, 3, [0.5], 0.01, 100)["next_lambda"] is None


def test_the_next_accuracy_never_reads_as_its_floor():
    # 0.97039 fell below a floor of 0.97046: at 3 decimals both would read 0.970, at 4 apart
    c = {"next_acc": 0.9703947368421053, "floor": 0.9704605263157895}
    assert rule.next_accuracy(c) == "accuracy 0.9704 (floor 0.9705)"
    assert rule.next_accuracy({"next_acc": 0.5, "floor": 0.96}) == "accuracy 0.500 (floor 0.960)"


def test_a_failed_zeros_check_is_partly_supported():
    v = rule.decide(metrics(l2_zeros=(0, 0, 0.01, 0)))
    assert v.word == PARTLY
    assert "check failed: L2 left weights exactly 0 in 8 of 8 seeds" in v.sentence
    assert v.answer.startswith("Partly.") and "exactly to zero" in v.answer


def test_a_failed_norm_check_is_partly_supported():
    v = rule.decide(metrics(ratio2=(1.0, 1.1, 1.2, 1.3)))
    assert v.word == PARTLY
    assert "not below the smallest-λ norm in 8 of 8 seeds" in v.sentence


def test_the_norm_check_does_not_apply_at_the_smallest_lambda():
    # L1's loss at λ* = 0.1 is 0.11; an L2 path whose smallest λ has loss 0.11 matches there
    m = metrics(ratio2=(1.0, 1.1, 1.2, 1.3))
    m["paths"]["l2"]["val_loss"] = _col([0.11, 0.2, 0.3, 0.4])
    e = rule.evaluate(m)
    assert e["j2"] == 0 and not e["checks"]["norm"]["applicable"]
    assert e["checks"]["passed"] and e["word"] == SUPPORTED


@pytest.mark.parametrize(
    ("h1_at_star", "outcome", "word", "answer"),
    [
        (0.28, NO, NOT_SUPPORTED, "No."),  # difference 0.03 ± tiny: inside (−0.1, 0.1)
        (0.05, REVERSED, NOT_SUPPORTED, "No."),  # difference −0.2: beyond −δ
        (0.45, YES, SUPPORTED, "Yes."),  # difference 0.2 ± tiny: beyond +δ
    ],
)
def test_outcomes_of_the_hoyer_finding(h1_at_star, outcome, word, answer):
    m = metrics(h1=(0.3, 0.5, h1_at_star, 0.2))
    m["paths"]["l2"]["hoyer"] = _const([0.2, 0.22, 0.25, 0.3])
    m["paths"]["l1"]["hoyer"] = _col([0.3, 0.5, h1_at_star, 0.2], spread=0.1)
    e = rule.evaluate(m)
    assert e["finding"].outcome == outcome
    v = rule.decide(m)
    assert v.word == word and v.answer.startswith(answer)


def test_a_straddling_difference_is_inconclusive_and_never_reads_as_no():
    m = metrics()
    spread = np.linspace(-0.2, 0.2, S)  # mean difference 0.45 − 0.35 = 0.1 ± wide
    m["paths"]["l1"]["hoyer"] = [[0.3, 0.5, 0.35 + d, 0.2] for d in spread]
    m["paths"]["l2"]["hoyer"] = [[0.2, 0.22, 0.25, 0.3]] * S
    e = rule.evaluate(m)
    assert e["finding"].low < 0.1 < e["finding"].high
    assert e["finding"].outcome == F_INCONCLUSIVE
    v = rule.decide(m)
    assert v.word == INCONCLUSIVE
    assert v.answer.startswith("Undecided.") and not v.answer.startswith("No")
    assert "not shown" in v.sentence


def test_an_index_undefined_in_one_seed_is_not_applicable_and_inconclusive():
    m = metrics()
    h = np.asarray(m["paths"]["l1"]["hoyer"])
    h[3, 2] = np.nan  # one seed: every unit dead, no index
    m["paths"]["l1"]["hoyer"] = h.tolist()
    f = rule.evaluate(m)["finding"]
    assert not f.applicable and f.reason == "undefined in 1 of 8 seeds"
    assert f.counted == F_INCONCLUSIVE
    v = rule.decide(m)
    assert v.word == INCONCLUSIVE and "undefined in 1 of 8 seeds" in v.answer


def test_two_seeds_cannot_decide():
    two = metrics(n_seeds=2)
    spread = [-0.05, 0.05]
    for pen in ("l1", "l2"):
        for k, val in two["paths"][pen].items():
            two["paths"][pen][k] = val[:2]
    two["paths"]["l1"]["hoyer"] = [[0.3, 0.5, 0.5 + d, 0.2] for d in spread]
    two["none_runs"] = {k: v[:2] for k, v in two["none_runs"].items()}
    e = rule.evaluate(two)
    assert e["finding"].n == 2 and e["finding"].low < 0.1  # t with one degree of freedom
    assert rule.decide(two).word == INCONCLUSIVE


def test_no_l1_lambda_within_the_margin_is_not_supported():
    v = rule.decide(metrics(acc1=(0.9, 0.9, 0.9, 0.6)))
    assert v.word == NOT_SUPPORTED
    assert "no L1 λ > 0 qualified, so L1 gets no credit for sparsity" in v.sentence
    assert rule.page_findings(rule.evaluate(metrics(acc1=(0.9, 0.9, 0.9, 0.6)))) == []


def test_unit_findings_are_sign_findings_and_equal_counts_are_ties():
    m = metrics(dead2=(0, 0, 2, 3))
    e = rule.evaluate(m)
    u1, u2 = e["units_l1"], e["units_l2"]
    assert (u1.kind, u1.role, u2.kind) == ("sign", "exploratory", "sign")
    assert u1.outcome == YES and u2.outcome == YES  # 10 and 2 dead units against 0 in every seed
    v = rule.decide(m)
    assert v.word == SUPPORTED  # unit selection by L2 does not change the primary word
    assert "L2 does select, at the level of units" in v.sentence
    assert "L2 switched off whole units too, in 8 of 8 seeds" in v.answer
    # dead units under L2 in half of the seeds, as many as without a penalty in the others:
    # equal counts are ties (STUDY.md: tied in at least half the seeds → not applicable)
    half = metrics(hidden_units=16)
    half["paths"]["l2"]["dead"] = [[0, 0, 2 * (s % 2), 3] for s in range(S)]
    u2 = rule.evaluate(half)["units_l2"]
    assert not u2.applicable and u2.reason == f"tied in {S // 2} of {S} seeds"
    v = rule.decide(half)
    assert v.word == SUPPORTED and "L2 does select" not in v.sentence
    want = (f"L2 switched off more units than no penalty did in {S // 2} of {S} seeds; tied in "
            f"{S // 2} of {S} seeds: too many ties to decide whether it selects units")  # fmt: skip
    assert want in v.answer
    assert "L1 left only 6.0 living hidden units per network" in v.answer  # 16 − 10 dead


def test_l1s_unit_death_is_reported_as_a_share_of_its_zeros():
    m = metrics()
    e = rule.evaluate(m)
    u = rule.unit_death(m, e)
    assert u["dead_l1"] == 10 and u["dead_l2"] == 1 and u["dead_none"] == 0
    assert u["share"]["mean"] == pytest.approx(0.9)
    assert "90 %" in rule.decide(m).sentence and "of L1's exact zeros belong to dead units" in (
        rule.decide(m).sentence
    )
    assert "Most of L1's zeros belong to whole hidden units it switched off" in (
        rule.decide(m).answer
    )


def test_the_answer_carries_at_most_three_numbers():
    for m in (metrics(), metrics(dead2=(0, 0, 2, 3)), metrics(l2_zeros=(0, 0, 0.01, 0))):
        answer = rule.decide(m).answer
        assert len(re.findall(r"\d+(?:\.\d+)?", answer.replace("L1", "").replace("L2", ""))) <= 3


def test_selection_reads_validation_data_only():
    m = metrics()
    base = rule.evaluate(m)
    for pen in ("l1", "l2"):  # test accuracies turned upside down: nothing changes
        m["paths"][pen]["test_acc"] = (1 - np.asarray(m["paths"][pen]["test_acc"])).tolist()
    m["none_runs"]["test_acc"] = [0.0] * S
    assert rule.evaluate(m)["finding"] == base["finding"]
    m["paths"]["l1"]["val_acc"] = _col((0.98, 0.975, 0.95, 0.6))  # validation: λ*(L1) moves
    assert rule.evaluate(m)["star_l1"] == 0.01


def test_robustness_rows_margins_and_honest_counts():
    m = metrics(dead2=(0, 0, 2, 3))
    rob = rule.robustness(m)
    choices = [a.choice for a in rob.alternatives]
    assert choices[:2] == ["accuracy margin 0.005", "accuracy margin 0.02"]
    assert "Hoyer margin δ = 0.05" in choices and "Hoyer margin δ = 0.2" in choices
    assert "Hoyer over all units, dead ones included" in choices
    # counted: margin 0.005, δ = 0.2, all units, change from smallest λ, dead units; the
    # rest repeat the primary's networks and numbers (here the layer variants coincide with
    # the primary by construction) or cannot change the word (δ = 0.05 keeps a "yes")
    assert rob.primary == SUPPORTED and rob.n == 5 and rob.not_applicable == 6
    assert rob.agree == 4 and rob.flips == 1  # only the dead-units row flips (to partly)
    rows = {a.choice: a for a in rob.alternatives}
    assert rows["dead units under L2 count as selection"].word == PARTLY
    assert rows["Hoyer margin δ = 0.05"].reason == FIXED_BY_RULE
    assert rows["Hoyer margin δ = 0.2"].applicable  # a wider margin can undo the "yes"
    for same in ("anchored at λ*(L2), L1 matched to it", "each penalty at its own λ* (no "
                 "matching)", "accuracy margin 0.02"):  # fmt: skip
        assert rows[same].reason == "same networks and numbers as the primary: no new evidence"
    assert rule.evaluate(m, margin=0.005)["star_l1"] == 0.01  # 0.972 < 0.98 − 0.005
    assert rob.markdown().startswith("```{list-table}")
    recs = rule.alternative_findings(m)
    assert len(recs) == 11 and all(r["role"] == "alternative" for r in recs)
    assert len({r["name"] for r in recs}) >= 9  # distinct analysis choices, distinct names


def test_the_unweighted_row_is_not_applicable_where_the_output_layer_is_undefined():
    m = metrics()
    hu = np.asarray(m["paths"]["l1"]["hoyer_unweighted"])
    hu[:3, 2] = np.nan  # three seeds: one living output weight, no index for that layer
    m["paths"]["l1"]["hoyer_unweighted"] = hu.tolist()
    last = np.asarray(m["paths"]["l1"]["living_last"])
    last[:3, 2] = 1
    m["paths"]["l1"]["living_last"] = last.tolist()
    rob = rule.robustness(m)
    row = next(a for a in rob.alternatives if "unweighted" in a.choice)
    assert not row.applicable and row.reason.startswith("undefined in 3 of 8 seeds")
    assert "in 3 of them L1's output layer keeps fewer than two living weights" in row.reason
    assert not rob.alternatives[7].applicable and rob.n == 5  # shown, not counted
    assert rob.not_applicable == 6 and "(not counted: " in rob.summary()
    assert sum(rob.left_out.values()) == 6 and rob.left_out["not applicable"] >= 1


def test_missing_metric_is_named():
    m = metrics()
    del m["paths"]
    with pytest.raises(ValueError, match=r"'metrics' parameter of l1_vs_l2 must hold .*"
                       r"got no 'paths'"):  # fmt: skip
        rule.decide(m)


def test_l2_against_no_penalty_is_an_equivalence_shown_beside_the_verdict():
    m = metrics()
    m["none_runs"]["hoyer"] = (0.24 + OFFS * 0.5).tolist()  # L2 at 0.1: 0.25 -> +0.01
    m["none_runs"]["hoyer_all"] = (0.05 + OFFS * 0.5).tolist()  # dead units: +0.2
    e = rule.evaluate(m)
    same, same_all = e["l2_same"], e["l2_same_all"]
    assert (same.kind, same.role, same.margin) == ("equivalence", "exploratory", 0.1)
    d = np.asarray(m["paths"]["l2"]["hoyer"])[:, 2] - np.asarray(m["none_runs"]["hoyer"])
    lo, hi = _t_interval(d)
    assert (same.low, same.high) == (pytest.approx(lo), pytest.approx(hi))
    assert same.outcome == YES and same_all.outcome == NO
    assert same in rule.page_findings(e) and same_all in rule.page_findings(e)
    v = rule.decide(m)
    assert v.word == SUPPORTED  # the rule (STUDY.md v3) does not use it
    assert "Hoyer(L2) − Hoyer(none) at the matched λ" in v.sentence
    assert "which the rule does not use" in v.sentence
    # the answer says L2 concentrated the weights too where it did (dead units: +0.2 > δ),
    # and not over living units, where it stayed within the margin
    assert "In this run L2 itself also concentrated the weights beyond the margin" in v.answer
    assert "(counting the units it switched off)" in v.answer
    assert "l2_same" not in rule.evaluate(metrics())  # older runs: not shown
    m["none_runs"]["hoyer_all"] = (0.25 + OFFS * 0.5).tolist()  # dead units too: +0.0
    assert "L2 itself" not in rule.decide(m).answer
