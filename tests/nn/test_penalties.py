"""Penalties: closed forms, finite differences, the proximal operator against a numerical
minimiser (scipy), and validation."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import central_diff, rel_error
from scipy.optimize import minimize_scalar

from dropout_study.nn.penalties import L1, L2, make_penalty, soft_threshold


@pytest.fixture
def weights():
    rng = np.random.default_rng(21)
    return [rng.standard_normal((3, 4)), rng.standard_normal((4, 2))]


def test_l2_value_and_gradient(weights):
    pen = L2(0.3)
    closed = 0.15 * sum(float((w**2).sum()) for w in weights)
    assert pen.value(weights) == pytest.approx(closed, rel=1e-14)
    for w, g in zip(weights, pen.grad(weights), strict=True):
        fd = central_diff(lambda x: L2(0.3).value([x]), w)
        assert rel_error(g, fd) < 1e-6
        np.testing.assert_allclose(g, 0.3 * w, rtol=1e-15)


def test_l1_value_and_subgradient_away_from_zero(weights):
    pen = L1(0.2, mode="subgradient")
    assert pen.value(weights) == pytest.approx(0.2 * sum(np.abs(w).sum() for w in weights))
    for w, g in zip(weights, pen.grad(weights), strict=True):
        assert np.min(np.abs(w)) > 1e-4  # no entry within the FD step of the kink
        fd = central_diff(lambda x: L1(0.2).value([x]), w)
        assert rel_error(g, fd) < 1e-6
    assert L1(0.2).grad([np.zeros(3)])[0].tolist() == [0.0, 0.0, 0.0]


def test_add_grad_adds_in_place_and_lambda_zero_is_the_plain_loss(weights):
    grads = [np.ones_like(w) for w in weights]
    L2(0.5).add_grad(weights, grads)
    for w, g in zip(weights, grads, strict=True):
        np.testing.assert_allclose(g, 1 + 0.5 * w, rtol=1e-15)
    grads = [np.ones_like(w) for w in weights]
    L1(0.5, mode="subgradient").add_grad(weights, grads)
    for w, g in zip(weights, grads, strict=True):
        np.testing.assert_allclose(g, 1 + 0.5 * np.sign(w), rtol=1e-15)
    # proximal L1 adds nothing to the gradient; λ = 0 changes nothing at all
    for pen in (L1(0.5), L2(0.0), L1(0.0, "subgradient")):
        grads = [np.ones_like(w) for w in weights]
        pen.add_grad(weights, grads)
        assert all(np.array_equal(g, np.ones_like(g)) for g in grads)
    assert L2(0.0).value(weights) == 0.0 and L1(0.0).value(weights) == 0.0
    before = [w.copy() for w in weights]
    L1(0.0).prox(weights, lr=0.1)
    L1(1.0, "subgradient").prox(weights, lr=0.1)  # only the proximal mode thresholds
    assert all(np.array_equal(a, b) for a, b in zip(weights, before, strict=True))


@pytest.mark.parametrize("t", [0.0, 0.3, 1.2])
def test_soft_threshold_is_the_proximal_operator(t):
    """S_t(w) = argmin_u ½(u − w)² + t|u|, checked with scipy's scalar minimiser."""
    w = np.array([-2.0, -0.7, -0.3, -0.1, 0.0, 0.05, 0.3, 0.9, 2.5])
    mine = soft_threshold(w, t)
    for wi, si in zip(w, mine, strict=True):
        res = minimize_scalar(
            lambda u, wi=wi: 0.5 * (u - wi) ** 2 + t * abs(u),
            bounds=(-5, 5),
            method="bounded",
            options={"xatol": 1e-12},
        )
        # a minimiser of a smooth-near-the-optimum function resolves u to about sqrt(eps)
        assert si == pytest.approx(res.x, abs=1e-6), (wi, si, res.x)
    assert np.all(mine[np.abs(w) <= t] == 0.0)  # exact zeros, not tiny numbers


def test_soft_threshold_does_not_modify_its_argument_unless_asked():
    w = np.array([-1.0, 0.2, 3.0])
    out = soft_threshold(w, 0.5)
    np.testing.assert_array_equal(w, [-1.0, 0.2, 3.0])
    np.testing.assert_array_equal(out, [-0.5, 0.0, 2.5])
    soft_threshold(w, 0.5, out=w)
    np.testing.assert_array_equal(w, [-0.5, 0.0, 2.5])


def test_prox_thresholds_the_network_weights_by_lr_times_lambda(weights):
    expected = [soft_threshold(w, 0.1 * 2.0) for w in weights]
    L1(2.0).prox(weights, lr=0.1)
    for w, e in zip(weights, expected, strict=True):
        np.testing.assert_array_equal(w, e)


def test_make_penalty_and_repr():
    assert make_penalty("none", 1.0) is None
    l1 = make_penalty("l1", 0.1, l1_mode="subgradient")
    assert isinstance(l1, L1) and l1.mode == "subgradient" and not l1.proximal
    assert make_penalty("l1", 0.1).proximal
    l2 = make_penalty("l2", 0.1)
    assert isinstance(l2, L2) and not l2.proximal
    assert repr(l1) == "L1(lam=0.1, mode='subgradient')" and repr(l2) == "L2(lam=0.1)"


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: L1(-0.1), ValueError, r"'lam' parameter of L1 must be in \[0, ∞\); got -0.1"),
        (lambda: L2(-1), ValueError, r"'lam' parameter of L2 must be in \[0, ∞\); got -1"),
        (lambda: L2(np.nan), ValueError, r"'lam' parameter of L2 must be a finite float"),
        (lambda: L2("0.1"), TypeError, r"'lam' parameter of L2 must be a float"),
        (lambda: L1(True), TypeError, r"'lam' parameter of L1 must be a float"),
        (lambda: L1(0.1, "ista"), ValueError, r"'mode' .* one of 'proximal', 'subgradient'"),
        (lambda: soft_threshold(np.ones(2), -1), ValueError, r"'t' parameter of soft_threshold"),
        (lambda: soft_threshold(np.ones(2), "a"), TypeError, r"'t' parameter of soft_threshold"),
        (lambda: L1(0.1).prox([np.ones(2)], 0.0), ValueError, r"'lr' parameter of L1.prox"),
        (lambda: L1(0.1).prox([np.ones(2)], None), TypeError, r"'lr' parameter of L1.prox"),
        (lambda: make_penalty("l0", 0.1), ValueError, r"'kind' parameter of make_penalty must"),
        (lambda: make_penalty(None, 0.1), TypeError, r"'kind' parameter of make_penalty"),
        (lambda: make_penalty("l2", -2.0), ValueError, r"'lam' parameter of L2"),
        (lambda: make_penalty("l1", 1.0, l1_mode="x"), ValueError, r"'mode' parameter of L1"),
    ],
)
def test_penalty_validation(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
