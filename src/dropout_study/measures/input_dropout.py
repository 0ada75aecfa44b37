"""Input dropout on linear and logistic regression: the paper's ridge identity and Wager's
adaptive L2.

**Linear regression (Srivastava et al. 2014, §9.1).** Inputs ``X`` (n, d), targets ``y`` (n,),
weights ``w`` (d,), an intercept ``b`` that is never dropped and never penalised, and an
``(n, d)`` mask ``R`` of independent Bernoulli entries (one per example and feature). With
``Γ = diag(XᵀX)^{1/2}`` (raw, uncentred columns) and objectives written as *means over
examples* (the paper's sums divided by ``n``):

- ``form="retention"`` (the paper's convention: ``R_ij ~ Bernoulli(q)``, ``q`` the *retention*
  probability — Srivastava's ``p`` — kept inputs not rescaled)::

      E_R ‖y − (R∗X)w − b‖² / n = ‖y − qXw − b‖² / n + q(1 − q) ‖Γw‖² / n

- ``form="inverted"`` (the study's convention: drop probability ``p``, kept inputs scaled by
  ``1/(1 − p)``)::

      E_R ‖y − (R∗X)w/(1 − p) − b‖² / n = ‖y − Xw − b‖² / n + p/(1 − p) ‖Γw‖² / n

Both minimisers are a ridge regression with the data-dependent penalty ``λ‖Γw‖²``,
``λ = p/(1 − p) = (1 − q)/q``; the retention form's weights are the inverted form's divided
by ``q`` (the paper's "weights scaled by p" at test time).

**Logistic regression (Wager, Wang & Liang 2013).** The dropout penalty of input dropout with
contributions ``a_ij = w_j x_ij`` is ``R(w) = mean_i E_m ℓ(z_i(m)) − ℓ(z̄_i)``; its
quadratic approximation is ``½ · mean_i σ(z̄_i)(1 − σ(z̄_i)) · p/(1 − p) · Σ_j x_ij² w_j²``
(their eq. 5–6, an L2 penalty whose weights adapt to the data). Both are evaluated with
:mod:`dropout_study.measures.dropout_theory`; this module adds the two training objectives
and their minimisers (Monte Carlo with fixed common masks — a sample-average approximation —
and the quadratic).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize

from dropout_study.validation import as_generator, check_choice, check_float, check_int, fail

__all__ = [
    "FORMS",
    "gamma",
    "penalty_strength",
    "objective_closed",
    "objective_mc",
    "solve_closed",
    "sgd_input_dropout",
    "logistic_dropout_objective",
    "logistic_quadratic_objective",
    "fit_logistic",
]

FORMS = ("retention", "inverted")


def _xy(X, y, owner):
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.shape != (X.shape[0],) or X.shape[0] < 1:
        fail("X", owner, "an (n, d) array with y of shape (n,)", f"shapes {X.shape}, {y.shape}")
    return X, y


def _rate(rate, form, owner):
    check_choice(form, "form", owner, FORMS)
    if form == "retention":
        return check_float(rate, "rate", owner, low=0.0, high=1.0, low_open=True)
    return check_float(rate, "rate", owner, low=0.0, high=1.0, high_open=True)


def gamma(X) -> np.ndarray:
    """``diag(XᵀX)^{1/2}``: the root sum of squares of each raw column, shape ``(d,)``."""
    X = np.asarray(X, dtype=np.float64)
    return np.sqrt(np.sum(X * X, axis=0))


def penalty_strength(rate: float, form: str) -> float:
    """``λ = p/(1 − p)`` (inverted, ``rate = p``) or ``(1 − q)/q`` (retention, ``rate = q``)."""
    r = _rate(rate, form, "penalty_strength")
    return (1.0 - r) / r if form == "retention" else r / (1.0 - r)


def objective_closed(X, y, w, b, rate: float, form: str) -> float:
    """The right-hand side of the §9.1 identity (see module doc), mean over examples."""
    X, y = _xy(X, y, "objective_closed")
    r = _rate(rate, form, "objective_closed")
    w = np.asarray(w, dtype=np.float64)
    gw = gamma(X) * w
    if form == "retention":
        res = y - r * (X @ w) - b
        return float((res @ res + r * (1.0 - r) * (gw @ gw)) / X.shape[0])
    res = y - X @ w - b
    return float((res @ res + r / (1.0 - r) * (gw @ gw)) / X.shape[0])


def objective_mc(X, y, w, b, rate: float, form: str, *, n_masks: int = 1000, rng=0):
    """Monte-Carlo estimate of ``E_R ‖y − (R∗X)w(·scale) − b‖² / n`` over ``n_masks`` draws of
    the full ``(n, d)`` mask; returns ``(mean, standard_error)``."""
    owner = "objective_mc"
    X, y = _xy(X, y, owner)
    r = _rate(rate, form, owner)
    n_masks = check_int(n_masks, "n_masks", owner, low=2)
    rng = as_generator(rng, "rng", owner)
    keep = r if form == "retention" else 1.0 - r
    scale = 1.0 if form == "retention" else 1.0 / (1.0 - r)
    w = np.asarray(w, dtype=np.float64)
    vals = np.empty(n_masks)
    for t in range(n_masks):
        R = rng.random(X.shape) < keep
        res = y - (X * R) @ w * scale - b
        vals[t] = res @ res / X.shape[0]
    return float(vals.mean()), float(vals.std(ddof=1) / np.sqrt(n_masks))


def solve_closed(X, y, rate: float, form: str) -> tuple[np.ndarray, float]:
    """Minimiser ``(w, b)`` of the expected dropout objective: the normal equations of
    ``‖y − Xv − b‖² + λ‖Γv‖²`` (intercept unpenalised), then ``w = v`` (inverted) or
    ``w = v / q`` (retention)."""
    X, y = _xy(X, y, "solve_closed")
    r = _rate(rate, form, "solve_closed")
    lam = penalty_strength(r, form)
    n, d = X.shape
    A = np.empty((d + 1, d + 1))
    A[:d, :d] = X.T @ X + lam * np.diag(gamma(X) ** 2)
    A[:d, d] = A[d, :d] = X.sum(axis=0)
    A[d, d] = n
    sol = np.linalg.solve(A, np.concatenate([X.T @ y, [y.sum()]]))
    v, b = sol[:d], float(sol[d])
    return (v / r if form == "retention" else v), b


def sgd_input_dropout(
    X, y, p: float, *, n_steps: int, batch_size: int = 16, lr: float = 0.05, rng=0
) -> dict:
    """Minibatch SGD on the squared error with inverted input dropout at drop rate ``p`` (a
    fresh ``(batch, d)`` mask per step; intercept never dropped), with a fixed diagonal
    preconditioner (coordinate ``j``'s step divided by ``(1 + λ) · mean_i x_ij²``, the
    intercept's by 1), which changes the path, not the fixed point. Constant step ``lr`` and
    Polyak–Ruppert averaging of the iterates over the second half of the run.

    Returns ``{"w_last", "b_last", "w_avg", "b_avg", "objective_trace" (every 1 % of the
    steps: the closed-form objective at the running average)}``.
    """
    owner = "sgd_input_dropout"
    X, y = _xy(X, y, owner)
    p = check_float(p, "p", owner, low=0.0, high=1.0, high_open=True)
    n_steps = check_int(n_steps, "n_steps", owner, low=2)
    batch_size = check_int(batch_size, "batch_size", owner, low=1)
    lr = check_float(lr, "lr", owner, low=0.0, low_open=True)
    rng = as_generator(rng, "rng", owner)
    n, d = X.shape
    lam = p / (1.0 - p)
    precond = np.concatenate([1.0 / ((1.0 + lam) * np.mean(X * X, axis=0)), [1.0]])
    theta = np.zeros(d + 1)
    theta[d] = y.mean()
    avg = np.zeros(d + 1)
    n_avg = 0
    start = n_steps // 2
    trace_every = max(1, n_steps // 100)
    trace = []
    for t in range(n_steps):
        idx = rng.integers(0, n, size=batch_size)
        Xb = X[idx] * (rng.random((batch_size, d)) >= p) / (1.0 - p)
        res = Xb @ theta[:d] + theta[d] - y[idx]
        grad = np.concatenate([2.0 * Xb.T @ res, [2.0 * res.sum()]]) / batch_size
        theta -= lr * precond * grad
        if t >= start:
            n_avg += 1
            avg += (theta - avg) / n_avg
        if (t + 1) % trace_every == 0:
            cur = avg if n_avg else theta
            trace.append(objective_closed(X, y, cur[:d], cur[d], p, "inverted"))
    return {
        "w_last": theta[:d].copy(),
        "b_last": float(theta[d]),
        "w_avg": avg[:d].copy(),
        "b_avg": float(avg[d]),
        "objective_trace": np.asarray(trace),
    }


# ---------------------------------------------------------------------------------------------
# Logistic regression (Wager et al. 2013)
# ---------------------------------------------------------------------------------------------
def _sig(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def logistic_dropout_objective(theta, X, y, p: float, keep) -> tuple[float, np.ndarray]:
    """Mean binary cross-entropy (nats) over examples *and* the ``M`` fixed masks ``keep``
    (``(M, n, d)`` bool), inverted input dropout at rate ``p``; ``theta = [w, b]``. Returns
    ``(value, gradient)``: the sample-average approximation of the dropout objective."""
    d = X.shape[1]
    w, b = theta[:d], theta[d]
    Xm = keep * X[None] / (1.0 - p)  # (M, n, d)
    z = Xm @ w + b  # (M, n)
    val = np.mean(np.logaddexp(0.0, z) - y[None] * z)
    g = (_sig(z) - y[None]) / z.size
    return float(val), np.concatenate([np.einsum("mn,mnd->d", g, Xm), [g.sum()]])


def logistic_quadratic_objective(theta, X, y, p: float) -> tuple[float, np.ndarray]:
    """Mean binary cross-entropy of the deterministic model plus Wager's quadratic penalty
    ``½ mean_i s_i(1 − s_i) λ Σ_j x_ij² w_j²`` (``s_i = σ(z̄_i)``, ``λ = p/(1 − p)``); returns
    ``(value, gradient)`` with respect to ``theta = [w, b]``."""
    d = X.shape[1]
    w, b = theta[:d], theta[d]
    lam = p / (1.0 - p)
    n = X.shape[0]
    z = X @ w + b
    s = _sig(z)
    v = s * (1.0 - s)
    q = (X * X) @ (w * w)  # Σ_j x_ij² w_j²
    val = np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * lam * np.mean(v * q)
    dz = (s - y) / n + 0.5 * lam * v * (1.0 - 2.0 * s) * q / n
    gw = X.T @ dz + lam * ((X * X).T @ v) * w / n
    return float(val), np.concatenate([gw, [dz.sum()]])


def fit_logistic(X, y, p: float, *, kind: str, n_masks: int = 64, rng=0) -> np.ndarray:
    """Minimise the dropout objective (``kind="mc"``, ``n_masks`` fixed masks from ``rng``) or
    the quadratic one (``kind="quadratic"``) with L-BFGS from zero; returns ``theta = [w, b]``
    (float64, shape ``(d + 1,)``)."""
    owner = "fit_logistic"
    X, y = _xy(X, y, owner)
    p = check_float(p, "p", owner, low=0.0, high=1.0, high_open=True)
    check_choice(kind, "kind", owner, ("mc", "quadratic"))
    theta0 = np.zeros(X.shape[1] + 1)
    args: tuple
    fun: Callable[..., tuple[float, np.ndarray]]
    if kind == "mc":
        rng = as_generator(rng, "rng", owner)
        keep = rng.random((check_int(n_masks, "n_masks", owner, low=1),) + X.shape) >= p
        args = (X, y, p, keep)
        fun = logistic_dropout_objective
    else:
        args = (X, y, p)
        fun = logistic_quadratic_objective
    res = minimize(
        fun, theta0, args=args, jac=True, method="L-BFGS-B", options={"maxiter": 2000, "gtol": 1e-9}
    )
    return res.x
