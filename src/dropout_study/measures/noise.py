"""Gradient noise across dropout masks at fixed parameters.

At fixed parameters ``θ`` and data ``(X, y)`` (``n`` samples), each independently drawn mask set
``m_k`` (``k = 1..K``; one keep mask per sample and unit, from :meth:`MLP.draw_masks`) gives the
**full-batch** gradient of the training-mode mean loss (nats per sample)::

    g_k = ∇_θ J(θ, m_k),   a float64 vector of shape (n_params,)

Minibatch sampling plays no part: the only randomness is the mask. From the ``K`` gradients,
:func:`gradient_noise` computes (``K >= 2``)::

    ḡ    = (1/K) Σ_k g_k                       estimates E_m g
    V    = 1/(K-1) Σ_k ||g_k - ḡ||²           unbiased for tr Cov_m(g) = E||g - E g||²
    S    = ||ḡ||² - V / K                       unbiased for ||E_m g||², because
                                                E||ḡ||² = ||E g||² + tr Cov(g) / K
    SNR  = S / V                                signal-to-noise ratio ||E g||² / E||g - E g||²

``S`` (and so the SNR) can come out ``<= 0`` when the noise swamps the signal at this ``K``:
it is reported as it is, not clipped. With no active dropout (``p = 0``) every ``g_k`` is the
same vector, so ``V = 0`` exactly (deviations are taken from ``g_1`` before averaging) and
``SNR = inf``. ``V`` is also reported per parameter (``V / n_params``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dropout_study.nn.mlp import MLP
from dropout_study.validation import as_generator, check_int, fail

__all__ = ["GradientNoise", "mask_gradients", "gradient_noise", "mask_gradient_noise"]


@dataclass(frozen=True)
class GradientNoise:
    """Estimates from ``n_masks`` gradients (see the module docstring for the formulas).

    ``mean_grad`` is ``ḡ`` (shape ``(n_params,)``); ``signal`` is ``S``; ``variance`` is ``V``
    (summed over parameters, in the gradient's units squared: (nats per unit parameter)²);
    ``variance_per_param`` is ``V / n_params``; ``snr`` is ``S / V`` (``inf`` if ``V = 0 < S``,
    NaN if both are 0).
    """

    mean_grad: np.ndarray
    signal: float
    variance: float
    variance_per_param: float
    snr: float
    n_masks: int


def gradient_noise(grads) -> GradientNoise:
    """Mean, total variance and SNR of ``K`` gradients, ``grads`` of shape ``(K, n_params)``.

    ``K >= 2``; values must be finite. See the module docstring for the estimators.
    """
    owner = "gradient_noise"
    g = np.asarray(grads)
    if not np.issubdtype(g.dtype, np.number):
        fail(
            "grads", owner, "a numeric array of shape (K, n_params)", f"dtype {g.dtype}", TypeError
        )
    if g.ndim != 2 or g.shape[0] < 2 or g.shape[1] < 1:
        fail("grads", owner, "an array of shape (K, n_params) with K >= 2", f"shape {g.shape}")
    if not np.all(np.isfinite(g)):
        fail("grads", owner, "finite", "an array with NaN or inf")
    g = g.astype(np.float64)
    k = g.shape[0]
    # shifted data: deviations from the first gradient are exact zeros when all are equal
    dev = g - g[0]
    dev_mean = dev.mean(axis=0)
    centred = dev - dev_mean
    variance = float(np.sum(centred * centred) / (k - 1))
    mean_grad = g[0] + dev_mean
    signal = float(mean_grad @ mean_grad) - variance / k
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = float(np.divide(signal, variance))
    return GradientNoise(
        mean_grad=mean_grad,
        signal=signal,
        variance=variance,
        variance_per_param=variance / g.shape[1],
        snr=snr,
        n_masks=k,
    )


def mask_gradients(model, X, y, n_masks: int, rng, *, theta=None) -> np.ndarray:
    """Full-batch gradients under ``n_masks`` independent mask sets, shape ``(K, n_params)``.

    Parameters
    ----------
    model : MLP (not modified)
    X : (n, d) array; y : targets for the model's head
    n_masks : int >= 2
        ``K``, the number of mask sets; mask set ``k`` is drawn with
        ``model.draw_masks(n, rng)`` in order, so the same ``rng`` state gives the same masks.
    rng : numpy.random.Generator or int seed
    theta : (n_params,) array, optional — where the gradients are taken; default
        ``model.get_params()``.

    Returns
    -------
    ndarray, float64, shape ``(K, n_params)``: ``∇_θ`` of the training-mode mean loss (nats),
    in the order of :meth:`MLP.get_params`.
    """
    owner = "mask_gradients"
    if not isinstance(model, MLP):
        fail("model", owner, "an MLP", type(model).__name__, TypeError)
    n_masks = check_int(n_masks, "n_masks", owner, low=2)
    rng = as_generator(rng, "rng", owner)
    work = model.copy()
    if theta is not None:
        th = np.asarray(theta)
        if th.shape != (model.n_params,) or not np.issubdtype(th.dtype, np.number):
            fail("theta", owner, f"a numeric vector of shape ({model.n_params},)", th.shape)
        if not np.all(np.isfinite(th)):
            fail("theta", owner, "finite", "a vector with NaN or inf")
        work.set_params(th)
    X = work._check_X(X)
    n = X.shape[0]
    out = np.empty((n_masks, work.n_params))
    for k in range(n_masks):
        masks = work.draw_masks(n, rng)
        _, out[k] = work.loss_and_grad(X, y, training=True, masks=masks)
    return out


def mask_gradient_noise(model, X, y, n_masks: int, rng, *, theta=None) -> GradientNoise:
    """:func:`gradient_noise` of :func:`mask_gradients` (same arguments)."""
    return gradient_noise(mask_gradients(model, X, y, n_masks, rng, theta=theta))
