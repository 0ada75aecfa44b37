"""dropout_study.measures.sparsity: exact zeros, near zeros and norm ratios of weight sets.

Oracles: counts done by hand on small arrays, numpy's own norms on random sets, the
invariances the measures must have (scale-free fractions, ratio 1 against itself), and for the
balance of units under weight decay a closed form: a two-layer linear network trained with
weight decay to convergence equals the minimiser of ``L(w) + λ‖w‖₂`` (found by scipy's
``brentq`` on a scalar equation), with every unit balanced.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from dropout_study import data
from dropout_study.measures.sparsity import (
    dead_unit_connections,
    exact_zero_fraction,
    near_zero_fraction,
    norm_ratio,
    pooled,
    sparsity_summary,
    unit_balance,
    zeros_on_dead_units,
)
from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import SGD
from dropout_study.nn.penalties import L2, soft_threshold
from dropout_study.nn.training import train


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


def test_zeros_on_dead_units_by_hand():
    W1 = np.array([[0.0, 0.0, 2.0], [1.0, 0.0, 0.0]])  # unit 1 dead: both incoming are 0
    W2 = np.array([[3.0], [0.0], [0.5]])
    dead = [np.array([False, True, False])]
    masks = dead_unit_connections([W1, W2], dead)
    assert masks[0].tolist() == [[False, True, False], [False, True, False]]
    assert masks[1].tolist() == [[False], [True], [False]]
    # zeros: W1[0,0], W1[0,1], W1[1,1], W1[1,2], W2[1] -> 5, of which 3 touch unit 1
    assert zeros_on_dead_units([W1, W2], dead) == pytest.approx(3 / 5)
    # near zero within each matrix: |w| < 0.2·max adds W2[2] = 0.5 < 0.6 (a living weight)
    assert zeros_on_dead_units([W1, W2], dead, rel=0.2) == pytest.approx(3 / 6)
    assert np.isnan(zeros_on_dead_units([np.ones((2, 3)), np.ones((3, 1))], dead))
    with pytest.raises(ValueError, match=r"'dead' parameter of dead_unit_connections"):
        dead_unit_connections([W1, W2], [])


def test_unit_balance_by_hand_and_undefined_units():
    W1 = np.array([[3.0, 0.0, 1.0], [4.0, 0.0, 0.0]])  # incoming norms 5, 0, 1
    W2 = np.array([[1.0, 2.0], [1.0, 0.0], [0.0, 0.0]])  # outgoing norms √5, 1, 0
    (b,) = unit_balance([W1, W2])
    assert b[0] == pytest.approx(5 / np.sqrt(5))
    assert np.isnan(b[1]) and np.isnan(b[2])  # 0 in, or 0 out: undefined
    W3 = np.array([[2.0], [0.5]])
    b1, b2 = unit_balance([np.eye(2), 2 * np.eye(2), W3])
    np.testing.assert_allclose(b1, [0.5, 0.5])  # in 1, out 2
    np.testing.assert_allclose(b2, [1.0, 4.0])  # in 2, out 2 and 0.5


def _two_layer_linear(X, y, lam, h, steps, lr, rng):
    """Gradient descent on (1/2n)‖y − X U v‖² + (λ/2)(‖U‖² + ‖v‖²): U (d, h), v (h, 1)."""
    n, d = X.shape
    U = rng.normal(scale=0.5, size=(d, h))
    v = rng.normal(scale=0.5, size=(h, 1))
    for _ in range(steps):
        r = X @ U @ v - y[:, None]  # (n, 1)
        gU = X.T @ r @ v.T / n + lam * U
        gv = U.T @ X.T @ r / n + lam * v
        U, v = U - lr * gU, v - lr * gv
    return U, v


def _group_lasso_closed_form(X, y, lam):
    """argmin_w (1/2n)‖y − Xw‖² + λ‖w‖₂: w = (XᵀX/n + (λ/r) I)⁻¹ Xᵀy/n with r = ‖w‖ the root
    of a scalar equation (stationarity), or 0 when ‖Xᵀy/n‖ ≤ λ."""
    n, d = X.shape
    A, b = X.T @ X / n, X.T @ y / n
    if np.linalg.norm(b) <= lam:
        return np.zeros(d)

    def w_of(r):
        return np.linalg.solve(A + (lam / r) * np.eye(d), b)

    r = brentq(lambda r: np.linalg.norm(w_of(r)) - r, 1e-12, np.linalg.norm(b) / lam * 10)
    return w_of(r)


def test_weight_decay_balances_a_two_layer_linear_network_at_its_closed_form():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=60)
    lam = 0.2
    U, v = _two_layer_linear(X, y, lam, h=4, steps=6000, lr=0.05, rng=np.random.default_rng(1))
    gold = _group_lasso_closed_form(X, y, lam)
    np.testing.assert_allclose((U @ v)[:, 0], gold, rtol=1e-6, atol=1e-9)
    (ratio,) = unit_balance([U, v])
    alive = np.linalg.norm(U, axis=0) > 1e-3
    assert alive.sum() >= 2
    np.testing.assert_allclose(ratio[alive], 1.0, rtol=1e-6)
    # without the penalty the same descent keeps the initial imbalance (‖u‖² − v² is
    # conserved by gradient flow): the ratio is not 1
    U0, v0 = _two_layer_linear(X, y, 0.0, h=4, steps=6000, lr=0.05, rng=np.random.default_rng(1))
    (ratio0,) = unit_balance([U0, v0])
    assert np.max(np.abs(np.log(ratio0))) > 0.3


def test_weight_decay_balances_the_units_of_a_relu_network_trained_here():
    ds = data.load("moons", rng=np.random.default_rng(0))
    ratios = {}
    for lam in (0.0, 0.05):
        model = MLP([2, 8, 1], rng=3)
        train(model, ds.X_train, ds.y_train, optimizer=SGD(0.5), n_steps=4000,
              penalty=L2(lam) if lam else None)  # fmt: skip
        (ratios[lam],) = unit_balance(model.weights)
    alive = np.isfinite(ratios[0.05]) & (np.linalg.norm(model.weights[0], axis=0) > 1e-2)
    assert alive.sum() >= 3
    np.testing.assert_allclose(ratios[0.05][alive], 1.0, rtol=1e-2)  # still converging
    # unpenalised: the initial imbalance (He in, Glorot out) is not removed
    assert np.max(np.abs(np.log(ratios[0.0]))) > 0.3
