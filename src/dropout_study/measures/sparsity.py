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
- :func:`sparsity_summary`: the three in one dict.
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
