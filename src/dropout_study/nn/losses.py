"""Entropy and the losses the study talks about, from probabilities and from logits.

Public names mirror the Keras names the sources use. Every loss returns the **mean over
samples** as a Python ``float``; the unit is set by ``base`` (``math.e`` → nats, 2 → bits,
10 → the base-10 logs a tutorial's "0.14" is in).

Shapes
------
- ``binary_cross_entropy``: ``y_true`` and ``y_pred`` of shape ``(n,)`` or ``(n, 1)``;
  ``y_true`` in [0, 1] (hard or soft labels); ``y_pred`` probabilities of class 1, or logits.
- ``categorical_cross_entropy``: ``(n, k)`` rows of one-hot or probability targets.
- ``sparse_categorical_cross_entropy``: integer ``labels`` of shape ``(n,)`` and ``(n, k)``.
- ``mean_squared_error``: any matching shapes; mean over every element.

Inputs may be float32 or float64 (integers and bools are read as float64); every loss is
computed in float64 whatever the input dtype, so float32 and float64 inputs holding the same
numbers give the same loss. From logits the computation goes through a stable log-sigmoid /
log-sum-exp, exact for any finite logits whose loss is representable; a term whose target is
0 contributes exactly 0 (never ``0 · ∞``), and the mean is taken without overflow whenever
every term is finite. Probability inputs are clipped to ``[EPS, 1 − EPS]`` with one bound for
every dtype, ``EPS`` = float64 machine epsilon (2.2e-16), so exact 0 and 1 give the same
large finite loss, at most ``−log EPS ≈ 36.04`` nats per example.

The ``*_grad`` functions return the gradient of the mean loss (in nats) with respect to the
logits; the network's heads use them.
"""

from __future__ import annotations

import math

import numpy as np

from dropout_study.validation import (
    check_base,
    check_labels,
    check_probabilities,
    described,
    fail,
)

__all__ = [
    "entropy",
    "binary_cross_entropy",
    "categorical_cross_entropy",
    "sparse_categorical_cross_entropy",
    "mean_squared_error",
    "log_sigmoid",
    "log_softmax",
    "sigmoid",
    "softmax",
    "binary_cross_entropy_grad",
    "sparse_categorical_cross_entropy_grad",
    "mean_squared_error_grad",
]


# ---------------------------------------------------------------------------------------------
# Stable building blocks
# ---------------------------------------------------------------------------------------------
def log_sigmoid(z: np.ndarray) -> np.ndarray:
    """``log σ(z) = -softplus(-z)``, elementwise in float64, exact for large ``|z|``."""
    z = np.asarray(z, dtype=float)
    return -(np.maximum(-z, 0.0) + np.log1p(np.exp(-np.abs(z))))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``σ(z) = 1 / (1 + e^{-z})`` without overflow."""
    z = np.asarray(z)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise ``z - logsumexp(z)`` for ``z`` of shape ``(n, k)`` (float64). An entry far
    below its row's maximum (``z_max − z`` beyond the float range) is ``-inf``."""
    z = np.asarray(z, dtype=np.float64)
    zmax = z.max(axis=-1, keepdims=True)
    with np.errstate(over="ignore"):
        shifted = z - zmax
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``z`` of shape ``(n, k)``."""
    z = np.asarray(z)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


EPS = float(np.finfo(np.float64).eps)
"""The clip bound of probability inputs, the same for every dtype (cap −log EPS ≈ 36.04 nats)."""

SUPPORTED_DTYPES = (np.float32, np.float64)
"""Floating dtypes the losses accept (integers and bools are read as float64)."""


def _clip(p: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(p, dtype=np.float64), EPS, 1.0 - EPS)


def _weighted(y: np.ndarray, logq: np.ndarray) -> np.ndarray:
    """``y · log q`` elementwise with a zero target contributing exactly 0."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(y > 0, y * logq, 0.0)


def _mean(terms: np.ndarray) -> float:
    """The mean of finite ``terms`` without overflow (scaled by the largest magnitude)."""
    terms = np.asarray(terms, dtype=np.float64)
    if not np.all(np.isfinite(terms)):
        return float(np.mean(terms))
    m = float(np.max(np.abs(terms))) if terms.size else 0.0
    if m == 0.0 or m < 1e300:
        return float(np.mean(terms))
    return float(m * np.mean(terms / m))


def _as_float_array(x, name: str, func: str) -> np.ndarray:
    """``x`` as a float array (integers and bools become float64); finite values only."""
    try:
        arr = np.asarray(x, dtype=None)
    except (TypeError, ValueError):
        fail(name, func, "array-like", described(type(x).__name__), TypeError)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        fail(name, func, "a numeric array", described(f"dtype {arr.dtype}"), TypeError)
    if np.issubdtype(arr.dtype, np.complexfloating):
        fail(name, func, "a real array", described(f"dtype {arr.dtype}"), TypeError)
    if np.issubdtype(arr.dtype, np.floating) and arr.dtype not in SUPPORTED_DTYPES:
        fail(name, func, "float32 or float64", described(f"dtype {arr.dtype}"), TypeError)
    if arr.dtype != np.float64:
        arr = arr.astype(np.float64)
    if arr.size and not np.all(np.isfinite(arr)):
        fail(name, func, "finite", described("a NaN or inf"))
    return arr


def _same_shape(a: np.ndarray, b: np.ndarray, names: tuple[str, str], func: str) -> None:
    if a.shape != b.shape:
        fail(names[1], func, f"of the shape of '{names[0]}', {a.shape}", described(f"{b.shape}"))


def _binary_shapes(y_true, y_pred, func):
    y = _as_float_array(y_true, "y_true", func)
    z = _as_float_array(y_pred, "y_pred", func)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if z.ndim == 2 and z.shape[1] == 1:
        z = z[:, 0]
    if z.ndim != 1:
        fail("y_pred", func, "of shape (n,) or (n, 1)", described(f"shape {z.shape}"))
    _same_shape(y, z, ("y_true", "y_pred"), func)
    if y.size == 0:
        fail("y_true", func, "at least one sample", described("0 samples"))
    if np.any((y < 0) | (y > 1)):
        fail("y_true", func, "in [0, 1]", described(f"values in [{y.min():g}, {y.max():g}]"))
    return y, z


def _two_d(z: np.ndarray, func: str) -> None:
    if z.ndim != 2:
        fail("y_pred", func, "of shape (n, k)", described(f"shape {z.shape}"))
    if z.shape[0] == 0 or z.shape[1] == 0:
        fail("y_pred", func, "non-empty", described(f"shape {z.shape}"))


# ---------------------------------------------------------------------------------------------
# Entropy
# ---------------------------------------------------------------------------------------------
def entropy(p, base: float = 2) -> float:
    """Shannon entropy ``H(p) = -Σ p_i log p_i`` (with ``0 log 0 = 0``).

    Parameters
    ----------
    p : array of shape ``(k,)`` or ``(n, k)``
        A probability vector, or rows of them; each must be non-negative and sum to 1.
    base : float, default 2
        Logarithm base (2 → bits, ``math.e`` → nats).

    Returns
    -------
    float
        The entropy; for ``(n, k)`` input, the mean over rows.
    """
    check_base(base, "entropy")
    p = _as_float_array(p, "p", "entropy")
    check_probabilities(p, "p", "entropy")
    logp = np.log(np.where(p > 0, p, 1.0))
    h = -(p * logp).sum(axis=-1) / math.log(base)
    return float(np.mean(h))


# ---------------------------------------------------------------------------------------------
# Cross-entropies
# ---------------------------------------------------------------------------------------------
def binary_cross_entropy(
    y_true, y_pred, *, from_logits: bool = False, base: float = math.e
) -> float:
    """Mean binary cross-entropy ``-[y log q + (1-y) log(1-q)]``.

    ``y_pred`` is ``q = P(class 1)`` or, with ``from_logits=True``, the logit ``z`` with
    ``q = σ(z)``; then ``-log q = softplus(-z)`` and ``-log(1-q) = softplus(z)`` exactly.
    """
    func = "binary_cross_entropy"
    check_base(base, func)
    y, z = _binary_shapes(y_true, y_pred, func)
    if from_logits:
        losses = -(_weighted(y, log_sigmoid(z)) + _weighted(1.0 - y, log_sigmoid(-z)))
    else:
        check_probabilities(z, "y_pred", func, rows_sum_to_one=False)
        q = _clip(z)
        losses = -(_weighted(y, np.log(q)) + _weighted(1.0 - y, np.log1p(-q)))
    return _mean(losses) / math.log(base)


def categorical_cross_entropy(
    y_true, y_pred, *, from_logits: bool = False, base: float = math.e
) -> float:
    """Mean categorical cross-entropy ``-Σ_k y_k log q_k`` over rows of shape ``(n, k)``.

    ``y_true`` rows are one-hot or probability targets; ``y_pred`` rows are probabilities or,
    with ``from_logits=True``, logits (``log q = log_softmax(z)``).
    """
    func = "categorical_cross_entropy"
    check_base(base, func)
    y = _as_float_array(y_true, "y_true", func)
    z = _as_float_array(y_pred, "y_pred", func)
    _two_d(z, func)
    _same_shape(y, z, ("y_true", "y_pred"), func)
    check_probabilities(y, "y_true", func)
    if from_logits:
        logq = log_softmax(z)
    else:
        check_probabilities(z, "y_pred", func)
        logq = np.log(_clip(z))
    return _mean(-_weighted(y, logq).sum(axis=1)) / math.log(base)


def sparse_categorical_cross_entropy(
    labels, y_pred, *, from_logits: bool = False, base: float = math.e
) -> float:
    """Mean of ``-log q[i, labels[i]]`` for integer ``labels`` of shape ``(n,)``.

    Equal to :func:`categorical_cross_entropy` with one-hot targets.
    """
    func = "sparse_categorical_cross_entropy"
    check_base(base, func)
    z = _as_float_array(y_pred, "y_pred", func)
    _two_d(z, func)
    lab = check_labels(labels, "labels", func, n=z.shape[0], n_classes=z.shape[1])
    rows = np.arange(z.shape[0])
    if from_logits:
        logq = log_softmax(z)[rows, lab]
    else:
        check_probabilities(z, "y_pred", func)
        logq = np.log(_clip(z[rows, lab]))
    return _mean(-logq) / math.log(base)


def mean_squared_error(y_true, y_pred) -> float:
    """Mean over every element of ``(y_true - y_pred)²``; ``(n,)`` and ``(n, 1)`` are matched."""
    func = "mean_squared_error"
    y = _as_float_array(y_true, "y_true", func)
    q = _as_float_array(y_pred, "y_pred", func)
    if y.ndim == 1 and q.ndim == 2 and q.shape[1] == 1:
        q = q[:, 0]
    if q.ndim == 1 and y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    _same_shape(y, q, ("y_true", "y_pred"), func)
    if y.size == 0:
        fail("y_true", func, "at least one sample", described("0 samples"))
    return float(np.mean((y - q) ** 2))


# ---------------------------------------------------------------------------------------------
# Gradients of the mean loss (nats) with respect to the logits, for the network's heads.
# They skip validation: the network validates its targets once, at the boundary.
# ---------------------------------------------------------------------------------------------
def binary_cross_entropy_grad(y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``∂/∂z mean BCE(y, σ(z)) = (σ(z) - y) / n`` for ``z`` and ``y`` of shape ``(n, 1)``."""
    return (sigmoid(z) - y) / z.shape[0]


def sparse_categorical_cross_entropy_grad(labels: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``∂/∂z mean CE = (softmax(z) - onehot(labels)) / n`` for ``z`` of shape ``(n, k)``."""
    g = softmax(z)
    g[np.arange(z.shape[0]), labels] -= 1.0
    g /= z.shape[0]
    return g


def mean_squared_error_grad(y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``∂/∂z mean((z - y)²) = 2 (z - y) / z.size``."""
    return 2.0 * (z - y) / z.size
