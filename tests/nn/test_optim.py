"""Optimisers: closed forms for SGD, momentum and Adam's first steps; validation.
(PyTorch's torch.optim is the oracle for longer runs: tests/test_torch_oracle.py.)"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dropout_study.nn.optim import SGD, Adam


def params_and_grads():
    rng = np.random.default_rng(31)
    return [rng.standard_normal((3, 2)), rng.standard_normal(2)], [
        rng.standard_normal((3, 2)),
        rng.standard_normal(2),
    ]


def test_sgd_step_is_theta_minus_lr_g():
    params, grads = params_and_grads()
    before = [p.copy() for p in params]
    ids = [id(p) for p in params]
    SGD(0.1).step(params, grads)
    assert [id(p) for p in params] == ids  # updated in place: the network's own arrays
    for p, b, g in zip(params, before, grads, strict=True):
        np.testing.assert_allclose(p, b - 0.1 * g, rtol=1e-15)


def test_momentum_with_a_constant_gradient_follows_the_geometric_sum():
    """v_t = Σ_{k<t} μ^k g, so after T steps θ_T = θ_0 − lr g Σ_t (1 − μ^t)/(1 − μ)."""
    p, g = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    opt, mu, lr, T = SGD(0.1, momentum=0.9), 0.9, 0.1, 6
    for _ in range(T):
        opt.step([p], [g])
    total = sum((1 - mu**t) / (1 - mu) for t in range(1, T + 1))
    np.testing.assert_allclose(p, np.array([1.0, -2.0]) - lr * g * total, rtol=1e-14)


def test_adam_first_step_and_bias_correction():
    """After one step m̂ = g and v̂ = g², so θ₁ = θ₀ − lr · g / (|g| + ε)."""
    p, g = np.array([1.0, -2.0, 0.5]), np.array([0.3, -4.0, 1e-9])
    opt = Adam(lr=0.01, eps=1e-8)
    opt.step([p], [g])
    expected = np.array([1.0, -2.0, 0.5]) - 0.01 * g / (np.abs(g) + 1e-8)
    np.testing.assert_allclose(p, expected, rtol=1e-14)
    # second step with the same gradient: m̂ = g, v̂ = g² again → the same step size
    opt.step([p], [g])
    np.testing.assert_allclose(p, np.array([1.0, -2.0, 0.5]) - 2 * 0.01 * g / (np.abs(g) + 1e-8))
    assert opt.t == 2


def test_adam_minimises_a_quadratic():
    target = np.array([3.0, -1.0])
    p = np.zeros(2)
    opt = Adam(lr=0.1)
    for _ in range(500):
        opt.step([p], [2 * (p - target)])
    np.testing.assert_allclose(p, target, atol=1e-3)


def test_gradients_are_not_modified_and_float32_stays_float32():
    params, grads = params_and_grads()
    g_before = [g.copy() for g in grads]
    SGD(0.1, momentum=0.5).step(params, grads)
    Adam(0.1).step(params, grads)
    assert all(np.array_equal(a, b) for a, b in zip(grads, g_before, strict=True))
    p32, g32 = [np.ones(3, np.float32)], [np.full(3, 0.5, np.float32)]
    for opt in (SGD(0.1, 0.9), Adam(0.1)):
        opt.step(p32, g32)
        assert p32[0].dtype == np.float32


def test_optimizer_fields_and_repr():
    sgd = SGD(0.2, momentum=0.9)
    assert sgd.lr == 0.2 and sgd.momentum == 0.9
    adam = Adam(1e-3, beta1=0.8)
    assert adam.beta1 == 0.8 and math.isclose(adam.beta2, 0.999)
    assert repr(sgd) == "SGD(lr=0.2, momentum=0.9)"
    assert repr(adam) == "Adam(lr=0.001, beta1=0.8, beta2=0.999, eps=1e-08)"


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: SGD(0.0), ValueError, r"'lr' parameter of SGD must be in \(0, ∞\); got 0.0"),
        (lambda: SGD(-1), ValueError, r"'lr' parameter of SGD must be in \(0, ∞\)"),
        (lambda: SGD("0.1"), TypeError, r"'lr' parameter of SGD must be a float"),
        (lambda: SGD(np.inf), ValueError, r"'lr' parameter of SGD must be a finite float"),
        (lambda: SGD(0.1, 1.0), ValueError, r"'momentum' parameter of SGD must be in \[0, 1\)"),
        (lambda: SGD(0.1, -0.1), ValueError, r"'momentum' parameter of SGD must be in \[0, 1\)"),
        (lambda: Adam(0.0), ValueError, r"'lr' parameter of Adam must be in \(0, ∞\)"),
        (lambda: Adam(beta1=1.0), ValueError, r"'beta1' parameter of Adam must be in \[0, 1\)"),
        (lambda: Adam(beta2=-0.5), ValueError, r"'beta2' parameter of Adam must be in \[0, 1\)"),
        (lambda: Adam(eps=0.0), ValueError, r"'eps' parameter of Adam must be in \(0, ∞\)"),
        (lambda: Adam(beta1=None), TypeError, r"'beta1' parameter of Adam must be a float"),
    ],
)
def test_optimizer_validation(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
