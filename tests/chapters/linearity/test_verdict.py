"""The verdict of chapter 5 (linearity), branch by branch, on synthetic metrics."""

from __future__ import annotations

import copy
import itertools
import re

import numpy as np
import pytest

from dropout_study.chapters.linearity.verdict import (
    ABOVE,
    BELOW,
    MIN_MATCHED,
    STRADDLES,
    decide,
    decide_parts,
    robustness,
    side,
)
from dropout_study.chapters.verdicts import INCONCLUSIVE, NOT_SUPPORTED, PARTLY, SUPPORTED, Verdict

DOWN = (-0.9, -0.95, -0.8)
UP = (0.6, 0.2, 0.9)
FLAT = (-0.2, -0.6, 0.3)


def _iv(t, key="estimate"):
    return {key: t[0], "low": t[1], "high": t[2]}


def _variant(rho=DOWN, diff=(-0.05, -0.09, -0.01), n=8, n_required=None):
    d = _iv(diff) | {"n": n}
    if n_required is not None:
        d["n_required"] = n_required
    return {"rho": _iv(rho, "rho"), "l2": d}


def _ds(**kw):
    primary = _variant(**kw)
    return {
        "variants": {
            "primary": primary,
            "matched": _variant(n_required=MIN_MATCHED),
            "h=0.25": _variant(),
            "budget": _variant(diff=(0.02, 0.01, 0.03)),
        }
    }


def _metrics(toy=None, **per_dataset):
    base = {"moons": _ds(), "breast_cancer": _ds(), "noisy_moons": _ds()}
    base.update(per_dataset)
    out = {"match_rate": 0.5, "datasets": base}
    if toy is not None:
        out["toy"] = {"rho_z": _iv(toy, "rho")}
    return out


def test_supported_when_trend_and_primary_difference_lie_below_zero_everywhere():
    v = decide(_metrics())
    assert isinstance(v, Verdict) and v.word == SUPPORTED
    assert "-0.90 [-0.95, -0.80] on moons (lies below 0)" in v.sentence
    assert "-0.050 [-0.090, -0.010] on breast cancer (lies below 0)" in v.sentence
    assert "own best validation loss" in v.sentence


@pytest.mark.parametrize("ds", ["moons", "breast_cancer", "noisy_moons"])
def test_not_supported_when_rho_lies_above_zero_on_any_data_set(ds):
    # rule step 1 comes before step 2: a straddling data set elsewhere does not rescue it
    m = _metrics(**{ds: _ds(rho=UP)})
    other = next(n for n in m["datasets"] if n != ds)
    m["datasets"][other] = _ds(rho=FLAT)
    v = decide(m)
    assert v.word == NOT_SUPPORTED
    assert f"({ABOVE})" in v.sentence


@pytest.mark.parametrize("ds", ["moons", "breast_cancer", "noisy_moons"])
def test_inconclusive_when_rho_straddles_zero_on_any_data_set(ds):
    v = decide(_metrics(**{ds: _ds(rho=FLAT)}))
    assert v.word == INCONCLUSIVE
    assert f"({STRADDLES})" in v.sentence


def test_straddling_rho_is_inconclusive_even_when_the_difference_lies_below_zero():
    v = decide(_metrics(moons=_ds(rho=FLAT, diff=(-0.5, -0.6, -0.4))))
    assert v.word == INCONCLUSIVE


@pytest.mark.parametrize(
    "diff", [(0.02, -0.01, 0.05), (0.05, 0.01, 0.09), (0.0, 0.0, 0.0), (np.nan, np.nan, np.nan)]
)
def test_partly_when_the_trend_holds_but_the_difference_does_not_lie_below_zero(diff):
    v = decide(_metrics(breast_cancer=_ds(diff=diff)))
    assert v.word == PARTLY
    assert "does not lie below 0 on breast cancer" in v.sentence
    assert "moons" not in v.sentence.split("does not lie below 0 on")[1].split(":")[0]


def test_too_few_matched_seeds_are_inconclusive_not_a_verdict():
    parts = {
        "moons": _variant(n=MIN_MATCHED - 1, n_required=MIN_MATCHED),
        "breast_cancer": _variant(n=MIN_MATCHED, n_required=MIN_MATCHED),
    }
    v = decide_parts(parts, point="matched")
    assert v.word == INCONCLUSIVE
    assert f"{MIN_MATCHED - 1} matched seeds, {MIN_MATCHED} required" in v.sentence
    parts["moons"] = _variant(n=MIN_MATCHED, n_required=MIN_MATCHED)
    assert decide_parts(parts, point="matched").word == SUPPORTED
    assert MIN_MATCHED >= 5


@pytest.mark.parametrize(
    "toy, words",
    [
        (UP, "goes the other way"),
        (DOWN, "agrees"),
        (FLAT, "undecided"),
    ],
)
def test_the_toy_qualifies_the_sentence_but_not_the_word(toy, words):
    with_toy = decide(_metrics(toy=toy))
    assert with_toy.word == decide(_metrics()).word == SUPPORTED
    assert words in with_toy.sentence


def test_every_side_word_in_the_sentence_is_the_rules_comparison():
    # The old bug: "not clearly below" written about an interval that excludes 0. Here every
    # interval printed in the sentence is followed by the word side() gives for it.
    rng = np.random.default_rng(5)
    for _ in range(200):
        rho = sorted(rng.uniform(-1, 1, 2))
        diff = sorted(rng.uniform(-0.1, 0.1, 2))
        rho, diff = (np.mean(rho), *rho), (np.mean(diff), *diff)
        v = decide(_metrics(moons=_ds(rho=rho, diff=diff)))
        found = re.findall(r"\[([-+0-9.]+), ([-+0-9.]+)\] on moons \(([a-z 0-9]+)\)", v.sentence)
        assert len(found) == 2
        for (lo, hi, word), t in zip(found, (rho, diff), strict=True):
            assert float(hi) == pytest.approx(t[2], abs=0.006)
            assert word == side({"low": t[1], "high": t[2]})
            assert float(lo) == pytest.approx(t[1], abs=0.006)


@pytest.mark.parametrize(
    "low, high, expected",
    [(0.1, 0.2, ABOVE), (-0.2, -0.1, BELOW), (-0.1, 0.1, STRADDLES), (0.0, 0.0, STRADDLES),
     (None, None, STRADDLES), (np.nan, -1.0, BELOW)],
)  # fmt: skip
def test_side(low, high, expected):
    assert side({"low": low, "high": high}) == expected


def test_decide_reads_metrics_json_nulls():
    m = _metrics(moons=_ds(diff=(None, None, None)))
    assert decide(m).word == PARTLY


def test_robustness_redecides_every_variant_and_each_data_set_alone():
    rob = robustness(_metrics())
    assert rob.primary == SUPPORTED
    choices = [a.choice for a in rob.alternatives]
    assert len(choices) == 3 + 3  # matched, h, budget; three data sets alone
    words = dict(zip(choices, (a.word for a in rob.alternatives), strict=True))
    budget = next(c for c in choices if c.startswith("budget"))
    assert words[budget] == PARTLY  # its difference lies above 0
    assert rob.agree == 5 and rob.flips == 1 and rob.to_inconclusive == 0
    assert "5 of 6" in rob.summary()


def test_metrics_not_mutated():
    m = _metrics(toy=UP)
    before = copy.deepcopy(m)
    decide(m)
    robustness(m)
    assert m == before


@pytest.mark.parametrize(
    "metrics, match",
    [
        ({}, r"'metrics' parameter of linearity must be a dict with a non-empty 'datasets'"),
        ({"datasets": {"moons": {}}}, r"must hold variants.primary for data set 'moons'"),
        (
            {"datasets": {"moons": {"variants": {"primary": {"rho": {}}}}}},
            r"must hold rho and l2 intervals for data set 'moons'",
        ),
        (None, r"'metrics' parameter of linearity"),
    ],
)
def test_invalid_metrics(metrics, match):
    with pytest.raises(ValueError, match=match):
        decide(metrics)


def test_word_set_is_exhaustive_over_sides():
    # every combination of sides maps to exactly the word the rule's order gives
    sides = {ABOVE: UP, BELOW: DOWN, STRADDLES: FLAT}
    dsides = {BELOW: (-0.05, -0.09, -0.01), STRADDLES: (0.0, -0.1, 0.1), ABOVE: (0.1, 0.05, 0.2)}
    for r1, r2, d1, d2 in itertools.product(sides, sides, dsides, dsides):
        m = _metrics()
        m["datasets"] = {
            "moons": _ds(rho=sides[r1], diff=dsides[d1]),
            "breast_cancer": _ds(rho=sides[r2], diff=dsides[d2]),
        }
        if ABOVE in (r1, r2):
            expected = NOT_SUPPORTED
        elif STRADDLES in (r1, r2):
            expected = INCONCLUSIVE
        elif d1 == d2 == BELOW:
            expected = SUPPORTED
        else:
            expected = PARTLY
        assert decide(m).word == expected
