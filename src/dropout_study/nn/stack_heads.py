"""Heads on stacks of networks: losses and their gradients for ``(K, n, k)`` logits.

The formulas of the heads in :mod:`dropout_study.mlp` (sigmoid: binary cross-entropy from
logits; softmax: sparse categorical cross-entropy; identity: mean squared error), applied to
each network (axis 0) and reduced over that network's own axes in the order the one-network
code reduces them, so each network's numbers are those of its head alone.

Logits ``z``: ``(rows, n, k)``; targets ``y``: ``(rows, n, 1)`` (or a shared ``(n, 1)``) for
sigmoid, ``(rows, n)`` (or ``(n,)``) integer labels for softmax, ``(rows, n, k)`` (or ``(n, k)``)
for identity. Losses are means over samples (nats), float64, one per network.
"""

from __future__ import annotations

import numpy as np

from dropout_study.nn.losses import log_sigmoid, log_softmax

__all__ = ["loss_and_grad", "eval_loss_acc"]


def loss_and_grad(head: str, z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(loss (rows,), dz (rows, n, k))``: the mean training loss of each network and its
    gradient with respect to the logits, bit for bit as the head's ``loss_and_grad`` in
    :mod:`dropout_study.mlp` computes them for one network."""
    n = z.shape[1]
    if head == "sigmoid":
        z64 = np.asarray(z, dtype=np.float64)
        e = np.exp(-np.abs(z64))
        l1p = np.log1p(e)
        terms = y * (np.maximum(-z64, 0.0) + l1p)
        terms += (1.0 - y) * (np.maximum(z64, 0.0) + l1p)
        loss = np.add.reduce(terms, axis=(1, 2)) / (n * z.shape[2])
        if z.dtype != np.float64:
            e = np.exp(-np.abs(z))
        one_e = 1.0 + e
        s = np.where(z >= 0, 1.0 / one_e, e / one_e)
        s -= y
        s /= n
        return loss, s
    if head == "softmax":
        kk, rr = np.arange(z.shape[0])[:, None], np.arange(n)[None, :]
        z64 = np.asarray(z, dtype=np.float64)
        shifted = z64 - z64.max(axis=-1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=-1, keepdims=True)
        picked = shifted[kk, rr, y] - np.log(total[:, :, 0])
        loss = -(np.add.reduce(picked, axis=1) / n)
        if z.dtype != np.float64:  # the gradient in z's own dtype, as the one-network head
            e = np.exp(z - z.max(axis=-1, keepdims=True))
            e = e / e.sum(axis=-1, keepdims=True)
        else:
            e /= total
        e[kk, rr, y] -= 1.0
        e /= n
        return loss, e
    d = z - y
    return np.mean(d**2, axis=(1, 2)).astype(np.float64), 2.0 * d / (n * z.shape[2])


def eval_loss_acc(head: str, z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(loss, accuracy)``, each ``(rows,)`` float64: the evaluation-mode mean loss and the
    accuracy (NaN for the identity head) of each network, as the head's ``loss`` and
    ``correct`` in :mod:`dropout_study.mlp` compute them for one network."""
    if head == "sigmoid":
        terms = y * log_sigmoid(z) + (1.0 - y) * log_sigmoid(-z)
        loss = -np.mean(terms, axis=(1, 2))
        return loss, np.mean((z[:, :, 0] > 0) == (y[..., 0] > 0.5), axis=1)
    if head == "softmax":
        kk, rr = np.arange(z.shape[0])[:, None], np.arange(z.shape[1])[None, :]
        loss = -np.mean(log_softmax(z)[kk, rr, y], axis=1)
        return loss, np.mean(np.argmax(z, axis=2) == y, axis=1)
    loss = np.mean((z - y) ** 2, axis=(1, 2)).astype(np.float64)
    return loss, np.full(z.shape[0], np.nan)
