"""Optimiser steps and penalties for K stacked networks: rows of ``(K, n_params)`` arrays.

:class:`StackedUpdate` applies to row ``k`` of the stacked parameters ``theta`` and gradients
``grad`` (see :class:`dropout_study.stack_layers.StackedMLP`) exactly the arithmetic that
``optimizers[k]`` (:class:`~dropout_study.optim.SGD` or :class:`~dropout_study.optim.Adam`) and
``penalties[k]`` (:mod:`dropout_study.penalties`) apply to one network's flat parameters:

- SGD: ``v ← μ v + g``; ``θ ← θ - lr · v`` (``μ = 0``: ``θ ← θ - lr · g``).
- Adam (Kingma & Ba 2015, PyTorch's form) with its moments kept scaled,
  ``M = m/(1-β₁)`` and ``V = v/(1-β₂)``: ``M ← β₁M + g``; ``V ← β₂V + g²``;
  ``θ ← θ - s_t · M / (sqrt(V) + ε_t)``, the same ten passes in the same order as
  :meth:`dropout_study.nn.optim.Adam._update` (each a separate rounding), with its constants
  :meth:`dropout_study.nn.optim.Adam.constants`.
- Penalties on the weights only (never biases): L2 ``g += λ w``, L1 sub-gradient
  ``g += λ sign(w)`` before the step; after it the proximal L1 step ``w ← S_{lr·λ}(w)`` (plain
  SGD only) or the scaled one ``w ← sign(w) max(|w| - lr·λ/(sqrt(v̂) + ε), 0)`` (Adam only,
  ``sqrt(v̂) + ε`` as :meth:`dropout_study.nn.optim.Adam.denominators` computes it).
  A penalty with ``λ = 0`` is no penalty (the one-network code skips it too).
- Max-norm (:class:`~dropout_study.nn.optim.MaxNorm` rows): after the step, each hidden weight
  matrix of the row projected as :meth:`MaxNorm.step` projects it (``c = inf`` in rows
  without the constraint, which leaves them unchanged bit for bit).

The optimisers' state: a row starts from its optimiser's moments (:meth:`SGD.state`,
:meth:`Adam.state`; zeros for a fresh one; all rows at one step count) and, when every row has
an optimiser object of its own, :meth:`StackedUpdate.export` leaves each its row's moments, as
one-network training leaves them in its optimiser.

Per-row hyper-parameters are Python floats when all rows share them (a ufunc then casts them to
the dtype, as in the one-network call) and ``(K, 1)`` arrays of the dtype otherwise (the same
numbers). The rows must be ordered by :func:`group_key` (so each kind of penalty is a contiguous
range of rows) and all rows take their ``t``-th step together.
"""

from __future__ import annotations

import math

import numpy as np

from dropout_study.nn.optim import CHUNK, Adam, MaxNorm, base_optimizer, max_norm_project

__all__ = ["StackedUpdate", "group_key"]

_KINDS = ("none", "l2", "l1sub", "prox", "sprox")


def group_key(optimizer, penalty) -> tuple[int, int]:
    """Sort key of a network in the stack: its penalty kind (an index into ``none, l2, l1sub,
    prox, sprox``; ``λ = 0`` is ``none``), then momentum or not."""
    kind = "none"
    if penalty is not None and penalty.lam:
        if penalty.name == "l2":
            kind = "l2"
        else:
            kind = {"subgradient": "l1sub", "proximal": "prox"}.get(penalty.mode, "sprox")
    return _KINDS.index(kind), int(bool(getattr(optimizer, "momentum", 0.0)))


def _col(values: list[float], dtype):
    """A Python float if every row has the same value, else a ``(K, 1)`` array of ``dtype``."""
    if all(v == values[0] for v in values):
        return values[0]
    return np.array(values, dtype=dtype).reshape(-1, 1)


class StackedUpdate:
    """Stacked optimiser state and penalties for rows ``0:K`` (see the module docstring).

    Parameters
    ----------
    optimizers, penalties : lists, one entry per row (in row order)
    n_params : int
    dtype : the parameters' dtype
    weight_slices : list of slice
        Where each weight matrix sits in a row (biases are never penalised).
    sizes : layer sizes ``[d, h1, …, k]`` (the weight matrices' shapes, for max-norm rows)
    """

    def __init__(self, optimizers, penalties, n_params: int, dtype, weight_slices,
                 sizes=None) -> None:  # fmt: skip
        self.adam = isinstance(base_optimizer(optimizers[0]), Adam)
        self.dtype = np.dtype(dtype)
        self.weight_slices = list(weight_slices)
        sizes = list(sizes) if sizes is not None else []
        self.shapes = list(zip(sizes[:-1], sizes[1:], strict=True))  # (fan_in, units) per W
        self.opts = list(optimizers)
        self.pens = list(penalties)
        K = len(self.opts)
        momentum = any(getattr(o, "momentum", 0.0) for o in self.opts)
        # Adam's scaled first and second moments (M, V), or SGD's velocity (in m)
        self.m = np.zeros((K, n_params), dtype) if self.adam or momentum else None
        self.v = np.zeros((K, n_params), dtype) if self.adam else None
        self.tmp = np.empty((K, n_params), dtype)
        self.t = 0
        for k, o in enumerate(self.opts):
            state = o.state()
            if state is not None:
                if self.adam:
                    self.t = state["t"]
                    m, v = self._adam_moments()
                    m[k], v[k] = state["M"], state["V"]
                elif "v" in state and self.m is not None:
                    self.m[k] = state["v"]
        self._cache: dict = {}

    def _adam_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """``(M, V)``, which exist for Adam rows."""
        if self.m is None or self.v is None:
            raise RuntimeError("stacked Adam rows without their moment arrays")
        return self.m, self.v

    def _velocity(self) -> np.ndarray:
        """SGD's velocity rows, which exist when some row has momentum."""
        if self.m is None:
            raise RuntimeError("stacked SGD rows with momentum but no velocity array")
        return self.m

    def export(self, r: int) -> None:
        """Leave row ``r``'s moments (and the step count) in its optimiser object."""
        opt = self.opts[r]
        if self.adam:
            m, v = self._adam_moments()
            opt.set_state({"t": self.t, "M": m[r], "V": v[r]})
        elif getattr(opt, "momentum", 0.0):
            opt.set_state({"v": self._velocity()[r]})

    @property
    def state(self) -> list[np.ndarray]:
        """The arrays with one row per network (for :meth:`StackedMLP.compact`)."""
        return [a for a in (self.m, self.v) if a is not None]

    def compact(self, keep) -> None:
        """Keep the per-row hyper-parameters of rows ``keep`` (the arrays are compacted by the
        caller through :attr:`state`)."""
        self.opts = [self.opts[i] for i in keep]
        self.pens = [self.pens[i] for i in keep]
        self._cache.clear()

    def _cached(self, key, make):
        """``make()``, computed once per set of rows."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def _runs(self) -> list[tuple[str, bool, int, int]]:
        """``(penalty kind, momentum, first row, end row)`` of each run of equal
        :func:`group_key` (the rows are sorted by it, so each key is one run)."""
        return self._cached("runs", self._make_runs)

    def _make_runs(self) -> list[tuple[str, bool, int, int]]:
        keys = [group_key(o, p) for o, p in zip(self.opts, self.pens, strict=True)]
        out: list[tuple[str, bool, int, int]] = []
        for i, key in enumerate(keys):
            if i and key == keys[i - 1]:
                kind, momentum, first, _ = out[-1]
                out[-1] = (kind, momentum, first, i + 1)
            else:
                out.append((_KINDS[key[0]], bool(key[1]), i, i + 1))
        return out

    def _ranges(self, kinds) -> list[tuple[str, int, int]]:
        """``(kind, first row, end row)`` of the runs whose penalty kind is in ``kinds``."""
        return self._cached(
            ("ranges", kinds), lambda: [(k, a, b) for k, _, a, b in self._runs() if k in kinds]
        )

    # -----------------------------------------------------------------------------------------
    def penalty_values(self, theta: np.ndarray) -> np.ndarray:
        """``R(w)`` of each row ``(K,)`` float64, as ``L2.value`` / ``L1.value`` sum it:
        per weight matrix ``Σ w²`` (BLAS dot) or ``Σ |w|`` in the dtype, the matrices added
        in order, then ``(λ/2) ·`` or ``λ ·`` in float64; 0 without a penalty."""
        out = np.zeros(len(self.opts))
        for kind, a, b in self._ranges(("l2", "l1sub", "prox", "sprox")):
            acc: np.ndarray | None = None
            for sl in self.weight_slices:
                w = theta[a:b, sl]
                if kind == "l2":
                    part = np.matmul(w[:, None, :], w[:, :, None])[:, 0, 0]
                else:
                    part = np.abs(w).sum(axis=1)
                acc = part if acc is None else acc + part
            if acc is None:
                raise RuntimeError("a penalised stack without weight matrices")
            lam = [p.lam for p in self.pens[a:b]]
            factor = [0.5 * x for x in lam] if kind == "l2" else lam
            out[a:b] = np.array(factor) * acc.astype(np.float64)
        return out

    def add_penalty_grads(self, theta: np.ndarray, grad: np.ndarray) -> None:
        """``g += λ w`` (L2) or ``g += λ sign(w)`` (L1 sub-gradient) on the weights of the rows
        with such a penalty."""
        for kind, a, b in self._ranges(("l2", "l1sub")):
            lam = _col([p.lam for p in self.pens[a:b]], self.dtype)
            for sl in self.weight_slices:
                w, g = theta[a:b, sl], grad[a:b, sl]
                g += lam * (w if kind == "l2" else np.sign(w))

    def step(self, theta: np.ndarray, grad: np.ndarray) -> None:
        """One optimiser step on rows ``0:K`` (``K`` = number of optimisers), in chunks of rows
        of about :data:`dropout_study.optim.CHUNK` elements so that the passes stay in cache;
        then the max-norm projection of the rows that have one."""
        self._step(theta, grad)
        c = self._cached("max_norm", self._max_norms)
        if c is None:
            return
        K = len(self.opts)
        for (n_in, n_out), sl in list(zip(self.shapes, self.weight_slices, strict=True))[:-1]:
            W = theta[:K, sl].reshape(K, n_in, n_out)
            max_norm_project(W, c)
            if not np.shares_memory(W, theta):  # reshape copied: write the result back
                theta[:K, sl] = W.reshape(K, -1)

    def _max_norms(self):
        """``c`` per row (a float or ``(K, 1)``; ``inf`` without the constraint), or None."""
        cs = [o.c if isinstance(o, MaxNorm) else math.inf for o in self.opts]
        return None if all(math.isinf(c) for c in cs) else _col(cs, self.dtype)

    def _step(self, theta: np.ndarray, grad: np.ndarray) -> None:
        K = len(self.opts)
        self.t += 1
        rows = max(1, CHUNK // theta.shape[1])
        if self.adam:
            b1, b2 = self._cached("adam", self._adam_constants)
            step, eps = self._bias_corrections()
            m, v = self._adam_moments()
            if rows >= K:  # one chunk
                self._adam(theta[:K], grad[:K], m[:K], v[:K], self.tmp[:K],
                           (b1, b2, step, eps))  # fmt: skip
                return
            for r0 in range(0, K, rows):
                r1 = min(K, r0 + rows)
                c = tuple(x if isinstance(x, float) else x[r0:r1] for x in (b1, b2, step, eps))
                self._adam(theta[r0:r1], grad[r0:r1], m[r0:r1], v[r0:r1],
                           self.tmp[: r1 - r0], c)  # fmt: skip
            return
        for _, momentum, a, b in self._runs():
            lr, mu = self._cached(("sgd", a, b), lambda a=a, b=b, m=momentum: self._sgd(a, b, m))
            for r0 in range(a, b, rows):
                r1 = min(b, r0 + rows)
                p, g, tmp = theta[r0:r1], grad[r0:r1], self.tmp[: r1 - r0]
                lr_r = lr if isinstance(lr, float) else lr[r0 - a : r1 - a]
                if momentum:  # heavy ball: v ← μ v + g; θ ← θ - lr · v
                    vel = self._velocity()[r0:r1]
                    vel *= mu if isinstance(mu, float) else mu[r0 - a : r1 - a]
                    vel += g
                    np.multiply(vel, lr_r, out=tmp)
                else:
                    np.multiply(g, lr_r, out=tmp)
                p -= tmp

    def _sgd(self, a: int, b: int, momentum: bool):
        lr = _col([o.lr for o in self.opts[a:b]], self.dtype)
        mu = _col([o.momentum for o in self.opts[a:b]], self.dtype) if momentum else 0.0
        return lr, mu

    def _adam_constants(self) -> tuple:
        return (
            _col([o.beta1 for o in self.opts], self.dtype),
            _col([o.beta2 for o in self.opts], self.dtype),
        )

    def _bias_corrections(self):
        """``s_t`` and ``ε_t`` of each row (:meth:`dropout_study.nn.optim.Adam.constants`, in
        Python's float arithmetic), as :func:`_col` columns: Python floats when every row has
        the same hyper-parameters (as Adam.step), else ``(K, 1)`` arrays of the dtype."""
        firsts, index = self._cached("adam_rows", self._adam_rows)
        consts = [self.opts[i].constants(self.t) for i in firsts]
        if len(consts) == 1:
            return consts[0]
        table = np.array(consts)[index]
        return tuple(table[:, c].astype(self.dtype).reshape(-1, 1) for c in (0, 1))

    def _adam_rows(self):
        """The first row of each distinct ``(lr, β₁, β₂, ε)`` and each row's index into them."""
        keys = [(o.lr, o.beta1, o.beta2, o.eps) for o in self.opts]
        first: dict = {}
        for i, k in enumerate(keys):
            first.setdefault(k, i)
        order = list(first)
        return list(first.values()), np.array([order.index(k) for k in keys])

    def _adam(self, p, g, M, V, tmp, c) -> None:
        """:meth:`dropout_study.nn.optim.Adam._update` on rows: its passes, in its order."""
        b1, b2, step, eps = c
        M *= b1
        M += g
        V *= b2
        np.multiply(g, g, out=tmp)
        V += tmp
        np.sqrt(V, out=tmp)
        tmp += eps
        np.divide(M, tmp, out=tmp)
        tmp *= step
        p -= tmp

    def prox(self, theta: np.ndarray) -> None:
        """The proximal L1 steps after the optimiser's step, on the weights of their rows:
        plain ``S_{lr·λ}`` (as :func:`dropout_study.penalties.soft_threshold`) or scaled by
        Adam's ``sqrt(v̂) + ε = r_t sqrt(V) + ε`` (as :meth:`dropout_study.penalties.L1.prox_scaled`
        with :meth:`dropout_study.optim.Adam.denominators`, in float64)."""
        for kind, a, b in self._ranges(("prox", "sprox")):
            opts, pens = self.opts[a:b], self.pens[a:b]
            if kind == "prox":
                thr = _col([o.lr * p.lam for o, p in zip(opts, pens, strict=True)], self.dtype)
            else:
                t = self.t
                r = np.array([math.sqrt((1.0 - o.beta2) / (1.0 - o.beta2**t)) for o in opts])
                r = r.reshape(-1, 1)
                eps = np.array([o.eps for o in opts]).reshape(-1, 1)
                lr_lam = np.array([o.lr * p.lam for o, p in zip(opts, pens, strict=True)])
                lr_lam = lr_lam.reshape(-1, 1)
            for sl in self.weight_slices:
                w = theta[a:b, sl]
                if kind == "prox":
                    mag = np.abs(w) - thr
                else:
                    d = np.sqrt(self._adam_moments()[1][a:b, sl]) * r + eps
                    mag = np.abs(w) - lr_lam / d
                np.maximum(mag, 0.0, out=mag)
                np.multiply(np.sign(w), mag, out=w)
