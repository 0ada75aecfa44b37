"""Proximal L1 and the optimiser it follows (training.train, penalties.L1, optim.Adam).

The plain threshold lr·λ is the proximal step of plain gradient descent only; after an Adam or
momentum step train() must refuse it with the project's template error, before any step. The
scaled step, asked for by name, must equal soft-thresholding with the per-coordinate threshold
lr·λ/(√v̂ + ε), with v̂ taken from PyTorch's Adam (float64) as the oracle.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import import_torch_or_skip

from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import SGD, Adam
from dropout_study.nn.penalties import L1, L2, make_penalty, soft_threshold
from dropout_study.nn.training import train


def _data(n=50, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    return X, y


@pytest.mark.parametrize("opt", [Adam(0.01), SGD(0.1, momentum=0.9)])
def test_plain_threshold_after_adam_or_momentum_is_refused(opt):
    X, y = _data()
    model = MLP([4, 5, 1], rng=0)
    before = model.get_params()
    with pytest.raises(ValueError, match=r"^The 'penalty' parameter of train must be a proximal "
                       r"L1 with the plain threshold lr·λ only after a plain gradient step .*; "
                       r"got L1\(lam=0.1, mode='proximal'\) with "):  # fmt: skip
        train(model, X, y, optimizer=opt, n_steps=5, penalty=L1(0.1))
    np.testing.assert_array_equal(model.get_params(), before)  # refused before any step


def test_other_combinations_are_allowed_and_scaled_needs_adam():
    X, y = _data()
    for opt, pen in [
        (SGD(0.1), L1(0.1)),
        (SGD(0.1, momentum=0.9), L1(0.1, mode="subgradient")),
        (Adam(0.01), L2(0.1)),
        (Adam(0.01), L1(0.1, mode="scaled_proximal")),
    ]:
        train(MLP([4, 5, 1], rng=0), X, y, optimizer=opt, n_steps=3, penalty=pen)
    with pytest.raises(ValueError, match=r"The 'penalty' parameter of train must be L1 with "
                       r"mode='scaled_proximal' only together with an Adam optimiser"):  # fmt: skip
        train(MLP([4, 5, 1], rng=0), X, y, optimizer=SGD(0.1), n_steps=3,
              penalty=make_penalty("l1", 0.1, l1_mode="scaled_proximal"))  # fmt: skip


def test_denominators_match_pytorch_adam():
    torch = import_torch_or_skip()
    rng = np.random.default_rng(1)
    shapes = [(3, 4), (4,)]
    ours = [rng.normal(size=s) for s in shapes]
    theirs = [torch.tensor(p.copy(), requires_grad=True) for p in ours]
    opt = Adam(0.05, beta1=0.8, beta2=0.99, eps=1e-6)
    topt = torch.optim.Adam(theirs, lr=0.05, betas=(0.8, 0.99), eps=1e-6)
    with pytest.raises(ValueError, match=r"The 't' parameter of Adam.denominators"):
        opt.denominators()
    for t in range(1, 6):
        grads = [rng.normal(size=s) for s in shapes]
        opt.step(ours, grads)
        for p, g in zip(theirs, grads, strict=True):
            p.grad = torch.tensor(g)
        topt.step()
        for d, p in zip(opt.denominators(), theirs, strict=True):
            v_hat = topt.state[p]["exp_avg_sq"].numpy() / (1 - 0.99**t)
            np.testing.assert_allclose(d, np.sqrt(v_hat) + 1e-6, rtol=1e-12)


def test_scaled_step_equals_per_coordinate_soft_thresholding():
    rng = np.random.default_rng(2)
    w = [rng.normal(size=(6, 3)), rng.normal(size=(3, 1))]
    d = [rng.uniform(0.05, 3.0, size=a.shape) for a in w]
    lr, lam = 0.2, 0.7
    expected = [
        np.array(
            [
                soft_threshold(np.array([x]), lr * lam / dx)[0]
                for x, dx in zip(a.ravel(), b.ravel(), strict=True)
            ]
        ).reshape(a.shape)  # fmt: skip
        for a, b in zip(w, d, strict=True)
    ]
    got = [a.copy() for a in w]
    L1(lam, mode="scaled_proximal").prox_scaled(got, lr, d)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g, e)
    assert sum(int(np.sum(g == 0)) for g in got) > 0  # the test data reach zero somewhere
    # a plain proximal L1 ignores the scaled step and vice versa
    same = [a.copy() for a in w]
    L1(lam).prox_scaled(same, lr, d)
    L1(lam, mode="scaled_proximal").prox(same, lr)
    for a, b in zip(same, w, strict=True):
        np.testing.assert_array_equal(a, b)


def test_train_applies_the_scaled_step_after_each_adam_step():
    X, y = _data()
    lam, lr, n = 0.05, 0.05, 15
    model = MLP([4, 6, 1], rng=3)
    train(model, X, y, optimizer=Adam(lr), n_steps=n, penalty=L1(lam, mode="scaled_proximal"))
    # the same loop written out: Adam step on the data loss, then the per-coordinate threshold
    ref = MLP([4, 6, 1], rng=3)
    opt = Adam(lr)
    for _ in range(n):
        ref.loss_and_grad(X, y)
        opt.step(ref.params, ref.grads)
        for w, dd in zip(ref.params[0::2], opt.denominators()[0::2], strict=True):
            w[...] = np.sign(w) * np.maximum(np.abs(w) - lr * lam / dd, 0.0)
    np.testing.assert_allclose(model.get_params(), ref.get_params(), rtol=0, atol=1e-14)
    assert np.any(model.params[0] == 0.0)
