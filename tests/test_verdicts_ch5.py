"""The verdict of chapter 5 (linearity), branch by branch, on synthetic metrics."""

from __future__ import annotations

import copy

import pytest

from dropout_study.verdicts import NOT_SUPPORTED, PARTLY, SUPPORTED, Verdict
from dropout_study.verdicts.linearity import decide as linearity


def _ds(rho=(-0.9, -0.95, -0.8), diff=(-0.05, -0.09, -0.01), n_matched=8, n_seeds=8):
    return {
        "rho_z": {"rho": rho[0], "low": rho[1], "high": rho[2]},
        "matched": {
            "l2": {
                "n_matched": n_matched,
                "n_seeds": n_seeds,
                "diff": {"estimate": diff[0], "low": diff[1], "high": diff[2]},
            }
        },
    }


def _metrics(**per_dataset):
    base = {"moons": _ds(), "breast_cancer": _ds()}
    for name, ds in per_dataset.items():
        base[name] = ds
    return {"match_rate": 0.5, "min_matched": 3, "datasets": base}


def test_supported_when_trend_and_matched_hold_everywhere():
    v = linearity(_metrics())
    assert isinstance(v, Verdict)
    assert v.word == SUPPORTED
    assert "-0.90 [-0.95, -0.80] on moons" in v.sentence
    assert "on breast cancer" in v.sentence
    assert "-0.050 [-0.090, -0.010]" in v.sentence and "8/8 replicates matched" in v.sentence
    assert "p = 0.5" in v.sentence and "dropout is below L2" in v.sentence


@pytest.mark.parametrize(
    "ds",
    [
        _ds(diff=(-0.03, -0.08, 0.02)),  # interval straddles 0
        _ds(diff=(0.04, 0.01, 0.08)),  # dropout above L2
        _ds(n_matched=2, diff=(-0.05, -0.09, -0.01)),  # too few matches, though below 0
        _ds(n_matched=0, diff=(float("nan"),) * 3),  # no replicate matched
        _ds(diff=(None, None, None), n_matched=0),  # NaN as stored in metrics.json
    ],
)
def test_partly_when_only_the_trend_holds(ds):
    v = linearity(_metrics(breast_cancer=ds))
    assert v.word == PARTLY
    assert "not clearly below L2" in v.sentence


def test_sentence_says_when_no_replicate_matched():
    v = linearity(_metrics(moons=_ds(n_matched=0, diff=(float("nan"),) * 3)))
    assert v.word == PARTLY
    assert "undefined on moons (no replicate matched)" in v.sentence


@pytest.mark.parametrize(
    "ds",
    [
        _ds(rho=(-0.5, -0.9, 0.1)),  # interval reaches above 0
        _ds(rho=(0.6, 0.3, 0.9)),  # Z rises with p
        _ds(rho=(float("nan"), float("nan"), float("nan"))),
        _ds(rho=(None, None, None)),
    ],
)
def test_not_supported_when_the_trend_fails_on_one_data_set(ds):
    # The matched comparison holds on both, but the trend fails on one: not supported.
    v = linearity(_metrics(moons=ds))
    assert v.word == NOT_SUPPORTED
    assert "not below 0 on every data set" in v.sentence


def test_trend_needs_every_data_set_not_just_one():
    m = _metrics()
    m["datasets"]["circles"] = _ds(rho=(-0.2, -0.5, 0.05))
    assert linearity(m).word == NOT_SUPPORTED
    del m["datasets"]["circles"]
    assert linearity(m).word == SUPPORTED


def test_min_matched_is_read_from_the_metrics():
    m = _metrics(moons=_ds(n_matched=4))
    assert linearity(m).word == SUPPORTED
    m["min_matched"] = 5
    assert linearity(m).word == PARTLY


def test_metrics_not_mutated():
    m = _metrics()
    before = copy.deepcopy(m)
    linearity(m)
    assert m == before


@pytest.mark.parametrize(
    "metrics, match",
    [
        ([], r"'metrics' parameter of linearity must be a dict with a non-empty 'datasets'"),
        ({"datasets": {}}, r"non-empty 'datasets'"),
        ({"datasets": {"moons": _ds()}, "min_matched": 3}, r"got no 'match_rate'"),
        ({"datasets": {"moons": _ds()}, "match_rate": 0.5}, r"got no 'min_matched'"),
        (
            {"datasets": {"moons": {"rho_z": {}}}, "match_rate": 0.5, "min_matched": 3},
            r"must hold rho_z and matched.l2 for data set 'moons'",
        ),
    ],
)
def test_invalid_metrics(metrics, match):
    with pytest.raises(ValueError, match=match):
        linearity(metrics)
