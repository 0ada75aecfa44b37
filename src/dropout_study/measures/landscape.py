"""Loss landscapes: filter-normalised random directions and 1-D / 2-D slices.

Directions (Li, Xu, Taylor, Studer & Goldstein, 2018)
----------------------------------------------------
A direction ``d`` is a flat vector in the order of :meth:`MLP.get_params`
(``[W1, b1, W2, b2, ...]``), float64, shape ``(n_params,)``. A dense layer's weight matrix
``W`` has shape ``(n_in, n_out)``; its *filters* are its **columns** ``W[:, j]`` — the incoming
weights of output unit ``j`` (the rows of ``W.T``). Filter normalisation draws a matrix ``D``
of the same shape with i.i.d. ``N(0, 1)`` entries and rescales every column::

    D[:, j] <- D[:, j] * ||W[:, j]|| / ||D[:, j]||        (Euclidean norms over axis 0)

so each unit is perturbed in proportion to the size of its own weights, and slices of networks
whose weights have different scales (trained with and without dropout) are comparable. The
bias entries of ``d`` are 0 (Li et al. leave biases out of the directions).

Slices
------
With ``L`` the network's **mean data loss over the samples, in nats** (no penalty):

- :func:`slice_1d`: ``L(θ* + α d)`` for each ``α`` in ``alphas`` → shape ``(n_alpha,)``;
- :func:`slice_2d`: ``L(θ* + α_i d1 + β_j d2)`` → shape ``(n_alpha, n_beta)``, indexed
  ``[i, j]`` (transpose it for ``matplotlib.contour(alphas, betas, Z.T)``).

``masks=None`` evaluates in evaluation mode (dropout is the identity); a mask set (one bool
keep mask per dropout layer, from :meth:`MLP.draw_masks` for ``n = len(X)``) evaluates the
training-mode loss ``J(θ, m)`` with that **same** mask at every point of the slice.
:func:`across_mask_spread` turns ``K`` fixed-mask curves into one number: the spread of the
surface across masks. The model passed in is never modified (the slices use a copy).
"""

from __future__ import annotations

import numpy as np

from dropout_study.nn.mlp import MLP, check_model
from dropout_study.validation import as_generator, fail

__all__ = [
    "filter_normalized_direction",
    "slice_1d",
    "slice_2d",
    "across_mask_spread",
]


def _check_vector(v, name: str, owner: str, n: int) -> np.ndarray:
    arr = np.asarray(v)
    if not np.issubdtype(arr.dtype, np.number):
        fail(name, owner, f"a numeric vector of shape ({n},)", f"dtype {arr.dtype}", TypeError)
    if arr.shape != (n,):
        fail(name, owner, f"a vector of shape ({n},)", f"shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        fail(name, owner, "finite", "a vector with NaN or inf")
    return arr.astype(np.float64)


def _check_grid(values, name: str, owner: str) -> np.ndarray:
    arr = np.asarray(values)
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_):
        fail(name, owner, "a 1-D array of finite floats", values, TypeError)
    if arr.ndim != 1 or arr.shape[0] == 0 or not np.all(np.isfinite(arr)):
        fail(name, owner, "a non-empty 1-D array of finite floats", values)
    return arr.astype(np.float64)


def _theta(model: MLP, theta, owner: str) -> np.ndarray:
    if theta is None:
        return model.get_params().astype(np.float64)
    return _check_vector(theta, "theta", owner, model.n_params)


def filter_normalized_direction(model, rng, *, theta=None) -> np.ndarray:
    """A filter-normalised random direction for ``model`` at parameters ``theta``.

    Parameters
    ----------
    model : MLP
        Supplies the layer shapes (and ``theta`` if it is not given).
    rng : numpy.random.Generator or int seed
        Draws the Gaussian entries, one standard normal per weight, layer by layer.
    theta : array of shape ``(n_params,)``, optional
        The parameters the direction is normalised to; default ``model.get_params()``.

    Returns
    -------
    ndarray, float64, shape ``(n_params,)``
        For every weight matrix ``W`` (``(n_in, n_out)``) the block ``D`` satisfies
        ``||D[:, j]|| = ||W[:, j]||`` for every column (filter) ``j``; bias blocks are 0.
        A column of ``W`` that is all zero gives an all-zero column of ``D``.
    """
    owner = "filter_normalized_direction"
    model = check_model(model, owner)
    rng = as_generator(rng, "rng", owner)
    theta = _theta(model, theta, owner)
    d = np.zeros(model.n_params)
    i = 0
    for k, p in enumerate(model.params):
        size = p.size
        if k % 2 == 0:  # a weight matrix (n_in, n_out); odd entries are biases
            W = theta[i : i + size].reshape(p.shape)
            D = rng.standard_normal(p.shape)
            w_norm = np.linalg.norm(W, axis=0)
            d_norm = np.linalg.norm(D, axis=0)
            d[i : i + size] = (D * (w_norm / d_norm)).ravel()
        i += size
    return d


def _losses(model: MLP, X, y, thetas, masks) -> np.ndarray:
    """Mean loss (nats) at each row of ``thetas``; evaluation mode unless ``masks`` is given."""
    work = model.copy()
    out = np.empty(len(thetas))
    training = masks is not None
    for k, th in enumerate(thetas):
        work.set_params(th)
        out[k] = work.loss(X, y, training=training, masks=masks)
    return out


def slice_1d(model, X, y, direction, alphas, *, theta=None, masks=None) -> np.ndarray:
    """``L(θ + α d)`` for each ``α`` in ``alphas``: mean data loss in nats, shape ``(n_alpha,)``.

    Parameters
    ----------
    model : MLP (not modified)
    X : (n, d) array; y : targets for the model's head
    direction : (n_params,) array, e.g. from :func:`filter_normalized_direction`
    alphas : (n_alpha,) array of step sizes along ``direction`` (``α = 0`` gives ``L(θ)``)
    theta : (n_params,) array, optional — the centre ``θ``; default ``model.get_params()``
    masks : list of keep masks, optional — one fixed mask set for ``n`` samples (training-mode
        loss ``J(θ, m)``); ``None`` is evaluation mode.
    """
    owner = "slice_1d"
    model = check_model(model, owner)
    theta = _theta(model, theta, owner)
    d = _check_vector(direction, "direction", owner, model.n_params)
    alphas = _check_grid(alphas, "alphas", owner)
    return _losses(model, X, y, theta[None, :] + alphas[:, None] * d[None, :], masks)


def slice_2d(model, X, y, d1, d2, alphas, betas, *, theta=None, masks=None) -> np.ndarray:
    """``L(θ + α_i d1 + β_j d2)``: mean data loss in nats, shape ``(n_alpha, n_beta)``.

    Arguments as in :func:`slice_1d`; ``d1`` pairs with ``alphas`` (first axis) and ``d2``
    with ``betas`` (second axis).
    """
    owner = "slice_2d"
    model = check_model(model, owner)
    theta = _theta(model, theta, owner)
    d1 = _check_vector(d1, "d1", owner, model.n_params)
    d2 = _check_vector(d2, "d2", owner, model.n_params)
    alphas = _check_grid(alphas, "alphas", owner)
    betas = _check_grid(betas, "betas", owner)
    grid = (
        theta[None, None, :]
        + alphas[:, None, None] * d1[None, None, :]
        + betas[None, :, None] * d2[None, None, :]
    )
    flat = _losses(model, X, y, grid.reshape(-1, model.n_params), masks)
    return flat.reshape(alphas.shape[0], betas.shape[0])


def across_mask_spread(curves) -> float:
    """Spread of a loss surface across dropout masks, in nats.

    ``curves`` has shape ``(K, n_alpha)``: row ``k`` is the slice ``J(θ + α d, m_k)`` under
    fixed mask ``m_k``. The spread is the across-mask standard deviation at each ``α``
    (``ddof = 1``, unbiased variance), averaged over the ``α`` grid::

        spread = (1 / n_alpha) Σ_α sqrt( 1/(K-1) Σ_k (J_k(α) - mean_k J_k(α))² )

    It is exactly 0 when every mask gives the same curve (``p = 0``). Requires ``K >= 2``.
    """
    owner = "across_mask_spread"
    arr = np.asarray(curves)
    if not np.issubdtype(arr.dtype, np.number):
        fail(
            "curves",
            owner,
            "a numeric array of shape (K, n_alpha)",
            f"dtype {arr.dtype}",
            TypeError,
        )
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 1:
        fail("curves", owner, "an array of shape (K, n_alpha) with K >= 2", f"shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        fail("curves", owner, "finite", "an array with NaN or inf")
    arr = arr.astype(np.float64)
    # deviations from the first curve first: exact zeros when all curves are equal
    dev = arr - arr[0]
    return float(np.mean(np.std(dev, axis=0, ddof=1)))
