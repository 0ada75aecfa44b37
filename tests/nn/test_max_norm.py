"""The max-norm constraint (Srivastava et al. 2014, §5.1) in training: ``train`` with a
:class:`MaxNorm` optimiser is the unconstrained step followed by the closed-form projection,
and a constrained network trains the same alone and in a stack with unconstrained ones.

Oracles: the projection of a vector onto the ball ‖w‖₂ ≤ c (w·min(1, c/‖w‖), a closed form),
applied by hand to the output of one unconstrained step; ``train`` alone (bit for bit)."""

from __future__ import annotations

import numpy as np
import pytest

from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import SGD, Adam, MaxNorm
from dropout_study.nn.stack import train_stack
from dropout_study.nn.training import train

SIZES = [5, 12, 9, 3]


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, SIZES[0]))
    return X, rng.integers(0, SIZES[-1], 40)


def _model(seed=1, p=0.3):
    return MLP(SIZES, head="softmax", dropout=p, rng=np.random.default_rng(seed))


def _fit(model, opt, n_steps, batch_size=16):
    X, y = _data()
    return train(
        model, X, y, optimizer=opt, n_steps=n_steps, batch_size=batch_size, eval_every=n_steps,
        mask_rng=np.random.default_rng(2), batch_rng=np.random.default_rng(3),
    )  # fmt: skip


@pytest.mark.parametrize("inner", [lambda: SGD(0.5, momentum=0.9), lambda: Adam(0.05)])
def test_one_constrained_step_is_the_step_then_the_closed_form_projection(inner):
    c = 0.4
    free, held = _model(), _model()
    _fit(free, inner(), 1)
    _fit(held, MaxNorm(inner(), c), 1)
    Ws_free, Ws_held = free.params[0::2], held.params[0::2]
    for W, H in zip(Ws_free[:-1], Ws_held[:-1], strict=True):  # hidden units' incoming weights
        for j in range(W.shape[1]):
            w = W[:, j]
            expected = w * min(1.0, c / np.linalg.norm(w))
            np.testing.assert_allclose(H[:, j], expected, rtol=1e-13, atol=0)
        assert (np.linalg.norm(H, axis=0) <= c * (1 + 1e-12)).all()
        assert (np.linalg.norm(W, axis=0) > c).any()  # the constraint was active
    np.testing.assert_array_equal(Ws_held[-1], Ws_free[-1])  # the output layer is free
    for b_free, b_held in zip(free.params[1::2], held.params[1::2], strict=True):
        np.testing.assert_array_equal(b_held, b_free)


def test_constrained_networks_stacked_with_free_ones_train_as_alone():
    X, y = _data()
    makers = [lambda: MaxNorm(SGD(0.3, momentum=0.9), 0.5), lambda: SGD(0.3, momentum=0.9),
              lambda: MaxNorm(SGD(0.3, momentum=0.9), 1.0)]  # fmt: skip
    alone = []
    for k, make in enumerate(makers):
        m = _model(seed=10 + k)
        _fit(m, make(), 30)
        alone.append(m.get_params())
    models = [_model(seed=10 + k) for k in range(3)]
    train_stack(
        models, X, y, optimizers=[make() for make in makers], n_steps=30, batch_size=16,
        eval_every=30, mask_rngs=[np.random.default_rng(2) for _ in models],
        batch_rngs=[np.random.default_rng(3) for _ in models],
    )  # fmt: skip
    for m, ref in zip(models, alone, strict=True):
        np.testing.assert_array_equal(m.get_params(), ref)
    W1 = models[0].params[0]
    assert (np.linalg.norm(W1, axis=0) <= 0.5 * (1 + 1e-12)).all()


def test_max_norm_refuses_what_is_not_an_optimiser_or_a_positive_radius():
    with pytest.raises(TypeError, match="'inner' parameter of MaxNorm"):
        MaxNorm("sgd", 3.0)
    with pytest.raises(ValueError, match="'c' parameter of MaxNorm"):
        MaxNorm(SGD(0.1), 0.0)
