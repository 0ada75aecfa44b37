"""dropout_study.measures.sparsity: exact zeros, near zeros and norm ratios of weight sets.

Oracles: counts done by hand on small arrays, numpy's own norms on random sets, and the
invariances the measures must have (scale-free fractions, ratio 1 against itself).
"""

from __future__ import annotations

import numpy as np
import pytest

from dropout_study.measures.sparsity import (
    exact_zero_fraction,
    near_zero_fraction,
    norm_ratio,
    pooled,
    sparsity_summary,
)
from dropout_study.nn.mlp import MLP
from dropout_study.nn.penalties import soft_threshold


def test_exact_zeros_counted_over_the_whole_set():
    a = np.array([[0.0, 1.0], [-0.0, 2.0]])  # -0.0 is a zero
    b = np.array([3.0, 0.0, 5.0, 1e-300])  # a denormal-ish tiny value is not a zero
    assert exact_zero_fraction([a, b]) == pytest.approx(3 / 8)
    assert exact_zero_fraction(a) == 0.5
    assert exact_zero_fraction([1.0, 0.0]) == 0.5


def test_near_zero_uses_the_set_max():
    a = np.array([10.0, -0.005, 0.02, 0.0])  # threshold 1e-3 * 10 = 0.01
    b = np.array([[0.009, -0.011]])
    assert near_zero_fraction([a, b]) == pytest.approx(3 / 6)  # -0.005, 0.0, 0.009
    assert near_zero_fraction(b) == 0.0  # alone, its max is 0.011 -> threshold 1.1e-5
    assert near_zero_fraction(a, rel=0.5) == pytest.approx(3 / 4)
    assert near_zero_fraction(np.zeros(3)) == 1.0


def test_fractions_are_scale_free_and_ratio_is_not():
    rng = np.random.default_rng(0)
    w = rng.standard_normal(500) * (rng.random(500) < 0.6)
    assert exact_zero_fraction(7.0 * w) == exact_zero_fraction(w)
    assert near_zero_fraction(7.0 * w) == near_zero_fraction(w)
    assert norm_ratio(0.5 * w, w) == pytest.approx(0.5)


def test_norm_ratio_against_numpy():
    rng = np.random.default_rng(1)
    ws = [rng.standard_normal((4, 3)), rng.standard_normal(3)]
    refs = [rng.standard_normal((4, 3)), rng.standard_normal(3)]
    gold = np.sqrt(sum(np.sum(w**2) for w in ws)) / np.sqrt(sum(np.sum(r**2) for r in refs))
    assert norm_ratio(ws, refs) == pytest.approx(gold, rel=1e-14)
    assert norm_ratio(ws, ws) == 1.0


def test_soft_thresholding_makes_exact_zeros_measured_here():
    rng = np.random.default_rng(2)
    w = rng.standard_normal(1000)
    t = 0.5
    gold = np.mean(np.abs(w) <= t)
    assert exact_zero_fraction(soft_threshold(w, t)) == pytest.approx(gold)
    assert exact_zero_fraction(w) == 0.0


def test_mlp_weights_and_no_mutation():
    model = MLP([5, 4, 1], rng=0)
    before = [w.copy() for w in model.weights]
    s = sparsity_summary(model.weights, reference=model.weights)
    assert s == {"exact_zero": 0.0, "near_zero": s["near_zero"], "norm_ratio": 1.0}
    assert 0.0 <= s["near_zero"] < 0.1
    for w, b in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(w, b)
    flat = pooled(model.weights)
    flat[:] = 0.0  # a copy: the model is untouched
    assert np.all(model.weights[0] == before[0])
    assert np.isnan(sparsity_summary(model.weights)["norm_ratio"])


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: exact_zero_fraction("abc"), TypeError, r"'weights' parameter of exact_zero_fr"),
        (lambda: exact_zero_fraction(3.0), TypeError, r"'weights' parameter of exact_zero_fr"),
        (lambda: exact_zero_fraction([]), ValueError, r"must be a non-empty weight set; got '0"),
        (lambda: exact_zero_fraction(np.array(["a"])), TypeError, r"must be real numeric arr"),
        (lambda: near_zero_fraction([np.nan]), ValueError, r"'weights' .* must be finite"),
        (lambda: near_zero_fraction([1.0], rel=0.0), ValueError, r"'rel' parameter of near_ze"),
        (lambda: near_zero_fraction([1.0], rel=1.0), ValueError, r"'rel' parameter of near_ze"),
        (lambda: norm_ratio([1.0, 2.0], [1.0]), ValueError, r"'reference' parameter of norm_r"),
        (lambda: norm_ratio([1.0], [0.0]), ValueError, r"with a non-zero norm; got 'all zeros'"),
    ],
)
def test_validation(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
