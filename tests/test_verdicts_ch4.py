"""The verdict of chapter 4 (verdicts.l1_vs_l2), branch by branch on synthetic metrics."""

import math

import pytest

from dropout_study.verdicts import NOT_SUPPORTED, PARTLY, SUPPORTED, Verdict
from dropout_study.verdicts.l1_vs_l2 import decide as l1_vs_l2


def metrics(diff=(0.85, 0.80, 0.90), ratio=(0.19, 0.18, 0.20), star=(0.1, 0.1), **extra) -> dict:
    m = {
        "acc_none": 0.971,
        "acc_margin": 0.01,
        "lambda_star_l1": star[0],
        "lambda_star_l2": star[1],
        "near_zero_l1_star": 0.989,
        "near_zero_l2_star": 0.092,
        "exact_zero_l1_star": 0.985,
        "exact_zero_l2_star": 0.0,
        "near_zero_diff": diff[0],
        "near_zero_diff_low": diff[1],
        "near_zero_diff_high": diff[2],
        "norm_ratio_l2_star": ratio[0],
        "norm_ratio_l2_star_low": ratio[1],
        "norm_ratio_l2_star_high": ratio[2],
        "near_zero_rel": 0.001,
        "n_seeds": 8,
    }
    m.update(extra)
    return m


def test_sparser_and_shrunk_is_supported():
    v = l1_vs_l2(metrics())
    assert isinstance(v, Verdict)
    assert v.word == SUPPORTED
    assert "8 paired seeds" in v.sentence
    assert "within 0.01 of the unregularised network's 0.971" in v.sentence
    assert "λ*(L1) = 0.1; λ*(L2) = 0.1" in v.sentence
    assert "L1 left 98.9 % of the weights near zero" in v.sentence
    assert "98.5 % exactly 0" in v.sentence and "against 9.2 % under L2" in v.sentence
    assert "paired difference 0.85, 95 % CI [0.80, 0.90]" in v.sentence
    assert "norm to 0.19" in v.sentence and "[0.18, 0.20]" in v.sentence
    assert v.claim == "L1 makes weights sparse, L2 shrinks them."


def test_only_sparsity_is_partly_supported():
    v = l1_vs_l2(metrics(ratio=(0.98, 0.95, 1.01)))
    assert v.word == PARTLY


def test_only_shrinkage_is_partly_supported():
    v = l1_vs_l2(metrics(diff=(0.02, -0.01, 0.05)))
    assert v.word == PARTLY


def test_neither_is_not_supported():
    v = l1_vs_l2(metrics(diff=(-0.1, -0.2, -0.05), ratio=(1.1, 1.05, 1.2)))
    assert v.word == NOT_SUPPORTED


def test_no_l1_lambda_within_margin_gets_no_credit_for_sparsity():
    # even a large difference does not count when L1 was never within the margin
    v = l1_vs_l2(metrics(star=(0.0, 0.1)))
    assert v.word == PARTLY
    assert "no L1 λ > 0 qualified" in v.sentence
    assert "L1 gets no credit for sparsity" in v.sentence


def test_no_l2_lambda_within_margin_gets_no_credit_for_shrinkage():
    v = l1_vs_l2(metrics(star=(0.1, 0.0)))
    assert v.word == PARTLY
    assert "no L2 λ > 0 qualified" in v.sentence
    assert "L2 gets no credit for shrinkage" in v.sentence
    assert l1_vs_l2(metrics(star=(0.0, 0.0))).word == NOT_SUPPORTED


def test_interval_touching_the_boundary_does_not_count():
    assert l1_vs_l2(metrics(diff=(0.1, 0.0, 0.2), ratio=(0.9, 0.8, 1.0))).word == NOT_SUPPORTED


def test_nan_bounds_do_not_count():
    nan = math.nan
    v = l1_vs_l2(metrics(diff=(nan, nan, nan), ratio=(nan, nan, nan)))
    assert v.word == NOT_SUPPORTED


def test_missing_metric_is_named():
    m = metrics()
    del m["norm_ratio_l2_star_high"]
    with pytest.raises(ValueError, match=r"'metrics' parameter of l1_vs_l2 must hold .*"
                       r"got no 'norm_ratio_l2_star_high'"):  # fmt: skip
        l1_vs_l2(m)
