"""Logistic regression (no hidden layer) with an L1 or L2 penalty, solved to high precision.

The objective, for weights ``w`` of shape ``(d,)`` and an intercept ``b`` (a float), is

    ``J(w, b) = (1/n) Σ_i logloss(y_i, x_i·w + b) + R(w)``   [nats, mean over samples]

with ``R(w) = λ‖w‖₁`` (``penalty="l1"``), ``(λ/2)‖w‖²`` (``"l2"``) or ``0`` (``"none"``); the
intercept is never penalised. This is scikit-learn's ``LogisticRegression`` at
``C = 1 / (n·λ)`` (see :mod:`dropout_study.nn.penalties`).

Solver
------
Full-batch proximal gradient descent with Nesterov / FISTA momentum and gradient-based adaptive
restart (O'Donoghue & Candès, 2015), with the constant step ``1/L``, where
``L = ‖[X, 1]‖₂² / (4n)`` (plus ``λ`` for L2) bounds the Lipschitz constant of the gradient of
the smooth part. The L1 part is handled by the proximal step
:meth:`dropout_study.nn.penalties.L1.prox` (soft-thresholding by ``λ/L``), which gives exact
zeros. The loss and its gradient come from ``MLP([d, 1], head="sigmoid", dropout=None)`` — the
network the chapters train, so the oracle tests check its sigmoid head as well.

Stopping rule: the largest entry of the *gradient mapping*
``G = L · (v − prox(v − ∇f(v)/L))`` at the extrapolated point ``v`` is at most ``tol``
(``G = 0`` exactly at a minimiser). ``n_iter_`` counts gradient evaluations; ``converged_``
says whether the rule was met within ``max_iter``.

``l1_mode="subgradient"`` instead runs plain gradient descent on the data loss plus the
sub-gradient ``λ·sign(w)`` with step ``1/L`` for exactly ``max_iter`` steps — the pitfall the
chapter shows: weights oscillate around zero and are (almost) never exactly zero. It has no
optimality certificate, so ``converged_`` is always ``False`` in that mode.
"""

from __future__ import annotations

import math

import numpy as np

from dropout_study.nn.losses import binary_cross_entropy
from dropout_study.nn.mlp import MLP
from dropout_study.nn.penalties import L1, L2, make_penalty
from dropout_study.validation import check_choice, check_float, check_int, described, fail

__all__ = [
    "PENALTIES",
    "PenalisedLogistic",
    "logistic_objective",
    "check_Xy",
]

PENALTIES = ("l1", "l2", "none")
L1_MODES = ("proximal", "subgradient")


# ---------------------------------------------------------------------------------------------
# Input checks and closed forms
# ---------------------------------------------------------------------------------------------
def check_Xy(X, y, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as a C-contiguous float64 ``(n, d)`` array, ``y`` as float64 ``(n,)`` in {0, 1}."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 1:
        fail("X", owner, "a 2-D array of shape (n >= 2, d >= 1)", described(f"shape {X.shape}"))
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        fail("X", owner, "a real numeric array", described(f"dtype {X.dtype}"), TypeError)
    X = np.ascontiguousarray(X, dtype=np.float64)
    if not np.all(np.isfinite(X)):
        fail("X", owner, "finite", described("an array with NaN or inf"))
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        fail("y", owner, f"a 1-D array of {X.shape[0]} labels", described(f"shape {y.shape}"))
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_):
        fail("y", owner, "labels in {0, 1}", described(f"dtype {y.dtype}"), TypeError)
    y = y.astype(np.float64)
    if not np.all((y == 0) | (y == 1)):
        fail("y", owner, "labels in {0, 1}", described(f"values {np.unique(y)[:5].tolist()}"))
    if y.min() == y.max():
        fail("y", owner, "labels of both classes", described(f"only class {int(y[0])}"))
    return X, y


def logistic_objective(X, y, coef, intercept, *, penalty: str, lam: float) -> float:
    """``J(w, b)`` of the module docstring (nats): mean log-loss plus the penalty on ``coef``.

    ``X``: ``(n, d)``; ``y``: ``(n,)`` in {0, 1}; ``coef``: ``(d,)``; ``intercept``: float.
    Computed with :func:`dropout_study.nn.losses.binary_cross_entropy` from logits and the
    penalty objects of :mod:`dropout_study.nn.penalties` (independently of the solver's MLP).
    """
    owner = "logistic_objective"
    X, y = check_Xy(X, y, owner)
    check_choice(penalty, "penalty", owner, PENALTIES)
    lam = check_float(lam, "lam", owner, low=0.0)
    coef = np.asarray(coef, dtype=np.float64).ravel()
    if coef.shape != (X.shape[1],):
        fail(
            "coef",
            owner,
            f"a vector of {X.shape[1]} coefficients",
            described(f"shape {coef.shape}"),
        )
    intercept = check_float(float(np.asarray(intercept).ravel()[0]), "intercept", owner)
    value = binary_cross_entropy(y, X @ coef + intercept, from_logits=True)
    pen = make_penalty(penalty, lam)
    return value + (pen.value([coef]) if pen is not None else 0.0)


# ---------------------------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------------------------
class PenalisedLogistic:
    """Binary logistic regression with mean log-loss and an L1 / L2 penalty on the weights.

    Parameters
    ----------
    penalty : {"l1", "l2", "none"}
    lam : float >= 0
        Penalty strength λ (the objective is in the module docstring).
    l1_mode : {"proximal", "subgradient"}
        How L1 is applied (ignored for other penalties). See the module docstring.
    tol : float > 0
        Stop when the gradient mapping's largest entry is ``<= tol`` (gradient units: nats per
        unit of coefficient).
    max_iter : int >= 1
        Maximum number of gradient evaluations (exact number in sub-gradient mode).
    accelerate : bool
        FISTA momentum with adaptive restart (``True``) or plain proximal gradient (ISTA).

    Fitted attributes
    -----------------
    coef_ : (d,) float64; intercept_ : float; n_iter_ : int; converged_ : bool;
    objective_ : float (nats); lipschitz_ : float (the ``L`` of the step ``1/L``);
    n_zeros_ : int (coefficients exactly 0).
    """

    def __init__(
        self,
        penalty: str = "l1",
        lam: float = 0.01,
        *,
        l1_mode: str = "proximal",
        tol: float = 1e-9,
        max_iter: int = 100_000,
        accelerate: bool = True,
    ) -> None:
        self.penalty = penalty
        self.lam = lam
        self.l1_mode = l1_mode
        self.tol = tol
        self.max_iter = max_iter
        self.accelerate = accelerate

    def _check_params(self) -> None:
        owner = "PenalisedLogistic"
        check_choice(self.penalty, "penalty", owner, PENALTIES)
        check_float(self.lam, "lam", owner, low=0.0)
        check_choice(self.l1_mode, "l1_mode", owner, L1_MODES)
        check_float(self.tol, "tol", owner, low=0.0, low_open=True)
        check_int(self.max_iter, "max_iter", owner, low=1)
        if not isinstance(self.accelerate, bool):
            fail("accelerate", owner, "a bool", self.accelerate, TypeError)

    def fit(self, X, y, *, coef_init=None, intercept_init=None) -> PenalisedLogistic:
        """Fit on ``X`` ``(n, d)`` and labels ``y`` ``(n,)`` in {0, 1}; returns ``self``.

        ``coef_init`` ``(d,)`` and ``intercept_init`` (float) warm-start the solver (default:
        ``w = 0``, ``b = logit(ȳ)``, the optimum for ``λ ≥ lambda_max``). Not modified.
        """
        self._check_params()
        owner = "PenalisedLogistic.fit"
        X, y = check_Xy(X, y, owner)
        n, d = X.shape
        theta = np.zeros(d + 1)
        if coef_init is not None:
            c = np.asarray(coef_init, dtype=np.float64).ravel()
            allowed = f"a finite vector of {d} coefficients"
            if c.shape != (d,):
                fail("coef_init", owner, allowed, described(f"shape {c.shape}"))
            if not np.all(np.isfinite(c)):
                fail("coef_init", owner, allowed, described("a vector with NaN or inf"))
            theta[:d] = c
        ybar = y.mean()
        b0 = math.log(ybar / (1.0 - ybar)) if intercept_init is None else intercept_init
        theta[d] = check_float(b0, "intercept_init", owner)

        lam = float(self.lam)
        l2_lam = lam if self.penalty == "l2" else 0.0
        l1 = self.penalty == "l1" and lam > 0
        X1 = np.hstack([X, np.ones((n, 1))])
        L = float(np.linalg.norm(X1, 2) ** 2 / (4.0 * n)) + l2_lam
        model = MLP([d, 1], head="sigmoid", dropout=None, rng=0)
        y2 = model._head.targets(y, n, 1, np.float64)
        l2 = L2(l2_lam) if l2_lam else None

        def grad(theta_v: np.ndarray) -> np.ndarray:
            model.set_params(theta_v)
            z = model._forward(X, False, None, None)
            model._backward(model._head.grad(z, y2))  # the sigmoid head: (σ(z) − y) / n
            g = model.get_grads()
            if l2 is not None:
                g[:d] += l2.grad([theta_v[:d]])[0]
            return g

        if l1 and self.l1_mode == "subgradient":
            theta, n_iter, converged = self._subgradient(theta, grad, L, lam, d)
        else:
            theta, n_iter, converged = self._fista(theta, grad, L, lam if l1 else 0.0, d)

        self.coef_ = theta[:d].copy()
        self.intercept_ = float(theta[d])
        self.n_iter_ = int(n_iter)
        self.converged_ = bool(converged)
        self.lipschitz_ = L
        self.n_zeros_ = int(np.sum(self.coef_ == 0.0))
        self.objective_ = logistic_objective(
            X, y, self.coef_, self.intercept_, penalty=self.penalty, lam=lam
        )
        return self

    def _fista(self, theta, grad, L, l1_lam, d):
        prox = L1(l1_lam, "proximal")
        x_prev = theta.copy()
        v = theta.copy()
        t = 1.0
        for k in range(1, self.max_iter + 1):
            x_new = v - grad(v) / L
            prox.prox([x_new[:d]], 1.0 / L)  # soft-threshold the weights by λ/L (own buffer)
            step = v - x_new
            if L * np.max(np.abs(step)) <= self.tol:
                return x_new, k, True
            if self.accelerate:
                if np.dot(step, x_new - x_prev) > 0:  # momentum points uphill: restart
                    t = 1.0
                    v = x_new.copy()
                else:
                    t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
                    v = x_new + ((t - 1.0) / t_next) * (x_new - x_prev)
                    t = t_next
            else:
                v = x_new.copy()
            x_prev = x_new
        return x_prev, self.max_iter, False

    def _subgradient(self, theta, grad, L, lam, d):
        sub = L1(lam, "subgradient")
        for _ in range(self.max_iter):
            g = grad(theta)
            g[:d] += sub.grad([theta[:d]])[0]
            theta = theta - g / L
        return theta, self.max_iter, False

    # -----------------------------------------------------------------------------------------
    def _fitted(self) -> None:
        if not hasattr(self, "coef_"):
            fail(
                "self",
                "PenalisedLogistic",
                "fitted (call fit first)",
                described("an unfitted model"),
            )

    def _check_X(self, X, owner: str) -> np.ndarray:
        """``X`` checked like :meth:`fit` checks it: real, finite, ``(n >= 1, d)`` with the
        fitted ``d``."""
        d = self.coef_.shape[0]
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] != d:
            fail("X", owner, f"an array of shape (n, {d})", described(f"shape {X.shape}"))
        if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
            fail("X", owner, "a real numeric array", described(f"dtype {X.dtype}"), TypeError)
        X = np.asarray(X, dtype=np.float64)
        if not np.all(np.isfinite(X)):
            fail("X", owner, "finite", described("an array with NaN or inf"))
        return X

    def decision_function(self, X) -> np.ndarray:
        """Logits ``X w + b``, shape ``(n,)``; ``X`` is checked like :meth:`fit` checks it."""
        self._fitted()
        X = self._check_X(X, "PenalisedLogistic")
        return X @ self.coef_ + self.intercept_

    def predict(self, X) -> np.ndarray:
        """Class labels ``(n,)`` (int, 1 where the logit is > 0)."""
        self._fitted()
        X = self._check_X(X, "PenalisedLogistic")
        return (X @ self.coef_ + self.intercept_ > 0).astype(int)

    def score(self, X, y) -> float:
        """Accuracy on ``(X, y)``; ``y`` must be ``n`` labels in {0, 1} (as in :meth:`fit`,
        one class alone is allowed here)."""
        owner = "PenalisedLogistic"
        self._fitted()
        X = self._check_X(X, owner)
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            fail("y", owner, f"a 1-D array of {X.shape[0]} labels", described(f"shape {y.shape}"))
        if not (np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_) or np.issubdtype(
            y.dtype, np.complexfloating
        ):
            fail("y", owner, "labels in {0, 1}", described(f"dtype {y.dtype}"), TypeError)
        if not np.all((y == 0) | (y == 1)):
            vals = np.unique(y[(y != 0) & (y != 1)])[:5].tolist()
            fail("y", owner, "labels in {0, 1}", described(f"values {vals}"))
        pred = (X @ self.coef_ + self.intercept_ > 0).astype(int)
        return float(np.mean(pred == y.astype(int)))

    def __repr__(self) -> str:
        return (
            f"PenalisedLogistic(penalty={self.penalty!r}, lam={self.lam:g}, "
            f"l1_mode={self.l1_mode!r}, tol={self.tol:g}, max_iter={self.max_iter})"
        )
