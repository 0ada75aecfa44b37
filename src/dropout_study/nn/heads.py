"""The output heads of :class:`~dropout_study.nn.mlp.MLP`: targets, loss and its gradient.

Each head turns the logits ``z`` (shape ``(n, k)``) into a loss, a **mean over samples, in
nats**, and its gradient with respect to ``z`` (computed from logits with log-sum-exp, never
from clipped probabilities):

- ``"sigmoid"`` (``k = 1``): binary cross-entropy; targets ``y`` in [0, 1], ``(n,)``;
- ``"softmax"`` (``k >= 2``): sparse categorical cross-entropy; integer labels ``(n,)``;
- ``"identity"``: mean squared error (mean over samples and outputs); targets ``(n,)`` or
  ``(n, k)``.

``loss_and_grad`` shares the work of the loss and its gradient (``exp(-|z|)``/``log1p`` for
the sigmoid, ``exp(z - max z)`` and its row sums for the softmax) and equals ``loss`` and
``grad`` bit for bit (``tests/test_bench.py``).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from dropout_study.nn.losses import (
    binary_cross_entropy_grad,
    log_sigmoid,
    log_softmax,
    mean_squared_error_grad,
    sigmoid,
    softmax,
    sparse_categorical_cross_entropy_grad,
)
from dropout_study.validation import check_labels, described, fail

__all__ = ["HEADS", "HEAD_CLASSES", "Head"]

HEADS = ("sigmoid", "softmax", "identity")


class Head(Protocol):
    """What every head provides (the classes below)."""

    def targets(self, y, n: int, k: int, dtype) -> np.ndarray: ...
    def loss(self, z: np.ndarray, y: np.ndarray) -> float: ...
    def grad(self, z: np.ndarray, y: np.ndarray) -> np.ndarray: ...
    def loss_and_grad(self, z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]: ...
    def proba(self, z: np.ndarray) -> np.ndarray: ...
    def correct(self, z: np.ndarray, y: np.ndarray) -> np.ndarray: ...


class _SigmoidHead:
    name = "sigmoid"

    def targets(self, y, n: int, k: int, dtype) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1 or y.shape[0] != n:
            fail(
                "y",
                "MLP (sigmoid head)",
                f"an array of shape ({n},)",
                described(f"shape {y.shape}"),
            )
        if not (np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_):
            fail(
                "y",
                "MLP (sigmoid head)",
                "numeric targets in [0, 1]",
                described(f"dtype {y.dtype}"),
                TypeError,
            )
        y = y.astype(dtype)
        if np.any((y < 0) | (y > 1)) or not np.all(np.isfinite(y)):
            fail(
                "y",
                "MLP (sigmoid head)",
                "finite targets in [0, 1]",
                described(f"values in [{y.min()}, {y.max()}]"),
            )
        return y.reshape(n, 1)

    def loss(self, z: np.ndarray, y: np.ndarray) -> float:
        # -[y log σ(z) + (1-y) log σ(-z)], stable for large |z|
        return float(-np.mean(y * log_sigmoid(z) + (1.0 - y) * log_sigmoid(-z)))

    def grad(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        return binary_cross_entropy_grad(y, z)

    def loss_and_grad(self, z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """``(loss(z, y), grad(z, y))`` bit for bit, sharing ``e = exp(-|z|)`` and
        ``log1p(e)`` between ``log σ(z) = -(max(-z, 0) + log1p(e))``, ``log σ(-z)`` and
        ``σ(z)``; the negations of the formula are taken once, on the mean (exact)."""
        z64 = np.asarray(z, dtype=np.float64)
        e = np.exp(-np.abs(z64))
        l1p = np.log1p(e)
        terms = y * (np.maximum(-z64, 0.0) + l1p)
        terms += (1.0 - y) * (np.maximum(z64, 0.0) + l1p)
        loss = float(np.add.reduce(terms, axis=None) / terms.size)  # = np.mean
        if z.dtype != np.float64:  # σ(z) in z's dtype, as grad() computes it
            e = np.exp(-np.abs(z))
        one_e = 1.0 + e
        s = np.where(z >= 0, 1.0 / one_e, e / one_e)
        s -= y
        s /= z.shape[0]
        return loss, s

    def proba(self, z: np.ndarray) -> np.ndarray:
        return sigmoid(z[:, 0])

    def correct(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (z[:, 0] > 0) == (y[:, 0] > 0.5)


class _SoftmaxHead:
    name = "softmax"

    def targets(self, y, n: int, k: int, dtype) -> np.ndarray:
        return check_labels(y, "y", "MLP (softmax head)", n=n, n_classes=k)

    def loss(self, z: np.ndarray, y: np.ndarray) -> float:
        return float(-np.mean(log_softmax(z)[np.arange(z.shape[0]), y]))

    def grad(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        return sparse_categorical_cross_entropy_grad(y, z)

    def loss_and_grad(self, z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """``(loss(z, y), grad(z, y))`` bit for bit: ``log_softmax`` (in float64) only at the
        labels, and for float64 logits ``e = exp(z - max z)`` and its row sums shared with
        ``softmax`` (other dtypes compute the gradient in their own dtype, as :meth:`grad`)."""
        rows = np.arange(z.shape[0])
        z64 = np.asarray(z, dtype=np.float64)
        shifted = z64 - z64.max(axis=-1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=-1, keepdims=True)
        picked = shifted[rows, y] - np.log(total[:, 0])
        loss = float(-(np.add.reduce(picked) / picked.size))  # = -np.mean
        if z.dtype != np.float64:
            return loss, self.grad(z, y)
        e /= total
        e[rows, y] -= 1.0
        e /= z.shape[0]
        return loss, e

    def proba(self, z: np.ndarray) -> np.ndarray:
        return softmax(z)

    def correct(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.argmax(z, axis=1) == y


class _IdentityHead:
    name = "identity"

    def targets(self, y, n: int, k: int, dtype) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if y.shape != (n, k):
            fail(
                "y",
                "MLP (identity head)",
                f"an array of shape ({n}, {k})" + (f" or ({n},)" if k == 1 else ""),
                described(f"shape {y.shape}"),
            )
        if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.complexfloating):
            fail(
                "y", "MLP (identity head)", "real targets", described(f"dtype {y.dtype}"), TypeError
            )
        y = y.astype(dtype)
        if not np.all(np.isfinite(y)):
            fail("y", "MLP (identity head)", "finite targets", described("a NaN or inf"))
        return y

    def loss(self, z: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean((z - y) ** 2))

    def grad(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        return mean_squared_error_grad(y, z)

    def loss_and_grad(self, z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """``(loss(z, y), grad(z, y))`` bit for bit, sharing ``z - y``."""
        d = z - y
        return float(np.mean(d**2)), 2.0 * d / z.size

    def proba(self, z: np.ndarray) -> np.ndarray:
        return z.copy()

    def correct(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.full(z.shape[0], np.nan)


HEAD_CLASSES: dict[str, type[Head]] = {
    "sigmoid": _SigmoidHead,
    "softmax": _SoftmaxHead,
    "identity": _IdentityHead,
}
