"""Dropout with less mask noise and the same objective: the controls of chapter 3.

Dropout training minimises the expected masked loss ``E_m J(θ, m)`` (nats, mean over the
``n`` training rows) with one random mask set per step. Two controls keep that objective and
remove noise, so that "slower *because* noisier" can be tested (STUDY.md, chapter 3):

- **K-mask-averaged steps** (:func:`mask_averaged_grad`, :func:`train_mask_averaged`): each
  full-batch step uses ``(1/K) Σ_k ∇J(θ, m_k)`` over ``K`` *fresh* mask sets. Its expectation
  is ``∇ E_m J`` for every ``K`` and its variance across masks is ``Var/K``; ``K = 1`` is
  plain dropout. It is computed in one pass over the data stacked ``K`` times (``K·n`` rows,
  one mask row per stacked row), because the mean over ``K·n`` rows of equally sized blocks is
  the mean of the blocks' means.
- **fixed-mask surrogate** (:class:`FixedMaskSurrogate`): gradient descent on
  ``J_K(θ) = (1/K) Σ_k J(θ, m_k)`` over ``K`` mask sets drawn *once*; there is no step-to-step
  noise at all, but the network can fit its ``K`` masks, so the fresh-mask objective
  ``E_m J(θ, m)`` (:func:`fresh_mask_loss`, a Monte Carlo mean) is tracked beside it.

Shapes: ``X`` ``(n, d)`` float; ``y`` as the model's head wants; gradients are flat float64
vectors in the order of :meth:`MLP.get_params`.
"""

from __future__ import annotations

import numpy as np

from dropout_study.nn.mlp import check_model
from dropout_study.nn.training import History, train
from dropout_study.validation import as_generator, check_int, fail

__all__ = [
    "stack",
    "mask_averaged_grad",
    "train_mask_averaged",
    "fresh_mask_loss",
    "FixedMaskSurrogate",
]


def stack(X, y, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``X`` and ``y`` repeated ``k`` times along the rows (block ``j`` = rows ``j·n`` to
    ``(j+1)·n - 1``), so that one training forward draws ``k`` independent mask sets."""
    k = check_int(k, "k", "stack", low=1)
    X = np.asarray(X)
    y = np.asarray(y)
    reps = (k,) + (1,) * (y.ndim - 1)
    return np.tile(X, (k, 1)), np.tile(y, reps)


def mask_averaged_grad(model, X, y, k: int, rng) -> tuple[float, np.ndarray]:
    """``((1/k) Σ_j J(θ, m_j), (1/k) Σ_j ∇J(θ, m_j))`` over ``k`` fresh mask sets from ``rng``.

    The masks are ``model.draw_masks(k·n, rng)``: mask set ``j`` is rows ``j·n`` to
    ``(j+1)·n - 1`` of each layer's mask. Loss in nats (mean over rows); gradient flat,
    float64, shape ``(n_params,)``. ``model`` keeps its parameters (its gradient buffers are
    overwritten).
    """
    owner = "mask_averaged_grad"
    check_model(model, owner)
    k = check_int(k, "k", owner, low=1)
    rng = as_generator(rng, "rng", owner)
    Xs, ys = stack(model._check_X(X), y, k)
    masks = model.draw_masks(Xs.shape[0], rng)
    return model.loss_and_grad(Xs, ys, training=True, masks=masks)


def train_mask_averaged(model, X, y, k: int, **kwargs) -> History:
    """:func:`~dropout_study.nn.training.train` with full-batch steps whose gradient is averaged
    over ``k`` fresh mask sets (``mask_rng`` draws them; ``k = 1`` is plain dropout, the very
    same run as ``train(model, X, y, ...)``). ``batch_size`` must be absent or ``None``.

    Implemented by ``train(..., mask_average=k)``: the gradient pass runs on the data stacked
    ``k`` times, the evaluations on ``X`` once.
    """
    owner = "train_mask_averaged"
    check_model(model, owner)
    k = check_int(k, "k", owner, low=1)
    if kwargs.get("batch_size") is not None:
        fail("batch_size", owner, "None (full-batch steps)", kwargs["batch_size"])
    return train(model, X, y, mask_average=k, **kwargs)


def fresh_mask_loss(model, X, y, n_masks: int, rng, *, theta=None) -> float:
    """Monte Carlo estimate of ``E_m J(θ, m)`` (nats): the mean training-mode loss over
    ``n_masks`` fresh mask sets from ``rng`` at ``theta`` (default: the model's parameters).
    The model is not modified."""
    owner = "fresh_mask_loss"
    check_model(model, owner)
    n_masks = check_int(n_masks, "n_masks", owner, low=1)
    rng = as_generator(rng, "rng", owner)
    work = model.copy()
    if theta is not None:
        work.set_params(theta)
    X = work._check_X(X)
    return float(
        np.mean(
            [
                work.loss(X, y, training=True, masks=work.draw_masks(X.shape[0], rng))
                for _ in range(n_masks)
            ]
        )
    )


class FixedMaskSurrogate:
    """The objective ``J_K(θ) = (1/K) Σ_k J(θ, m_k)`` over ``K`` mask sets drawn once.

    Parameters
    ----------
    model : MLP — its architecture and dropout rates define ``J``; not modified here.
    X, y : training data (``n`` rows)
    k : int >= 1 — the number of mask sets ``K``
    rng : Generator or seed — draws the masks, once, as ``model.draw_masks(K·n, rng)``.
    """

    def __init__(self, model, X, y, k: int, rng) -> None:
        owner = "FixedMaskSurrogate"
        check_model(model, owner)
        self.k = check_int(k, "k", owner, low=1)
        rng = as_generator(rng, "rng", owner)
        self.X, self.y = stack(model._check_X(X), y, self.k)
        self.masks = model.draw_masks(self.X.shape[0], rng)

    def loss_and_grad(self, model, theta=None) -> tuple[float, np.ndarray]:
        """``(J_K(θ), ∇J_K(θ))`` at ``theta`` (default: the model's parameters); the same
        ``θ`` gives the same gradient bit for bit (no randomness is drawn)."""
        work = check_model(model, "FixedMaskSurrogate.loss_and_grad").copy()
        if theta is not None:
            work.set_params(theta)
        return work.loss_and_grad(self.X, self.y, training=True, masks=self.masks)

    def loss(self, model, theta=None) -> float:
        """``J_K(θ)`` (nats) at ``theta`` (default: the model's parameters), without the
        gradient; the model is not modified."""
        work = check_model(model, "FixedMaskSurrogate.loss").copy()
        if theta is not None:
            work.set_params(theta)
        return work.loss(self.X, self.y, training=True, masks=self.masks)

    def train(self, model, **kwargs) -> History:
        """Full-batch :func:`~dropout_study.nn.training.train` of ``model`` on ``J_K`` (the
        stored masks in every step); ``kwargs`` as for ``train`` (no ``batch_size``)."""
        if kwargs.get("batch_size") is not None:
            fail("batch_size", "FixedMaskSurrogate.train", "None", kwargs["batch_size"])
        return train(model, self.X, self.y, fixed_masks=self.masks, **kwargs)
