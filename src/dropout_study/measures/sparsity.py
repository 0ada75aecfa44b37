"""How sparse, and how small, a set of weights is.

A *weight set* is one array or a sequence of arrays (e.g. :attr:`MLP.weights`, the weight
matrices without biases, or a logistic regression's coefficients); every measure pools all
entries of the set. All results are plain floats (fractions in [0, 1] or a ratio).

- :func:`exact_zero_fraction`: share of entries that are exactly ``0.0`` (what a proximal /
  soft-thresholding step produces, and what a sub-gradient step almost never does);
- :func:`near_zero_fraction`: share of entries with ``|w| < rel · max|w|`` (default
  ``rel = 1e-3``), the max taken over the whole set; an all-zero set counts as fully sparse;
- :func:`norm_ratio`: ``‖w‖₂ / ‖w_ref‖₂`` over the pooled entries, e.g. weights trained with a
  penalty λ over the weights trained from the same initialisation without one (``< 1``:
  shrunk);
- :func:`sparsity_summary`: the three in one dict;
- :func:`hoyer`: Hoyer's sparseness index ``H(w) = (√n − ‖w‖₁/‖w‖₂) / (√n − 1)`` (Hoyer 2004,
  *Non-negative matrix factorization with sparseness constraints*, JMLR 5, eq. 1), in [0, 1]:
  1 for a one-hot vector, 0 for a vector of equal magnitudes, unchanged by rescaling;
- :func:`dead_units`: hidden ReLU units whose incoming weights are all near zero or which no
  training example activates (per hidden layer, boolean masks);
- :func:`living_weights` / :func:`hoyer_per_layer` / :func:`hoyer_network`: each weight
  matrix restricted to the connections between living units, its Hoyer index, and the mean of
  those indices weighted by each layer's number of living weights (a dead unit removed by a
  penalty is counted by :func:`dead_units`, not by the within-layer sparseness);
- :func:`dead_unit_connections` / :func:`zeros_on_dead_units`: which weights touch a dead
  unit, and the share of a network's zero weights that do (how much of a penalty's sparsity
  is whole units switched off rather than sparse connections between living units);
- :func:`unit_balance`: per hidden unit, ``‖u_j‖₂ / ‖v_j‖₂``, the norm of its incoming weights
  over the norm of its outgoing weights (below).

Balance under weight decay (Neyshabur, Tomioka & Srebro 2015, *Norm-based capacity control in
neural networks*, COLT, §3). A ReLU unit is positively homogeneous: scaling its incoming
weights and bias by ``c > 0`` and its outgoing weights by ``1/c`` leaves the network's function
unchanged. With the penalty ``(λ/2) Σ ‖W‖²`` (biases not penalised) the objective along that
curve is ``L + (λ/2)(c²‖u_j‖² + ‖v_j‖²/c²) + const``, whose derivative at ``c = 1`` is
``λ(‖u_j‖² − ‖v_j‖²)``; the data loss ``L`` is constant along the curve, so at every stationary
point with ``λ > 0`` each unit is *balanced*, ``‖u_j‖ = ‖v_j‖``, and there
``(λ/2)(‖u_j‖² + ‖v_j‖²) = λ ‖u_j‖·‖v_j‖`` (equality in ``a² + b² ≥ 2ab``): weight decay is
then the per-unit penalty ``λ Σ_j ‖u_j‖·‖v_j‖``, a group penalty that can switch whole units
off. Without a penalty, gradient flow conserves ``‖u_j‖² − ‖v_j‖²`` (the same invariance), so
the ratio keeps the imbalance of the initialisation. The same argument holds for a linear
unit, which the tests use: a two-layer linear network has a closed-form solution.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dropout_study.validation import check_float, fail

__all__ = [
    "pooled",
    "exact_zero_fraction",
    "near_zero_fraction",
    "norm_ratio",
    "sparsity_summary",
    "hoyer",
    "dead_units",
    "living_weights",
    "hoyer_per_layer",
    "hoyer_network",
    "dead_unit_connections",
    "zeros_on_dead_units",
    "unit_balance",
]


def pooled(weights, name: str = "weights", owner: str = "sparsity") -> np.ndarray:
    """All entries of a weight set as one new 1-D float64 array (the inputs are not changed)."""
    if isinstance(weights, np.ndarray):
        arrays = [weights]
    elif isinstance(weights, Sequence) and not isinstance(weights, str | bytes):
        arrays = list(weights)
        if arrays and not isinstance(arrays[0], np.ndarray):  # a flat list of numbers
            arrays = [np.asarray(arrays)]
    else:
        fail(name, owner, "an array or a sequence of arrays", type(weights).__name__, TypeError)
    parts = []
    for a in arrays:
        a = np.asarray(a)
        if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
            fail(name, owner, "real numeric arrays", f"dtype {a.dtype}", TypeError)
        parts.append(a.astype(np.float64).ravel())
    flat = np.concatenate(parts) if parts else np.empty(0)
    if flat.size == 0:
        fail(name, owner, "a non-empty weight set", "0 entries")
    if not np.all(np.isfinite(flat)):
        fail(name, owner, "finite", "NaN or inf entries")
    return flat


def exact_zero_fraction(weights) -> float:
    """Fraction of entries exactly equal to 0 (``-0.0`` counts), in [0, 1]."""
    w = pooled(weights, "weights", "exact_zero_fraction")
    return float(np.mean(w == 0.0))


def near_zero_fraction(weights, rel: float = 1e-3) -> float:
    """Fraction of entries with ``|w| < rel · max|w|`` (max over the whole set), in [0, 1].

    Exact zeros count as near zero. If every entry is 0 the result is 1.
    ``rel`` must be in (0, 1).
    """
    owner = "near_zero_fraction"
    rel = check_float(rel, "rel", owner, low=0.0, high=1.0, low_open=True, high_open=True)
    a = np.abs(pooled(weights, "weights", owner))
    top = a.max()
    if top == 0.0:
        return 1.0
    return float(np.mean(a < rel * top))


def norm_ratio(weights, reference) -> float:
    """``‖weights‖₂ / ‖reference‖₂`` over pooled entries (a dimensionless ratio ≥ 0).

    Both sets must have the same number of entries; the reference must not be all zero.
    """
    owner = "norm_ratio"
    w = pooled(weights, "weights", owner)
    ref = pooled(reference, "reference", owner)
    if ref.shape != w.shape:
        fail("reference", owner, f"a weight set of {w.size} entries", f"{ref.size} entries")
    ref_norm = float(np.linalg.norm(ref))
    if ref_norm == 0.0:
        fail("reference", owner, "a weight set with a non-zero norm", "all zeros")
    return float(np.linalg.norm(w)) / ref_norm


def sparsity_summary(weights, reference=None, rel: float = 1e-3) -> dict:
    """``{"exact_zero", "near_zero", "norm_ratio"}`` of a weight set (``norm_ratio`` is NaN
    without a reference)."""
    return {
        "exact_zero": exact_zero_fraction(weights),
        "near_zero": near_zero_fraction(weights, rel),
        "norm_ratio": float("nan") if reference is None else norm_ratio(weights, reference),
    }


def hoyer(weights) -> float:
    """Hoyer's sparseness ``(√n − ‖w‖₁/‖w‖₂) / (√n − 1)`` of the pooled entries (Hoyer 2004,
    JMLR 5:1457–1469, eq. 1), a float in [0, 1].

    1 for exactly one non-zero entry, 0 when all magnitudes are equal; ``H(c·w) = H(w)`` for
    every ``c ≠ 0``; soft-thresholding never lowers it. Raises ``ValueError`` for fewer than 2
    entries or an all-zero set (the index is undefined there).
    """
    owner = "hoyer"
    w = pooled(weights, "weights", owner)
    n = w.size
    if n < 2:
        fail("weights", owner, "a weight set of at least 2 entries", f"{n} entry")
    l2 = float(np.linalg.norm(w))
    if l2 == 0.0:
        fail("weights", owner, "a weight set with a non-zero entry", "all zeros")
    root = np.sqrt(n)
    h = (root - float(np.abs(w).sum()) / l2) / (root - 1.0)
    return float(min(max(h, 0.0), 1.0))  # rounding can step outside [0, 1] by ~1e-16


def _check_layers(weights, owner: str) -> list[np.ndarray]:
    if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence) or not weights:
        fail("weights", owner, "a non-empty list of 2-D weight matrices (input layer first)",
             type(weights).__name__, TypeError)  # fmt: skip
    mats = [np.asarray(w, dtype=np.float64) for w in weights]
    for i, w in enumerate(mats):
        if w.ndim != 2 or (i and w.shape[0] != mats[i - 1].shape[1]):
            fail("weights", owner, "2-D matrices (n_in, n_out) that chain", f"shape {w.shape}")
    return mats


def dead_units(weights, activations=None, rel: float = 1e-3) -> list[np.ndarray]:
    """Boolean masks of dead hidden units, one ``(h_l,)`` mask per hidden layer.

    ``weights``: the network's weight matrices ``[W_1 (d, h_1), …, W_L (h_{L-1}, k)]``
    (:attr:`MLP.weights`); ``activations``: optional list of the hidden layers' ReLU outputs on
    the training data, ``(n, h_l)`` each (:meth:`MLP.hidden`). Unit ``j`` of hidden layer ``l``
    is dead if every incoming weight has ``|W_l[i, j]| < rel · max|W_l|`` (all-zero layer: all
    dead), or if its activation is ``<= 0`` for every training example (it never fires, so it
    gets no data gradient).
    """
    owner = "dead_units"
    mats = _check_layers(weights, owner)
    rel = check_float(rel, "rel", owner, low=0.0, high=1.0, low_open=True, high_open=True)
    n_hidden = len(mats) - 1
    if activations is not None:
        if len(activations) != n_hidden:
            fail("activations", owner, f"a list of {n_hidden} arrays", f"{len(activations)}")
    out = []
    for lay in range(n_hidden):
        W = np.abs(mats[lay])
        top = W.max()
        dead = np.ones(W.shape[1], bool) if top == 0 else np.all(W < rel * top, axis=0)
        if activations is not None:
            a = np.asarray(activations[lay], dtype=np.float64)
            if a.ndim != 2 or a.shape[1] != W.shape[1]:
                fail("activations", owner, f"arrays (n, {W.shape[1]})", f"shape {a.shape}")
            dead = dead | np.all(a <= 0.0, axis=0)
        out.append(dead)
    return out


def living_weights(weights, dead) -> list[np.ndarray]:
    """Each weight matrix restricted to living units: ``W_l[alive_{l-1}][:, alive_l]`` (inputs
    and outputs are always alive). ``dead``: masks from :func:`dead_units`."""
    owner = "living_weights"
    mats = _check_layers(weights, owner)
    if len(dead) != len(mats) - 1:
        fail("dead", owner, f"{len(mats) - 1} masks (one per hidden layer)", len(dead))
    alive = [np.ones(mats[0].shape[0], bool)]
    alive += [~np.asarray(d, bool) for d in dead]
    alive.append(np.ones(mats[-1].shape[1], bool))
    return [w[alive[i]][:, alive[i + 1]] for i, w in enumerate(mats)]


def hoyer_per_layer(weights, dead) -> np.ndarray:
    """:func:`hoyer` of each layer over living units, ``(L,)`` float64; NaN for a layer with
    fewer than 2 living weights or only zeros among them."""
    out = []
    for w in living_weights(weights, dead):
        ok = w.size >= 2 and np.any(w != 0)
        out.append(hoyer(w) if ok else np.nan)
    return np.asarray(out, dtype=np.float64)


def hoyer_network(weights, dead) -> float:
    """Mean of :func:`hoyer_per_layer` weighted by each layer's number of living weights
    (layers where the index is undefined are left out); NaN if it is undefined in every layer.

    Each layer keeps its own scale (a Hoyer index of the pooled network would mix layers whose
    weights differ in size by construction); the weighting counts every living weight once.
    """
    h = hoyer_per_layer(weights, dead)
    sizes = np.array([w.size for w in living_weights(weights, dead)], dtype=float)
    ok = np.isfinite(h)
    if not ok.any():
        return float("nan")
    return float(np.sum(h[ok] * sizes[ok]) / np.sum(sizes[ok]))


def dead_unit_connections(weights, dead) -> list[np.ndarray]:
    """Boolean masks, one per weight matrix (same shapes), True for a weight that enters or
    leaves a dead hidden unit (``dead``: masks from :func:`dead_units`)."""
    owner = "dead_unit_connections"
    mats = _check_layers(weights, owner)
    if len(dead) != len(mats) - 1:
        fail("dead", owner, f"{len(mats) - 1} masks (one per hidden layer)", len(dead))
    gone = [np.zeros(mats[0].shape[0], bool)]
    gone += [np.asarray(d, bool) for d in dead]
    gone.append(np.zeros(mats[-1].shape[1], bool))
    return [gone[i][:, None] | gone[i + 1][None, :] for i in range(len(mats))]


def zeros_on_dead_units(weights, dead, rel: float | None = None) -> float:
    """Share of the network's zero weights that enter or leave a dead unit, in [0, 1].

    A weight is *zero* when it equals 0 exactly (``rel=None``) or, with ``rel``, when
    ``|w| < rel · max|W|`` within its own matrix. NaN when the network has no zero weight
    (the share is undefined). ``1 − share`` is the part of the sparsity that lies between
    living units."""
    owner = "zeros_on_dead_units"
    mats = _check_layers(weights, owner)
    on_dead = dead_unit_connections(mats, dead)
    zero = 0
    on = 0
    for w, mask in zip(mats, on_dead, strict=True):
        a = np.abs(w)
        z = a == 0.0 if rel is None else a < check_float(rel, "rel", owner, low=0.0) * a.max()
        zero += int(z.sum())
        on += int((z & mask).sum())
    return float("nan") if zero == 0 else on / zero


def unit_balance(weights) -> list[np.ndarray]:
    """``‖u_j‖₂ / ‖v_j‖₂`` for every hidden unit, one ``(h_l,)`` float64 array per hidden
    layer: ``u_j = W_l[:, j]`` (incoming weights, bias excluded), ``v_j = W_{l+1}[j, :]``
    (outgoing weights). Dimensionless; 1 means balanced (the stationary points of weight decay,
    module docstring). NaN for a unit whose incoming or outgoing weights are all 0 (the ratio
    is undefined: 0/0, or a unit the penalty has removed)."""
    mats = _check_layers(weights, "unit_balance")
    out = []
    for lay in range(len(mats) - 1):
        u = np.linalg.norm(mats[lay], axis=0)
        v = np.linalg.norm(mats[lay + 1], axis=1)
        ok = (u > 0) & (v > 0)
        out.append(np.where(ok, u / np.where(ok, v, 1.0), np.nan))
    return out
