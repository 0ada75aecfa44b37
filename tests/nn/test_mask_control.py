"""The controls of chapter 3 (dropout_study.nn.mask_control): K-mask-averaged gradients and the
fixed-mask surrogate, checked against single-mask gradients and finite differences."""

import numpy as np
import pytest

from dropout_study.nn.mask_control import (
    FixedMaskSurrogate,
    fresh_mask_loss,
    mask_averaged_grad,
    stack,
    train_mask_averaged,
)
from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import SGD
from dropout_study.nn.training import train


def _net(p=0.5):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20, 3))
    y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(float)
    return MLP([3, 8, 6, 1], dropout=p, rng=1), X, y


@pytest.mark.parametrize("k", [1, 2, 5])
def test_k_mask_average_is_the_mean_of_single_mask_gradients_with_the_same_masks(k):
    model, X, y = _net()
    loss, grad = mask_averaged_grad(model, X, y, k, np.random.default_rng(7))
    # the same masks, drawn the same way, cut into k blocks of n rows
    big = model.draw_masks(k * X.shape[0], np.random.default_rng(7))
    n = X.shape[0]
    singles = [
        model.loss_and_grad(X, y, training=True, masks=[m[j * n : (j + 1) * n] for m in big])
        for j in range(k)
    ]
    np.testing.assert_allclose(loss, np.mean([s[0] for s in singles]), rtol=1e-12)
    np.testing.assert_allclose(
        grad, np.mean([s[1] for s in singles], axis=0), rtol=1e-10, atol=1e-14
    )
    if k > 1:  # the blocks really have different masks, so the average is not one of them
        assert not np.allclose(singles[0][1], singles[1][1])


def test_k_mask_average_has_smaller_variance_across_draws():
    model, X, y = _net()
    g1 = np.stack([mask_averaged_grad(model, X, y, 1, s)[1] for s in range(60)])
    g8 = np.stack([mask_averaged_grad(model, X, y, 8, 100 + s)[1] for s in range(60)])
    v1 = np.sum(g1.var(axis=0, ddof=1))
    v8 = np.sum(g8.var(axis=0, ddof=1))
    assert 8 / 2 < v1 / v8 < 8 * 2  # variance falls about as 1/K


def test_train_mask_averaged_with_k1_is_plain_dropout_training():
    model, X, y = _net()
    a, b = model.copy(), model.copy()
    kw = dict(n_steps=15, eval_every=5)
    ha = train(a, X, y, optimizer=SGD(0.1, momentum=0.9), mask_rng=4, **kw)
    hb = train_mask_averaged(b, X, y, 1, optimizer=SGD(0.1, momentum=0.9), mask_rng=4, **kw)
    np.testing.assert_array_equal(a.get_params(), b.get_params())
    np.testing.assert_array_equal(ha.step_loss, hb.step_loss)


def test_fixed_mask_surrogate_gradient_is_deterministic_bit_for_bit():
    model, X, y = _net()
    sur = FixedMaskSurrogate(model, X, y, 4, np.random.default_rng(0))
    theta = model.get_params() + 0.01
    l1, g1 = sur.loss_and_grad(model, theta)
    _ = sur.loss_and_grad(model, theta * 1.5)  # something in between
    l2, g2 = sur.loss_and_grad(model, theta)
    assert l1 == l2
    assert g1.tobytes() == g2.tobytes()
    assert sur.loss(model, theta) == pytest.approx(l1, rel=1e-12)  # the loss alone
    # and it is the gradient of J_K: central finite difference along a random direction
    d = np.random.default_rng(1).normal(size=theta.shape)
    h = 1e-6
    fd = sur.loss_and_grad(model, theta + h * d)[0] - sur.loss_and_grad(model, theta - h * d)[0]
    assert fd / (2 * h) == pytest.approx(g1 @ d, rel=1e-5)


def test_fixed_mask_training_uses_the_same_masks_every_step():
    model, X, y = _net()
    sur = FixedMaskSurrogate(model, X, y, 2, 5)
    a = model.copy()
    h = sur.train(a, optimizer=SGD(0.05), n_steps=3)
    # plain GD on J_K by hand, from the same start
    theta = model.get_params()
    for t in range(3):
        loss, g = sur.loss_and_grad(model, theta)
        assert h.step_loss[t] == pytest.approx(loss, rel=1e-12)
        theta = theta - 0.05 * g
    np.testing.assert_allclose(a.get_params(), theta, rtol=1e-12, atol=1e-15)


def test_fresh_mask_loss_is_a_mean_over_masks_and_exact_at_p0():
    model, X, y = _net(p=0.0)
    assert fresh_mask_loss(model, X, y, 3, 0) == pytest.approx(model.loss(X, y), rel=1e-12)
    model, X, y = _net(p=0.5)
    assert fresh_mask_loss(model, X, y, 50, 0) > model.loss(X, y) - 1.0  # finite, sane


def test_stack_repeats_rows_in_blocks():
    X = np.arange(6.0).reshape(3, 2)
    Xs, ys = stack(X, np.array([0, 1, 0]), 2)
    np.testing.assert_array_equal(Xs[3:], X)
    np.testing.assert_array_equal(ys, [0, 1, 0, 0, 1, 0])


def test_bad_inputs_raise_one_line_errors():
    model, X, y = _net()
    with pytest.raises(ValueError, match="'k' parameter"):
        mask_averaged_grad(model, X, y, 0, 0)
    with pytest.raises(TypeError, match="'model' parameter"):
        mask_averaged_grad("net", X, y, 2, 0)
    with pytest.raises(ValueError, match="'fixed_masks' parameter"):
        sur = FixedMaskSurrogate(model, X, y, 1, 0)
        train(
            model.copy(),
            X,
            y,
            optimizer=SGD(0.1),
            n_steps=2,
            batch_size=5,
            batch_rng=0,
            fixed_masks=sur.masks,
        )


def test_train_mask_averaged_is_gradient_descent_on_k_mask_averaged_gradients():
    model, X, y = _net()
    a = model.copy()
    h = train_mask_averaged(a, X, y, 3, optimizer=SGD(0.05), n_steps=4, mask_rng=9)
    rng = np.random.default_rng(9)
    b = model.copy()
    for t in range(4):
        loss, g = mask_averaged_grad(b, X, y, 3, rng)
        assert h.step_loss[t] == pytest.approx(loss, rel=1e-12)
        b.set_params(b.get_params() - 0.05 * g)
    np.testing.assert_allclose(a.get_params(), b.get_params(), rtol=1e-12, atol=1e-15)
    # evaluations see the n training rows once
    assert h.train_loss[0] == pytest.approx(model.loss(X, y), rel=1e-12)
