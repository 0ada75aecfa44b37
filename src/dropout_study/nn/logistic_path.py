"""Logistic regression over a grid of penalties: λ_max, the λ grid, warm-started paths, and
scikit-learn's ``LogisticRegression`` set up as the oracle for the same objective.

The objective is :func:`dropout_study.nn.logistic.logistic_objective` (mean log-loss in nats
plus ``λ‖w‖₁`` or ``(λ/2)‖w‖²`` on the weights, the intercept unpenalised), which is
scikit-learn's at ``C = 1 / (n·λ)``.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import numpy as np

from dropout_study.nn.logistic import L1_MODES, PENALTIES, PenalisedLogistic, check_Xy
from dropout_study.validation import check_choice, check_float, check_int, fail

__all__ = [
    "LogisticPath",
    "lambda_max",
    "lambda_grid",
    "logistic_path",
    "sklearn_C",
    "sklearn_logistic",
]

_BOUNDARY = 1e-12  # relative nudge of lambda_grid's first value above lambda_max


def lambda_max(X, y) -> float:
    """``‖Xᵀ(y − ȳ)‖∞ / n``: the smallest λ at which every L1 coefficient is exactly zero.

    With an unpenalised intercept, ``w = 0`` and ``b = logit(ȳ)`` satisfy the optimality
    condition ``|∂J/∂w_j| ≤ λ`` for all ``j`` exactly when ``λ ≥ lambda_max``.
    ``X``: ``(n, d)``; ``y``: ``(n,)`` labels in {0, 1}. Returns a float in the units of λ.
    """
    X, y = check_Xy(X, y, "lambda_max")
    return float(np.max(np.abs(X.T @ (y - y.mean()))) / X.shape[0])


def lambda_grid(X, y, n_lambdas: int = 30, ratio: float = 1e-3) -> np.ndarray:
    """``n_lambdas`` values from ``lambda_max(X, y)`` down to ``ratio · lambda_max``, evenly
    spaced in log λ, decreasing (the order warm starts want). Shape ``(n_lambdas,)``.

    The grid is scaled by ``1 + 1e-12``: at λ_max itself the zero solution sits exactly on the
    boundary, where gradient rounding (about 1e-16 relative) can leave a coefficient at 1e-17
    instead of 0; one part in 10¹² above it every coefficient is exactly zero."""
    owner = "lambda_grid"
    n_lambdas = check_int(n_lambdas, "n_lambdas", owner, low=2)
    ratio = check_float(ratio, "ratio", owner, low=0.0, high=1.0, low_open=True, high_open=True)
    top = lambda_max(X, y) * (1.0 + _BOUNDARY)
    return top * np.logspace(0.0, np.log10(ratio), n_lambdas)


def sklearn_C(lam: float, n_samples: int) -> float:
    """scikit-learn's ``C`` for our ``λ``: ``C = 1 / (n · λ)`` (``inf`` for ``λ = 0``)."""
    lam = check_float(lam, "lam", "sklearn_C", low=0.0)
    n_samples = check_int(n_samples, "n_samples", "sklearn_C", low=1)
    return math.inf if lam == 0 else 1.0 / (n_samples * lam)


def sklearn_logistic(
    penalty: str, lam: float, n_samples: int, *, tol: float = 1e-8, max_iter: int = 10_000
):
    """scikit-learn's ``LogisticRegression`` set up to minimise our objective (an oracle).

    ``"l1"`` → ``solver="saga"``, ``"l2"`` → ``solver="lbfgs"``, ``"none"`` → lbfgs without
    a penalty (``C = inf`` from scikit-learn 1.8, ``penalty=None`` before);
    ``C = 1 / (n_samples · lam)`` otherwise. The penalty is spelled the way the
    installed version accepts without a deprecation warning: ``l1_ratio`` alone from
    scikit-learn 1.8 on (where ``penalty=`` is deprecated), ``penalty=`` before.
    ``random_state=0`` fixes saga's sampling order. Unfitted.
    """
    from sklearn.linear_model import LogisticRegression

    owner = "sklearn_logistic"
    check_choice(penalty, "penalty", owner, PENALTIES)
    lam = check_float(lam, "lam", owner, low=0.0)
    if penalty != "none" and lam == 0:
        fail("lam", owner, "> 0 for an l1 or l2 penalty (use penalty='none')", lam)
    solver = "saga" if penalty == "l1" else "lbfgs"
    # saga visits the samples in a random order: fix it, so the oracle is reproducible
    kwargs = {"solver": solver, "tol": tol, "max_iter": max_iter, "random_state": 0}
    new_api = inspect.signature(LogisticRegression).parameters["penalty"].default == "deprecated"
    if penalty == "none":  # unpenalised: C = inf from 1.8 on, penalty=None before
        if new_api:
            kwargs["C"] = math.inf
        else:  # pragma: no cover - scikit-learn < 1.8
            kwargs["penalty"] = None
    else:
        kwargs["C"] = sklearn_C(lam, n_samples)
        if new_api:
            kwargs["l1_ratio"] = 1.0 if penalty == "l1" else 0.0
        else:  # pragma: no cover - scikit-learn < 1.8
            kwargs["penalty"] = penalty
    return LogisticRegression(**kwargs)


@dataclass(frozen=True)
class LogisticPath:
    """Solutions over a λ grid, in the order of ``lams`` (all arrays have ``m = len(lams)`` rows).

    ``coefs`` ``(m, d)``; ``intercepts``, ``objectives`` (nats) ``(m,)``; ``n_iter`` ``(m,)``
    int; ``converged`` ``(m,)`` bool; ``penalty`` and ``l1_mode`` as fitted.
    """

    penalty: str
    l1_mode: str
    lams: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    objectives: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray

    @property
    def n_zeros(self) -> np.ndarray:
        """Exactly-zero coefficients per λ, ``(m,)`` int."""
        return np.sum(self.coefs == 0.0, axis=1)


def logistic_path(
    X,
    y,
    lams,
    *,
    penalty: str = "l1",
    l1_mode: str = "proximal",
    tol: float = 1e-9,
    max_iter: int = 100_000,
) -> LogisticPath:
    """Fit :class:`PenalisedLogistic` at every λ in ``lams``, from the largest λ down, each fit
    warm-started at the previous solution. Results are returned in the order of ``lams``.

    ``lams``: 1-D sequence of floats ``>= 0``. Sub-gradient L1 is not warm-started (each λ
    starts from ``w = 0`` and runs ``max_iter`` steps), so its runs do not depend on the grid.
    """
    owner = "logistic_path"
    X, y = check_Xy(X, y, owner)
    check_choice(penalty, "penalty", owner, PENALTIES)
    check_choice(l1_mode, "l1_mode", owner, L1_MODES)
    allowed = "a non-empty 1-D sequence of finite floats >= 0"
    if isinstance(lams, str | bytes):
        fail("lams", owner, allowed, lams, TypeError)
    try:
        lams_arr = np.asarray(lams, dtype=np.float64)
    except (TypeError, ValueError):
        fail("lams", owner, allowed, lams, TypeError)
    if lams_arr.ndim != 1 or lams_arr.size == 0:
        fail("lams", owner, allowed, lams)
    if not np.all(np.isfinite(lams_arr)) or np.any(lams_arr < 0):
        fail("lams", owner, allowed, lams)
    m, d = lams_arr.size, X.shape[1]
    coefs = np.zeros((m, d))
    intercepts = np.zeros(m)
    objectives = np.zeros(m)
    n_iter = np.zeros(m, dtype=int)
    converged = np.zeros(m, dtype=bool)
    warm = penalty != "l1" or l1_mode == "proximal"
    coef, intercept = None, None
    for i in np.argsort(-lams_arr, kind="stable"):
        est = PenalisedLogistic(
            penalty, float(lams_arr[i]), l1_mode=l1_mode, tol=tol, max_iter=max_iter
        ).fit(X, y, coef_init=coef, intercept_init=intercept)
        coefs[i], intercepts[i], objectives[i] = est.coef_, est.intercept_, est.objective_
        n_iter[i], converged[i] = est.n_iter_, est.converged_
        if warm:
            coef, intercept = est.coef_, est.intercept_
    return LogisticPath(
        penalty=penalty,
        l1_mode=l1_mode,
        lams=lams_arr.copy(),
        coefs=coefs,
        intercepts=intercepts,
        objectives=objectives,
        n_iter=n_iter,
        converged=converged,
    )
