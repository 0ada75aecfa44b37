"""Tests of dropout_study.measures.linearity against closed forms and scikit-learn.

Oracles: affine functions (D2 = 0 exactly), f(x) = ‖x‖² (D2 = 2h², D1 = 2h x·u), |x| in 1-D
(hand-computed), exp(a·x) (D2 / h² → (a·u)² e^{a·x} as h → 0), and scikit-learn's
LinearRegression + r2_score(multioutput="variance_weighted") for 1 - R².
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score

from dropout_study.measures.linearity import (
    affine_misfit,
    hidden_function,
    linearity_terms,
    linearity_z,
    logit_function,
    random_directions,
    second_differences,
)
from dropout_study.nn.mlp import MLP


def _X(n=50, d=3, seed=1):
    return np.random.default_rng(seed).standard_normal((n, d))


def _relu_net(X_scale=1.0, seed=2, d=3, width=20):
    """f(x) = Σ_j v_j relu(w_j·x + b_j) with kinks (w_j·x = -b_j) through the data cloud."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((d, width))
    b = rng.uniform(-1.0, 1.0, width) * X_scale
    v = rng.standard_normal(width)
    return lambda X: np.maximum(X @ W + b, 0.0) @ v


# ---------------------------------------------------------------------------------------------
# Affine functions: Z = 0, 1 - R² = 0
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [None, 1, 4])
@pytest.mark.parametrize("d", [1, 2, 30])
def test_z_is_zero_for_affine_functions(k, d):
    rng = np.random.default_rng(d)
    X = rng.standard_normal((40, d)) * 2.0
    if k is None:
        a, c = rng.standard_normal(d), 3.0

        def f(Z):
            return Z @ a + c
    else:
        A, c = rng.standard_normal((d, k)), rng.standard_normal(k)

        def f(Z):
            return Z @ A + c

    t = linearity_terms(f, X, step=0.5, n_directions=8, rng=3)
    assert t.mean_abs_d1 > 0.1
    assert t.mean_abs_d2 < 1e-12
    assert t.z < 1e-12
    assert linearity_z(f, X, rng=3) < 1e-12
    assert affine_misfit(f, X) < 1e-12


def test_relu_network_with_kinks_in_the_region_is_not_linear():
    X = _X(200, 3)
    f = _relu_net()
    t = linearity_terms(f, X, step=0.5, n_directions=16, rng=0)
    assert t.z > 0.05
    assert t.mean_abs_d2 > 0
    assert affine_misfit(f, X) > 0.01


def test_relu_network_with_kinks_outside_the_region_is_affine_there():
    # All kinks far away (b ≫ |w·x|): every unit is active everywhere, f is affine on the data.
    rng = np.random.default_rng(5)
    W = rng.standard_normal((3, 10))
    v = rng.standard_normal(10)
    X = rng.uniform(-1, 1, (100, 3))

    def f(Z):
        return np.maximum(Z @ W + 100.0, 0.0) @ v

    assert linearity_z(f, X, step=0.5, rng=1) < 1e-12
    # …and a kink through the middle of the data makes it positive:
    b = np.zeros(10)

    def g(Z):
        return np.maximum(Z @ W + b, 0.0) @ v

    assert linearity_z(g, X, step=0.5, rng=1) > 0.05


def test_mlp_logit_z_positive_and_matches_forward():
    model = MLP([3, 16, 16, 1], rng=0)
    X = _X(80, 3)
    f = logit_function(model)
    np.testing.assert_array_equal(f(X), model.forward(X))
    assert linearity_z(f, X, rng=0) > 0


# ---------------------------------------------------------------------------------------------
# Scale invariance of Z, scale covariance of the raw terms
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("c", [1e-3, 0.25, 7.0, -3.5, 1e4])
def test_z_unchanged_when_f_is_scaled(c):
    X = _X(60, 3)
    f = _relu_net()

    def g(Z):
        return c * f(Z)

    a = linearity_terms(f, X, rng=4)
    b = linearity_terms(g, X, rng=4)
    assert b.z == pytest.approx(a.z, rel=1e-10)
    assert b.mean_abs_d2 == pytest.approx(abs(c) * a.mean_abs_d2, rel=1e-10)
    assert b.mean_abs_d1 == pytest.approx(abs(c) * a.mean_abs_d1, rel=1e-10)
    assert affine_misfit(g, X) == pytest.approx(affine_misfit(f, X), rel=1e-8)


# ---------------------------------------------------------------------------------------------
# Closed forms
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("step", [0.1, 0.5, 2.0])
@pytest.mark.parametrize("d", [1, 2, 5])
def test_quadratic_closed_form(step, d):
    # f(x) = ‖x‖²: D2 = 2h², D1 = 2h x·u, so Z = 2h² / (2h mean|x·u|) = h / mean|x·u|.
    X = _X(30, d, seed=d)
    n_dir = 7

    def f(Z):
        return np.sum(Z**2, axis=1)

    U = random_directions(n_dir, X.shape[0], d, np.random.default_rng(11))
    xu = np.einsum("nd,rnd->rn", X, U)
    expected = step / np.mean(np.abs(xu))
    t = linearity_terms(f, X, step=step, n_directions=n_dir, rng=np.random.default_rng(11))
    assert t.z == pytest.approx(expected, rel=1e-10)
    assert t.mean_abs_d2 == pytest.approx(2 * step**2, rel=1e-10)
    assert t.mean_abs_d1 == pytest.approx(2 * step * np.mean(np.abs(xu)), rel=1e-10)
    d2, d1 = second_differences(f, X, U, step)
    np.testing.assert_allclose(d2, 2 * step**2, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(d1[..., 0], 2 * step * xu, rtol=1e-9, atol=1e-12)


def test_abs_in_one_dimension_by_hand():
    # f(x) = |x| at x = 0.1 and x = 2, h = 0.5, u = ±1:
    #   x = 0.1: f(0.6) - 2 f(0.1) + f(-0.4) = 0.6 - 0.2 + 0.4 = 0.8;  |D1| = |0.6 - 0.4| / 2 = 0.1
    #   x = 2:   D2 = 2.5 - 4 + 1.5 = 0;                                |D1| = |2.5 - 1.5| / 2 = 0.5
    # Z = mean(0.8, 0) / mean(0.1, 0.5) = 0.4 / 0.3, whatever the signs of u.
    X = np.array([[0.1], [2.0]])
    t = linearity_terms(lambda Z: np.abs(Z[:, 0]), X, step=0.5, n_directions=5, rng=0)
    assert t.mean_abs_d2 == pytest.approx(0.4, abs=1e-14)
    assert t.mean_abs_d1 == pytest.approx(0.3, abs=1e-14)
    assert t.z == pytest.approx(4.0 / 3.0, rel=1e-12)
    assert t.n_evaluations == 2 * 5


def test_second_difference_tends_to_the_curvature():
    # f(x) = exp(a·x): uᵀ∇²f u = (a·u)² e^{a·x}; D2 / h² → it with error O(h²).
    rng = np.random.default_rng(0)
    a = rng.standard_normal(4) * 0.5
    X = rng.standard_normal((10, 4)) * 0.5

    def f(Z):
        return np.exp(Z @ a)

    U = random_directions(3, 10, 4, rng)
    exact = (np.einsum("d,rnd->rn", a, U) ** 2) * np.exp(X @ a)[None]
    grad_u = np.einsum("d,rnd->rn", a, U) * np.exp(X @ a)[None]
    errors = []
    for h in (1e-1, 5e-2):
        d2, d1 = second_differences(f, X, U, h)
        errors.append(np.max(np.abs(d2[..., 0] / h**2 - exact)))
        np.testing.assert_allclose(d1[..., 0] / h, grad_u, rtol=5e-3, atol=1e-6)
    assert errors[0] < 5e-3
    assert errors[1] < errors[0] / 3  # second-order convergence (ratio ≈ 4)


def test_random_directions_are_unit_and_isotropic():
    U = random_directions(400, 50, 3, 0)
    assert U.shape == (400, 50, 3)
    np.testing.assert_allclose(np.linalg.norm(U, axis=-1), 1.0, rtol=1e-12)
    # uniform on the sphere: E[u] = 0 and E[u uᵀ] = I / d
    flat = U.reshape(-1, 3)
    np.testing.assert_allclose(flat.mean(axis=0), 0.0, atol=0.02)
    np.testing.assert_allclose(flat.T @ flat / flat.shape[0], np.eye(3) / 3, atol=0.02)
    one_d = random_directions(200, 4, 1, 1)
    assert set(np.unique(one_d)) == {-1.0, 1.0}


# ---------------------------------------------------------------------------------------------
# 1 - R² against scikit-learn
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 3])
def test_affine_misfit_matches_sklearn(k):
    X = _X(120, 4, seed=7)
    rng = np.random.default_rng(8)
    W = rng.standard_normal((4, k))

    def f(Z):
        out = np.tanh(Z @ W) + 0.3 * (Z @ W) ** 2
        return out[:, 0] if k == 1 else out

    Y = f(X)
    fitted = LinearRegression().fit(X, Y).predict(X)
    gold = 1.0 - r2_score(Y, fitted, multioutput="variance_weighted")
    mine = affine_misfit(f, X)
    assert mine == pytest.approx(gold, rel=1e-9), f"mine {mine} / theirs {gold}"
    assert 0.01 < mine < 1


def test_constant_function_gives_nan():
    X = _X(20, 2)
    t = linearity_terms(lambda Z: np.full(Z.shape[0], 2.0), X, rng=0)
    assert t.mean_abs_d1 == 0 and t.mean_abs_d2 == 0
    assert np.isnan(t.z)
    assert np.isnan(affine_misfit(lambda Z: np.full(Z.shape[0], 2.0), X))


# ---------------------------------------------------------------------------------------------
# Hidden-layer variant
# ---------------------------------------------------------------------------------------------
def test_hidden_function_is_the_hidden_layer():
    model = MLP([3, 8, 6, 1], dropout=0.5, rng=3)
    X = _X(40, 3)
    np.testing.assert_array_equal(hidden_function(model)(X), model.hidden(X))
    np.testing.assert_array_equal(hidden_function(model, 0)(X), model.hidden(X, 0))
    # by hand: relu(relu(X W1 + b1) W2 + b2) (evaluation mode: dropout is the identity)
    W1, b1, W2, b2 = model.params[:4]
    by_hand = np.maximum(np.maximum(X @ W1 + b1, 0) @ W2 + b2, 0)
    np.testing.assert_allclose(hidden_function(model)(X), by_hand, rtol=1e-12)
    t = linearity_terms(hidden_function(model, 0), X, rng=0)
    assert t.z > 0 and t.n_evaluations == 40 * 16 * 8


# ---------------------------------------------------------------------------------------------
# Reproducibility and purity
# ---------------------------------------------------------------------------------------------
def test_same_seed_same_number_and_none_is_seed_zero():
    X = _X(30, 3)
    f = _relu_net()
    a = linearity_terms(f, X, rng=5)
    assert a == linearity_terms(f, X, rng=np.random.default_rng(5))
    assert linearity_terms(f, X) == linearity_terms(f, X, rng=0)
    assert linearity_terms(f, X, rng=6).z != a.z


def test_inputs_not_mutated():
    X = _X(30, 3)
    X0 = X.copy()
    U = random_directions(2, 30, 3, 0)
    U0 = U.copy()
    f = _relu_net()
    linearity_terms(f, X, rng=0)
    second_differences(f, X, U, 0.3)
    affine_misfit(f, X)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(U, U0)


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------
def _f(Z):
    return Z.sum(axis=1)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"f": 3}, TypeError, r"'f' parameter of linearity_terms must be a callable"),
        ({"X": np.ones(5)}, ValueError, r"'X' parameter of linearity_terms must be a 2-D"),
        ({"X": np.ones((0, 2))}, ValueError, r"'X' .* at least one row"),
        ({"X": np.array([["a", "b"]])}, TypeError, r"'X' .* numeric array"),
        ({"X": np.array([[np.nan, 1.0]])}, ValueError, r"'X' .* must be finite"),
        ({"step": 0.0}, ValueError, r"'step' parameter of linearity_terms must be in \(0, ∞\)"),
        ({"step": -1.0}, ValueError, r"'step' .* \(0, ∞\)"),
        ({"step": "0.5"}, TypeError, r"'step' .* must be a float"),
        ({"step": np.inf}, ValueError, r"'step' .* finite float"),
        ({"n_directions": 0}, ValueError, r"'n_directions' .* int in the range \[1, ∞\)"),
        ({"n_directions": 2.0}, TypeError, r"'n_directions' .* must be an int"),
        ({"n_directions": True}, TypeError, r"'n_directions' .* must be an int"),
        ({"rng": "seed"}, TypeError, r"'rng' parameter of linearity_terms must be a numpy"),
        ({"rng": -1}, TypeError, r"'rng' .* non-negative int seed"),
        (
            {"f": lambda Z: np.ones((Z.shape[0] + 1,))},
            ValueError,
            r"'f' .* returning shape \(\d+,\) or \(\d+, k\)",
        ),
        ({"f": lambda Z: np.ones((Z.shape[0], 2, 2))}, ValueError, r"'f' .* returning shape"),
        ({"f": lambda Z: np.full(Z.shape[0], np.nan)}, ValueError, r"'f' .* finite values"),
        ({"f": lambda Z: np.array(["x"] * Z.shape[0])}, TypeError, r"'f' .* returning numbers"),
    ],
)
def test_linearity_terms_validation(kwargs, exc, match):
    args = {"f": _f, "X": np.ones((3, 2)), "step": 0.5, "n_directions": 2, "rng": 0}
    args.update(kwargs)
    f, X = args.pop("f"), args.pop("X")
    with pytest.raises(exc, match=match):
        linearity_terms(f, X, **args)


def test_linearity_z_validates_like_terms():
    with pytest.raises(ValueError, match=r"'step' parameter of linearity_terms"):
        linearity_z(_f, np.ones((3, 2)), step=-0.1)


@pytest.mark.parametrize(
    "args, exc, match",
    [
        ((0, 3, 2, 0), ValueError, r"'n_directions' parameter of random_directions"),
        ((2, 0, 2, 0), ValueError, r"'n' parameter of random_directions"),
        ((2, 3, 0, 0), ValueError, r"'d' parameter of random_directions"),
        ((2, 3, 2, None), TypeError, r"'rng' parameter of random_directions"),
    ],
)
def test_random_directions_validation(args, exc, match):
    with pytest.raises(exc, match=match):
        random_directions(*args)


def test_second_differences_validation():
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"'U' parameter of second_differences .* \(n_directions"):
        second_differences(_f, X, np.ones((2, 3, 3)), 0.5)
    with pytest.raises(ValueError, match=r"'step' parameter of second_differences"):
        second_differences(_f, X, np.ones((2, 3, 2)), 0.0)
    with pytest.raises(TypeError, match=r"'f' parameter of second_differences"):
        second_differences(None, X, np.ones((2, 3, 2)), 0.5)


def test_affine_misfit_validation():
    with pytest.raises(TypeError, match=r"'f' parameter of affine_misfit"):
        affine_misfit("f", np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"'X' parameter of affine_misfit"):
        affine_misfit(_f, np.ones((2, 2, 2)))


def test_model_function_validation():
    model = MLP([2, 4, 1], rng=0)
    with pytest.raises(TypeError, match=r"'model' parameter of logit_function must be an MLP"):
        logit_function(lambda X: X)
    with pytest.raises(TypeError, match=r"'model' parameter of hidden_function must be an MLP"):
        hidden_function(object())
    with pytest.raises(ValueError, match=r"'layer' parameter of hidden_function .* \[-1, 0\]"):
        hidden_function(model, 1)
    with pytest.raises(TypeError, match=r"'layer' parameter of hidden_function must be an int"):
        hidden_function(model, 0.0)
    with pytest.raises(ValueError, match=r"'model' .* at least one hidden layer"):
        hidden_function(MLP([2, 1], rng=0))


def test_probes_built_once_give_the_terms_of_linearity_terms_for_every_function():
    from dropout_study.measures.linearity import Probes

    rng = np.random.default_rng(5)
    X = rng.normal(size=(12, 3))
    U = random_directions(6, 12, 3, np.random.default_rng(9))
    probes = Probes(X, U, 0.3)
    for f in (lambda Z: np.sin(Z).sum(axis=1), lambda Z: Z**2, lambda Z: Z @ [1.0, -2.0, 0.5]):
        assert probes.terms(f) == linearity_terms(
            f, X, step=0.3, n_directions=6, rng=np.random.default_rng(9)
        )
    with pytest.raises(ValueError, match="'U' parameter"):
        Probes(X, U[:, :5], 0.3)
