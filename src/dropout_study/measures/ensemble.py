"""Dropout networks as ensembles: Monte-Carlo averaging of thinned networks, and exact
enumeration of all masks of a small layer (Baldi & Sadowski 2013).

Terms. A *thinned network* is the trained network with one fixed keep mask per dropout layer,
shared by every input (Srivastava et al. 2014, §2 and §7.5, Fig. 11). The *weight-scaled*
network is the evaluation-mode network: with the study's *inverted* dropout (drop probability
``p``, kept units scaled by ``1/(1 − p)`` in training) it is the network with no mask at all;
in Srivastava's convention (``p`` there is the *retention* probability ``q = 1 − p``, no
scaling in training) the outgoing weights are multiplied by ``q`` at test time. Both give the
same function.

*Monte-Carlo averaging* over ``k`` thinned networks averages their predicted class
probabilities (softmax outputs) and predicts the arg-max.

Baldi & Sadowski (2013, §3–4): for one sigmoid output ``O = σ(S)`` of a layer with dropout,
``S(m) = Σ_j a_j m_j / (1 − p) + b`` with contributions ``a_j = w_j h_j``, the *normalised
geometric mean* over masks ``NWGM = G / (G + G')`` with ``G = Π_m σ(S(m))^{P(m)}`` and
``G' = Π_m (1 − σ(S(m)))^{P(m)}`` equals ``σ(E S)`` exactly (``log G − log G' = E S``), and
``E S = Σ_j a_j + b`` is the weight-scaled network's logit. The ensemble's mean output
``E σ(S)`` differs from it; that gap is what :func:`sigmoid_moments` measures.
"""

from __future__ import annotations

import numpy as np

from dropout_study.nn.losses import sigmoid, softmax
from dropout_study.nn.mlp import MLP
from dropout_study.validation import as_generator, check_float, check_int, described, fail

__all__ = [
    "MAX_ENUMERATED_UNITS",
    "enumerate_masks",
    "mask_probabilities",
    "thinned_logits",
    "draw_thinned",
    "mc_error_curve",
    "sigmoid_moments",
]

MAX_ENUMERATED_UNITS = 16


def enumerate_masks(n_units: int) -> np.ndarray:
    """All ``2^n`` keep masks of ``n_units`` units as a ``(2^n, n)`` bool array; row ``r``
    keeps unit ``j`` iff bit ``j`` of ``r`` is set. ``n_units`` in ``[1, 16]``."""
    n = check_int(n_units, "n_units", "enumerate_masks", low=1, high=MAX_ENUMERATED_UNITS)
    return ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)


def mask_probabilities(masks, p: float) -> np.ndarray:
    """``P(m) = (1 − p)^{kept} p^{dropped}`` for each row of ``masks`` (``(M, n)`` bool),
    drop probability ``p`` in ``[0, 1)``. Sums to 1 over :func:`enumerate_masks`."""
    p = check_float(p, "p", "mask_probabilities", low=0.0, high=1.0, high_open=True)
    m = np.asarray(masks, dtype=bool)
    kept = m.sum(axis=1)
    return (1.0 - p) ** kept * p ** (m.shape[1] - kept)


def _last_only(model: MLP) -> bool:
    """Only the dropout layer after the last hidden activation can be active."""
    active = [d for d in model.dropouts if d.p > 0]
    return len(active) <= 1 and (not active or active[0] is model.layers[-2])


def thinned_logits(model: MLP, X, keep) -> np.ndarray:
    """Logits ``(n, k)`` of the thinned network given by ``keep``: a list with one 1-D bool
    keep vector per dropout layer of ``model`` (``None`` for a layer with ``p = 0``), each
    shared by all ``n`` inputs. Kept units are scaled by ``1/(1 − p)`` (inverted dropout).

    For a network whose only active dropout layer is the last one, the hidden activations are
    computed once and the last dense layer applied to ``h · m / (1 − p)``; otherwise a
    training-mode forward pass with the broadcast masks is used (the same numbers).
    """
    owner = "thinned_logits"
    if not isinstance(model, MLP):
        fail("model", owner, "an MLP", type(model).__name__, TypeError)
    X = model._check_X(X)
    if not isinstance(keep, list | tuple) or len(keep) != len(model.dropouts):
        fail("keep", owner, f"a list of {len(model.dropouts)} keep vectors", keep, TypeError)
    if _last_only(model) and model.dropouts and model.dropouts[-1].p > 0:
        d = model.dropouts[-1]
        m = np.asarray(keep[-1], dtype=bool)
        last = model.dense[-1]
        if m.shape != (last.W.shape[0],):
            fail("keep", owner, f"vectors of shape ({last.W.shape[0]},)", described(str(m.shape)))
        h = model.hidden(X, -1)
        return (h * (m / (1.0 - d.p))) @ last.W + last.b
    masks = []
    for m in keep:
        masks.append(None if m is None else np.broadcast_to(m, (X.shape[0], len(m))).copy())
    return model.forward(X, training=True, masks=masks)


def draw_thinned(model: MLP, rng) -> list:
    """One thinned network's keep vectors (see :func:`thinned_logits`), drawn from ``rng``:
    unit ``j`` kept iff ``u_j ≥ p`` for a uniform ``u_j``."""
    rng = as_generator(rng, "rng", "draw_thinned")
    widths = [s[1] for s in model.mask_shapes(1)]
    out = []
    for d, w in zip(model.dropouts, widths, strict=True):
        out.append(rng.random(w) >= d.p if d.p > 0 else None)
    return out


def mc_error_curve(model: MLP, X, y, ks, rng, *, n_repeats: int = 1) -> np.ndarray:
    """Test error (fraction, 0–1) of Monte-Carlo averaging over ``k`` thinned networks for each
    ``k`` in ``ks`` (increasing ints ≥ 1), averaged over ``n_repeats`` independent sequences
    of ``max(ks)`` networks; within a sequence the ``k``-average uses its first ``k``
    networks. Returns shape ``(len(ks),)``."""
    owner = "mc_error_curve"
    ks = [check_int(k, "ks", owner, low=1) for k in ks]
    if not ks or any(b <= a for a, b in zip(ks, ks[1:], strict=False)):
        fail("ks", owner, "a non-empty increasing list of ints >= 1", ks)
    n_repeats = check_int(n_repeats, "n_repeats", owner, low=1)
    rng = as_generator(rng, "rng", owner)
    y = np.asarray(y)
    X = model._check_X(X)
    fast = _last_only(model) and model.dropouts and model.dropouts[-1].p > 0
    if fast:  # the hidden activations do not depend on the mask: compute them once
        h, last, keep = model.hidden(X, -1), model.dense[-1], 1.0 - model.dropouts[-1].p

    errors = np.zeros(len(ks))
    K = ks[-1]
    for _ in range(n_repeats):
        if fast:  # all K networks in a few matrix products (same draws as draw_thinned)
            keep_all = rng.random((K, h.shape[1])) >= model.dropouts[-1].p
            probs = []
            for s in range(0, K, 32):
                M = keep_all[s : s + 32] / keep  # (B, W)
                B, C = M.shape[0], last.W.shape[1]
                Wcat = (M[:, :, None] * last.W[None]).transpose(1, 0, 2).reshape(-1, B * C)
                z = (h @ Wcat).reshape(h.shape[0], B, C) + last.b
                probs.append(softmax(z.reshape(-1, C)).reshape(h.shape[0], B, C))
            cum = np.cumsum(np.concatenate(probs, axis=1), axis=1)  # (n, K, C)
            for i, k in enumerate(ks):
                errors[i] += np.mean(np.argmax(cum[:, k - 1], axis=1) != y)
            continue
        total: float | np.ndarray = 0.0
        i = 0
        for t in range(1, K + 1):
            total = total + softmax(thinned_logits(model, X, draw_thinned(model, rng)))
            if t == ks[i]:
                errors[i] += np.mean(np.argmax(total, axis=1) != y)
                i += 1
    return errors / n_repeats


def sigmoid_moments(a, b, p: float) -> dict:
    """Exact moments of a sigmoid unit over all ``2^n`` dropout masks (Baldi & Sadowski 2013).

    ``a``: ``(N, n)`` contributions ``a_ij = w_j h_ij`` (``n ≤ 16``); ``b``: bias (scalar);
    ``p``: drop probability in ``[0, 1)`` (inverted dropout, ``S = Σ_j a_ij m_j/(1 − p) + b``).
    Returns float64 arrays of shape ``(N,)``: ``mean_sigma`` = E σ(S), ``sigma_mean`` =
    σ(E S) (the weight-scaled output), ``nwgm`` = the normalised geometric mean of σ(S)
    (computed from the log-geometric means, not from ``E S``), ``mean_s`` = E S; and
    ``sd_sigma`` = the standard deviation of σ(S) over masks.
    """
    owner = "sigmoid_moments"
    A = np.asarray(a, dtype=np.float64)
    if A.ndim != 2 or A.shape[1] > MAX_ENUMERATED_UNITS or A.size == 0:
        fail("a", owner, "a non-empty (N, n) array with n <= 16", described(f"shape {A.shape}"))
    p = check_float(p, "p", owner, low=0.0, high=1.0, high_open=True)
    masks = enumerate_masks(A.shape[1])
    prob = mask_probabilities(masks, p)
    scaled = masks / (1.0 - p)
    N = A.shape[0]
    m1 = np.zeros(N)
    m2 = np.zeros(N)
    log_g = np.zeros(N)
    log_g1 = np.zeros(N)
    mean_s = np.zeros(N)
    chunk = max(1, 2**21 // N)
    for s in range(0, masks.shape[0], chunk):
        S = A @ scaled[s : s + chunk].T + float(b)  # (N, chunk)
        w = prob[s : s + chunk]
        ls, ls1 = -np.logaddexp(0.0, -S), -np.logaddexp(0.0, S)  # log σ(S), log σ(−S)
        sig = np.exp(ls)
        m1 += sig @ w
        m2 += (sig * sig) @ w
        log_g += ls @ w
        log_g1 += ls1 @ w
        mean_s += S @ w
    nwgm = 1.0 / (1.0 + np.exp(log_g1 - log_g))
    return {
        "mean_sigma": m1,
        "sigma_mean": sigmoid(A.sum(axis=1) + float(b)),
        "nwgm": nwgm,
        "mean_s": mean_s,
        "sd_sigma": np.sqrt(np.maximum(m2 - m1 * m1, 0.0)),
    }
