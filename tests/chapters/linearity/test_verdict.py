"""The verdict of chapter 5 (chapters.linearity.verdict), branch by branch, on synthetic
metrics built from per-seed values.

Per-seed values are chosen so that each finding's Student-t interval (oracle:
``scipy.stats.t``) lies where a branch needs it: a trend inside, beyond or across the
0.2 band, an own-best difference below, above or across 0. Every combination of per-data-set
trend outcomes is enumerated and must land in exactly one of the rule's four branches.
"""

from __future__ import annotations

import copy
import itertools
import json
import math

import numpy as np
import pytest
from scipy import stats

from dropout_study.chapters.findings import INCONCLUSIVE as F_INCONCLUSIVE
from dropout_study.chapters.findings import NO, REVERSED, YES
from dropout_study.chapters.linearity import verdict as rule
from dropout_study.chapters.verdicts import (
    FIXED_BY_RULE,
    INCONCLUSIVE,
    NOT_SUPPORTED,
    PARTLY,
    SUPPORTED,
    Verdict,
)

S = 8
SPREAD = np.linspace(-0.02, 0.02, S)
TRENDS = {
    YES: (-0.9 + SPREAD).tolist(),  # a trend in the predicted direction (Z falls)
    NO: (0.0 + SPREAD).tolist(),  # inside (−0.2, 0.2): no trend
    REVERSED: (0.8 + SPREAD).tolist(),  # Z rises
    F_INCONCLUSIVE: np.linspace(-0.9, 0.5, S).tolist(),  # straddles the band
}
DIFFS = {
    YES: (-0.05 + SPREAD).tolist(),  # dropout's Z lower
    REVERSED: (0.05 + SPREAD).tolist(),
    F_INCONCLUSIVE: np.linspace(-0.1, 0.08, S).tolist(),  # straddles 0
}


def _variant(trend=YES, diff=YES, ties=None, n_required=None):
    l2 = {"per_seed": list(DIFFS[diff]), "ties": ties or [False] * S}
    if n_required is not None:
        l2["n_required"] = n_required
    return {"rho": {"per_seed": list(TRENDS[trend])}, "l2": l2}


def _ds(trend=YES, diff=YES, *, l2=YES, l1=YES, helped=F_INCONCLUSIVE, **kw):
    return {
        "variants": {
            "primary": _variant(trend, diff, **kw),
            "matched": _variant(trend, diff, n_required=rule.MIN_MATCHED),
            "h=0.25": _variant(trend, diff),
            "budget": _variant(trend, REVERSED),
            "hidden_last": _variant(REVERSED, diff),
        },
        "rho_z_l2": {"per_seed": list(TRENDS[l2])},
        "rho_z_l1": {"per_seed": list(TRENDS[l1])},
        "dropout_helped": {"per_seed": list(DIFFS[helped]), "ties": [False] * S},
    }


def _metrics(toy=F_INCONCLUSIVE, **per_dataset):
    base = {"moons": _ds(), "breast_cancer": _ds(), "noisy_moons": _ds()}
    base.update(per_dataset)
    return {
        "match_rate": 0.5,
        "datasets": base,
        "toy": {"rates": [0.0, 0.2, 0.5], "change_z": {"per_seed": list(DIFFS[toy])}},
    }


def _t(values):
    v = np.asarray(values, float)
    half = stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size)
    return v.mean() - half, v.mean() + half


def test_the_synthetic_values_give_the_outcomes_they_are_named_after():
    for outcome, values in TRENDS.items():
        f = rule.parts_of(_metrics(moons=_ds(trend=outcome)))["moons"]["trend"]
        assert f.outcome == outcome and (f.low, f.high) == pytest.approx(_t(values))
        assert f.kind == "trend" and f.direction == -1 and f.margin == 0.2
        assert f.margin_source.startswith("convention: ")
    for outcome in DIFFS:
        f = rule.parts_of(_metrics(moons=_ds(diff=outcome)))["moons"]["sign"]
        assert f.outcome == outcome and f.kind == "sign" and f.direction == -1


def test_supported_when_the_trend_and_the_analogy_are_shown_everywhere():
    v = rule.decide(_metrics())
    assert isinstance(v, Verdict) and v.word == SUPPORTED
    assert v.claim == rule.LINEARITY_CLAIM
    assert "dropout's Z was lower than L2's on every data set" in v.sentence
    assert v.answer.startswith("Yes.")


@pytest.mark.parametrize("diff", [F_INCONCLUSIVE, REVERSED])
def test_branch_1_partly_names_each_data_set_and_never_writes_does_not_hold(diff):
    v = rule.decide(_metrics(breast_cancer=_ds(diff=diff)))
    assert v.word == PARTLY
    word = rule.ANALOGY_WORDS[diff]
    assert f"{word} on breast cancer" in v.sentence and "shown on moons and noisy moons" in (
        v.sentence
    )
    assert "does not hold" not in v.sentence and "does not hold" not in v.answer
    assert v.answer.startswith("Partly.")


def test_a_straddling_own_best_difference_reads_not_shown():
    parts = rule.parts_of(_metrics(moons=_ds(diff=F_INCONCLUSIVE)))
    f = parts["moons"]["sign"]
    assert f.low < 0 < f.high
    r = rule.rule(parts)
    assert r["branch"] == 1 and r["analogy"]["moons"] == "not shown"
    v = rule.decide(_metrics(moons=_ds(diff=F_INCONCLUSIVE)))
    assert "(not shown)" in v.sentence and "not shown on moons" in v.sentence
    assert "does not hold" not in v.sentence


def test_branch_2_partly_names_where_the_trend_is_absent():
    v = rule.decide(_metrics(noisy_moons=_ds(trend=NO)))
    assert v.word == PARTLY
    assert "the trend is absent on noisy moons" in v.sentence
    assert v.answer.startswith("Partly.") and "but not on noisy moons" in v.answer
    assert rule.decide(_metrics(moons=_ds(trend=REVERSED))).word == PARTLY


def test_branch_3_not_supported_when_no_data_set_shows_the_trend():
    m = _metrics(moons=_ds(trend=NO), breast_cancer=_ds(trend=REVERSED),
                 noisy_moons=_ds(trend=F_INCONCLUSIVE))  # fmt: skip
    v = rule.decide(m)
    assert v.word == NOT_SUPPORTED and v.answer.startswith("No.")


def test_branch_4_inconclusive_when_a_trend_is_undecided_and_none_absent():
    v = rule.decide(_metrics(breast_cancer=_ds(trend=F_INCONCLUSIVE)))
    assert v.word == INCONCLUSIVE and v.answer.startswith("Undecided.")


def test_every_combination_lands_in_exactly_one_branch_and_all_four_words_are_reached():
    seen = set()
    for combo in itertools.product(TRENDS, repeat=3):
        names = ("moons", "breast_cancer", "noisy_moons")
        m = _metrics(**{ds: _ds(trend=o) for ds, o in zip(names, combo, strict=True)})
        r = rule.rule(rule.parts_of(m))
        y, n = combo.count(YES), combo.count(NO) + combo.count(REVERSED)
        i = combo.count(F_INCONCLUSIVE)
        expected = 1 if n == 0 and i == 0 else 2 if y and n else 3 if n else 4
        assert r["branch"] == expected, combo
        seen.add(r["word"])
    seen.add(rule.decide(_metrics(moons=_ds(diff=F_INCONCLUSIVE))).word)
    assert seen == {SUPPORTED, PARTLY, NOT_SUPPORTED, INCONCLUSIVE}


def test_a_not_applicable_trend_counts_as_undecided():
    m = _metrics()
    m["datasets"]["moons"]["variants"]["primary"]["rho"]["per_seed"][2] = None  # constant Z
    f = rule.parts_of(m)["moons"]["trend"]
    assert not f.applicable and f.reason == "undefined in 1 of 8 seeds"
    assert rule.decide(m).word == INCONCLUSIVE


def test_ties_in_half_the_seeds_make_the_analogy_not_applicable_and_not_shown():
    ties = [True] * 4 + [False] * 4
    m = _metrics(moons=_ds(ties=ties))
    f = rule.parts_of(m)["moons"]["sign"]
    assert not f.applicable and f.reason == "tied in 4 of 8 seeds"
    v = rule.decide(m)
    assert v.word == PARTLY and "not shown; not applicable: tied in 4 of 8 seeds" in v.sentence


def test_the_penalty_trends_and_whether_dropout_helped_qualify_the_sentence_only():
    m = _metrics(moons=_ds(l1=F_INCONCLUSIVE))
    v = rule.decide(m)
    assert v.word == SUPPORTED
    assert "on 3 of 3 data sets under L2 and on 2 of 3 under L1" in v.sentence
    assert "dropout was not shown to lower the test loss on any data set" in v.sentence
    assert "a comparison where a benefit of dropout was not shown" in v.sentence
    assert "Dropout was not shown to lower the test loss on any data set." in v.answer
    assert "did not" not in v.answer and "does not help" not in v.sentence  # a null, not a no
    helped = rule.decide(_metrics(noisy_moons=_ds(helped=YES)))
    assert "dropout lowered the test loss on noisy moons" in helped.sentence
    assert "not shown to lower the test loss on any" not in helped.answer
    assert "Dropout lowered the test loss on noisy moons" in helped.answer
    assert "was not shown on moons and breast cancer" in helped.answer
    hurt = rule.decide(_metrics(noisy_moons=_ds(helped=REVERSED)))
    assert "Dropout raised the test loss on noisy moons" in hurt.answer
    assert "dropout raised the test loss on noisy moons and lowered it nowhere" in hurt.sentence
    absent = rule.decide(_metrics(noisy_moons=_ds(trend=NO)))
    assert "it falls as the L2 and L1 penalties grow on every data set" in absent.answer


@pytest.mark.parametrize(
    ("toy", "phrase"),
    [(YES, "1-D picture agrees"), (REVERSED, "1-D picture goes the other way"),
     (F_INCONCLUSIVE, None)],
)  # fmt: skip
def test_the_toy_qualifies_the_sentence_only_when_decided(toy, phrase):
    v = rule.decide(_metrics(toy=toy))
    assert v.word == SUPPORTED
    if phrase is None:
        assert "1-D picture" not in v.sentence
    else:
        assert phrase in v.sentence


def test_robustness_counts_honestly():
    m = _metrics()
    rob = rule.robustness(m)
    rows = {a.choice: a for a in rob.alternatives}
    assert rob.primary == SUPPORTED
    assert rows["layer: last hidden layer instead of the logit"].exploratory
    assert rows["budget: step cap at the fixed budget"].word == PARTLY  # analogy reversed
    assert rows["comparison point: matched validation loss"].word == SUPPORTED
    assert {"trend margin 0.1 instead of 0.2", "trend margin 0.4 instead of 0.2",
            "data set: moons alone"} <= set(rows)  # fmt: skip
    assert rob.flips == 1 and rob.exploratory == 1
    records = rule.alternative_findings(m)
    assert all(r["role"] == "alternative" for r in records)


def test_a_comparison_point_the_rule_never_reaches_is_not_applicable():
    m = _metrics(noisy_moons=_ds(trend=NO))  # branch 2: the analogy does not enter
    for ds in m["datasets"].values():  # other numbers than the primary's
        v = ds["variants"]["matched"]["l2"]["per_seed"]
        ds["variants"]["matched"]["l2"]["per_seed"] = [x + 0.01 * i for i, x in enumerate(v)]
    rows = {a.choice: a for a in rule.robustness(m).alternatives}
    row = rows["comparison point: matched validation loss"]
    assert not row.applicable and row.reason == FIXED_BY_RULE
    # a row that repeats the primary's findings is no new evidence
    alone = rows["data set: moons alone"]
    assert not alone.applicable and alone.reason.startswith("same networks and numbers as")


def test_a_narrower_trend_margin_cannot_undo_a_yes_and_is_fixed_by_the_rule():
    m = _metrics()  # every trend "yes"
    rows = {a.choice: a for a in rule.robustness(m).alternatives}
    assert rows["trend margin 0.1 instead of 0.2"].reason == FIXED_BY_RULE
    assert rows["trend margin 0.4 instead of 0.2"].applicable  # a wider one can


def test_too_few_matched_seeds_make_the_matched_row_not_applicable():
    m = _metrics()
    for ds in m["datasets"].values():
        ds["variants"]["matched"]["l2"]["per_seed"][:4] = [None] * 4  # 4 of 8 matched
    rows = {a.choice: a for a in rule.robustness(m).alternatives}
    row = rows["comparison point: matched validation loss"]
    assert not row.applicable and "4 matched seeds, 5 required" in row.reason


def test_decide_reads_metrics_json_and_does_not_mutate():
    m = _metrics(moons=_ds(diff=F_INCONCLUSIVE))
    before = copy.deepcopy(m)
    again = json.loads(json.dumps(m))
    assert rule.decide(again) == rule.decide(m)
    rule.robustness(m)
    assert m == before


def test_page_findings_primary_then_exploratory_with_distinct_names():
    fs = rule.page_findings(_metrics())
    roles = [f.role for f in fs]
    assert roles[:6] == ["primary"] * 6 and set(roles[6:]) == {"exploratory"}
    assert len({f.name for f in fs}) == len(fs) == 6 + 9 + 1


@pytest.mark.parametrize(
    ("metrics", "match"),
    [
        ({}, r"'metrics' parameter of linearity must be a dict with a non-empty 'datasets'"),
        ({"datasets": {"moons": {}}}, r"variants.primary for data set 'moons'"),
    ],
)
def test_invalid_metrics(metrics, match):
    with pytest.raises(ValueError, match=match):
        rule.decide(metrics)
