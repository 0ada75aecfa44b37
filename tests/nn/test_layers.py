"""Layers: central finite differences (float64), inverted dropout's statistics, validation."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import central_diff, rel_error

from dropout_study.nn.layers import Dense, Dropout, ReLU, Tanh, keep_mask


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def away_from_zero(rng, shape, margin=0.05):
    """Normal draws pushed at least ``margin`` away from the ReLU kink at 0."""
    x = rng.standard_normal(shape)
    return np.sign(x) * (margin + np.abs(x))


# ---------------------------------------------------------------------------------------------
# Finite differences: every layer, forward and backward side by side
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("init", ["he", "glorot"])
def test_dense_gradients_match_finite_differences(rng, init):
    layer = Dense(4, 3, init=init, rng=rng)
    layer.b = rng.standard_normal(3)  # non-zero bias
    X = rng.standard_normal((6, 4))
    G = rng.standard_normal((6, 3))  # upstream gradient: the scalar is sum(G * Y)
    W0, b0 = layer.W.copy(), layer.b.copy()

    def scalar_W(W):
        layer.W = W
        return float(np.sum(G * layer.forward(X)))

    def scalar_b(b):
        layer.b = b
        return float(np.sum(G * layer.forward(X)))

    fd_W = central_diff(scalar_W, W0)
    layer.W = W0.copy()
    fd_b = central_diff(scalar_b, b0)
    layer.b = b0.copy()
    fd_X = central_diff(lambda x: float(np.sum(G * layer.forward(x))), X)
    layer.forward(X)
    dX = layer.backward(G).copy()
    assert rel_error(layer.dW, fd_W) < 1e-6
    assert rel_error(layer.db, fd_b) < 1e-6
    assert rel_error(dX, fd_X) < 1e-6
    np.testing.assert_allclose(layer.forward(X), X @ W0 + b0, rtol=1e-14)


def test_dense_backward_without_input_gradient(rng):
    layer = Dense(3, 2, rng=rng)
    X, G = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    layer.forward(X)
    assert layer.backward(G, need_dX=False) is None
    np.testing.assert_allclose(layer.dW, X.T @ G, rtol=1e-14)
    np.testing.assert_allclose(layer.db, G.sum(0), rtol=1e-14)


@pytest.mark.parametrize("cls", [ReLU, Tanh])
def test_activation_gradients_match_finite_differences(rng, cls):
    layer = cls()
    X = away_from_zero(rng, (5, 4))
    G = rng.standard_normal((5, 4))
    fd = central_diff(lambda x: float(np.sum(G * layer.forward(x))), X)
    layer.forward(X)
    assert rel_error(layer.backward(G), fd) < 1e-6


def test_activation_values():
    X = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(ReLU().forward(X), [[0.0, 0.0, 3.0]])
    np.testing.assert_allclose(Tanh().forward(X), np.tanh(X), rtol=1e-15)
    relu = ReLU()
    relu.forward(X)
    np.testing.assert_array_equal(relu.backward(np.ones_like(X)), [[0.0, 0.0, 1.0]])


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_gradient_with_frozen_mask_matches_finite_differences(rng, p):
    layer = Dropout(p)
    X = rng.standard_normal((6, 5))
    G = rng.standard_normal((6, 5))
    mask = layer.draw_mask(X.shape, rng)
    assert 0 < mask.sum() < mask.size  # both kept and dropped units are exercised
    fd = central_diff(lambda x: float(np.sum(G * layer.forward(x, training=True, mask=mask))), X)
    Y = layer.forward(X, training=True, mask=mask)
    np.testing.assert_allclose(Y, X * mask / (1 - p), rtol=1e-15)
    assert rel_error(layer.backward(G), fd) < 1e-6
    np.testing.assert_allclose(layer.backward(G), G * mask / (1 - p), rtol=1e-15)


def test_dropout_is_identity_in_evaluation_and_at_p_zero(rng):
    X = rng.standard_normal((4, 3))
    d = Dropout(0.5)
    assert d.forward(X) is X and d.backward(X) is X and d.mask_ is None
    d0 = Dropout(0.0)
    before = rng.bit_generator.state
    assert d0.forward(X, training=True, rng=rng) is X
    assert rng.bit_generator.state == before  # p = 0 draws nothing
    assert d0.backward(X) is X


# ---------------------------------------------------------------------------------------------
# Inverted dropout's statistics (Monte Carlo with fixed seeds; tolerances from standard errors)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.7])
def test_fraction_of_dropped_units_is_p(p):
    n = 1_000_000
    mask = keep_mask(p, (1000, 1000), np.random.default_rng(123))
    dropped = 1.0 - mask.mean()
    se = math.sqrt(p * (1 - p) / n)
    assert abs(dropped - p) < 5 * se, f"dropped {dropped:.6f}, p {p}, 5 SE = {5 * se:.2e}"


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_mean_of_inverted_dropout_outputs_is_the_input(p):
    """E_m[x·m/(1-p)] = x. With K masks, the mean has standard error |x|·sqrt(p/((1-p)K));
    every entry's z-score must stay below 5 (Bonferroni over 60 entries: P(fail) < 1e-4)."""
    rng = np.random.default_rng(99)
    X = away_from_zero(rng, (10, 6), margin=0.5)
    layer = Dropout(p)
    K = 4000
    total = np.zeros_like(X)
    for _ in range(K):
        total += layer.forward(X, training=True, rng=rng)
    mean = total / K
    se = np.abs(X) * math.sqrt(p / ((1 - p) * K))
    z = (mean - X) / se
    assert np.max(np.abs(z)) < 5, np.max(np.abs(z))


def test_keep_probability_is_exact_by_enumeration(monkeypatch):
    """Feed keep_mask every 16-bit value once: the kept count must be 2¹⁶ - 1 - h plus the tie
    (kept iff V >= f), so that P(keep) = 1 - p exactly (see the scheme in keep_mask)."""
    p = 0.3
    t = p * 65536
    h, f = int(t), t - int(t)
    assert f > 0
    words = np.arange(65536, dtype=np.uint16).view(np.uint64)
    for v, tie_kept in ((f - 1e-9, False), (f, True), (min(f + 1e-9, 0.999), True)):
        calls = []

        def fake_random(size, v=v, calls=calls):
            calls.append(size)
            return np.full(size, v)

        fake = SimpleNamespace(
            bit_generator=SimpleNamespace(random_raw=lambda n: words[:n].copy()),
            random=fake_random,
        )
        m = keep_mask(p, (256, 256), fake)
        assert calls == [1]  # exactly one tie, resolved with one uniform
        assert m.sum() == 65535 - h + tie_kept
        assert not m.reshape(-1)[:h].any() and m.reshape(-1)[h + 1 :].all()
    # a dyadic p needs no tie-break: P(U >= h) = 1 - h / 2¹⁶ exactly
    fake = SimpleNamespace(
        bit_generator=SimpleNamespace(random_raw=lambda n: words[:n].copy()),
        random=lambda size: pytest.fail("no uniform needed for a dyadic p"),
    )
    assert keep_mask(0.25, (256, 256), fake).sum() == 65536 - 16384


def test_draw_mask_then_inject_reproduces_the_training_forward(rng):
    X = rng.standard_normal((9, 7)).astype(np.float32)
    layer = Dropout(0.4)
    seed_state = np.random.default_rng(5)
    drawn = layer.draw_mask(X.shape, seed_state)
    Y = layer.forward(X, training=True, rng=np.random.default_rng(5)).copy()
    np.testing.assert_array_equal(layer.mask_, drawn)
    np.testing.assert_array_equal(Y, layer.forward(X, training=True, mask=drawn))
    assert Y.dtype == np.float32


def test_masks_do_not_depend_on_dtype():
    a = Dropout(0.3).draw_mask((5, 8), np.random.default_rng(1), np.float32)
    b = Dropout(0.3).draw_mask((5, 8), np.random.default_rng(1), np.float64)
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# Initialisation
# ---------------------------------------------------------------------------------------------
def test_he_and_glorot_initialisation_scales():
    he = Dense(500, 400, init="he", rng=np.random.default_rng(0)).W
    # std of 200k normal draws: relative SE ≈ 1/sqrt(2·200k) ≈ 0.0016
    assert he.std() == pytest.approx(math.sqrt(2 / 500), rel=0.01)
    gl = Dense(500, 400, init="glorot", rng=np.random.default_rng(0)).W
    limit = math.sqrt(6 / 900)
    assert np.abs(gl).max() <= limit and np.abs(gl).max() > 0.99 * limit
    assert gl.std() == pytest.approx(limit / math.sqrt(3), rel=0.01)
    d32 = Dense(3, 2, rng=np.random.default_rng(0), dtype=np.float32)
    assert d32.W.dtype == d32.b.dtype == np.float32 and not d32.b.any()


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------
G0 = np.random.default_rng(0)


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: Dense(0, 3, rng=G0), ValueError, r"'n_in' parameter of Dense must be an int in"),
        (lambda: Dense(3, 0, rng=G0), ValueError, r"'n_out' parameter of Dense .* \[1, ∞\)"),
        (lambda: Dense(2.5, 3, rng=G0), TypeError, r"'n_in' parameter of Dense must be an int"),
        (lambda: Dense(2, True, rng=G0), TypeError, r"'n_out' parameter of Dense must be an int"),
        (lambda: Dense(2, 3, init="lecun", rng=G0), ValueError, r"'init' .* one of 'he', 'glo"),
        (lambda: Dense(2, 3, init=1, rng=G0), TypeError, r"'init' parameter of Dense"),
        (lambda: Dense(2, 3, rng=None), TypeError, r"'rng' parameter of Dense must be a numpy"),
        (lambda: Dense(2, 3, rng=0), TypeError, r"'rng' parameter of Dense .*Generator; got 0"),
        (lambda: Dense(2, 3, rng=G0, dtype=int), TypeError, r"'dtype' .* float32 or float64"),
        (lambda: Dense(2, 3, rng=G0, dtype="x"), TypeError, r"'dtype' .* float32 or float64"),
        (lambda: Dropout(1.0), ValueError, r"'p' parameter of Dropout must be in \[0, 1\); got 1"),
        (lambda: Dropout(-0.1), ValueError, r"'p' parameter of Dropout must be in \[0, 1\)"),
        (lambda: Dropout("0.5"), TypeError, r"'p' parameter of Dropout must be a float"),
        (lambda: Dropout(np.nan), ValueError, r"'p' parameter of Dropout must be a finite"),
        (
            lambda: Dropout(0.5).forward(np.ones((2, 2)), training=True),
            ValueError,
            r"'rng' parameter of Dropout.forward must be a numpy.random.Generator",
        ),
        (
            lambda: Dropout(0.5).forward(np.ones((2, 2)), training=True, mask=np.ones((2, 3)) > 0),
            ValueError,
            r"'mask' .* bool array of shape \(2, 2\); got bool array of shape \(2, 3\)",
        ),
        (
            lambda: Dropout(0.5).forward(np.ones((2, 2)), training=True, mask=np.ones((2, 2))),
            ValueError,
            r"'mask' .* got float64 array of shape \(2, 2\)",
        ),
    ],
)
def test_layer_validation(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
