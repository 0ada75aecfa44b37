"""dropout_study.nn.logistic: penalised logistic regression against oracles nobody here wrote.

Oracles: scikit-learn's LogisticRegression (saga for L1, lbfgs for L2) at C = 1/(n·λ);
central finite differences of the objective (optimality conditions); the closed form of
lambda_max; scipy's Spearman correlation for the overall growth of the zero count.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from helpers import central_diff
from scipy.stats import spearmanr
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from dropout_study.nn.logistic import PenalisedLogistic, logistic_objective
from dropout_study.nn.logistic_path import (
    lambda_grid,
    lambda_max,
    logistic_path,
    sklearn_C,
    sklearn_logistic,
)

COEF_TOL = 1e-4  # the agreement the chapter states
SAGA_MAX_ITER = 10_000


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def small():
    X, y = make_classification(
        n_samples=120, n_features=6, n_informative=3, flip_y=0.2, random_state=3
    )
    return StandardScaler().fit_transform(X), y


def _fit_oracle(penalty, lam, X, y, max_iter):
    """Fit scikit-learn with deprecation warnings as errors; return (model, converged)."""
    est = sklearn_logistic(penalty, lam, X.shape[0], tol=1e-8, max_iter=max_iter)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("error", DeprecationWarning)
        warnings.simplefilter("error", FutureWarning)
        warnings.simplefilter("always", ConvergenceWarning)
        est.fit(X, y)
    converged = bool(est.n_iter_[0] < max_iter)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    others = [w for w in caught if not issubclass(w.category, ConvergenceWarning)]
    assert not others, [str(w.message) for w in others]
    assert warned == (not converged), (est.n_iter_, warned)
    return est, converged


# ---------------------------------------------------------------------------------------------
# Oracle: scikit-learn (issue 2)
# ---------------------------------------------------------------------------------------------
def test_l1_matches_sklearn_saga(cancer):
    X, y = cancer
    lams = lambda_max(X, y) * np.array([0.9, 0.3, 0.1, 0.03, 0.01, 0.003])
    path = logistic_path(X, y, lams, penalty="l1", tol=1e-9)
    assert path.converged.all(), path.n_iter
    n_compared = 0
    for i, lam in enumerate(lams):
        sk, converged = _fit_oracle("l1", lam, X, y, SAGA_MAX_ITER)
        mine, theirs = path.coefs[i], sk.coef_[0]
        if converged:
            n_compared += 1
            err = np.max(np.abs(mine - theirs))
            assert err <= COEF_TOL, f"λ={lam:.3g}: mine {mine} / theirs {theirs}"
            assert abs(path.intercepts[i] - sk.intercept_[0]) <= COEF_TOL
            np.testing.assert_array_equal(mine == 0, theirs == 0, err_msg=f"λ={lam:.3g}")
        else:
            theirs_obj = logistic_objective(
                X, y, theirs, sk.intercept_[0], penalty="l1", lam=float(lam)
            )
            assert path.objectives[i] <= theirs_obj + 1e-12, (lam, path.objectives[i], theirs_obj)
    assert n_compared >= 3  # the comparison is not vacuous
    assert path.n_zeros[0] > 0 and path.n_zeros[-1] < X.shape[1]  # zeros and non-zeros occur


def test_l2_matches_sklearn_lbfgs(cancer):
    X, y = cancer
    lams = lambda_max(X, y) * np.logspace(0, -3, 7)
    path = logistic_path(X, y, lams, penalty="l2", tol=1e-9)
    assert path.converged.all(), path.n_iter
    for i, lam in enumerate(lams):
        sk, converged = _fit_oracle("l2", lam, X, y, 10_000)
        assert converged, lam
        mine, theirs = path.coefs[i], sk.coef_[0]
        assert np.max(np.abs(mine - theirs)) <= COEF_TOL, f"mine {mine} / theirs {theirs}"
        assert abs(path.intercepts[i] - sk.intercept_[0]) <= COEF_TOL
        np.testing.assert_array_equal(mine == 0, theirs == 0)
        assert not np.any(mine == 0)  # L2 shrinks, it gives no exact zeros


def test_unpenalised_matches_sklearn(small):
    X, y = small
    ours = PenalisedLogistic("none", 0.0, tol=1e-10).fit(X, y)
    sk, converged = _fit_oracle("none", 0.0, X, y, 10_000)
    assert converged and ours.converged_
    np.testing.assert_allclose(ours.coef_, sk.coef_[0], atol=COEF_TOL)
    assert ours.intercept_ == pytest.approx(sk.intercept_[0], abs=COEF_TOL)


def test_sklearn_C():
    assert sklearn_C(0.01, 50) == pytest.approx(2.0)
    assert sklearn_C(0.0, 50) == math.inf


# ---------------------------------------------------------------------------------------------
# Optimality by central finite differences
# ---------------------------------------------------------------------------------------------
def _fd_grad(X, y, coef, intercept):
    """Central differences of the mean log-loss (no penalty) w.r.t. (coef, intercept)."""
    return central_diff(
        lambda t: logistic_objective(X, y, t[:-1], t[-1], penalty="none", lam=0.0),
        np.append(coef, intercept),
    )


def test_l1_solution_satisfies_kkt(small):
    X, y = small
    lam = 0.3 * lambda_max(X, y)
    est = PenalisedLogistic("l1", lam, tol=1e-11).fit(X, y)
    g = _fd_grad(X, y, est.coef_, est.intercept_)
    w = est.coef_
    assert 0 < est.n_zeros_ < X.shape[1]
    assert abs(g[-1]) < 1e-7  # intercept unpenalised
    nz = w != 0
    np.testing.assert_allclose(g[:-1][nz], -lam * np.sign(w[nz]), atol=1e-7)
    assert np.all(np.abs(g[:-1][~nz]) <= lam + 1e-7)


def test_l2_solution_has_zero_gradient(small):
    X, y = small
    lam = 0.05
    est = PenalisedLogistic("l2", lam, tol=1e-11).fit(X, y)
    g = _fd_grad(X, y, est.coef_, est.intercept_)
    np.testing.assert_allclose(g[:-1] + lam * est.coef_, 0.0, atol=1e-7)
    assert abs(g[-1]) < 1e-7


def test_ista_and_fista_agree(small):
    X, y = small
    lam = 0.1 * lambda_max(X, y)
    fista = PenalisedLogistic("l1", lam, tol=1e-10).fit(X, y)
    ista = PenalisedLogistic("l1", lam, tol=1e-10, accelerate=False).fit(X, y)
    assert fista.converged_ and ista.converged_
    np.testing.assert_allclose(fista.coef_, ista.coef_, atol=1e-7)
    np.testing.assert_array_equal(fista.coef_ == 0, ista.coef_ == 0)


def test_objective_reported_matches_function(small):
    X, y = small
    est = PenalisedLogistic("l2", 0.02).fit(X, y)
    assert est.objective_ == logistic_objective(
        X, y, est.coef_, est.intercept_, penalty="l2", lam=0.02
    )
    # the objective is the mean log-loss plus (λ/2)‖w‖² — against scikit-learn's log_loss
    from sklearn.metrics import log_loss

    p = 1 / (1 + np.exp(-(X @ est.coef_ + est.intercept_)))
    gold = log_loss(y, p) + 0.01 * np.sum(est.coef_**2)
    assert est.objective_ == pytest.approx(gold, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Closed forms and sparsity (issue 4)
# ---------------------------------------------------------------------------------------------
def test_lambda_max_all_zero_at_and_above(cancer):
    X, y = cancer
    top = lambda_max(X, y)
    logit = math.log(y.mean() / (1 - y.mean()))
    # exactly at λ_max the zero solution is on the boundary and rounding of the gradient
    # (~1e-16 relative) decides; one part in 10¹² above it every coefficient must be 0
    for factor in (1.0 + 1e-12, 1.0 + 1e-9, 1.5, 10.0):
        est = PenalisedLogistic("l1", top * factor).fit(X, y)
        assert est.converged_
        assert est.n_zeros_ == X.shape[1], (factor, est.coef_)
        assert est.intercept_ == pytest.approx(logit, abs=1e-9)


def test_lambda_max_not_all_zero_just_below(cancer):
    X, y = cancer
    top = lambda_max(X, y)
    est = PenalisedLogistic("l1", 0.99 * top, tol=1e-11).fit(X, y)
    assert est.n_zeros_ < X.shape[1]
    # the first coefficient to leave zero is the one with the largest |x_jᵀ(y - ȳ)|
    first = np.argmax(np.abs(X.T @ (y - y.mean())))
    assert est.coef_[first] != 0


def test_zero_count_grows_with_lambda_overall(cancer):
    X, y = cancer
    lams = lambda_grid(X, y, n_lambdas=15, ratio=1e-2)
    path = logistic_path(X, y, lams, penalty="l1", tol=1e-8)
    rho = spearmanr(lams, path.n_zeros).statistic
    assert rho > 0.8, (rho, path.n_zeros)
    assert path.n_zeros[0] == X.shape[1] and path.n_zeros[-1] < 2 * X.shape[1] // 3


def test_subgradient_leaves_no_exact_zeros(cancer):
    X, y = cancer
    lam = 0.1 * lambda_max(X, y)
    prox = PenalisedLogistic("l1", lam).fit(X, y)
    sub = PenalisedLogistic("l1", lam, l1_mode="subgradient", max_iter=3000).fit(X, y)
    assert prox.n_zeros_ >= 10
    assert sub.n_zeros_ == 0
    assert not sub.converged_ and sub.n_iter_ == 3000
    assert sub.objective_ >= prox.objective_


def test_lambda_grid_is_decreasing_log_spaced(cancer):
    X, y = cancer
    grid = lambda_grid(X, y, n_lambdas=5, ratio=1e-2)
    assert grid[0] == pytest.approx(lambda_max(X, y), rel=1e-11)
    assert grid[0] > lambda_max(X, y)
    assert grid[-1] == pytest.approx(1e-2 * lambda_max(X, y))
    np.testing.assert_allclose(np.diff(np.log(grid)), np.log(1e-2) / 4)


# ---------------------------------------------------------------------------------------------
# Paths, warm starts, determinism, no mutation
# ---------------------------------------------------------------------------------------------
def test_path_order_and_warm_start_do_not_change_solutions(small):
    X, y = small
    lams = lambda_max(X, y) * np.array([0.01, 0.5, 0.1])
    path = logistic_path(X, y, lams, penalty="l1", tol=1e-11)
    for i, lam in enumerate(lams):
        cold = PenalisedLogistic("l1", lam, tol=1e-11).fit(X, y)
        np.testing.assert_allclose(path.coefs[i], cold.coef_, atol=1e-8)
        np.testing.assert_array_equal(path.coefs[i] == 0, cold.coef_ == 0)
    np.testing.assert_array_equal(path.lams, lams)


def test_same_input_same_numbers_and_no_mutation(small):
    X, y = small
    X0, y0 = X.copy(), y.copy()
    init = np.ones(X.shape[1])
    a = PenalisedLogistic("l1", 0.02).fit(X, y, coef_init=init, intercept_init=0.5)
    b = PenalisedLogistic("l1", 0.02).fit(X, y, coef_init=init, intercept_init=0.5)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(init, 1.0)


def test_max_iter_reached_is_reported(cancer):
    X, y = cancer
    est = PenalisedLogistic("l1", 1e-3, max_iter=5).fit(X, y)
    assert not est.converged_ and est.n_iter_ == 5


def test_predict_and_score(small):
    X, y = small
    est = PenalisedLogistic("l2", 0.01).fit(X, y)
    np.testing.assert_array_equal(est.predict(X), (X @ est.coef_ + est.intercept_ > 0))
    assert est.score(X, y) == pytest.approx(np.mean(est.predict(X) == y))


# ---------------------------------------------------------------------------------------------
# Validation: every branch, with the project's message template
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"penalty": "l3"}, ValueError, r"'penalty' parameter of PenalisedLogistic must be one of"),
        ({"lam": -1.0}, ValueError, r"'lam' parameter of PenalisedLogistic must be in \[0, ∞\)"),
        ({"lam": "a"}, TypeError, r"'lam' parameter of PenalisedLogistic must be a float"),
        ({"l1_mode": "x"}, ValueError, r"'l1_mode' parameter of PenalisedLogistic must be one"),
        ({"tol": 0.0}, ValueError, r"'tol' parameter of PenalisedLogistic must be in \(0, ∞\)"),
        ({"max_iter": 0}, ValueError, r"'max_iter' parameter of PenalisedLogistic must be an int"),
        ({"max_iter": 1.5}, TypeError, r"'max_iter' parameter of PenalisedLogistic must be an int"),
        ({"accelerate": 1}, TypeError, r"'accelerate' parameter of PenalisedLogistic must be a b"),
    ],
)
def test_estimator_parameters_are_validated(small, kwargs, exc, match):
    X, y = small
    with pytest.raises(exc, match=match):
        PenalisedLogistic(**kwargs).fit(X, y)


@pytest.mark.parametrize(
    ("X", "y", "exc", "match"),
    [
        (np.zeros(5), np.zeros(5), ValueError, r"'X' parameter of lambda_max must be a 2-D array"),
        (
            np.array([["a"], ["b"]]),
            [0, 1],
            TypeError,
            r"'X' parameter of lambda_max must be a real",
        ),
        ([[np.nan], [1.0]], [0, 1], ValueError, r"'X' parameter of lambda_max must be finite"),
        ([[0.0], [1.0]], [0, 1, 1], ValueError, r"'y' parameter of lambda_max must be a 1-D array"),
        ([[0.0], [1.0]], np.array(["a", "b"]), TypeError, r"'y' parameter of lambda_max must be"),
        ([[0.0], [1.0]], [0, 2], ValueError, r"'y' parameter of lambda_max must be labels in"),
        ([[0.0], [1.0]], [1, 1], ValueError, r"'y' parameter of lambda_max must be labels of bo"),
    ],
)
def test_data_is_validated(X, y, exc, match):
    with pytest.raises(exc, match=match):
        lambda_max(X, y)


def test_fit_and_path_arguments_are_validated(small):
    X, y = small
    est = PenalisedLogistic("l1", 0.1)
    with pytest.raises(ValueError, match=r"'coef_init' parameter of PenalisedLogistic.fit"):
        est.fit(X, y, coef_init=np.zeros(2))
    with pytest.raises(TypeError, match=r"'intercept_init' parameter of PenalisedLogistic.fit"):
        est.fit(X, y, intercept_init="0")
    with pytest.raises(ValueError, match=r"'self' parameter of PenalisedLogistic must be fitted"):
        PenalisedLogistic().predict(X)
    with pytest.raises(ValueError, match=r"'X' parameter of PenalisedLogistic must be an array"):
        est.fit(X, y).predict(X[:, :2])
    with pytest.raises(ValueError, match=r"'lams' parameter of logistic_path must be a non-empty"):
        logistic_path(X, y, [])
    with pytest.raises(ValueError, match=r"'lams' parameter of logistic_path must be a non-empty"):
        logistic_path(X, y, [0.1, -0.1])
    with pytest.raises(TypeError, match=r"'lams' parameter of logistic_path must be a non-empty"):
        logistic_path(X, y, "0.1")
    with pytest.raises(TypeError, match=r"'lams' parameter of logistic_path must be a non-empty"):
        logistic_path(X, y, ["a"])
    with pytest.raises(ValueError, match=r"'penalty' parameter of logistic_path must be one of"):
        logistic_path(X, y, [0.1], penalty="l0")
    with pytest.raises(ValueError, match=r"'l1_mode' parameter of logistic_path must be one of"):
        logistic_path(X, y, [0.1], l1_mode="prox")


def test_helpers_are_validated(small):
    X, y = small
    with pytest.raises(ValueError, match=r"'n_lambdas' parameter of lambda_grid must be an int"):
        lambda_grid(X, y, n_lambdas=1)
    with pytest.raises(ValueError, match=r"'ratio' parameter of lambda_grid must be in \(0, 1\)"):
        lambda_grid(X, y, ratio=1.0)
    with pytest.raises(ValueError, match=r"'lam' parameter of sklearn_C must be in \[0, ∞\)"):
        sklearn_C(-1.0, 10)
    with pytest.raises(ValueError, match=r"'n_samples' parameter of sklearn_C must be an int"):
        sklearn_C(0.1, 0)
    with pytest.raises(ValueError, match=r"'lam' parameter of sklearn_logistic must be > 0"):
        sklearn_logistic("l1", 0.0, 10)
    with pytest.raises(ValueError, match=r"'penalty' parameter of sklearn_logistic must be one"):
        sklearn_logistic("l0", 0.1, 10)
    with pytest.raises(ValueError, match=r"'penalty' parameter of logistic_objective must be one"):
        logistic_objective(X, y, np.zeros(X.shape[1]), 0.0, penalty="l0", lam=0.1)
    with pytest.raises(ValueError, match=r"'coef' parameter of logistic_objective must be a vec"):
        logistic_objective(X, y, np.zeros(2), 0.0, penalty="l1", lam=0.1)
    with pytest.raises(ValueError, match=r"'lam' parameter of logistic_objective must be in"):
        logistic_objective(X, y, np.zeros(X.shape[1]), 0.0, penalty="l1", lam=-0.1)
