"""The network: a stack of dense layers with activations, inverted dropout and a head.

This module is longer than 400 lines because the :class:`MLP` keeps its forward pass, backward
pass, flat parameter view and mask handling on one object's private state (the layers, their
reused buffers, one flat parameter vector); split across modules they would reach into each
other's private attributes. The heads live in :mod:`dropout_study.nn.heads`.

``MLP([d, h1, ..., k])`` builds ``Dense(d→h1) → act → Dropout → ... → Dense(h_last→k)`` with an
optional input ``Dropout`` in front. The head (:mod:`dropout_study.nn.heads`) turns the logits ``z``
(shape ``(n, k)``) into a loss; it is the same loss object with and without dropout:

- ``"sigmoid"`` (``k = 1``): binary cross-entropy from logits; targets ``y`` in [0, 1], ``(n,)``.
- ``"softmax"`` (``k >= 2``): sparse categorical cross-entropy from logits; integer labels.
- ``"identity"``: mean squared error (mean over samples and outputs); targets ``(n,)`` or
  ``(n, k)``.

All losses are **means over samples, in nats**; penalties are not part of :meth:`MLP.loss`
(see :mod:`dropout_study.nn.penalties`).

Dropout masks
-------------
A *mask set* is a list with one entry per dropout layer (input dropout first, if any): a bool
keep mask of shape ``(n, width)``, or ``None`` for a layer with ``p = 0``. In training mode,
:meth:`MLP.forward` either draws masks from ``rng`` or uses the ``masks`` it is given, so
``J(θ, m)`` can be evaluated for a frozen ``m`` and a forward pass repeated with the same masks.
:meth:`MLP.draw_masks` draws exactly what a training forward would draw from the same ``rng``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dropout_study.nn.heads import HEAD_CLASSES, HEADS
from dropout_study.nn.layers import INITS, Dense, Dropout, ReLU, Tanh
from dropout_study.validation import (
    as_generator,
    check_choice,
    check_float,
    check_float_dtype,
    check_int,
    described,
    fail,
)

__all__ = ["MLP", "HEADS", "ACTIVATIONS", "check_model"]

ACTIVATIONS = ("relu", "tanh")


class MLP:
    """A multilayer perceptron with inverted dropout, in numpy.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_features, hidden_1, ..., n_outputs]``; at least two entries, each ``>= 1``.
    activation : {"relu", "tanh"}
        Hidden activation.
    head : {"sigmoid", "softmax", "identity"}
        Output head and loss (see module docstring).
    dropout : float, sequence of float, or None
        Drop probability after each hidden activation (one value for all, or one per hidden
        layer), each in ``[0, 1)``. ``None`` builds no dropout layers at all; ``0.0`` builds
        dropout layers that are exact identities.
    input_dropout : float
        Drop probability on the inputs, in ``[0, 1)``; a layer is built only if it is ``> 0``.
    init : {"he", "glorot"} or None
        Weight initialisation; default He for ReLU, Glorot for tanh. The output layer always
        uses Glorot.
    rng : numpy.random.Generator or int
        The initialisation stream (or a seed for one).
    dtype : float64 (default) or float32
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        *,
        activation: str = "relu",
        head: str = "sigmoid",
        dropout: float | Sequence[float] | None = 0.0,
        input_dropout: float = 0.0,
        init: str | None = None,
        rng=0,
        dtype=np.float64,
    ) -> None:
        owner = "MLP"
        if isinstance(layer_sizes, np.ndarray) and layer_sizes.ndim == 1:
            layer_sizes = layer_sizes.tolist()
        if isinstance(layer_sizes, str | bytes) or not isinstance(layer_sizes, Sequence):
            fail("layer_sizes", owner, "a list of at least two ints >= 1", layer_sizes, TypeError)
        if len(layer_sizes) < 2:
            fail("layer_sizes", owner, "a list of at least two ints >= 1", layer_sizes)
        sizes = []
        for s in layer_sizes:
            if isinstance(s, bool) or not isinstance(s, int | np.integer):
                fail(
                    "layer_sizes", owner, "a list of at least two ints >= 1", layer_sizes, TypeError
                )
            if s < 1:
                fail("layer_sizes", owner, "a list of at least two ints >= 1", layer_sizes)
            sizes.append(int(s))
        self.layer_sizes = tuple(sizes)
        self.activation = check_choice(activation, "activation", owner, ACTIVATIONS)
        self.head_name = check_choice(head, "head", owner, HEADS)
        if head == "sigmoid" and sizes[-1] != 1:
            fail("layer_sizes", owner, "a list ending in 1 for the sigmoid head", layer_sizes)
        if head == "softmax" and sizes[-1] < 2:
            fail("layer_sizes", owner, "a list ending in >= 2 for the softmax head", layer_sizes)
        n_hidden = len(sizes) - 2
        if dropout is None:
            rates = None
        elif isinstance(dropout, Sequence) and not isinstance(dropout, str):
            if len(dropout) != n_hidden:
                fail("dropout", owner, f"a float or a list of {n_hidden} floats", dropout)
            rates = [
                check_float(r, "dropout", owner, low=0.0, high=1.0, high_open=True) for r in dropout
            ]
        else:
            rates = [
                check_float(dropout, "dropout", owner, low=0.0, high=1.0, high_open=True)
            ] * n_hidden
        self.dropout = None if rates is None else tuple(rates)
        self.input_dropout = check_float(
            input_dropout, "input_dropout", owner, low=0.0, high=1.0, high_open=True
        )
        if init is None:
            init = "he" if activation == "relu" else "glorot"
        self.init = check_choice(init, "init", owner, INITS)
        dtype = check_float_dtype(dtype, owner)
        self.dtype = dtype
        rng = as_generator(rng, "rng", owner)

        self._head = HEAD_CLASSES[head]()
        self.layers: list = []
        self.dense: list[Dense] = []
        self.dropouts: list[Dropout] = []
        if self.input_dropout > 0:
            d = Dropout(self.input_dropout)
            self.layers.append(d)
            self.dropouts.append(d)
        act_cls = ReLU if activation == "relu" else Tanh
        for i in range(len(sizes) - 1):
            last = i == len(sizes) - 2
            dense = Dense(
                sizes[i], sizes[i + 1], init="glorot" if last else self.init, rng=rng, dtype=dtype
            )
            self.layers.append(dense)
            self.dense.append(dense)
            if not last:
                self.layers.append(act_cls())
                if rates is not None:
                    d = Dropout(rates[i])
                    self.layers.append(d)
                    self.dropouts.append(d)
        self._pack_parameters()

    def _pack_parameters(self) -> None:
        """Make the layers' ``W``, ``b`` (and ``dW``, ``db``) consecutive views of one flat
        vector each, in the order of :attr:`params`: values unchanged, but an optimiser then
        updates all parameters in one pass (see :mod:`dropout_study.nn.optim`)."""
        n = sum(p.size for p in self.params)
        theta = np.empty(n, dtype=self.dtype)
        grad = np.zeros(n, dtype=self.dtype)
        i = 0
        for d in self.dense:
            for name, gname in (("W", "dW"), ("b", "db")):
                value = getattr(d, name)
                view = theta[i : i + value.size].reshape(value.shape)
                view[...] = value
                setattr(d, name, view)
                setattr(d, gname, grad[i : i + value.size].reshape(value.shape))
                i += value.size

    # -----------------------------------------------------------------------------------------
    # Parameters
    # -----------------------------------------------------------------------------------------
    @property
    def params(self) -> list[np.ndarray]:
        """``[W1, b1, W2, b2, ...]`` — the live arrays (updated in place by optimisers)."""
        return [p for d in self.dense for p in d.params]

    @property
    def grads(self) -> list[np.ndarray]:
        """``[dW1, db1, ...]`` of the last backward pass, matching :attr:`params`."""
        return [g for d in self.dense for g in d.grads]

    @property
    def weights(self) -> list[np.ndarray]:
        """The weight matrices only (what penalties act on; biases are never penalised)."""
        return [d.W for d in self.dense]

    @property
    def n_params(self) -> int:
        return sum(p.size for p in self.params)

    def get_params(self) -> np.ndarray:
        """All parameters as one flat float vector (a copy), in the order of :attr:`params`."""
        return np.concatenate([p.ravel() for p in self.params])

    def set_params(self, theta: np.ndarray) -> None:
        """Write a flat vector (as from :meth:`get_params`) into the parameters.

        The whole vector is checked first — shape ``(n_params,)``, a real numeric dtype, every
        entry finite — so a bad vector raises with the model unchanged."""
        owner = "MLP.set_params"
        theta = np.asarray(theta)
        if theta.shape != (self.n_params,):
            fail(
                "theta",
                owner,
                f"a vector of shape ({self.n_params},)",
                described(f"shape {theta.shape}"),
            )
        if (
            theta.dtype == np.bool_
            or not np.issubdtype(theta.dtype, np.number)
            or np.issubdtype(theta.dtype, np.complexfloating)
        ):
            fail(
                "theta",
                owner,
                "a real numeric vector",
                described(f"dtype {theta.dtype}"),
                TypeError,
            )
        bad = ~np.isfinite(theta)
        if bad.any():
            j = int(np.argmax(bad))
            fail("theta", owner, "finite", described(f"{theta[j]} at index {j}"))
        with np.errstate(over="ignore"):
            theta = theta.astype(self.dtype, copy=False)
        if not np.all(np.isfinite(theta)):  # finite in float64 but overflowing float32
            j = int(np.argmax(~np.isfinite(theta)))
            fail("theta", owner, f"finite in {self.dtype}", described(f"an overflow at index {j}"))
        i = 0
        for p in self.params:
            p[...] = theta[i : i + p.size].reshape(p.shape)
            i += p.size

    def get_grads(self) -> np.ndarray:
        """The gradient of the last backward pass as one flat vector (a copy)."""
        return np.concatenate([g.ravel() for g in self.grads])

    def weight_mask(self) -> np.ndarray:
        """Bool vector over the flat parameters: True for weights, False for biases."""
        return np.concatenate([np.full(p.size, i % 2 == 0) for i, p in enumerate(self.params)])

    # -----------------------------------------------------------------------------------------
    # Masks
    # -----------------------------------------------------------------------------------------
    def mask_shapes(self, n: int) -> list[tuple[int, int]]:
        """Shapes of the keep masks for a batch of ``n`` samples, one per dropout layer."""
        n = check_int(n, "n", "MLP.mask_shapes", low=1)
        shapes = []
        width = self.layer_sizes[0]
        for layer in self.layers:
            if isinstance(layer, Dense):
                width = layer.W.shape[1]
            elif isinstance(layer, Dropout):
                shapes.append((n, width))
        return shapes

    def draw_masks(self, n: int, rng) -> list[np.ndarray | None]:
        """Draw one mask set for ``n`` samples (``None`` for ``p = 0`` layers).

        Consumes ``rng`` exactly as a training :meth:`forward` on ``n`` samples would.
        """
        n = check_int(n, "n", "MLP.draw_masks", low=1)
        rng = as_generator(rng, "rng", "MLP.draw_masks")
        return [
            None if d.p == 0 else d.draw_mask(shape, rng)
            for d, shape in zip(self.dropouts, self.mask_shapes(n), strict=True)
        ]

    @property
    def masks_(self) -> list[np.ndarray | None]:
        """Copies of the keep masks used by the last training forward pass."""
        return [None if d.mask_ is None else d.mask_.copy() for d in self.dropouts]

    # -----------------------------------------------------------------------------------------
    # Forward / backward
    # -----------------------------------------------------------------------------------------
    def _check_X(self, X) -> np.ndarray:
        """``X`` as a C-contiguous ``(n, n_features)`` array of the network's dtype (no copy if
        it already is one); finite numbers only."""
        X = np.asarray(X)
        d = self.layer_sizes[0]
        if X.ndim != 2 or X.shape[1] != d:
            fail("X", "MLP", f"an array of shape (n, {d})", described(f"shape {X.shape}"))
        if X.shape[0] == 0:
            fail("X", "MLP", "non-empty", described("0 samples"))
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_) or np.issubdtype(
            X.dtype, np.complexfloating
        ):
            fail("X", "MLP", "a real numeric array", described(f"dtype {X.dtype}"), TypeError)
        X = np.ascontiguousarray(X, dtype=self.dtype)
        if not np.isfinite(X).all():
            fail("X", "MLP", "finite", described("a NaN or inf"))
        return X

    def _check_masks(self, masks, n: int) -> list:
        if isinstance(masks, np.ndarray | str | bytes) or not isinstance(masks, Sequence):
            fail(
                "masks",
                "MLP",
                f"a list of {len(self.dropouts)} masks",
                described(type(masks).__name__),
                TypeError,
            )
        if len(masks) != len(self.dropouts):
            fail(
                "masks",
                "MLP",
                f"a list of {len(self.dropouts)} masks",
                described(f"{len(masks)} masks"),
            )
        shapes = self.mask_shapes(n)
        out: list[np.ndarray | None] = []
        for m, d, shape in zip(masks, self.dropouts, shapes, strict=True):
            if m is None:
                if d.p != 0:
                    fail("masks", "MLP", f"a bool array of shape {shape} for p={d.p}", None)
                out.append(None)
                continue
            m = np.asarray(m)
            if m.shape != shape or m.dtype != np.bool_:
                fail(
                    "masks",
                    "MLP",
                    f"bool arrays of shape {shape}",
                    described(f"a {m.dtype} array of shape {m.shape}"),
                )
            out.append(m)
        return out

    def _forward(self, X, training: bool, masks, rng) -> np.ndarray:
        """Forward pass into the layers' buffers (no validation, no copy)."""
        k = 0
        h = X
        for layer in self.layers:
            if isinstance(layer, Dropout):
                m = masks[k] if masks is not None else None
                h = layer.forward(h, training=training, mask=m, rng=rng)
                k += 1
            else:
                h = layer.forward(h)
        return h

    def _backward(self, dz: np.ndarray) -> None:
        """Back-propagate ``dz`` (gradient of the scalar w.r.t. the logits) into the layers'
        ``dW``/``db``; stops at the first dense layer (no gradient w.r.t. the inputs)."""
        g = dz
        first_dense = self.dense[0]
        layers = self.layers
        i = len(layers) - 1
        while True:
            layer = layers[i]
            if layer is first_dense:
                layer.backward(g, need_dX=False)
                return
            if layer.__class__ is Dropout and layer._active and layers[i - 1].__class__ is ReLU:
                g = layer.backward_through_relu(g)  # = ReLU.backward(Dropout.backward(g))
                i -= 2
            else:
                g = layer.backward(g)
                i -= 1

    def forward(self, X, *, training: bool = False, masks=None, rng=None) -> np.ndarray:
        """Logits ``z`` of shape ``(n, k)`` (a copy).

        Evaluation mode (default) ignores dropout. Training mode uses ``masks`` if given, else
        draws them from ``rng`` (a Generator or seed).
        """
        X = self._check_X(X)
        masks, rng = self._mode_args(training, masks, rng, X.shape[0])
        return self._forward(X, training, masks, rng).copy()

    def _mode_args(self, training, masks, rng, n):
        if not isinstance(training, bool):
            fail("training", "MLP", "a bool", training, TypeError)
        if training and self.dropouts:
            if masks is not None:
                masks = self._check_masks(masks, n)
            elif any(d.p > 0 for d in self.dropouts):
                if rng is None:
                    fail("rng", "MLP", "a Generator or seed (or masks) in training mode", rng)
                rng = as_generator(rng, "rng", "MLP")
        return masks, rng

    def loss(self, X, y, *, training: bool = False, masks=None, rng=None) -> float:
        """Mean data loss (nats) of the head, in evaluation or training mode."""
        X = self._check_X(X)
        y = self._head.targets(y, X.shape[0], self.layer_sizes[-1], self.dtype)
        masks, rng = self._mode_args(training, masks, rng, X.shape[0])
        return self._head.loss(self._forward(X, training, masks, rng), y)

    def loss_and_grad(
        self, X, y, *, training: bool = False, masks=None, rng=None
    ) -> tuple[float, np.ndarray]:
        """``(mean loss, flat gradient)`` for one forward/backward pass (gradient copied)."""
        X = self._check_X(X)
        y = self._head.targets(y, X.shape[0], self.layer_sizes[-1], self.dtype)
        masks, rng = self._mode_args(training, masks, rng, X.shape[0])
        loss = self._loss_backward(X, y, training, masks, rng)
        return loss, self.get_grads()

    def _loss_backward(self, X, y, training, masks, rng) -> float:
        """One forward and backward pass on prepared inputs; grads left in the layers."""
        z = self._forward(X, training, masks, rng)
        loss, dz = self._head.loss_and_grad(z, y)
        self._backward(dz.astype(self.dtype, copy=False))
        return loss

    def input_gradient(self, X, y, *, training: bool = False, masks=None, rng=None) -> np.ndarray:
        """Gradient of the mean loss with respect to the inputs ``X`` (shape of ``X``)."""
        X = self._check_X(X)
        y = self._head.targets(y, X.shape[0], self.layer_sizes[-1], self.dtype)
        masks, rng = self._mode_args(training, masks, rng, X.shape[0])
        z = self._forward(X, training, masks, rng)
        g = self._head.grad(z, y).astype(self.dtype, copy=False)
        for layer in reversed(self.layers):
            g = layer.backward(g)
        return g.copy()

    # -----------------------------------------------------------------------------------------
    # Evaluation helpers
    # -----------------------------------------------------------------------------------------
    def predict_proba(self, X) -> np.ndarray:
        """Evaluation-mode probabilities: ``(n,)`` for sigmoid, ``(n, k)`` for softmax."""
        return self._head.proba(self.forward(X))

    def predict(self, X) -> np.ndarray:
        """Evaluation-mode predictions: class labels, or the outputs of an identity head."""
        z = self.forward(X)
        if self.head_name == "sigmoid":
            return (z[:, 0] > 0).astype(int)
        if self.head_name == "softmax":
            return np.argmax(z, axis=1)
        return z[:, 0] if z.shape[1] == 1 else z

    def accuracy(self, X, y) -> float:
        """Evaluation-mode accuracy (NaN for the identity head)."""
        X = self._check_X(X)
        y = self._head.targets(y, X.shape[0], self.layer_sizes[-1], self.dtype)
        return float(np.mean(self._head.correct(self._forward(X, False, None, None), y)))

    def hidden(self, X, layer: int = -1) -> np.ndarray:
        """Evaluation-mode activations after hidden layer ``layer`` (0-based; -1 = last)."""
        X = self._check_X(X)
        n_hidden = len(self.layer_sizes) - 2
        if n_hidden == 0:
            fail("layer", "MLP.hidden", "used only on a network with hidden layers", layer)
        idx = check_int(layer, "layer", "MLP.hidden", low=-n_hidden, high=n_hidden - 1) % n_hidden
        h = X
        seen = -1
        for lay in self.layers:
            if isinstance(lay, Dropout):
                continue
            h = lay.forward(h)
            if isinstance(lay, ReLU | Tanh):
                seen += 1
                if seen == idx:
                    return h.copy()
        raise AssertionError("unreachable")  # pragma: no cover

    def copy(self) -> MLP:
        """An independent network with the same architecture and parameter values."""
        clone = MLP(
            list(self.layer_sizes),
            activation=self.activation,
            head=self.head_name,
            dropout=None if self.dropout is None else list(self.dropout),
            input_dropout=self.input_dropout,
            init=self.init,
            rng=0,
            dtype=self.dtype,
        )
        clone.set_params(self.get_params())
        return clone

    def __repr__(self) -> str:
        return (
            f"MLP({list(self.layer_sizes)}, activation={self.activation!r}, "
            f"head={self.head_name!r}, dropout={self.dropout}, "
            f"input_dropout={self.input_dropout}, dtype={self.dtype.name})"
        )


def check_model(model, owner: str) -> MLP:
    """``model`` if it is an :class:`MLP`; else the template ``TypeError`` naming ``owner``."""
    if not isinstance(model, MLP):
        fail("model", owner, "an MLP", type(model).__name__, TypeError)
    return model
