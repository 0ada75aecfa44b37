"""What the cross-entropy chapter measures: the worked example's cross-entropy in any base,
logistic regression's costs along a line, second differences, the unit-swap segment of a
network, reliability (calibration) tables and temperature scaling.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.datasets import load_breast_cancer

from dropout_study.nn.losses import (
    binary_cross_entropy,
    log_sigmoid,
    sparse_categorical_cross_entropy,
)
from dropout_study.nn.mlp import MLP
from dropout_study.validation import (
    check_float,
    check_int,
    fail,
)

HAMPERS = {"3/7": (3, 7), "5/5": (5, 5), "10/0": (10, 0)}
"""The tutorial's three hampers: counts of the two kinds of candy."""

FEATURES = tuple(str(f) for f in load_breast_cancer().feature_names)
"""Feature names of scikit-learn's breast-cancer data set (the columns of ``X``)."""


def example_cross_entropy(q, true_class: int, base: float = math.e) -> float:
    """Cross-entropy of a one-hot target at ``true_class`` against probabilities ``q``:
    ``−log_base q[true_class]`` (only the true class's term is non-zero).

    ``q``: shape ``(k,)``; its other entries do not enter (so rounded article values whose
    sum is 0.999 give the article's number). Units: nats for ``e``, bits for 2.
    """
    q = np.asarray(q, dtype=float)
    if q.ndim != 1:
        fail("q", "example_cross_entropy", "a 1-D array of probabilities", f"shape {q.shape}")
    true_class = check_int(
        true_class, "true_class", "example_cross_entropy", low=0, high=q.size - 1
    )
    return binary_cross_entropy([1.0], [q[true_class]], base=base)


def logistic_costs(w, b, x, y) -> tuple[np.ndarray, np.ndarray]:
    """Mean costs of logistic regression ``q = σ(w x + b)`` on data ``(x, y)``.

    ``w``, ``b``: arrays of one shape ``S`` (e.g. a grid); ``x``: ``(n,)`` feature values;
    ``y``: ``(n,)`` labels in {0, 1}. Returns ``(ce, mse)``, each of shape ``S``:
    ``ce`` = mean binary cross-entropy (nats, from logits), ``mse`` = mean ``(σ(z) − y)²``.
    """
    w = np.asarray(w, dtype=float)
    b = np.asarray(b, dtype=float)
    if w.shape != b.shape:
        fail("b", "logistic_costs", f"an array of the shape of w {w.shape}", b.shape)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    z = w[..., None] * x + b[..., None]
    log_q = log_sigmoid(z)  # log σ(z); log σ(−z) = log σ(z) − z
    ce = -np.mean(log_q - (1.0 - y) * z, axis=-1)
    mse = np.mean((np.exp(log_q) - y) ** 2, axis=-1)
    return ce, mse


def directional_curvature(J, h: float) -> np.ndarray:
    """Smallest second difference of a grid function along the four grid directions.

    ``J``: ``(n1, n2)`` values on a square grid of spacing ``h``. At each interior point,
    ``(J(x + h v) − 2 J(x) + J(x − h v)) / (h |v|)²`` for ``v`` = (1, 0), (0, 1), (1, 1),
    (1, −1); returns the minimum, shape ``(n1 − 2, n2 − 2)``, in units of ``J`` per squared
    unit of the grid. A convex ``J`` gives no negative value (up to round-off) whatever ``h``.
    """
    J = np.asarray(J, dtype=float)
    if J.ndim != 2 or min(J.shape) < 3:
        fail("J", "directional_curvature", "a 2-D array of at least 3 × 3", f"shape {J.shape}")
    h = check_float(h, "h", "directional_curvature", low=0.0, low_open=True)
    c = J[1:-1, 1:-1]
    along_w = (J[2:, 1:-1] - 2 * c + J[:-2, 1:-1]) / h**2
    along_b = (J[1:-1, 2:] - 2 * c + J[1:-1, :-2]) / h**2
    diag = (J[2:, 2:] - 2 * c + J[:-2, :-2]) / (2 * h**2)
    anti = (J[2:, :-2] - 2 * c + J[:-2, 2:]) / (2 * h**2)
    return np.minimum(np.minimum(along_w, along_b), np.minimum(diag, anti))


def swap_hidden_units(model: MLP, i: int, j: int) -> np.ndarray:
    """Flat parameters of ``model`` with hidden units ``i`` and ``j`` of its (only) hidden
    layer swapped: columns of ``W1``, entries of ``b1``, rows of ``W2``. The network computes
    the same function, so the cost is unchanged. ``model`` itself is not modified."""
    owner = "swap_hidden_units"
    if len(model.layer_sizes) != 3:
        fail("model", owner, "an MLP with exactly one hidden layer", model)
    width = model.layer_sizes[1]
    i = check_int(i, "i", owner, low=0, high=width - 1)
    j = check_int(j, "j", owner, low=0, high=width - 1)
    W1, b1, W2, b2 = (p.copy() for p in model.params)
    perm = np.arange(width)
    perm[[i, j]] = [j, i]
    return np.concatenate([W1[:, perm].ravel(), b1[perm], W2[perm, :].ravel(), b2])


def segment_costs(model: MLP, theta_a, theta_b, alphas, X, y) -> np.ndarray:
    """Evaluation-mode mean cost ``J(θ_a + α (θ_b − θ_a))`` for each ``α`` (nats).

    ``alphas``: ``(A,)``; returns ``(A,)``. Uses a copy of ``model``; ``model`` is unchanged.
    """
    net = model.copy()
    ta = np.asarray(theta_a, dtype=float)
    d = np.asarray(theta_b, dtype=float) - ta
    out = np.empty(len(alphas))
    for k, a in enumerate(np.asarray(alphas, dtype=float)):
        net.set_params(ta + a * d)
        out[k] = net.loss(X, y)
    return out


def reliability(proba, labels, n_bins: int = 10) -> dict:
    """Top-label reliability diagram of class probabilities.

    ``proba``: ``(n, k)`` rows of probabilities; ``labels``: ``(n,)`` ints. The confidence of
    a prediction is its largest probability; bins are ``n_bins`` equal intervals of [0, 1],
    right-closed like ``sklearn.calibration.calibration_curve``. Returns a dict of arrays:
    ``edges`` ``(n_bins + 1,)``; ``count``, ``confidence`` (mean confidence), ``accuracy``
    ``(n_bins,)`` (NaN for empty bins); and floats ``ece`` (expected calibration error,
    ``Σ_b n_b / n · |accuracy_b − confidence_b|``), ``mean_confidence`` and
    ``accuracy_overall`` (over all ``n`` predictions).
    """
    owner = "reliability"
    P = np.asarray(proba, dtype=float)
    lab = np.asarray(labels)
    if P.ndim != 2:
        fail("proba", owner, "a 2-D array of shape (n, k)", f"shape {P.shape}")
    if lab.shape != (P.shape[0],):
        fail("labels", owner, f"an array of shape ({P.shape[0]},)", f"shape {lab.shape}")
    n_bins = check_int(n_bins, "n_bins", owner, low=1)
    return reliability_top(P.max(axis=1), (P.argmax(axis=1) == lab).astype(float), n_bins)


def reliability_top(confidence, correct, n_bins: int = 10) -> dict:
    """:func:`reliability` from the top-label ``confidence`` ``(n,)`` (floats in [0, 1]) and
    whether each top label was ``correct`` ``(n,)`` (0/1): pooling several seeds is
    concatenating their arrays. Returns the dict of :func:`reliability`."""
    owner = "reliability_top"
    conf = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    if conf.ndim != 1 or conf.size == 0 or correct.shape != conf.shape:
        fail("correct", owner, "a 1-D array as long as confidence", f"shape {correct.shape}")
    n_bins = check_int(n_bins, "n_bins", owner, low=1)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.searchsorted(edges[1:-1], conf, side="left")
    count = np.bincount(idx, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, conf, n_bins) / count
        acc = np.bincount(idx, correct, n_bins) / count
    nonempty = count > 0
    ece = float(np.sum(count[nonempty] * np.abs(acc[nonempty] - mean_conf[nonempty])) / conf.size)
    return {
        "edges": edges,
        "count": count,
        "confidence": np.where(nonempty, mean_conf, np.nan),
        "accuracy": np.where(nonempty, acc, np.nan),
        "ece": ece,
        "mean_confidence": float(conf.mean()),
        "accuracy_overall": float(correct.mean()),
    }


LOG_T_BOUNDS = (-5.0, 5.0)
"""The search interval of :func:`fit_temperature`, on ``log T`` (T from 0.0067 to 148)."""


def scaled_cross_entropy(logits, labels, temperature: float = 1.0) -> float:
    """Mean cross-entropy (nats) of ``softmax(logits / temperature)`` against integer
    ``labels``: ``logits`` ``(n, k)``, ``labels`` ``(n,)``, ``temperature > 0``."""
    t = check_float(temperature, "temperature", "scaled_cross_entropy", low=0.0, low_open=True)
    z = np.asarray(logits, dtype=float)
    return sparse_categorical_cross_entropy(labels, z / t, from_logits=True)


def fit_temperature(logits, labels) -> float:
    """Temperature scaling (Guo et al. 2017): the one scalar ``T > 0`` that minimises the mean
    cross-entropy of ``softmax(logits / T)`` on ``(logits, labels)`` — a fit on held-out data
    that changes confidences, never the ranking of the classes (so accuracy is unchanged).

    ``logits`` ``(n, k)`` float, ``labels`` ``(n,)`` int. Bounded scalar search on ``log T``
    in :data:`LOG_T_BOUNDS` (``xatol`` 10⁻⁹); ``T > 1`` softens over-confident predictions.
    Returns ``T`` (float)."""
    owner = "fit_temperature"
    z = np.asarray(logits, dtype=float)
    lab = np.asarray(labels)
    if z.ndim != 2 or z.shape[0] == 0:
        fail("logits", owner, "a non-empty 2-D array (n, k)", f"shape {z.shape}")
    if lab.shape != (z.shape[0],):
        fail("labels", owner, f"an array of shape ({z.shape[0]},)", f"shape {lab.shape}")
    res = minimize_scalar(
        lambda lt: sparse_categorical_cross_entropy(lab, z / math.exp(lt), from_logits=True),
        bounds=LOG_T_BOUNDS,
        method="bounded",
        options={"xatol": 1e-9},
    )
    return float(math.exp(res.x))
