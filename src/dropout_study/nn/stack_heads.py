"""Heads on stacks of networks: losses and their gradients for ``(K, n, k)`` logits.

The heads of :mod:`dropout_study.nn.heads` (sigmoid: binary cross-entropy from logits; softmax:
sparse categorical cross-entropy; identity: mean squared error), for each network (axis 0),
reduced over that network's own axes, so each network's numbers do not depend on its stack.
Training and evaluation share one formula per head (so without dropout a step's loss and an
evaluation at the same parameters agree bit for bit):

- sigmoid, per sample: ``max(z, 0) - y·z + log1p(exp(-|z|))`` (``-y log σ(z) - (1-y) log σ(-z)``
  rearranged; exact for large ``|z|``), gradient ``(σ(z) - y) / n`` with
  ``σ(z) = 1/(1+e)`` or ``e/(1+e)``, ``e = exp(-|z|)``, by the sign of ``z``;
- softmax, per sample: ``log Σ exp(z - max z) - (z_y - max z)``, gradient
  ``(softmax(z) - onehot(y)) / n``;
- identity: ``mean((z - y)²)`` over samples and outputs, gradient ``2 (z - y) / (n k)``.

Losses are computed in float64 whatever the logits' dtype (the gradient in the logits' own);
they differ from :meth:`dropout_study.nn.mlp.MLP.loss` (another arrangement of the same
formula, on logits computed another way) by rounding only.

Logits ``z``: ``(rows, n, k)``; targets ``y``: ``(rows, n, 1)`` (or a shared ``(n, 1)``) for
sigmoid, ``(rows, n)`` (or ``(n,)``) integer labels for softmax, ``(rows, n, k)`` (or ``(n, k)``)
for identity. Losses are means over samples (nats), float64, one per network.
"""

from __future__ import annotations

import numpy as np

__all__ = ["loss_and_grad", "eval_loss_acc"]


def _bce(z64: np.ndarray, y: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Per-sample binary cross-entropy from logits ``z64`` (float64), ``e = exp(-|z|)``."""
    terms = np.maximum(z64, 0.0)
    terms -= y * z64
    terms += np.log1p(e)
    return terms


def _picked(z64: np.ndarray, y: np.ndarray):
    """``(shifted, e, total, flat index of the labels, per-sample loss)`` of the softmax head:
    ``shifted = z - max z``, ``e = exp(shifted)``, ``total = Σ e`` (keepdims)."""
    rows, n, c = z64.shape
    shifted = z64 - z64.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=-1, keepdims=True)
    idx = np.arange(rows * n).reshape(rows, n) * c + y  # label positions in the flat arrays
    return shifted, e, total, idx, np.log(total[:, :, 0]) - np.take(shifted, idx)


def loss_and_grad(head: str, z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(loss (rows,), dz (rows, n, k))``: the mean training loss of each network and its
    gradient with respect to the logits (see the module docstring)."""
    n = z.shape[1]
    if head == "sigmoid":
        z64 = np.asarray(z, dtype=np.float64)
        e = np.exp(-np.abs(z64))
        loss = np.add.reduce(_bce(z64, y, e), axis=(1, 2)) / (n * z.shape[2])
        if z.dtype != np.float64:  # the gradient in z's own dtype
            e = np.exp(-np.abs(z))
        one_e = 1.0 + e
        s = np.where(z >= 0, 1.0 / one_e, e / one_e)
        s -= y
        s /= n
        return loss, s
    if head == "softmax":
        z64 = np.asarray(z, dtype=np.float64)
        _, e, total, idx, per = _picked(z64, y)
        loss = np.add.reduce(per, axis=1) / n
        if z.dtype != np.float64:  # the gradient in z's own dtype
            e = np.exp(z - z.max(axis=-1, keepdims=True))
            e = e / e.sum(axis=-1, keepdims=True)
        else:
            e /= total
        flat = e.reshape(-1)
        flat[idx] -= 1.0
        e /= n
        return loss, e
    d = z - y
    return np.mean(d**2, axis=(1, 2)).astype(np.float64), 2.0 * d / (n * z.shape[2])


def eval_loss_acc(head: str, z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(loss, accuracy)``, each ``(rows,)`` float64: the evaluation-mode mean loss (the
    training loss's formula) and the accuracy (NaN for the identity head) of each network."""
    n = z.shape[1]
    if head == "sigmoid":
        z64 = np.asarray(z, dtype=np.float64)
        loss = np.add.reduce(_bce(z64, y, np.exp(-np.abs(z64))), axis=(1, 2)) / (n * z.shape[2])
        return loss, np.mean((z[:, :, 0] > 0) == (y[..., 0] > 0.5), axis=1)
    if head == "softmax":
        per = _picked(np.asarray(z, dtype=np.float64), y)[4]
        return np.add.reduce(per, axis=1) / n, np.mean(np.argmax(z, axis=2) == y, axis=1)
    loss = np.mean((z - y) ** 2, axis=(1, 2)).astype(np.float64)
    return loss, np.full(z.shape[0], np.nan)
