"""Optimisers that update a network's parameter arrays in place.

``step(params, grads)`` takes the lists of live parameter arrays and their gradients (as
:attr:`MLP.params` / :attr:`MLP.grads`) and updates the parameters in place, reusing its own
state buffers (no allocation per step).

Speed (internals only; the arithmetic per element is exactly the formula below): when the
parameter arrays are consecutive views of one flat buffer (as :class:`~dropout_study.nn.mlp.MLP`
keeps them, and their gradients likewise), a step updates that buffer in one go instead of
array by array — a small network's step is then a dozen ufunc calls, not a dozen per array —
and it walks the buffer in chunks of :data:`CHUNK` elements so that the update's passes over
``θ``, ``g``, ``m``, ``v`` stay in the CPU cache. With :func:`set_threads` ``(n > 1)`` the
chunks of an update of at least :data:`THREADED_MIN` elements are shared among ``n`` threads
(numpy releases the GIL inside a ufunc); each element still sees exactly the same operations,
so the result does not depend on the thread count. The default is one thread: the study's
sweeps run one process per core.

- :class:`SGD`: ``v ← μ v + g``; ``θ ← θ - lr · v`` (``μ = 0``: plain gradient descent).
- :class:`Adam`: Kingma & Ba (2015) with bias correction, PyTorch's formulation
  ``m ← β₁m + (1-β₁)g``, ``v ← β₂v + (1-β₂)g²``,
  ``θ ← θ - (lr / (1 - β₁ᵗ)) · m / (sqrt(v) / sqrt(1 - β₂ᵗ) + ε)``, computed in ten passes
  over the parameters instead of thirteen by keeping the moments scaled by constants,
  ``M = m / (1-β₁)`` and ``V = v / (1-β₂)``:
  ``M ← β₁M + g``; ``V ← β₂V + g²``; ``θ ← θ - s_t · M / (sqrt(V) + ε_t)`` with
  ``r_t = sqrt((1-β₂) / (1-β₂ᵗ))``, ``s_t = lr (1-β₁) / ((1-β₁ᵗ) r_t)`` and ``ε_t = ε / r_t``
  (Python floats). The same update as PyTorch's up to rounding (``tests/nn/test_torch_oracle.py``);
  :mod:`dropout_study.nn.stack_optim` applies exactly these passes to stacked networks.
  :meth:`Adam.denominators` gives the per-coordinate ``sqrt(v̂) + ε = r_t sqrt(V) + ε`` of
  the last step (``v̂ = v / (1 - β₂ᵗ)``), the diagonal metric of the scaled proximal L1 step
  (chapter 4).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import EllipsisType
from typing import TypedDict

import numpy as np

from dropout_study.validation import check_float, check_int, fail

__all__ = ["SGD", "Adam", "MaxNorm", "max_norm_project", "base_optimizer", "set_threads"]

CHUNK = 32768
"""Elements per chunk of an update. Each chunk costs a dozen ufunc calls (about 20 µs of
dispatch); smaller chunks stay in a smaller cache but pay that more often — measured on a
300 000-parameter Adam step, 32768 was fastest of 2048 … 32768 and unchunked."""

THREADED_MIN = 2 * CHUNK
"""Updates of fewer elements run in the calling thread whatever :func:`set_threads` says."""


_Index = slice | EllipsisType
"""An index expression of one piece of an update (:func:`_chunks`)."""


class _PoolState(TypedDict):
    n: int
    executor: ThreadPoolExecutor | None


_POOL: _PoolState = {"n": 1, "executor": None}


def set_threads(n: int) -> None:
    """Share large optimiser updates among ``n`` threads (``1``: the calling thread only, the
    default). Results are bit-for-bit the same for every ``n`` (elementwise arithmetic)."""
    n = check_int(n, "n", "set_threads", low=1)
    if n != _POOL["n"]:
        old = _POOL["executor"]
        if old is not None:
            old.shutdown(wait=True)
        _POOL["n"] = n
        _POOL["executor"] = ThreadPoolExecutor(n, thread_name_prefix="optim") if n > 1 else None


def _plan(arrays: Sequence[np.ndarray]) -> list[list[tuple[int, _Index]]]:
    """The update's pieces ``(array index, index expression)``, grouped into one list per
    thread that will run them (a single list: the calling thread alone).

    Small updates (fewer than :data:`THREADED_MIN` elements) and one thread: every chunk of
    :func:`_chunks` in order, in the calling thread. Otherwise one flat array (the usual case,
    see :class:`_Layout`) is cut into ``n`` equal contiguous ranges, one per thread, each walked
    in chunks of at most :data:`CHUNK` (so two threads share 74 000 elements 37 000 each, not
    two chunks against one); several arrays are dealt out whole-chunk by whole-chunk."""
    n = _POOL["n"]
    size = sum(a.size for a in arrays)
    if n == 1 or size < THREADED_MIN:
        return [[(i, c) for i, a in enumerate(arrays) for c in _chunks(a)]]
    if len(arrays) == 1 and arrays[0].ndim == 1:
        cuts = [round(w * size / n) for w in range(n + 1)]
        return [
            [(0, slice(s, min(s + CHUNK, cuts[w + 1]))) for s in range(cuts[w], cuts[w + 1], CHUNK)]
            for w in range(n)
        ]
    pieces = [(i, c) for i, a in enumerate(arrays) for c in _chunks(a)]
    n = min(n, len(pieces))
    cuts = [round(w * len(pieces) / n) for w in range(n + 1)]
    return [pieces[cuts[w] : cuts[w + 1]] for w in range(n)]


def _run(
    plan: list[list[tuple[int, _Index]]], work: Callable[[int, list[tuple[int, _Index]]], None]
) -> None:
    """``work(worker, pieces)`` for each group of :func:`_plan`: the first in the calling
    thread, the others in the pool, all finished on return."""
    futures: list[Future[None]] = []
    if len(plan) > 1:
        executor = _POOL["executor"]
        if executor is None:
            raise RuntimeError("optimiser update planned for several threads but no pool exists")
        futures = [executor.submit(work, w, mine) for w, mine in enumerate(plan) if w]
    work(0, plan[0])
    for f in futures:
        f.result()


def _tiled_by(arrays: Sequence[np.ndarray]) -> np.ndarray | None:
    """The 1-D array that ``arrays`` tile end to end in order (C-contiguous views of one
    buffer), or None."""
    base = arrays[0].base if arrays else None
    if base is None or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    address, offset = base.ctypes.data, 0
    for a in arrays:
        if a.base is not base or not a.flags.c_contiguous:
            return None
        if a.ctypes.data != address + offset * base.itemsize:
            return None
        offset += a.size
    return base if offset == base.size else None


class _Layout:
    """Remembers whether a list of parameters and one of gradients each tile a flat buffer,
    so the check runs once per set of arrays, not every step."""

    __slots__ = ("_seen", "_flat", "shapes")

    def __init__(self) -> None:
        self._seen: tuple = ()
        self._flat: tuple | None = None
        self.shapes: list[tuple[int, ...]] = []  # of the params last given, as given

    def __call__(self, params, grads) -> tuple[list[np.ndarray], list[np.ndarray]]:
        arrays = (*params, *grads)
        if len(arrays) != len(self._seen) or not all(map(operator.is_, arrays, self._seen)):
            self._seen = arrays
            self.shapes = [a.shape for a in params]
            p, g = _tiled_by(params), _tiled_by(grads)
            ok = p is not None and g is not None and p.dtype == g.dtype
            self._flat = ([p], [g]) if ok else None
        if self._flat is not None:
            return self._flat
        return list(params), list(grads)

    def split(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """Per-step arrays (one flat one when the parameters tile a buffer) → one array per
        parameter array, in the shapes given to the step (views of the flat one)."""
        if self._flat is None or len(arrays) != 1:
            return arrays
        out, i = [], 0
        for shape in self.shapes:
            n = math.prod(shape)
            out.append(arrays[0][i : i + n].reshape(shape))
            i += n
        return out


def _scratch(params: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Scratch vectors, one per thread, as long as the largest piece :func:`_chunks` makes."""
    n = max(min(p.size, CHUNK) if p.ndim == 1 else p.size for p in params)
    return [np.empty(n, dtype=params[0].dtype) for _ in range(_POOL["n"])]


def _chunks(p: np.ndarray) -> Iterator[_Index]:
    """Index expressions that split ``p`` (1-D) into chunks of :data:`CHUNK`; a whole array of
    another shape is one piece."""
    if p.ndim != 1:
        yield ...
        return
    for start in range(0, p.size, CHUNK):
        yield slice(start, min(start + CHUNK, p.size))


class SGD:
    """Stochastic gradient descent with optional (heavy-ball) momentum."""

    name = "sgd"

    def __init__(self, lr: float = 0.1, momentum: float = 0.0) -> None:
        self.lr = check_float(lr, "lr", "SGD", low=0.0, low_open=True)
        self.momentum = check_float(momentum, "momentum", "SGD", low=0.0, high=1.0, high_open=True)
        self._v: list[np.ndarray] | None = None
        self._tmp: list[np.ndarray] | None = None
        self._layout = _Layout()

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        params, grads = self._layout(params, grads)
        if self._tmp is None:
            self._tmp = _scratch(params)
            if self.momentum:
                self._v = [np.zeros(p.shape, p.dtype) for p in params]
        if len(self._tmp) < _POOL["n"]:
            self._tmp = _scratch(params)
        tmps, vs = self._tmp, self._v
        if self.momentum and vs is None:
            raise RuntimeError("SGD with momentum has no velocity buffers")

        def work(worker: int, mine: list[tuple[int, _Index]]) -> None:
            for i, c in mine:
                p, g = params[i][c], grads[i][c]
                tmp = tmps[worker][: p.size].reshape(p.shape)
                if vs is not None and self.momentum:
                    v = vs[i][c]
                    v *= self.momentum
                    v += g
                    np.multiply(v, self.lr, out=tmp)
                else:
                    np.multiply(g, self.lr, out=tmp)
                p -= tmp

        _run(_plan(params), work)

    def state(self) -> dict | None:
        """The velocity as one flat vector (a copy), ``{"v"}``, or None (no momentum, or
        before the first step)."""
        if self._v is None:
            return None
        return {"v": np.concatenate([a.ravel() for a in self._v])}

    def set_state(self, state: dict) -> None:
        """Continue from ``state`` (as :meth:`state` returns it) for parameters that tile one
        flat buffer, as :class:`~dropout_study.nn.mlp.MLP` keeps them."""
        self._v = [state["v"].copy()]
        self._tmp = _scratch(self._v)

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
        self._layout = _Layout()

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        params, grads = self._layout(params, grads)
        if self._m is None:
            self._m = [np.zeros(p.shape, p.dtype) for p in params]
            self._v = [np.zeros(p.shape, p.dtype) for p in params]
            self._tmp = _scratch(params)
        self.t += 1
        # Python floats, not np.float64: a float32 array times an np.float64 scalar is computed
        # through float64 with a cast per element (about 5× slower than the product)
        step_size, eps_t = self.constants(self.t)
        if self._tmp is None or len(self._tmp) < _POOL["n"]:
            self._tmp = _scratch(params)
        m_, v_, tmps = self._m, self._v, self._tmp
        if v_ is None:
            raise RuntimeError("Adam has first moments but no second moments")

        def work(worker: int, mine: list[tuple[int, _Index]]) -> None:
            tmp = tmps[worker]
            for i, c in mine:
                self._update(params[i][c], grads[i][c], m_[i][c], v_[i][c], tmp, step_size, eps_t)

        _run(_plan(params), work)

    def constants(self, t: int) -> tuple[float, float]:
        """``(s_t, ε_t)`` of step ``t`` (see the module docstring), as Python floats."""
        r = math.sqrt((1.0 - self.beta2) / (1.0 - self.beta2**t))
        return self.lr * (1.0 - self.beta1) / ((1.0 - self.beta1**t) * r), self.eps / r

    def _update(self, p, g, M, V, tmp, step_size, eps_t) -> None:
        """``M ← β₁M + g``; ``V ← β₂V + g²``; ``p ← p - step_size · M / (sqrt(V) + ε_t)`` on one
        chunk, in place (ten passes)."""
        tmp = tmp[: p.size].reshape(p.shape)
        M *= self.beta1
        M += g
        V *= self.beta2
        np.multiply(g, g, out=tmp)
        V += tmp
        np.sqrt(V, out=tmp)
        tmp += eps_t
        np.divide(M, tmp, out=tmp)
        tmp *= step_size
        p -= tmp

    def denominators(self) -> list[np.ndarray]:
        """Per-coordinate ``sqrt(v̂) + ε`` after the last step, ``v̂ = v / (1 - β₂ᵗ)``, computed
        as ``r_t · sqrt(V) + ε`` in float64: one new array per parameter array, in the order
        of the ``params`` given to :meth:`step`.

        The proximal step of ``lr·λ‖w‖₁`` in Adam's diagonal metric
        ``D = diag((sqrt(v̂) + ε) / lr)`` soft-thresholds coordinate ``i`` by
        ``lr·λ / (sqrt(v̂ᵢ) + ε)`` (a scaled proximal step; e.g. Parikh & Boyd 2014,
        *Proximal Algorithms*, §3.1 on proximal operators in a scaled norm).
        Raises ``ValueError`` before the first step (there is no ``v̂`` yet).
        """
        if self._v is None or self.t == 0:
            fail("t", "Adam.denominators", "at least 1 (call step first)", self.t)
        r = np.float64(math.sqrt((1.0 - self.beta2) / (1.0 - self.beta2**self.t)))
        return self._layout.split([np.sqrt(V) * r + self.eps for V in self._v])

    def state(self) -> dict | None:
        """The moments as flat vectors in the order of the parameters of the steps, and the
        step count: ``{"t", "M", "V"}`` (copies; ``M = m/(1-β₁)``, ``V = v/(1-β₂)``), or None
        before the first step."""
        if self._m is None:
            return None
        flat = lambda arrays: np.concatenate([a.ravel() for a in arrays])  # noqa: E731
        return {"t": self.t, "M": flat(self._m), "V": flat(self._v)}

    def set_state(self, state: dict) -> None:
        """Continue from ``state`` (as :meth:`state` returns it) for parameters that tile one
        flat buffer, as :class:`~dropout_study.nn.mlp.MLP` keeps them."""
        self.t = int(state["t"])
        self._m, self._v = [state["M"].copy()], [state["V"].copy()]
        self._tmp = _scratch(self._m)

    def __repr__(self) -> str:
        return f"Adam(lr={self.lr:g}, beta1={self.beta1:g}, beta2={self.beta2:g}, eps={self.eps:g})"


def max_norm_project(W: np.ndarray, c) -> None:
    """Project, in place, every column of ``W`` onto the ball ``‖w‖₂ ≤ c`` (Srivastava et al.
    2014, §5.1; Hinton et al. 2012): a column with a larger norm is scaled by ``c/‖w‖₂``, the
    others are left as they are. ``W``: ``(fan_in, units)`` (column ``j`` is unit ``j``'s
    incoming weight vector) or a stack ``(K, fan_in, units)`` with ``c`` a float or ``(K, 1)``
    (``inf`` leaves a network's weights unchanged, bit for bit)."""
    norms = np.sqrt(np.sum(W * W, axis=-2))
    scale = np.minimum(1.0, c / np.maximum(norms, np.finfo(W.dtype).tiny))
    W *= scale if W.ndim == 2 else scale[:, None, :]


class MaxNorm:
    """The max-norm constraint on an optimiser: its step, then :func:`max_norm_project` of
    every weight matrix but the last (the hidden units' incoming weights; biases and the
    output layer are not constrained). Everything else (``lr``, ``momentum``, moments) is the
    wrapped optimiser's, which :func:`base_optimizer` returns.

    Raises ``TypeError`` unless ``inner`` is an :class:`SGD` or :class:`Adam`; ``ValueError``
    unless ``c > 0``."""

    def __init__(self, inner, c: float) -> None:
        if not isinstance(inner, SGD | Adam):
            fail("inner", "MaxNorm", "an SGD or Adam optimiser", inner, TypeError)
        self.inner = inner
        self.c = check_float(c, "c", "MaxNorm", low=0.0, low_open=True)

    def __getattr__(self, name: str):
        if name == "inner":  # not set yet (unpickling)
            raise AttributeError(name)
        return getattr(self.inner, name)

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """The inner step on ``[W1, b1, W2, b2, …]``, then the hidden weights projected."""
        self.inner.step(params, grads)
        weights = [p for p in params[0::2] if p.ndim == 2]
        for W in weights[:-1]:
            max_norm_project(W, self.c)

    def __repr__(self) -> str:
        return f"MaxNorm({self.inner!r}, c={self.c:g})"


def base_optimizer(optimizer):
    """The :class:`SGD` or :class:`Adam` that does the step (the optimiser, or the one a
    :class:`MaxNorm` wraps)."""
    return optimizer.inner if isinstance(optimizer, MaxNorm) else optimizer


_OPTIONS = {"sgd": ("momentum",), "adam": ("beta1", "beta2", "eps")}
