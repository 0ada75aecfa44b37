"""Dropout's explicit regulariser on one linear layer: exact, Monte Carlo and two theories.

Setting (STUDY.md, chapter 2; also Wager et al. 2013 for input dropout on a GLM). One output
logit is a sum of per-unit *contributions* ``a_ij`` (example ``i``, unit ``j``) plus a bias:
for dropout on the last hidden layer ``a_ij = w_j h_ij``; for input dropout on logistic
regression ``a_ij = w_j x_ij``. Inverted dropout with drop probability ``p`` keeps unit ``j``
with ``m_j ~ Bernoulli(1 − p)`` and rescales the kept ones::

    z_i(m) = Σ_j a_ij m_j / (1 − p) + b,      z̄_i = E_m z_i(m) = Σ_j a_ij + b.

The **explicit regulariser** (Wei, Kakade & Ma 2020) is the gap between the mean loss over
masks and the loss of the deterministic (evaluation-mode) network::

    R(p) = mean_i [ E_m ℓ(z_i(m); y_i) − ℓ(z̄_i; y_i) ]                       (nats)

It is ≥ 0 for a convex ℓ (Jensen: E z = z̄). Two approximations:

1. **Second order** (delta method; Wager et al. 2013, Baldi & Sadowski 2013, Wei et al. 2020):
   ``Var_m z_i = p/(1 − p) · Σ_j a_ij²``, so ``R ≈ ½ · mean_i ℓ''(z̄_i) · Var_m z_i``. Exact
   for squared error; for cross-entropy exact only as the contributions shrink (``a → εa``),
   where ℓ is close to its quadratic over the range z moves.
2. **Single-drop slope** (exact as p → 0, any weights): to first order in p either no unit
   drops (z shifts by ``p(z̄ − b)``) or exactly one unit j drops (``z ≈ z̄ − a_j``), so
   ``R = p · S + O(p²)`` with ``S = mean_i Σ_j D_ℓ(z̄_i − a_ij ‖ z̄_i)`` and the Bregman
   divergence ``D_ℓ(u ‖ v) = ℓ(u) − ℓ(v) − (u − v) ℓ'(v)``: the cost of dropping one unit at a
   time. Replacing ``D_ℓ`` by its quadratic ``½ ℓ''(v) (u − v)²`` gives back (1) at small p.

**Monte Carlo.** ``R`` is estimated as ``E_m D_ℓ(z(m) ‖ z̄)`` (the *Bregman form*,
:func:`regulariser_mc_rates`), not as the raw difference ``E_m ℓ(z(m)) − ℓ(z̄)`` it equals:
``D_ℓ(z(m) ‖ z̄)`` is the raw difference minus ``(z(m) − z̄) ℓ'(z̄)``, a term with mean exactly 0
(``E_m z(m) = z̄``) that only adds noise. On a network trained with dropout, where the loss is
close to its tangent over the range the masks move ``z``, dropping it cuts the variance several
fold at small p (exact enumeration in the tests: about 10× at p = 0.05 on an 8-unit layer).

Worked example (closed form): one unit, squared error ``ℓ(z) = (z − y)²``, ``a = 1, b = 0,
y = 1``: z is ``1/(1 − p)`` with probability ``1 − p`` and 0 otherwise, so
``E ℓ = (1 − p)(p/(1 − p))² + p = p/(1 − p)`` and ``ℓ(z̄) = 0``: R = p/(1 − p), which both
the second-order formula (ℓ'' = 2) and ``p · S`` with ``S = D(0 ‖ 1) = 1`` reproduce to first
order. Pitfall: a *confident* network (a few large ``a_ij`` carry the logit) has ℓ far from
quadratic over a single drop, so (1) can be several times too small even at tiny p while (2)
stays exact there; neither is accurate at p = 0.5.

Losses (``loss=``): ``"binary_ce"``, the binary cross-entropy of a logit with a 0/1 label,
``ℓ(z; y) = log(1 + e^z) − y z`` (ℓ' = σ(z) − y, ℓ'' = σ(z)(1 − σ(z))), and ``"squared"``,
``ℓ(z; y) = (z − y)²``. All functions work in float64 and return means over examples (nats
for cross-entropy).
"""

from __future__ import annotations

import numpy as np

from dropout_study.validation import as_generator, check_float, check_int, described, fail

__all__ = [
    "LOSSES",
    "MAX_EXACT_UNITS",
    "loss_value",
    "regulariser_exact",
    "regulariser_mc",
    "regulariser_second_order",
    "single_drop_slope",
    "bregman",
    "last_layer_contributions",
    "regulariser_mc_rates",
    "ESTIMATORS",
]

LOSSES = ("binary_ce", "squared")
MAX_EXACT_UNITS = 16
"""Exact enumeration visits all ``2^k`` masks; beyond this many units it is refused."""


def _check(a, b, y, loss: str, owner: str):
    A = np.asarray(a, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] == 0 or A.shape[1] == 0:
        fail("a", owner, "a non-empty 2-D array (examples, units)", described(f"shape {A.shape}"))
    if not np.all(np.isfinite(A)):
        fail("a", owner, "finite", described("an array with NaN or inf"))
    n = A.shape[0]
    B = np.broadcast_to(np.asarray(b, dtype=np.float64), (n,))
    Y = np.asarray(y, dtype=np.float64)
    if Y.shape != (n,):
        fail("y", owner, f"an array of shape ({n},)", described(f"shape {Y.shape}"))
    if loss not in LOSSES:
        fail("loss", owner, "one of " + ", ".join(map(repr, LOSSES)), loss)
    if loss == "binary_ce" and not np.all((Y == 0) | (Y == 1)):
        fail("y", owner, "labels in {0, 1} for binary_ce", described("other values"))
    return A, B, Y


def _p(p, owner: str, *, allow_zero: bool = True) -> float:
    return check_float(p, "p", owner, low=0.0, high=1.0, low_open=not allow_zero, high_open=True)


def loss_value(z, y, loss: str = "binary_ce") -> np.ndarray:
    """Elementwise ℓ(z; y) (float64, same shape as ``z``; ``y`` broadcasts)."""
    z = np.asarray(z, dtype=np.float64)
    if loss == "binary_ce":
        return np.logaddexp(0.0, z) - y * z
    if loss == "squared":
        return (z - y) ** 2
    fail("loss", "loss_value", "one of " + ", ".join(map(repr, LOSSES)), loss)


def _d1(z, y, loss):
    if loss == "binary_ce":
        return 0.5 * (1.0 + np.tanh(0.5 * z)) - y  # σ(z) − y, overflow-free
    return 2.0 * (z - y)


def _d2(z, loss):
    if loss == "binary_ce":
        s = 0.5 * (1.0 + np.tanh(0.5 * z))
        return s * (1.0 - s)
    return np.full_like(z, 2.0)


def bregman(u, v, y, loss: str = "binary_ce") -> np.ndarray:
    """Bregman divergence ``D_ℓ(u ‖ v) = ℓ(u) − ℓ(v) − (u − v) ℓ'(v)`` (≥ 0 for convex ℓ)."""
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    return loss_value(u, y, loss) - loss_value(v, y, loss) - (u - v) * _d1(v, y, loss)


def regulariser_exact(a, b, y, p, *, loss: str = "binary_ce") -> float:
    """``R(p)`` by enumerating all ``2^k`` masks (``k ≤ MAX_EXACT_UNITS``), each weighted by
    ``(1 − p)^{kept} p^{dropped}``. ``a``: (n, k) contributions; ``b``: bias, scalar or (n,);
    ``y``: (n,) targets. Returns the mean over examples (float). ``R(0) = 0`` exactly."""
    owner = "regulariser_exact"
    A, B, Y = _check(a, b, y, loss, owner)
    p = _p(p, owner)
    k = A.shape[1]
    if k > MAX_EXACT_UNITS:
        fail("a", owner, f"at most {MAX_EXACT_UNITS} units for exact enumeration", k)
    zbar = A.sum(axis=1) + B
    base = loss_value(zbar, Y, loss)
    if p == 0.0:
        return 0.0
    masks = ((np.arange(2**k)[:, None] >> np.arange(k)[None, :]) & 1).astype(np.float64)
    kept = masks.sum(axis=1)
    weight = (1.0 - p) ** kept * p ** (k - kept)  # (2^k,)
    total = np.zeros(A.shape[0])
    chunk = max(1, 2**22 // max(1, A.shape[0]))
    for s in range(0, masks.shape[0], chunk):
        z = A @ masks[s : s + chunk].T / (1.0 - p) + B[:, None]  # (n, chunk)
        total += loss_value(z, Y[:, None], loss) @ weight[s : s + chunk]
    return float(np.mean(total - base))


def regulariser_mc(a, b, y, p, *, n_masks: int = 1000, rng=0, loss: str = "binary_ce"):
    """Monte-Carlo ``R(p)`` over ``n_masks`` masks (one mask shared by all examples per draw,
    as in a full-batch step). Returns ``(estimate, standard_error)`` over the draws."""
    owner = "regulariser_mc"
    A, B, Y = _check(a, b, y, loss, owner)
    p = _p(p, owner)
    n_masks = check_int(n_masks, "n_masks", owner, low=2)
    rng = as_generator(rng, "rng", owner)
    zbar = A.sum(axis=1) + B
    base = float(np.mean(loss_value(zbar, Y, loss)))
    keep = (rng.random((n_masks, A.shape[1])) >= p).astype(np.float64)
    per_mask = np.empty(n_masks)
    for t in range(n_masks):
        z = A @ keep[t] / (1.0 - p) + B
        per_mask[t] = np.mean(loss_value(z, Y, loss))
    gaps = per_mask - base
    return float(gaps.mean()), float(gaps.std(ddof=1) / np.sqrt(n_masks))


def regulariser_second_order(a, b, y, p, *, loss: str = "binary_ce") -> float:
    """Delta-method ``R ≈ ½ · mean_i ℓ''(z̄_i) · p/(1 − p) · Σ_j a_ij²`` (see module doc)."""
    owner = "regulariser_second_order"
    A, B, Y = _check(a, b, y, loss, owner)
    p = _p(p, owner)
    zbar = A.sum(axis=1) + B
    var = p / (1.0 - p) * np.sum(A * A, axis=1)
    return float(0.5 * np.mean(_d2(zbar, loss) * var))


def single_drop_slope(a, b, y, *, loss: str = "binary_ce") -> float:
    """``S = mean_i Σ_j D_ℓ(z̄_i − a_ij ‖ z̄_i)``: the exact slope ``dR/dp`` at ``p = 0``, so
    ``R(p) = p · S + O(p²)`` (see module doc)."""
    A, B, Y = _check(a, b, y, loss, "single_drop_slope")
    zbar = (A.sum(axis=1) + B)[:, None]
    return float(np.mean(np.sum(bregman(zbar - A, zbar, Y[:, None], loss), axis=1)))


def last_layer_contributions(model, X) -> tuple[np.ndarray, float]:
    """Contributions ``a_ij = h_ij w_j`` (float64, shape ``(n, k)``) of the ``k`` units of the
    last hidden layer of a one-logit :class:`~dropout_study.nn.mlp.MLP` to its logit, and the
    output bias ``b``: in evaluation mode the logit is ``Σ_j a_ij + b``, and with inverted
    dropout on that layer only, ``Σ_j a_ij m_ij / (1 − p) + b`` (STUDY.md, chapter 2).

    ``model`` must have hidden layers and one output unit; ``X`` is ``(n, d)``. Dropout
    before the last hidden layer is ignored here (evaluation-mode ``h``).
    """
    owner = "last_layer_contributions"
    sizes = getattr(model, "layer_sizes", None)
    if sizes is None or len(sizes) < 3 or sizes[-1] != 1:
        fail("model", owner, "an MLP with hidden layers and one output unit", model, TypeError)
    h = np.asarray(model.hidden(X, layer=-1), dtype=np.float64)
    dense = model.dense[-1]
    w = np.asarray(dense.W, dtype=np.float64)[:, 0]
    return h * w, float(np.asarray(dense.b, dtype=np.float64).ravel()[0])


ESTIMATORS = ("bregman", "raw", "control_variate")
"""The Monte Carlo forms of :func:`regulariser_mc_rates` (see there)."""


def regulariser_mc_rates(
    a,
    b,
    y,
    rates,
    *,
    n_masks: int = 400,
    rng=0,
    loss: str = "binary_ce",
    chunk: int = 50,
    estimator: str = "bregman",
):
    """Monte-Carlo ``R(p)`` for every rate in ``rates`` with **per-example** masks (as the
    network's own dropout layer draws them: one independent keep mask per example and unit)
    and common random numbers: draw ``t`` keeps unit ``j`` of example ``i`` where
    ``U_tij >= p``, the same ``U`` for every rate.

    ``a``: (n, k) contributions; ``b``: bias; ``y``: (n,) targets; ``rates``: floats in
    [0, 1). Returns ``(estimate, standard_error)``, two float64 arrays of shape
    ``(len(rates),)`` in nats: the mean over the ``n_masks`` draws of a per-draw value ``g_t``
    and its standard error over the draws (exactly 0 and 0 at p = 0). ``estimator``:

    - ``"bregman"`` (default): ``g_t = mean_i D_ℓ(z_i(m_t) ‖ z̄_i)``, the Bregman divergence
      of the module docstring. Since ``E_m z_i(m) = z̄_i``, the linear term
      ``(z_i(m) − z̄_i) ℓ'(z̄_i)`` that separates it from the raw form has mean exactly 0, so
      both forms estimate the same R; the Bregman form drops that zero-mean noise, and each
      draw is ≥ 0 for a convex ℓ. Its variance is smaller wherever the loss is close to its
      tangent over the range the masks move ``z`` — as on a network trained with dropout
      (tested by exact enumeration in ``tests/measures/test_dropout_theory.py``);
    - ``"raw"``: ``g_t = mean_i ℓ(z_i(m_t)) − ℓ(z̄_i)``, the definition as it reads;
    - ``"control_variate"``: the raw form minus ``β (c_t − p S)``, with the single-drop sum of
      the same draw ``c_t = mean_i Σ_j [m_tij = 0] · D_ℓ(z̄_i − a_ij ‖ z̄_i)``, whose exact
      mean is ``p · S`` (:func:`single_drop_slope`), and the regression coefficient
      ``β = cov(g, c) / var(c)`` (the standard control-variate estimator, bias of order
      1/n_masks).
    """
    owner = "regulariser_mc_rates"
    A, B, Y = _check(a, b, y, loss, owner)
    ps = [_p(p, owner) for p in np.atleast_1d(np.asarray(rates, dtype=np.float64))]
    n_masks = check_int(n_masks, "n_masks", owner, low=2)
    chunk = check_int(chunk, "chunk", owner, low=1)
    if estimator not in ESTIMATORS:
        fail("estimator", owner, "one of " + ", ".join(map(repr, ESTIMATORS)), estimator)
    rng = as_generator(rng, "rng", owner)
    zbar = A.sum(axis=1) + B
    base = loss_value(zbar, Y, loss)
    slope = _d1(zbar, Y, loss)  # ℓ'(z̄_i)
    D = bregman(zbar[:, None] - A, zbar[:, None], Y[:, None], loss)  # (n, k)
    S = float(np.mean(D.sum(axis=1)))
    draws = np.zeros((len(ps), n_masks))
    controls = np.zeros((len(ps), n_masks))
    for s in range(0, n_masks, chunk):
        u = rng.random((min(chunk, n_masks - s),) + A.shape)
        sl = slice(s, s + u.shape[0])
        for i, p in enumerate(ps):
            if p == 0.0:
                continue
            keep = u >= p
            z = np.einsum("tnk,nk->tn", keep, A) / (1.0 - p) + B
            g = loss_value(z, Y, loss) - base
            if estimator == "bregman":
                g = g - (z - zbar) * slope
            draws[i, sl] = np.mean(g, axis=1)
            if estimator == "control_variate":
                controls[i, sl] = np.einsum("tnk,nk->t", ~keep, D) / A.shape[0]
    if estimator == "control_variate":
        for i, p in enumerate(ps):
            var_c = controls[i].var()
            if p > 0.0 and var_c > 0:
                beta = np.mean((draws[i] - draws[i].mean()) * (controls[i] - controls[i].mean()))
                draws[i] = draws[i] - beta / var_c * (controls[i] - p * S)
    est = draws.mean(axis=1)
    se = draws.std(axis=1, ddof=1) / np.sqrt(n_masks)
    return est, se
