"""K networks of one architecture as stacked arrays: forward and backward on ``(K, batch, width)``.

:class:`StackedMLP` holds the parameters of K :class:`~dropout_study.nn.mlp.MLP` objects of the
same layer sizes, activation, head and dtype as one array ``theta`` of shape ``(K, n_params)``
(row ``k`` is ``models[k].get_params()``: ``[W1, b1, W2, b2, ...]`` flattened) and their
gradients as ``grad`` of the same shape. A layer's weights ``W`` ``(n_in, n_out)`` and bias
``b`` ``(n_out,)`` are consecutive in a row, so they read as one matrix ``P = [W; b]`` of shape
``(n_in + 1, n_out)``, a view ``(K, n_in + 1, n_out)`` of ``theta``. The networks may differ in
their dropout rates (input and each hidden layer; ``None``, absent and ``0.0`` are the same: no
mask drawn, an exact identity).

The bias is folded into the products. Every layer's input carries a last column of ones,
``H = [h, 1]`` ``(n, n_in + 1)``, so that

- forward: ``Z = H P`` (``= h W + b``; one product, the bias added inside it);
- backward: ``dP = Hᵀ dZ`` (``[dW; db]``: ``db = Σ_rows dZ`` comes out of the same product) and
  ``dH = dZ Pᵀ`` (the last column of ``dH`` is unused), with ``Pᵀ`` a contiguous copy made
  before the product (a product with a transposed operand is slower here);
- a hidden layer's output buffer ``[Y, 1]`` ``(n, n_out + 1)`` is the next layer's input: the
  product writes its first ``n_out`` columns and every elementwise pass runs over the whole
  contiguous buffer, the ones passing through unchanged (``max(1, 0) = 1``, ``1 · 1 = 1``,
  the masks' last column is True and the dropout scale's is 1).

Per hidden layer then, as :mod:`dropout_study.nn.layers` states the formulas: ``A = act(Z)``;
dropout ``Y = (A · 1/(1-p)) · m``; backward through tanh and dropout ``dZ = (1 - A²) · ((dY ·
1/(1-p)) · m)``. ReLU and dropout together go through one factor per unit,
``G = 1/(1-p) · [Z > 0 and m]`` (0 or ``1/(1-p)``): ``Y = Z · G`` and ``dZ = dY · G`` (two
passes over the activations where the separate layers take six); ``Z · G`` is
``max(Z, 0) · 1/(1-p)`` for a kept positive unit and a zero (``-0`` for a negative ``Z``)
otherwise. Without dropout, ``Y = max(Z, 0)`` and ``dZ = dY · [Y > 0]``.

What a network's numbers depend on: only its own slice. Matrix products go through
``np.matmul`` on stacks, which calls BLAS once per slice (the call one network makes alone, with
the same shapes); reductions run along a network's own axes; elementwise ufuncs act on
each network's entries, with per-network constants (``1/(1-p)``) as arrays of the network's
dtype; dropout masks come from each network's own Generator, consumed exactly as
:func:`dropout_study.nn.layers.keep_mask` consumes it, layer by layer (input dropout first).
So a network's numbers are bit-identical whatever stack it is in (a stack of one is what
:func:`~dropout_study.nn.training.train` runs); they differ from ``MLP``'s own pass
(``h W`` then ``+ b``) by rounding (the bias summed inside the product, ``db`` by BLAS).

Below a one-unit layer ``dH = dZ Pᵀ`` is an outer product, formed by BLAS from operands padded
with a zero column and row, ``a·b + 0·0`` (numpy's loop and a broadcast product are 3-5× slower
on a stack). Work runs in blocks of networks (rows ``r0:r1``) whose buffers stay near
:data:`BLOCK_BYTES`, allocated once per shape and reused, with the views of a block's rows made
once per set of rows (:class:`_Plan`), so a step allocates little.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dropout_study.nn.mlp import MLP
from dropout_study.validation import described, fail

__all__ = ["StackedMLP", "BLOCK_BYTES", "augment"]

BLOCK_BYTES = 1 << 20
"""Target size of one ``(networks, batch, width)`` buffer of a block (bytes)."""


def augment(X: np.ndarray) -> np.ndarray:
    """``[X, 1]``: a new C-contiguous array with a last column of ones (any leading axes)."""
    return np.concatenate([X, np.ones((*X.shape[:-1], 1), X.dtype)], axis=-1)


class StackedMLP:
    """K networks of one architecture, stacked (see the module docstring).

    Parameters
    ----------
    models : sequence of MLP
        At least one; all with the same ``layer_sizes``, ``activation``, ``head_name`` and
        ``dtype`` (``ValueError`` naming the first network that differs). Their parameters are
        copied; the models are not modified.

    Attributes
    ----------
    theta, grad : (K, n_params) arrays of the models' dtype
    rates : (K, n_positions) float64
        Drop probability of each network at each dropout position: the input (if any network
        has input dropout) and each hidden layer.
    K : int
        Number of rows in use (:meth:`compact` lowers it).
    fixed : list of (K, n, width + 1) bool arrays, or None
        Keep masks used in every training pass instead of fresh ones (:meth:`fix_masks`).
    """

    def __init__(self, models: Sequence[MLP]) -> None:
        owner = "StackedMLP"
        if isinstance(models, MLP) or not isinstance(models, Sequence) or not models:
            fail("models", owner, "a non-empty list of MLPs", models, TypeError)
        for k, m in enumerate(models):
            if not isinstance(m, MLP):
                fail("models", owner, "a list of MLPs", described(f"{type(m).__name__} at {k}"))
        m0 = models[0]
        key0 = (m0.layer_sizes, m0.activation, m0.head_name, m0.dtype)
        for k, m in enumerate(models):
            if (m.layer_sizes, m.activation, m.head_name, m.dtype) != key0:
                fail(
                    "models",
                    owner,
                    f"networks of one architecture (as network 0: {m0!r})",
                    described(f"network {k}: {m!r}"),
                )
        self.sizes, self.activation, self.head_name, self.dtype = key0
        self._head = m0._head
        self.K = len(models)
        self.theta = np.stack([m.get_params() for m in models])
        self.grad = np.zeros_like(self.theta)
        self._layers = []  # per dense layer: (P view, dP view), each (K, n_in + 1, n_out)
        self._pt: list = []  # per dense layer: a (K, n_out, n_in + 1) buffer for Pᵀ, or None
        i = 0
        for li, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:], strict=True)):
            span, shape = slice(i, i + (n_in + 1) * n_out), (self.K, n_in + 1, n_out)
            P, dP = self.theta[:, span].reshape(shape), self.grad[:, span].reshape(shape)
            self._layers.append((P, dP))
            pt = np.empty((self.K, n_out, n_in + 1), self.dtype) if li and n_out > 1 else None
            self._pt.append(pt)
            i = span.stop
        self.weight_slices = _weight_slices(self.sizes)
        self.has_input = any(m.input_dropout > 0 for m in models)
        rows = []
        for m in models:
            hidden = list(m.dropout) if m.dropout is not None else [0.0] * (len(self.sizes) - 2)
            rows.append(([m.input_dropout] if self.has_input else []) + hidden)
        self.rates = np.array(rows, dtype=np.float64).reshape(self.K, -1)
        self.widths = ([self.sizes[0]] if self.has_input else []) + list(self.sizes[1:-1])
        self.fixed: list | None = None
        self._refresh()
        self._bufs: dict[tuple, np.ndarray] = {}
        self.mask_rngs: list = [None] * self.K

    # -----------------------------------------------------------------------------------------
    # Rows
    # -----------------------------------------------------------------------------------------
    def compact(self, keep: np.ndarray, state: Sequence[np.ndarray] = ()) -> None:
        """Keep rows ``keep`` (positions among the current ``K``), moved to the front in that
        order, in ``theta``, ``grad``, ``rates``, the mask generators, the fixed masks and the
        extra ``state`` arrays (each with rows first, e.g. optimiser moments); ``K`` becomes
        ``len(keep)``."""
        keep = np.asarray(keep, dtype=np.intp)
        fixed = [f for f in self.fixed or () if f is not None]
        for arr in (self.theta, self.grad, *state, *fixed):
            arr[: keep.size] = arr[keep]
        self.rates = self.rates[keep]
        self.mask_rngs = [self.mask_rngs[i] for i in keep]
        self.K = int(keep.size)
        self._refresh()

    def fix_masks(self, masks: list) -> None:
        """Use fixed keep masks in every training pass: ``masks[j]`` is a ``(K, n, width)``
        bool array for dropout position ``j`` (rows whose rate there is 0: all True), or None
        where no row drops."""
        self.fixed = [None if m is None else augment(m) for m in masks]
        self._refresh()

    def block_size(self, batch: int) -> int:
        """Networks per block for a batch of ``batch`` rows (see :data:`BLOCK_BYTES`)."""
        per_net = batch * (max(self.sizes) + 1) * self.dtype.itemsize
        return max(1, min(self.K, BLOCK_BYTES // per_net))

    def _buf(self, name: str, shape: tuple, dtype, rows: int, ones: bool = False) -> np.ndarray:
        """A buffer of ``shape`` (its first axis the block size) shared by the blocks and
        reused across steps, cut to ``rows``; with ``ones``, its last column is set to 1 when
        it is made (and never written again)."""
        key = (name, shape, np.dtype(dtype))
        buf = self._bufs.get(key)
        if buf is None:
            buf = self._bufs[key] = np.empty(shape, dtype=dtype)
            if ones:
                buf[..., -1] = 1
        return buf[:rows]

    def _refresh(self) -> None:
        """Forget the plans (they hold views of the rows) after the rows changed."""
        self._plans: dict[tuple, _Plan] = {}

    def _plan(self, r0: int, r1: int, n: int, kb: int, training: bool) -> _Plan:
        """The views and buffers of rows ``r0:r1`` for ``n`` samples, made once per set of rows
        (see :class:`_Plan`)."""
        key = (r0, r1, n, training)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _Plan(self, r0, r1, n, kb, training)
        return plan

    # -----------------------------------------------------------------------------------------
    # Forward and backward
    # -----------------------------------------------------------------------------------------
    def forward(self, X: np.ndarray, r0: int, r1: int, kb: int, training: bool) -> np.ndarray:
        """Logits ``(r1-r0, n, k)`` of rows ``r0:r1`` for inputs with their column of ones,
        ``[X, 1]`` of shape ``(n, d + 1)`` (shared by the rows) or ``(r1-r0, n, d + 1)``
        (:func:`augment`); in training mode with fresh masks from the rows' generators
        (:meth:`_Drop.draw`) or the fixed ones. Returns a buffer, overwritten by the next
        call."""
        plan = self._plan(r0, r1, X.shape[-2], kb, training)
        self._last = plan
        h = X
        if plan.input is not None:  # input dropout
            d_in = plan.input
            d_in.draw()
            np.multiply(X, d_in.scale, out=plan.xd)
            plan.xd *= d_in.keep
            h = plan.xd
        relu = self.activation == "relu"
        inputs = plan.inputs
        for li, (P, _, _) in enumerate(plan.layers):
            inputs[li] = h
            if li == plan.last:
                np.matmul(h, P, out=plan.z)
                return plan.z
            a = plan.a[li]  # [Z, 1], then [A, 1] or [Y, 1]
            np.matmul(h, P, out=a[:, :, :-1])
            d = plan.drops[li]
            h = a
            if relu and d is not None:  # Y = Z · G, G = 1/(1-p) · [Z > 0 and m]
                d.draw()
                pos, G = plan.pos[li], plan.G[li]
                np.greater(a, 0, out=pos)
                np.logical_and(pos, d.keep, out=pos)
                np.multiply(pos, d.scale, out=G)
                a *= G
            elif relu:
                np.maximum(a, 0, out=a)
            else:
                np.tanh(a, out=a)
                a[:, :, -1] = 1
                if d is not None:
                    d.draw()
                    h = plan.y[li]
                    np.multiply(a, d.scale, out=h)
                    h *= d.keep
        raise AssertionError("unreachable")  # pragma: no cover

    def backward(self, dz: np.ndarray, r0: int, r1: int, kb: int) -> None:
        """Back-propagate ``dz`` ``(rows, n, k)`` (gradient of each network's scalar with
        respect to its logits) through the last training :meth:`forward` of rows ``r0:r1``
        into ``grad[r0:r1]`` (see the module docstring for the formulas)."""
        plan = self._last
        relu = self.activation == "relu"
        g = dz
        for li in range(plan.last, -1, -1):
            P, dP, PT = plan.layers[li]
            h = plan.inputs[li]
            np.matmul(h.T if h.ndim == 2 else h.transpose(0, 2, 1), g, out=dP)
            if li == 0:
                return
            dh = plan.dh[li]  # [dY, junk]
            if PT is None:  # one unit: BLAS on zero-padded operands (module docstring)
                gp, wp = plan.pad[li]
                gp[:, :, 0] = g[:, :, 0]
                wp[:, 0, :] = P[:, :, 0]
                np.matmul(gp, wp, out=dh)
            else:
                np.copyto(PT, P.transpose(0, 2, 1))
                np.matmul(g, PT, out=dh)
            d = plan.drops[li - 1]
            if relu and d is not None:
                dh *= plan.G[li - 1]
            elif relu:
                gain = plan.gain[li]
                np.greater(plan.a[li - 1], 0, out=gain)
                dh *= gain
            else:
                if d is not None:
                    dh *= d.scale
                    dh *= d.keep
                t = plan.gain[li]
                a = plan.a[li - 1]
                np.multiply(a, a, out=t)
                np.subtract(1.0, t, out=t)
                t *= dh
                dh = t
            g = dh[:, :, :-1]


class _Drop:
    """One dropout position of one block: its keep masks ``[m, True]`` and how to draw them.

    :func:`dropout_study.nn.layers.keep_mask` per row: with ``t = p·2¹⁶``, ``h = floor(t)``,
    ``f = t - h``, each unit gets 16 random bits ``U`` (four per 64-bit word of the row's
    generator); kept if ``U > h``; for ``U = h`` (only when ``f > 0``) kept if a uniform
    ``V >= f``, the tied units' ``V`` drawn in order after the words; ``f = 0``: kept iff
    ``U >= h``. Rows with ``p = 0`` draw nothing: their words are all ones (every unit kept).
    With fixed masks (:meth:`StackedMLP.fix_masks`) nothing is drawn.
    """

    def __init__(self, net: StackedMLP, j: int, r0: int, r1: int, n: int, kb: int) -> None:
        rows, width = r1 - r0, net.widths[j]
        self.rows, self.nw = rows, -(-(n * width) // 4)
        self.ps = net.rates[r0:r1, j].tolist()
        self.rngs = net.mask_rngs[r0:r1]
        # 1/(1-p) of each row filling (rows, n, width + 1) in the dtype (a Python float cast
        # as in Dropout.forward; 1 in the column of ones): a product with it is one contiguous
        # pass, twice as fast as with a (rows, 1, 1) operand
        self.scale = np.empty((rows, n, width + 1), dtype=net.dtype)
        self.scale[...] = np.array([1.0 / (1.0 - p) for p in self.ps], net.dtype)[:, None, None]
        self.scale[:, :, -1] = 1
        self.fixed = (fixed := net.fixed) is not None
        if fixed is not None:
            self.keep = fixed[j][r0:r1]
            return
        self.keep = net._buf(f"keep{j}", (kb, n, width + 1), np.bool_, rows, ones=True)
        self.units = self.keep[:, :, :-1]
        self.words = net._buf(f"words{j}", (kb, self.nw), np.uint64, rows)
        self.bits = self.words.view(np.uint16)[:, : n * width].reshape(rows, n, width)
        thr, self.frac = np.zeros(rows, dtype=np.uint16), []
        for i, p in enumerate(self.ps):
            t = p * 65536.0
            h = int(t)
            thr[i] = h if t - h or p == 0 else h - 1
            self.frac.append(t - h)
        self.thr = thr.reshape(-1, 1, 1)
        self.zero = [i for i, p in enumerate(self.ps) if p == 0]
        self.tied = [i for i, f in enumerate(self.frac) if f > 0]
        self.tie = net._buf(f"tie{j}", (kb, n, width), np.bool_, rows) if self.tied else None

    def draw(self) -> None:
        """Fresh keep masks into :attr:`keep` from each row's own generator."""
        if self.fixed:
            return
        words, nw = self.words, self.nw
        for i, (p, rng) in enumerate(zip(self.ps, self.rngs, strict=True)):
            if p:
                words[i] = rng.bit_generator.random_raw(nw)
        for i in self.zero:
            words[i] = _ALL_ONES
        np.greater(self.bits, self.thr, out=self.units)
        if (tie := self.tie) is not None:  # some row ties (self.tied): P(U = h) = 2⁻¹⁶ per unit
            np.equal(self.bits, self.thr, out=tie)
            hit = np.logical_or.reduce(tie.reshape(self.rows, -1), axis=1)
            for i in self.tied:
                if hit[i]:
                    ties = np.flatnonzero(tie[i])
                    self.units[i].flat[ties] = self.rngs[i].random(ties.size) >= self.frac[i]


_ALL_ONES = ~np.uint64(0)


class _Plan:
    """Views of the rows ``r0:r1`` (``P``, ``dP`` and the ``Pᵀ`` buffer of each layer) and the
    buffers of a forward and backward pass on ``n`` samples, made once per set of rows."""

    def __init__(self, net: StackedMLP, r0: int, r1: int, n: int, kb: int, training: bool):
        rows, dtype = r1 - r0, net.dtype
        self.last = len(net._layers) - 1
        self.layers = [
            (P[r0:r1], dP[r0:r1], None if PT is None else PT[r0:r1])
            for (P, dP), PT in zip(net._layers, net._pt, strict=True)
        ]
        self.inputs: list = [None] * (self.last + 1)
        widths = net.sizes[1:]
        self.z = net._buf("z", (kb, n, widths[-1]), dtype, rows)
        self.a = [
            net._buf(f"a{li}", (kb, n, w + 1), dtype, rows, ones=True)
            for li, w in enumerate(widths[:-1])
        ]
        relu = net.activation == "relu"
        j0 = 1 if net.has_input else 0
        active = [training and bool(net.rates[r0:r1, j].any()) for j in range(net.rates.shape[1])]
        self.input = _Drop(net, 0, r0, r1, n, kb) if net.has_input and active[0] else None
        xd_shape = (kb, n, net.sizes[0] + 1)
        self.xd = net._buf("xd", xd_shape, dtype, rows, ones=True) if self.input else None
        self.drops = [
            _Drop(net, j0 + li, r0, r1, n, kb) if active[j0 + li] else None
            for li in range(self.last)
        ]
        self.y = [
            a if relu else net._buf(f"y{li}", (kb,) + a.shape[1:], dtype, rows, ones=True)
            for li, a in enumerate(self.a)
        ]
        self.pos, self.G = {}, {}  # ReLU with dropout: [Z > 0 and m] and G, per hidden layer
        for li, d in enumerate(self.drops):
            if relu and d is not None:
                shape = (kb,) + self.a[li].shape[1:]
                self.pos[li] = net._buf(f"pos{li}", shape, np.bool_, rows)
                self.G[li] = net._buf(f"G{li}", shape, dtype, rows)
        self.dh, self.gain, self.pad = {}, {}, {}
        if training:
            for li in range(1, self.last + 1):
                shape = (kb, n, net.sizes[li] + 1)
                self.dh[li] = net._buf(f"dh{li}", shape, dtype, rows)
                self.gain[li] = net._buf(f"g{li}", shape, np.bool_ if relu else dtype, rows)
                if widths[li] == 1:  # zero-padded operands of the outer product (backward)
                    gp = net._buf(f"gp{li}", (kb, n, 2), dtype, rows)
                    wp = net._buf(f"wp{li}", (kb, 2, net.sizes[li] + 1), dtype, rows)
                    gp[:, :, 1], wp[:, 1, :] = 0.0, 0.0
                    self.pad[li] = (gp, wp)


def _weight_slices(sizes) -> list[slice]:
    """Where each weight matrix sits in a flat parameter vector ``[W1, b1, W2, b2, ...]``."""
    shapes = list(zip(sizes[:-1], sizes[1:], strict=True))
    starts = np.cumsum([0] + [(a + 1) * b for a, b in shapes])  # each [W; b] takes (a + 1)·b
    return [slice(int(e), int(e) + a * b) for e, (a, b) in zip(starts, shapes, strict=False)]
