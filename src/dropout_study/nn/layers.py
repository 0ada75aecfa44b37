"""Layers of the numpy MLP: forward and backward side by side.

Conventions
-----------
- Inputs ``X`` have shape ``(n_samples, n_features)``; a layer's ``forward`` returns
  ``(n_samples, n_out)`` and its ``backward(dY)`` returns ``dX`` of the input's shape.
- ``Dense`` stores ``W`` of shape ``(n_in, n_out)`` and ``b`` of shape ``(n_out,)``; after
  ``backward`` its gradients are in ``dW`` and ``db`` (same shapes). Gradients are of whatever
  scalar the caller back-propagates (the network passes the gradient of the *mean* loss).
- To keep a training step free of allocation churn, every layer writes its output and its
  input-gradient into buffers it owns and reuses while the batch size stays the same. The
  arrays returned by ``forward``/``backward`` are therefore overwritten by the next call: copy
  them if you keep them. (:class:`dropout_study.nn.mlp.MLP`'s public methods return copies.)

Dropout is *inverted* dropout: ``p`` is the probability of dropping a unit; in training a kept
unit is scaled by ``1 / (1 - p)`` so that ``E_m[output] = input``; in evaluation the layer is the
identity, and ``p = 0`` is an exact identity in both modes.
"""

from __future__ import annotations

import math

import numpy as np

from dropout_study.validation import (
    check_choice,
    check_float,
    check_float_dtype,
    check_int,
    described,
    fail,
)

__all__ = ["Dense", "ReLU", "Tanh", "Dropout", "INITS", "keep_mask"]

INITS = ("he", "glorot")
_BOOL = np.dtype(np.bool_)


class _Buffers:
    """Named scratch arrays reused across calls while the requested shape is unchanged."""

    __slots__ = ("_store",)

    def __init__(self) -> None:
        self._store: dict[tuple, np.ndarray] = {}

    def get(self, key: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        # Keyed by shape too, so that alternating batch sizes (a minibatch, then the full
        # training set for an evaluation) do not reallocate on every switch.
        full_key = (key, shape, dtype)
        buf = self._store.get(full_key)
        if buf is None:
            buf = np.empty(shape, dtype=dtype)
            self._store[full_key] = buf
        return buf


def _saved(array: np.ndarray | None, layer: str) -> np.ndarray:
    """What the layer's ``forward`` kept for its ``backward``; a clear error if none ran."""
    if array is None:
        raise RuntimeError(f"{layer}.backward called before {layer}.forward")
    return array


class Dense:
    """Affine layer ``Y = X W + b``.

    Parameters
    ----------
    n_in, n_out : int
        Input and output widths (``>= 1``).
    init : {"he", "glorot"}
        He: ``W ~ N(0, 2 / n_in)`` (for ReLU); Glorot: ``W ~ U(±sqrt(6 / (n_in + n_out)))``
        (for tanh and linear heads). Biases start at zero.
    rng : numpy.random.Generator
        The initialisation stream.
    dtype : numpy float dtype, default float64
    """

    def __init__(self, n_in: int, n_out: int, *, init: str = "he", rng=None, dtype=np.float64):
        owner = "Dense"
        n_in = check_int(n_in, "n_in", owner, low=1)
        n_out = check_int(n_out, "n_out", owner, low=1)
        check_choice(init, "init", owner, INITS)
        if not isinstance(rng, np.random.Generator):
            fail("rng", owner, "a numpy.random.Generator", rng, TypeError)
        dtype = check_float_dtype(dtype, owner)
        if init == "he":
            W = rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)
        else:
            limit = np.sqrt(6.0 / (n_in + n_out))
            W = rng.uniform(-limit, limit, size=(n_in, n_out))
        self.W = W.astype(dtype)
        self.b = np.zeros(n_out, dtype=dtype)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self._X: np.ndarray | None = None
        self._buf = _Buffers()

    @property
    def params(self) -> list[np.ndarray]:
        return [self.W, self.b]

    @property
    def grads(self) -> list[np.ndarray]:
        return [self.dW, self.db]

    def forward(self, X: np.ndarray) -> np.ndarray:
        """``(n, n_in)`` → ``Y = X W + b`` of shape ``(n, n_out)``; keeps a reference to ``X``."""
        self._X = X
        out = self._buf.get("out", (X.shape[0], self.W.shape[1]), self.W.dtype)
        np.matmul(X, self.W, out=out)
        out += self.b
        return out

    def backward(self, dY: np.ndarray, *, need_dX: bool = True) -> np.ndarray | None:
        """``dY`` ``(n, n_out)`` → ``dW = Xᵀ dY``, ``db = Σ_rows dY`` (stored) and ``dX = dY Wᵀ``
        ``(n, n_in)``, returned unless ``need_dX`` is False (the first layer skips it)."""
        X = _saved(self._X, "Dense")
        np.matmul(X.T, dY, out=self.dW)
        np.add.reduce(dY, axis=0, out=self.db)  # np.sum without its Python wrapper
        if not need_dX:
            return None
        dX = self._buf.get("dX", X.shape, self.W.dtype)
        np.matmul(dY, self.W.T, out=dX)
        return dX


class ReLU:
    """``Y = max(X, 0)``; ``dX = dY · [X > 0]`` (sub-gradient 0 at 0)."""

    def __init__(self) -> None:
        self._buf = _Buffers()
        self._Y: np.ndarray | None = None

    def forward(self, X: np.ndarray) -> np.ndarray:
        out = self._buf.get("out", X.shape, X.dtype)
        np.maximum(X, 0, out=out)
        self._Y = out
        return out

    def backward(self, dY: np.ndarray) -> np.ndarray:
        positive = self._buf.get("pos", dY.shape, _BOOL)
        np.greater(_saved(self._Y, "ReLU"), 0, out=positive)
        dX = self._buf.get("dX", dY.shape, dY.dtype)
        np.multiply(dY, positive, out=dX)
        return dX


class Tanh:
    """``Y = tanh(X)``; ``dX = dY · (1 - Y²)``."""

    def __init__(self) -> None:
        self._buf = _Buffers()
        self._Y: np.ndarray | None = None

    def forward(self, X: np.ndarray) -> np.ndarray:
        out = self._buf.get("out", X.shape, X.dtype)
        np.tanh(X, out=out)
        self._Y = out
        return out

    def backward(self, dY: np.ndarray) -> np.ndarray:
        dX = self._buf.get("dX", dY.shape, dY.dtype)
        Y = _saved(self._Y, "Tanh")
        np.multiply(Y, Y, out=dX)
        np.subtract(1.0, dX, out=dX)
        dX *= dY
        return dX


def keep_mask(
    p: float, shape: tuple[int, ...], rng: np.random.Generator, out: np.ndarray | None = None
) -> np.ndarray:
    """A keep mask (bool array of ``shape``) with ``P(keep) = 1 - p`` exactly, i.i.d. per entry.

    Scheme (cheaper than a float uniform per entry, and exact): each entry gets 16 random bits
    ``U`` (four per 64-bit word of ``rng``'s bit generator). With ``t = p · 2¹⁶``,
    ``h = floor(t)`` and ``f = t - h`` (both exact in floating point), the entry is kept if
    ``U > h``, dropped if ``U < h``, and for a tie ``U = h`` (probability ``2⁻¹⁶``) kept if a
    float64 uniform ``V >= f`` (drawn only for the tied entries, in order). Hence
    ``P(keep) = (2¹⁶ - 1 - h)/2¹⁶ + (1 - f)/2¹⁶ = 1 - p`` up to the 53-bit resolution of
    ``V``. The stream consumed depends only on ``shape`` and the draws, never on a dtype, so
    float32 and float64 networks draw the same masks from the same generator state.
    """
    n = math.prod(shape)
    words = rng.bit_generator.random_raw(-(-n // 4))
    bits = words.view(np.uint16)[:n].reshape(shape)
    if out is None:
        out = np.empty(shape, dtype=np.bool_)
    t = p * 65536.0
    h = int(t)
    f = t - h
    if f == 0:
        # P(U >= h) = 1 - h / 2¹⁶ = 1 - p exactly.
        np.greater_equal(bits, h, out=out)
    else:
        np.greater(bits, h, out=out)
        ties = np.flatnonzero(bits == h)
        if ties.size:
            out.flat[ties] = rng.random(ties.size) >= f
    return out


class Dropout:
    """Inverted dropout with drop probability ``p`` in ``[0, 1)``.

    Training: ``Y = X · m / (1 - p)`` with a keep mask ``m`` (bool, shape of ``X``) drawn by
    :func:`keep_mask` (``P(keep) = 1 - p`` exactly, so ``E_m[Y] = X``) from the ``rng`` passed
    to :meth:`forward`, or given as ``mask`` (frozen / injected masks). Evaluation: ``Y = X``.
    Backward uses the same scaled mask: ``dX = dY · m / (1 - p)``.

    After a training forward, :attr:`mask_` holds the keep mask that was used (a buffer
    reused by the next call: copy it to keep it).
    """

    def __init__(self, p: float) -> None:
        self.p = check_float(p, "p", "Dropout", low=0.0, high=1.0, high_open=True)
        self.scale = 1.0 / (1.0 - self.p)
        self._buf = _Buffers()
        self._active = False
        self._Y: np.ndarray | None = None
        self.mask_: np.ndarray | None = None

    def draw_mask(
        self, shape: tuple[int, ...], rng: np.random.Generator, dtype=np.float64
    ) -> np.ndarray:
        """A fresh keep mask (bool array of ``shape``) with ``P(keep) = 1 - p``.

        Draws exactly what :meth:`forward` draws from the same ``rng`` state (see
        :func:`keep_mask`), so drawing masks first and injecting them reproduces a training
        forward. ``dtype`` is accepted for compatibility and does not change the draw.
        """
        return keep_mask(self.p, tuple(shape), rng)

    def forward(
        self,
        X: np.ndarray,
        *,
        training: bool = False,
        mask: np.ndarray | None = None,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """``X`` of shape ``(n, width)`` → ``Y`` of the same shape and dtype (see class)."""
        if not training or self.p == 0.0:
            self._active = False
            self.mask_ = None
            return X
        if mask is None:
            if not isinstance(rng, np.random.Generator):
                fail("rng", "Dropout.forward", "a numpy.random.Generator in training mode", rng)
            keep = keep_mask(self.p, X.shape, rng, out=self._buf.get("keep", X.shape, _BOOL))
        else:
            keep = np.asarray(mask)
            if keep.shape != X.shape or keep.dtype != np.bool_:
                fail(
                    "mask",
                    "Dropout.forward",
                    f"a bool array of shape {X.shape}",
                    described(f"{keep.dtype} array of shape {keep.shape}"),
                )
        self._active = True
        self.mask_ = keep
        # Y = (X / (1 - p)) · m: the scaling first, then the bool mask in place — the same
        # numbers as X · (m / (1 - p)) (a product with 1 or 0 is exact) without a float copy
        # of the mask, which costs a pass over memory each way.
        out = self._buf.get("out", X.shape, X.dtype)
        np.multiply(X, X.dtype.type(self.scale), out=out)
        out *= keep
        self._Y = out
        return out

    def backward(self, dY: np.ndarray) -> np.ndarray:
        """``dY`` → ``dX = dY · m / (1 - p)`` (``dY`` itself in evaluation mode or for p = 0)."""
        if not self._active:
            return dY
        dX = self._buf.get("dX", dY.shape, dY.dtype)
        np.multiply(dY, dY.dtype.type(self.scale), out=dX)
        dX *= self.mask_
        return dX

    def backward_through_relu(self, dY: np.ndarray) -> np.ndarray:
        """``ReLU.backward(self.backward(dY))`` in one pass less, for a training forward whose
        input was a ReLU's output ``R = max(Z, 0)``: ``dZ = (dY · 1/(1-p)) · g`` with the gain
        ``g = [Y > 0]`` read off this layer's output ``Y = (R · 1/(1-p)) · m``.

        ``Y > 0`` exactly when ``R > 0`` and ``m`` (``1/(1-p) >= 1`` cannot round a positive
        ``R`` to 0; ``R`` NaN gives ``Y`` NaN, not ``> 0``, as ``ReLU`` treats it), and a
        product with a 0/1 factor is exact, so the numbers are those of the two backward
        passes one after the other, signed zeros included."""
        gain = self._buf.get("gain", dY.shape, _BOOL)
        np.greater(_saved(self._Y, "Dropout"), 0, out=gain)
        dX = self._buf.get("dX", dY.shape, dY.dtype)
        np.multiply(dY, dY.dtype.type(self.scale), out=dX)
        dX *= gain
        return dX
