"""``train`` in float64 gives, bit for bit, the numbers of a plain formula-by-formula loop.

The study runs in float64; speed work on the step (buffers, fused head loss and gradient,
fused ReLU-dropout backward, flat chunked threaded Adam) must not change one bit of its
numbers. The reference below is the step written out once, the way the layers' docstrings
state it, with fresh arrays and no buffers, in the operation order of the implementation
before that work (it passed against that implementation, commit dd754c9): forward
``X W + b``, ``max(z, 0)``, ``(h · 1/(1-p)) · m``; the head's loss and gradient from
:mod:`dropout_study.nn.losses`; backward ``Xᵀ dY``, ``Σ_rows dY``, ``dY Wᵀ``; Adam as PyTorch
writes it, ``m ← β₁m + (1-β₁)g``, ``v ← β₂v + (1-β₂)g²``,
``θ ← θ - (lr/(1-β₁ᵗ)) · m / (sqrt(v)/sqrt(1-β₂ᵗ) + ε)``. Masks come from the same
generator through :func:`dropout_study.nn.layers.keep_mask` (its own tests pin the scheme).
Any reordering of a float operation in the fast path shows up as a mismatch here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dropout_study.nn import optim
from dropout_study.nn.layers import keep_mask
from dropout_study.nn.losses import (
    binary_cross_entropy_grad,
    log_sigmoid,
    log_softmax,
    sparse_categorical_cross_entropy_grad,
)
from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import Adam
from dropout_study.nn.training import train


def reference_train(model: MLP, X, y, *, lr, n_steps, batch_size, mask_seed, batch_seed):
    """Plain float64 Adam training of ``model``'s architecture from its initial parameters;
    returns (final flat parameters, step losses)."""
    Ws = [d.W.copy() for d in model.dense]
    bs = [d.b.copy() for d in model.dense]
    p = model.dropout[0]
    head = model.head_name
    b1, b2, eps = 0.9, 0.999, 1e-8
    ms = [np.zeros_like(a) for a in (*Ws, *bs)]
    vs = [np.zeros_like(a) for a in (*Ws, *bs)]
    mask_rng = np.random.default_rng(mask_seed)
    batch_rng = np.random.default_rng(batch_seed)
    n = X.shape[0]
    pos, order, losses = n, None, []
    for t in range(1, n_steps + 1):
        if pos >= n:
            order, pos = batch_rng.permutation(n), 0
        idx = order[pos : pos + batch_size]
        pos += batch_size
        Xb, yb = X[idx], y[idx]
        # forward
        hs, keeps = [Xb], []
        for i, (W, b) in enumerate(zip(Ws, bs, strict=True)):
            z = hs[-1] @ W + b
            if i < len(Ws) - 1:
                a = np.maximum(z, 0)
                m = keep_mask(p, a.shape, mask_rng)
                keeps.append((a > 0, m))
                z = (a * (1.0 / (1.0 - p))) * m
            hs.append(z)
        z = hs[-1]
        if head == "sigmoid":
            yy = yb.reshape(-1, 1).astype(np.float64)
            losses.append(float(-np.mean(yy * log_sigmoid(z) + (1.0 - yy) * log_sigmoid(-z))))
            g = binary_cross_entropy_grad(yy, z)
        else:
            losses.append(float(-np.mean(log_softmax(z)[np.arange(z.shape[0]), yb])))
            g = sparse_categorical_cross_entropy_grad(yb, z)
        # backward
        dWs, dbs = [None] * len(Ws), [None] * len(Ws)
        for i in reversed(range(len(Ws))):
            dWs[i] = hs[i].T @ g
            dbs[i] = g.sum(axis=0)
            if i > 0:
                g = g @ Ws[i].T
                positive, m = keeps[i - 1]
                g = ((g * (1.0 / (1.0 - p))) * m) * positive
        # Adam
        params, grads = (*Ws, *bs), (*dWs, *dbs)
        for th, gr, m, v in zip(params, grads, ms, vs, strict=True):
            m[...] = m * b1 + gr * (1.0 - b1)
            v[...] = v * b2 + (gr * gr) * (1.0 - b2)
            denom = np.sqrt(v) / math.sqrt(1.0 - b2**t) + eps
            th -= (m / denom) * (lr / (1.0 - b1**t))
    flat = np.concatenate([a.ravel() for pair in zip(Ws, bs, strict=True) for a in pair])
    return flat, np.array(losses)


CASES = {
    "sigmoid, chapters' net": ([2, 32, 32, 1], "sigmoid", 16),
    "softmax, 10 classes": ([12, 40, 24, 10], "softmax", 20),
    # large enough that Adam walks several chunks (and threads, when set)
    "sigmoid, wide": ([8, 300, 256, 1], "sigmoid", 30),
}


def _train(model, X, y, *, n_steps, batch_size):
    """``train`` with the settings :func:`reference_train` is called with below (Adam at
    lr 0.01, mask seed 11, batch seed 13)."""
    return train(
        model,
        X,
        y,
        optimizer=Adam(0.01),
        n_steps=n_steps,
        batch_size=batch_size,
        mask_rng=np.random.default_rng(11),
        batch_rng=np.random.default_rng(13),
    )


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", list(CASES))
def test_train_float64_is_the_plain_formula_bit_for_bit(case, threads):
    sizes, head, batch = CASES[case]
    rng = np.random.default_rng(4)
    X = rng.standard_normal((90, sizes[0]))
    y = rng.integers(0, max(2, sizes[-1]), 90)
    model = MLP(sizes, head=head, dropout=0.4, rng=6)
    start = model.copy()
    optim.set_threads(threads)
    try:
        hist = _train(model, X, y, n_steps=12, batch_size=batch)
    finally:
        optim.set_threads(1)
    theta, losses = reference_train(
        start, X, y, lr=0.01, n_steps=12, batch_size=batch, mask_seed=11, batch_seed=13
    )
    if case == "sigmoid, wide":
        assert theta.size >= optim.THREADED_MIN
    np.testing.assert_array_equal(hist.step_loss, losses)
    np.testing.assert_array_equal(model.get_params(), theta)


def test_the_reference_notices_a_one_ulp_change():
    """The comparison is exact: one ulp on one parameter of the start is caught."""
    sizes, head, batch = CASES["sigmoid, chapters' net"]
    rng = np.random.default_rng(4)
    X = rng.standard_normal((90, sizes[0]))
    y = rng.integers(0, 2, 90)
    model = MLP(sizes, head=head, dropout=0.4, rng=6)
    start = model.copy()
    start.dense[1].W[3, 5] = np.nextafter(start.dense[1].W[3, 5], np.inf)
    _train(model, X, y, n_steps=3, batch_size=batch)
    theta, _ = reference_train(
        start, X, y, lr=0.01, n_steps=3, batch_size=batch, mask_seed=11, batch_seed=13
    )
    assert not np.array_equal(model.get_params(), theta)
