"""How far a dropout ensemble's mean output is from the weight-scaled output: Baldi & Sadowski's
normalised geometric mean (NWGM), their first-order estimate of the gap, and the delta method.

Setting (Baldi & Sadowski 2013, "Understanding dropout", NeurIPS, §3–5). One sigmoid output
``O = σ(S)`` whose logit sums per-unit *contributions* ``a_j = w_j h_j`` of the **last hidden
layer** (example ``i``; the masks of earlier layers are not modelled) plus a bias ``b``. Two mask
forms (``form=``):

- ``"inverted"`` (this study; drop probability ``p``, kept units scaled by ``1/(1 − p)``):
  ``S = Σ_j a_j m_j / (1 − p) + b``, ``E S = Σ_j a_j + b``, ``Var S = p/(1 − p) · Σ_j a_j²``;
- ``"retention"`` (Srivastava et al. and Baldi & Sadowski; retention ``q``, no rescaling):
  ``S = Σ_j a_j m_j + b``, ``E S = q Σ_j a_j + b``, ``Var S = q(1 − q) · Σ_j a_j²``.

(``m_j`` independent Bernoulli keeps; the variances are sums of independent Bernoulli variances.)
In both, ``E S`` is the logit of the weight-scaled network.

Quantities, per example (float64, shape ``(N,)``):

- ``E = E_m σ(S)`` and ``V = Var_m σ(S)``: the ensemble's mean output and its variance over masks.
- ``NWGM = G / (G + G')`` with ``log G = E log σ(S)`` and ``log G' = E log(1 − σ(S))``. Since
  ``log σ(S) − log(1 − σ(S)) = S``, ``log G − log G' = E S``, so **NWGM = σ(E S) exactly**
  (their eq. 9–11; an identity, checked to rounding).
- The **gap** ``E − σ(E S) = E − NWGM`` (probability units).
- Their **first-order estimate** (their §5; a second-order expansion of ``log σ`` and
  ``log(1 − σ)`` around ``E``): ``E − NWGM ≈ V (1 − 2E) / (2 E (1 − E))``. Derivation:
  ``E log O ≈ log E − V/(2E²)`` and ``E log(1 − O) ≈ log(1 − E) − V/(2(1 − E)²)``, so
  ``log G − log G' ≈ logit E − δ`` with ``δ = V(1 − 2E)/(2E²(1 − E)²)``, and
  ``NWGM ≈ E − E(1 − E) δ``. It predicts the **sign** of the gap, that of ``1 − 2E``: the
  ensemble mean is pulled towards ½.
- The **delta-method** form (a second-order expansion of ``σ`` around ``E S``):
  ``E σ(S) − σ(E S) ≈ ½ σ''(E S) · Var S`` with ``σ'' = σ(1 − σ)(1 − 2σ)``.

Both estimates are exact to leading order as the contributions shrink (``a → εa``: the gap and
the estimates are ``O(ε²)`` and their ratio tends to 1); neither claims a fixed accuracy at
large ``Var S`` (Baldi & Sadowski give bounds that grow with the variance, not a margin).

Summary over examples (:func:`aligned_ratio`): the per-example ratio gap/estimate blows up where
``E ≈ ½`` (both near 0), and a plain mean of signed gaps cancels across ``E < ½`` and ``E > ½``.
So the ratio is taken of sums *in the direction the estimate predicts*:
``Σ_i gap_i · sign(est_i) / Σ_i |est_i|`` — the mean gap over the mean estimate when every sign
agrees, and smaller when some gaps have the other sign. Worked example: gaps ``(0.02, −0.01)``
with estimates ``(0.01, −0.01)`` give ``(0.02 + 0.01)/(0.01 + 0.01) = 1.5``.

Exact moments come from enumerating all ``2^n`` masks (``n ≤ 16``,
:func:`dropout_study.measures.ensemble.sigmoid_moments`); wider layers use Monte Carlo over
``n_masks`` masks shared by every example (:func:`moments_mc`, with the standard error of the
mean output).
"""

from __future__ import annotations

import numpy as np

from dropout_study.measures.ensemble import MAX_ENUMERATED_UNITS, sigmoid_moments
from dropout_study.nn.losses import sigmoid
from dropout_study.validation import (
    as_generator,
    check_choice,
    check_float,
    check_int,
    described,
    fail,
)

__all__ = [
    "FORMS",
    "var_logit",
    "mean_logit",
    "moments_exact",
    "moments_mc",
    "first_order_estimate",
    "delta_estimate",
    "aligned_ratio",
    "sign_agreement",
]

FORMS = ("inverted", "retention")


def _contrib(a, owner: str) -> np.ndarray:
    A = np.asarray(a, dtype=np.float64)
    if A.ndim != 2 or A.size == 0:
        fail("a", owner, "a non-empty (N, n) array", described(f"shape {A.shape}"))
    if not np.all(np.isfinite(A)):
        fail("a", owner, "finite", described("an array with NaN or inf"))
    return A


def _rate(p, form: str, owner: str) -> float:
    check_choice(form, "form", owner, FORMS)
    if form == "inverted":
        return check_float(p, "p", owner, low=0.0, high=1.0, high_open=True)
    return check_float(p, "p", owner, low=0.0, high=1.0, low_open=True)


def mean_logit(a, b, p: float, form: str = "inverted") -> np.ndarray:
    """``E S`` per example, ``(N,)``: ``Σ_j a_j + b`` (inverted) or ``q Σ_j a_j + b``
    (retention, ``p`` is then the retention ``q``)."""
    A = _contrib(a, "mean_logit")
    r = _rate(p, form, "mean_logit")
    return (A.sum(axis=1) if form == "inverted" else r * A.sum(axis=1)) + float(b)


def var_logit(a, p: float, form: str = "inverted") -> np.ndarray:
    """``Var_m S`` per example, ``(N,)``: ``p/(1 − p) Σ_j a_j²`` for inverted masks (drop rate
    ``p``), ``q(1 − q) Σ_j a_j²`` for the paper's masks (``p`` is then the retention ``q``)."""
    A = _contrib(a, "var_logit")
    r = _rate(p, form, "var_logit")
    factor = r / (1.0 - r) if form == "inverted" else r * (1.0 - r)
    return factor * np.sum(A * A, axis=1)


def moments_exact(a, b, p: float) -> dict:
    """Exact moments over all ``2^n`` inverted masks (drop rate ``p``, ``n ≤ 16``):
    ``mean_sigma`` (E), ``var_sigma`` (V), ``sigma_mean`` (σ(E S)), ``nwgm`` (from the
    log-geometric means), ``mean_s`` (E S by enumeration), each ``(N,)`` float64."""
    A = _contrib(a, "moments_exact")
    if A.shape[1] > MAX_ENUMERATED_UNITS:
        fail(
            "a",
            "moments_exact",
            f"at most {MAX_ENUMERATED_UNITS} units (use moments_mc)",
            described(f"{A.shape[1]} units"),
        )
    m = sigmoid_moments(A, b, p)
    return {
        "mean_sigma": m["mean_sigma"],
        "var_sigma": m["sd_sigma"] ** 2,
        "sigma_mean": m["sigma_mean"],
        "nwgm": m["nwgm"],
        "mean_s": m["mean_s"],
    }


def moments_mc(a, b, p: float, *, n_masks: int, rng, chunk: int = 256) -> dict:
    """Monte-Carlo moments over ``n_masks`` inverted masks (drop rate ``p``) shared by all
    examples: ``mean_sigma`` (E), ``var_sigma`` (V, the unbiased sample variance),
    ``sigma_mean`` (σ(E S), exact), ``se_mean`` (standard error of E per example), each
    ``(N,)`` float64. Masks keep unit ``j`` iff a uniform draw is ``≥ p``, in blocks of
    ``chunk`` masks (the draws do not depend on ``chunk``)."""
    owner = "moments_mc"
    A = _contrib(a, owner)
    p = _rate(p, "inverted", owner)
    n_masks = check_int(n_masks, "n_masks", owner, low=2)
    chunk = check_int(chunk, "chunk", owner, low=1)
    rng = as_generator(rng, "rng", owner)
    keep = rng.random((n_masks, A.shape[1])) >= p
    s1 = np.zeros(A.shape[0])
    s2 = np.zeros(A.shape[0])
    for s in range(0, n_masks, chunk):
        S = A @ (keep[s : s + chunk].T / (1.0 - p)) + float(b)  # (N, chunk)
        o = sigmoid(S)
        s1 += o.sum(axis=1)
        s2 += (o * o).sum(axis=1)
    mean = s1 / n_masks
    var = np.maximum(s2 - n_masks * mean * mean, 0.0) / (n_masks - 1)
    return {
        "mean_sigma": mean,
        "var_sigma": var,
        "sigma_mean": sigmoid(A.sum(axis=1) + float(b)),
        "se_mean": np.sqrt(var / n_masks),
    }


def first_order_estimate(mean_sigma, var_sigma) -> np.ndarray:
    """Baldi & Sadowski's ``E − NWGM ≈ V (1 − 2E) / (2 E (1 − E))`` (module docstring), from
    the mean ``E`` and variance ``V`` of the output over masks; ``(N,)`` float64. ``E`` must lie
    in (0, 1)."""
    E = np.asarray(mean_sigma, dtype=np.float64)
    V = np.asarray(var_sigma, dtype=np.float64)
    if E.shape != V.shape:
        fail("var_sigma", "first_order_estimate", f"shape {E.shape}", described(f"shape {V.shape}"))
    if not np.all((E > 0) & (E < 1)):
        fail("mean_sigma", "first_order_estimate", "values in (0, 1)", described("others"))
    return V * (1.0 - 2.0 * E) / (2.0 * E * (1.0 - E))


def delta_estimate(a, b, p: float, form: str = "inverted") -> np.ndarray:
    """The delta-method gap ``½ σ''(E S) Var S``, ``σ'' = σ(1 − σ)(1 − 2σ)``, ``(N,)``."""
    s = sigmoid(mean_logit(a, b, p, form))
    return 0.5 * s * (1.0 - s) * (1.0 - 2.0 * s) * var_logit(a, p, form)


def aligned_ratio(gap, estimate) -> float:
    """``Σ_i gap_i · sign(est_i) / Σ_i |est_i|`` (module docstring): 1 when the estimate is
    right on average, in the direction it predicts. NaN when every estimate is 0."""
    g = np.asarray(gap, dtype=np.float64)
    e = np.asarray(estimate, dtype=np.float64)
    if g.shape != e.shape or g.ndim != 1:
        fail(
            "estimate",
            "aligned_ratio",
            f"a 1-D array of shape {g.shape}",
            described(f"shape {e.shape}"),
        )
    den = float(np.sum(np.abs(e)))
    return float(np.sum(g * np.sign(e)) / den) if den > 0 else float("nan")


def sign_agreement(gap, mean_sigma) -> float:
    """Share of examples whose gap has the sign of ``1 − 2E`` (the first-order prediction);
    examples with ``E = ½`` exactly or a zero gap count as agreeing only if both are zero."""
    g = np.sign(np.asarray(gap, dtype=np.float64))
    want = np.sign(1.0 - 2.0 * np.asarray(mean_sigma, dtype=np.float64))
    return float(np.mean(g == want))
