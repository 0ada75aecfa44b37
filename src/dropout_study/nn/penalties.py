"""L1 and L2 penalties on weights (never biases), added to the mean data loss.

The objective trained is ``J(θ) = mean data loss + R(w)`` with

- ``L2(lam)``: ``R(w) = (lam / 2) · Σ w²``, gradient ``lam · w``;
- ``L1(lam)``: ``R(w) = lam · Σ |w|``, either as a **sub-gradient** ``lam · sign(w)`` added to
  the data gradient (``mode="subgradient"``), or as a **proximal step** after the gradient step,
  ``w ← S_t(w) = sign(w) · max(|w| - t, 0)`` with threshold ``t = lr · lam``
  (``mode="proximal"``, i.e. ISTA), which produces exact zeros. The threshold ``lr · lam``
  is the proximal step of *plain* gradient descent only: after an Adam or momentum step it has
  no defined meaning, and :func:`dropout_study.nn.training.train` refuses the combination;
- ``L1(lam, mode="scaled_proximal")``: for Adam, the proximal step in Adam's diagonal metric,
  threshold ``lr · lam / (sqrt(v̂) + ε)`` per coordinate (:meth:`L1.prox_scaled`,
  :meth:`dropout_study.nn.optim.Adam.denominators`), allowed only when asked for by this name.

For logistic regression with mean log-loss, ``lam`` corresponds to scikit-learn's
``C = 1 / (n · lam)`` (scikit-learn sums the loss over samples and puts ``1/C`` on the penalty;
its L2 penalty is ``½‖w‖²``), with the intercept unpenalised in both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dropout_study.validation import check_choice, check_float, fail

__all__ = ["L1", "L1_MODES", "L2", "soft_threshold", "make_penalty"]

L1_MODES = ("proximal", "subgradient", "scaled_proximal")


def soft_threshold(w: np.ndarray, t: float, out: np.ndarray | None = None) -> np.ndarray:
    """``sign(w) · max(|w| - t, 0)`` — the proximal operator of ``t · ‖·‖₁``.

    Returns a new array unless ``out`` is given (``out=w`` updates in place).
    """
    t = check_float(t, "t", "soft_threshold", low=0.0)
    mag = np.abs(w) - t
    np.maximum(mag, 0.0, out=mag)
    return np.multiply(np.sign(w), mag, out=out)


class L2:
    """``(lam / 2) · Σ w²`` over all weight matrices; gradient ``lam · w``."""

    name = "l2"
    proximal = False

    def __init__(self, lam: float) -> None:
        self.lam = check_float(lam, "lam", "L2", low=0.0)

    def value(self, weights: Sequence[np.ndarray]) -> float:
        return 0.5 * self.lam * float(sum(np.vdot(w, w) for w in weights))

    def add_grad(self, weights: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """``grads[i] += lam · weights[i]`` (the network's gradient buffers, in place)."""
        if self.lam:
            for w, g in zip(weights, grads, strict=True):
                g += self.lam * w

    def grad(self, weights: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [self.lam * w for w in weights]

    def __repr__(self) -> str:
        return f"L2(lam={self.lam:g})"


class L1:
    """``lam · Σ |w|`` over all weight matrices.

    ``mode="proximal"`` (default): the optimiser takes a gradient step on the data loss and then
    soft-thresholds each weight by ``lr · lam`` (:meth:`prox`), giving exact zeros.
    ``mode="subgradient"``: ``lam · sign(w)`` is added to the gradient; weights oscillate around
    zero and are almost never exactly zero.
    ``mode="scaled_proximal"``: after an Adam step, each weight is soft-thresholded by its own
    ``lr · lam / (sqrt(v̂) + ε)`` (:meth:`prox_scaled`).
    """

    name = "l1"

    def __init__(self, lam: float, mode: str = "proximal") -> None:
        self.lam = check_float(lam, "lam", "L1", low=0.0)
        self.mode = check_choice(mode, "mode", "L1", L1_MODES)

    @property
    def proximal(self) -> bool:
        """A proximal step follows the optimiser's step (plain or scaled)."""
        return self.mode in ("proximal", "scaled_proximal")

    def value(self, weights: Sequence[np.ndarray]) -> float:
        return self.lam * float(sum(np.abs(w).sum() for w in weights))

    def add_grad(self, weights: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """Sub-gradient mode only: ``grads[i] += lam · sign(weights[i])`` in place."""
        if self.mode == "subgradient" and self.lam:
            for w, g in zip(weights, grads, strict=True):
                g += self.lam * np.sign(w)

    def grad(self, weights: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The sub-gradient ``lam · sign(w)`` (0 at 0)."""
        return [self.lam * np.sign(w) for w in weights]

    def prox(self, weights: Sequence[np.ndarray], lr: float) -> None:
        """Proximal step on the network's own weights, in place: ``w ← S_{lr·lam}(w)``."""
        lr = check_float(lr, "lr", "L1.prox", low=0.0, low_open=True)
        if self.mode == "proximal" and self.lam:
            t = lr * self.lam
            for w in weights:
                soft_threshold(w, t, out=w)

    def prox_scaled(
        self, weights: Sequence[np.ndarray], lr: float, denominators: Sequence[np.ndarray]
    ) -> None:
        """Scaled proximal step, in place: ``w ← sign(w)·max(|w| − lr·lam/d, 0)`` with ``d`` the
        per-coordinate ``sqrt(v̂) + ε`` of an Adam step (same shapes as ``weights``)."""
        lr = check_float(lr, "lr", "L1.prox_scaled", low=0.0, low_open=True)
        if self.mode != "scaled_proximal" or not self.lam:
            return
        for w, d in zip(weights, denominators, strict=True):
            if d.shape != w.shape:
                fail("denominators", "L1.prox_scaled", f"arrays of shape {w.shape}", d.shape)
            mag = np.abs(w) - (lr * self.lam) / d
            np.maximum(mag, 0.0, out=mag)
            np.multiply(np.sign(w), mag, out=w)

    def __repr__(self) -> str:
        return f"L1(lam={self.lam:g}, mode={self.mode!r})"


def make_penalty(kind: str, lam: float, *, l1_mode: str = "proximal"):
    """``"none"`` → None, ``"l1"`` → :class:`L1`, ``"l2"`` → :class:`L2`."""
    check_choice(kind, "kind", "make_penalty", ("none", "l1", "l2"))
    if kind == "none":
        return None
    return L1(lam, l1_mode) if kind == "l1" else L2(lam)
