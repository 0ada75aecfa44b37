"""The K-mask control of chapter 2: do the rises of ``J(θ_t)`` under dropout come from the
mask noise?

Under dropout each full-batch gradient-descent step follows ``∇J(θ, m_t)`` for one random mask
set ``m_t``. Its mean over masks is ``∇(J + R)`` (``R``, the explicit regulariser), so two
readings can explain a step in which the evaluation-mode cost ``J(θ_t)`` goes up: the
optimiser descends ``J + R``, not ``J``; or the step was pushed by the noise of one mask. The
control separates them (STUDY.md, chapter 2, v3): retrain with each step's gradient averaged
over ``K`` fresh mask sets,

    g_t = (1/K) Σ_k ∇J(θ_t, m_tk),        E g_t = ∇(J + R)(θ_t),   Var g_t = Var_1 / K,

which keeps the objective and divides the gradient-noise variance by ``K``. If the rises came
from descending ``J + R`` they would stay as ``K`` grows; if they came from the noise they
shrink. Measured by the **summed rises** ``Σ_t max(J(θ_{t+1}) − J(θ_t), 0)`` (nats) of the
evaluation-mode cost on the training data over a common window, with the **share of rising
steps** beside it (a share alone drifts to ~50 % once training settles, whatever ``K``).
Plain gradient descent, not Adam: Adam's per-coordinate scaling would change the mean step
when ``K`` changes the gradient's variance.

Fast path. Dropout sits on the last hidden layer only (chapter 2's networks), so a mask moves
nothing but the logit ``z = (1/(1 − p)) Σ_j a_j m_j + b`` with ``a_j = w_j h_j``: the layers
below are computed once per step and the ``K`` masks cost ``K · n · k`` multiply-adds
(:func:`mask_averaged_grad`), where the generic path
(:func:`dropout_study.nn.training.train` with ``mask_average=K``) runs the whole network on
the data stacked ``K`` times. The masks are drawn exactly as the generic path draws them
(``model.draw_masks(K·n, rng)``, block ``k`` = rows ``k·n`` to ``(k+1)·n − 1``), so both give
the same trajectory up to rounding (tested), and ``K = 1`` is the chapter's own dropout run.
Formulas (binary cross-entropy of the logit, mean over the ``K·n`` masked rows; ``s = 1/(1−p)``,
``dz_ki = (σ(z_ki) − y_i)/(K n)``, ``G_ij = Σ_k dz_ki m_kij``)::

    ∂/∂w_j = s Σ_i h_ij G_ij,   ∂/∂b = Σ_ki dz_ki,   ∂/∂h_ij = s w_j G_ij,

then ordinary back-propagation through the ReLU layers below.
"""

from __future__ import annotations

import numpy as np

from dropout_study.nn.mlp import MLP
from dropout_study.nn.training import DIVERGENCE_FACTOR, DIVERGENCE_FLOOR
from dropout_study.validation import as_generator, check_float, check_int, fail

__all__ = ["check_last_layer_dropout", "mask_averaged_grad", "train_window", "summed_rises"]


def check_last_layer_dropout(model, owner: str) -> float:
    """The drop rate ``p > 0`` of ``model``'s last hidden layer; ``TypeError``/``ValueError``
    unless ``model`` is a ReLU :class:`MLP` with a sigmoid head, hidden layers, no input
    dropout and dropout on its last hidden layer only (the setting of the fast path)."""
    if not isinstance(model, MLP):
        fail("model", owner, "an MLP", type(model).__name__, TypeError)
    rates = model.dropout
    ok = (
        model.head_name == "sigmoid"
        and model.activation == "relu"
        and model.input_dropout == 0
        and rates is not None
        and len(rates) >= 1
        and rates[-1] > 0
        and all(r == 0 for r in rates[:-1])
    )
    if not ok or rates is None:  # (ok implies rates is not None)
        what = "a ReLU MLP with a sigmoid head and dropout > 0 on its last hidden layer only"
        fail("model", owner, what, repr(model))
    return float(rates[-1])


def _forward(Ws, bs, X):
    """The hidden activations ``[X, h_1, …, h_L]`` (evaluation mode: no mask below the last
    hidden layer)."""
    acts = [X]
    for W, b in zip(Ws[:-1], bs[:-1], strict=True):
        acts.append(np.maximum(acts[-1] @ W + b, 0.0))
    return acts


def _ce(z, y) -> float:
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def _grad(Ws, bs, acts, y, keep, p, *, with_loss: bool = True):
    """``(J(θ) in evaluation mode, mean masked loss, [dW, db per layer])`` for keep masks
    ``keep`` of shape ``(K, n, k)``; the masked loss is ``None`` unless ``with_loss`` (the
    gradient does not need it, and its logarithms cost as much as the rest of a step)."""
    s = 1.0 / (1.0 - p)
    h = acts[-1]
    w = Ws[-1][:, 0]
    a = h * w  # (n, k)
    b = bs[-1][0]
    j_eval = _ce(a.sum(axis=1) + b, y)
    m = keep.astype(np.float64)
    z = np.einsum("kij,ij->ki", m, a) * s + b  # (K, n)
    loss = _ce(z, y) if with_loss else None
    dz = (0.5 * (1.0 + np.tanh(0.5 * z)) - y) / z.size  # σ(z) − y, overflow-free
    G = np.einsum("ki,kij->ij", dz, m)  # (n, k)
    grads: list[np.ndarray | None] = [None] * (2 * len(Ws))
    grads[-2] = (s * np.sum(h * G, axis=0))[:, None]
    grads[-1] = np.array([dz.sum()])
    dh = s * G * w
    for layer in range(len(Ws) - 2, -1, -1):
        dpre = dh * (acts[layer + 1] > 0)
        grads[2 * layer] = acts[layer].T @ dpre
        grads[2 * layer + 1] = dpre.sum(axis=0)
        if layer:
            dh = dpre @ Ws[layer].T
    return j_eval, loss, grads


def _params(model):
    return [d.W.copy() for d in model.dense], [d.b.copy() for d in model.dense]


def mask_averaged_grad(model, X, y, keep) -> tuple[float, np.ndarray]:
    """``((1/K) Σ_k J(θ, m_k), (1/K) Σ_k ∇J(θ, m_k))`` at ``model``'s parameters for the keep
    masks ``keep`` of its last hidden layer, a bool array ``(K, n, k)`` (mask set ``k`` for
    all ``n`` rows). Loss in nats (mean over rows); gradient flat, float64, in the order of
    :meth:`MLP.get_params`. ``model`` is not modified. See the module docstring."""
    owner = "mask_averaged_grad"
    p = check_last_layer_dropout(model, owner)
    X = model._check_X(X)
    y = np.asarray(y, dtype=np.float64).ravel()
    keep = np.asarray(keep)
    shape = (X.shape[0], model.layer_sizes[-2])
    if keep.dtype != np.bool_ or keep.ndim != 3 or keep.shape[1:] != shape:
        fail("keep", owner, f"a bool array of shape (K, {shape[0]}, {shape[1]})", keep.shape)
    Ws, bs = _params(model)
    _, loss, grads = _grad(Ws, bs, _forward(Ws, bs, X), y, keep, p)
    return loss, np.concatenate([g.ravel() for g in grads])


def train_window(model, X, y, *, k: int, lr: float, n_steps: int, rng) -> np.ndarray:
    """Full-batch plain gradient descent on ``model`` (in place) for ``n_steps`` steps, each
    step's gradient averaged over ``k`` fresh mask sets drawn from ``rng`` as
    ``model.draw_masks(k · n, rng)`` (``rng``: a Generator, or a seed for one); returns the
    evaluation-mode cost ``J(θ_t)`` (nats, mean over the ``n`` training rows) for
    ``t = 0 … n_steps``, shape ``(n_steps + 1,)``.

    ``ValueError`` naming ``lr`` if the cost becomes non-finite or exceeds the divergence
    limit of :func:`dropout_study.nn.training.train` (``DIVERGENCE_FACTOR`` times the start,
    at least ``DIVERGENCE_FLOOR``)."""
    owner = "train_window"
    check_last_layer_dropout(model, owner)
    k = check_int(k, "k", owner, low=1)
    lr = check_float(lr, "lr", owner, low=0.0, low_open=True)
    n_steps = check_int(n_steps, "n_steps", owner, low=0)
    rng = as_generator(rng, "rng", owner)
    X = model._check_X(X)
    y = np.asarray(y, dtype=np.float64).ravel()
    p = model.dropout[-1]
    n, width = X.shape[0], model.layer_sizes[-2]
    Ws, bs = _params(model)
    params = [q for pair in zip(Ws, bs, strict=True) for q in pair]
    curve = np.empty(n_steps + 1)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(n_steps):
            keep = model.draw_masks(k * n, rng)[-1].reshape(k, n, width)
            curve[t], _, grads = _grad(Ws, bs, _forward(Ws, bs, X), y, keep, p, with_loss=False)
            limit = DIVERGENCE_FACTOR * max(curve[0], DIVERGENCE_FLOOR)
            if not np.isfinite(curve[t]) or curve[t] > limit:
                fail("lr", owner, "small enough for gradient descent not to diverge", lr)
            for q, g in zip(params, grads, strict=True):
                q -= lr * g
        acts = _forward(Ws, bs, X)
        z = (acts[-1] * Ws[-1][:, 0]).sum(axis=1) + bs[-1][0]
        curve[n_steps] = _ce(z, y)
    model.set_params(np.concatenate([q.ravel() for q in params]))
    return curve


def summed_rises(curve) -> float:
    """``Σ_t max(c[t+1] − c[t], 0)``: the total of a curve's upward steps (its units; nats
    for a cost). ``curve``: finite, shape ``(T,)``, ``T >= 1`` (one value sums to 0)."""
    c = np.asarray(curve, dtype=float)
    if c.ndim != 1 or c.size < 1 or not np.all(np.isfinite(c)):
        fail("curve", "summed_rises", "a finite 1-D array of at least 1 value", c.shape)
    return float(np.sum(np.maximum(np.diff(c), 0.0)))
