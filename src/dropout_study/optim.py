"""Optimisers that update a network's parameter arrays in place.

``step(params, grads)`` takes the lists of live parameter arrays and their gradients (as
:attr:`MLP.params` / :attr:`MLP.grads`) and updates the parameters in place, reusing its own
state buffers (no allocation per step).

- :class:`SGD`: ``v ← μ v + g``; ``θ ← θ - lr · v`` (``μ = 0``: plain gradient descent).
- :class:`Adam`: Kingma & Ba (2015) with bias correction, as PyTorch writes it:
  ``θ ← θ - (lr / (1 - β₁ᵗ)) · m / (sqrt(v) / sqrt(1 - β₂ᵗ) + ε)``.
  :meth:`Adam.denominators` gives the per-coordinate ``sqrt(v̂) + ε`` of the last step
  (``v̂ = v / (1 - β₂ᵗ)``), the diagonal metric of the scaled proximal L1 step (chapter 4).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dropout_study.validation import check_choice, check_float, described, fail

__all__ = ["SGD", "Adam", "make_optimizer"]


class SGD:
    """Stochastic gradient descent with optional (heavy-ball) momentum."""

    name = "sgd"

    def __init__(self, lr: float = 0.1, momentum: float = 0.0) -> None:
        self.lr = check_float(lr, "lr", "SGD", low=0.0, low_open=True)
        self.momentum = check_float(momentum, "momentum", "SGD", low=0.0, high=1.0, high_open=True)
        self._v: list[np.ndarray] | None = None
        self._tmp: list[np.ndarray] | None = None

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        if self._tmp is None:
            self._tmp = [np.empty_like(p) for p in params]
            if self.momentum:
                self._v = [np.zeros_like(p) for p in params]
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            tmp = self._tmp[i]
            if self.momentum:
                v = self._v[i]
                v *= self.momentum
                v += g
                np.multiply(v, self.lr, out=tmp)
            else:
                np.multiply(g, self.lr, out=tmp)
            p -= tmp

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr:g}, momentum={self.momentum:g})"


class Adam:
    """Adam with bias correction (PyTorch's formulation)."""

    name = "adam"

    def __init__(
        self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        self.lr = check_float(lr, "lr", "Adam", low=0.0, low_open=True)
        self.beta1 = check_float(beta1, "beta1", "Adam", low=0.0, high=1.0, high_open=True)
        self.beta2 = check_float(beta2, "beta2", "Adam", low=0.0, high=1.0, high_open=True)
        self.eps = check_float(eps, "eps", "Adam", low=0.0, low_open=True)
        self.t = 0
        self._m: list[np.ndarray] | None = None
        self._v: list[np.ndarray] | None = None
        self._tmp: list[np.ndarray] | None = None

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        if self._m is None:
            self._m = [np.zeros_like(p) for p in params]
            self._v = [np.zeros_like(p) for p in params]
            self._tmp = [np.empty_like(p) for p in params]
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        step_size = self.lr / (1.0 - b1**self.t)
        root_bc2 = np.sqrt(1.0 - b2**self.t)
        for p, g, m, v, tmp in zip(params, grads, self._m, self._v, self._tmp, strict=True):
            m *= b1
            np.multiply(g, 1.0 - b1, out=tmp)
            m += tmp
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - b2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp /= root_bc2
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp

    def denominators(self) -> list[np.ndarray]:
        """Per-coordinate ``sqrt(v̂) + ε`` after the last step, ``v̂ = v / (1 - β₂ᵗ)``: one new
        float array per parameter array, in the order of the ``params`` given to :meth:`step`.

        The proximal step of ``lr·λ‖w‖₁`` in Adam's diagonal metric
        ``D = diag((sqrt(v̂) + ε) / lr)`` soft-thresholds coordinate ``i`` by
        ``lr·λ / (sqrt(v̂ᵢ) + ε)`` (a scaled proximal step; e.g. Parikh & Boyd 2014,
        *Proximal Algorithms*, §3.1 on proximal operators in a scaled norm).
        Raises ``ValueError`` before the first step (there is no ``v̂`` yet).
        """
        if self._v is None or self.t == 0:
            fail("t", "Adam.denominators", "at least 1 (call step first)", self.t)
        root_bc2 = np.sqrt(1.0 - self.beta2**self.t)
        return [np.sqrt(v) / root_bc2 + self.eps for v in self._v]

    def __repr__(self) -> str:
        return f"Adam(lr={self.lr:g}, beta1={self.beta1:g}, beta2={self.beta2:g}, eps={self.eps:g})"


_OPTIONS = {"sgd": ("momentum",), "adam": ("beta1", "beta2", "eps")}


def make_optimizer(name: str, lr: float, **kwargs):
    """``"sgd"`` (options: ``momentum``) or ``"adam"`` (``beta1``, ``beta2``, ``eps``) with
    learning rate ``lr``."""
    check_choice(name, "optimizer", "make_optimizer", ("sgd", "adam"))
    unknown = [k for k in kwargs if k not in _OPTIONS[name]]
    if unknown:
        allowed = ", ".join(repr(k) for k in _OPTIONS[name])
        fail(
            "kwargs",
            "make_optimizer",
            f"options of {name!r} (any of {allowed})",
            described(", ".join(repr(k) for k in unknown)),
            TypeError,
        )
    return SGD(lr, **kwargs) if name == "sgd" else Adam(lr, **kwargs)
