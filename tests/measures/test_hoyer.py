"""Hoyer's sparseness index and dead units (dropout_study.measures.sparsity).

Oracles: closed forms (one-hot → 1, constant → 0, the formula on hand-made vectors), the
invariance the index must have (rescaling), and the soft-thresholding inequality, checked on
constructed and random weight sets; dead units on hand-built networks and on an MLP whose
activations numpy computes independently.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dropout_study.measures.sparsity import (
    dead_units,
    hoyer,
    hoyer_network,
    hoyer_per_layer,
    living_weights,
)
from dropout_study.nn.mlp import MLP
from dropout_study.nn.penalties import soft_threshold


@pytest.mark.parametrize("n", [2, 3, 10, 257])
def test_one_hot_is_one_and_constant_is_zero(n):
    e = np.zeros(n)
    e[n // 2] = -3.7
    assert hoyer(e) == 1.0
    assert hoyer(np.full(n, 0.25)) == pytest.approx(0.0, abs=1e-14)  # rounding of √n only
    signs = np.where(np.arange(n) % 2, -1.0, 1.0)
    assert hoyer(2.0 * signs) == pytest.approx(0.0, abs=1e-15)  # equal magnitudes


def test_formula_on_a_hand_computed_vector():
    w = np.array([3.0, 4.0, 0.0, 0.0])  # ‖w‖₁ = 7, ‖w‖₂ = 5, √n = 2
    assert hoyer(w) == pytest.approx((2 - 7 / 5) / (2 - 1))
    assert hoyer([np.array([[3.0], [4.0]]), np.zeros(2)]) == pytest.approx(0.6)  # pooled


@pytest.mark.parametrize("seed", range(5))
def test_rescaling_keeps_it_exactly(seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_t(3, size=200)
    for c in (2.0, 0.5, -1.0, 8.0):  # powers of two: the float rescaling is exact
        assert hoyer(c * w) == hoyer(w)
    assert hoyer(1e-3 * w) == pytest.approx(hoyer(w), rel=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_soft_thresholding_raises_it(seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=64) * rng.exponential(size=64)
    h0 = hoyer(w)
    mags = np.sort(np.abs(w))
    for t in (mags[5], mags[20] + 1e-9, mags[40], 0.5 * (mags[-2] + mags[-3])):
        h1 = hoyer(soft_threshold(w, t))
        assert h1 > h0  # strict: the surviving magnitudes are not all equal
        h0 = h1


def test_soft_thresholding_equal_magnitudes_keeps_it_when_nothing_is_removed():
    # all non-zero magnitudes equal: thresholding below them only rescales → equal index
    w = np.array([2.0, -2.0, 0.0, 2.0, 0.0, -2.0])
    assert hoyer(soft_threshold(w, 0.5)) == pytest.approx(hoyer(w), abs=1e-15)
    v = np.array([2.0, -2.0, 1.0, 2.0])  # unequal: strictly larger
    assert hoyer(soft_threshold(v, 0.5)) > hoyer(v)


def test_undefined_cases_are_refused():
    with pytest.raises(ValueError, match=r"The 'weights' parameter of hoyer must be a weight set "
                       r"of at least 2 entries"):  # fmt: skip
        hoyer(np.array([1.0]))
    with pytest.raises(ValueError, match=r"with a non-zero entry"):
        hoyer(np.zeros(5))
    with pytest.raises(ValueError, match=r"finite"):
        hoyer(np.array([1.0, math.nan]))


def _net():
    W1 = np.array([[1.0, 0.0, 2.0, 1e-6], [0.5, 0.0, -1.0, 0.0], [0.2, 0.0, 0.3, -1e-7]])
    W2 = np.array([[1.0, 2.0], [5.0, 5.0], [0.0, 1.0], [3.0, 3.0]])
    return [W1, W2]


def test_dead_units_by_weights_and_by_activity():
    w = _net()
    (dead,) = dead_units(w, rel=1e-3)  # unit 1 all zero, unit 3 below 1e-3·max
    assert dead.tolist() == [False, True, False, True]
    acts = [np.array([[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0]])]  # units 0, 2 never fire
    (dead2,) = dead_units(w, acts, rel=1e-3)
    assert dead2.tolist() == [True, True, True, True]
    kept = living_weights(w, [np.array([False, True, False, True])])
    np.testing.assert_array_equal(kept[0], w[0][:, [0, 2]])
    np.testing.assert_array_equal(kept[1], w[1][[0, 2]])
    h = hoyer_per_layer(w, [np.array([False, True, False, True])])
    assert h[0] == pytest.approx(hoyer(w[0][:, [0, 2]]))
    assert h[1] == pytest.approx(hoyer(np.array([1.0, 2.0, 0.0, 1.0])))
    sizes = np.array([6, 4])
    assert hoyer_network(w, [np.array([False, True, False, True])]) == pytest.approx(
        np.sum(h * sizes) / 10
    )
    # one living unit leaves a 1-weight output row: that layer is undefined and left out
    h1 = hoyer_per_layer([w[0], w[1][:, :1]], [np.array([False, True, True, True])])
    assert math.isnan(h1[1]) and np.isfinite(h1[0])
    assert hoyer_network([w[0], w[1][:, :1]], [np.array([False, True, True, True])]) == h1[0]


def test_never_active_units_match_an_independent_forward_pass():
    rng = np.random.default_rng(3)
    model = MLP([5, 12, 1], rng=0)
    model.params[1][:4] = -50.0  # biases that keep four units off for every input
    X = rng.normal(size=(40, 5))
    acts = [model.hidden(X, 0)]
    (dead,) = dead_units(model.weights, acts)
    W1, b1 = model.params[0], model.params[1]
    oracle = np.all(np.maximum(X @ W1 + b1, 0.0) <= 0.0, axis=0)
    np.testing.assert_array_equal(dead, oracle)
    assert dead[:4].all()


def test_dead_units_input_checks():
    with pytest.raises(TypeError, match=r"The 'weights' parameter of dead_units must be"):
        dead_units(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"The 'activations' parameter of dead_units"):
        dead_units(_net(), [np.ones((2, 3))])
    with pytest.raises(ValueError, match=r"The 'weights' parameter of dead_units must be 2-D"):
        dead_units([np.ones((3, 2)), np.ones((3, 1))])
