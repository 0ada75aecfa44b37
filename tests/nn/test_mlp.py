"""The network: finite differences with frozen masks, dropout invariants, API, validation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from helpers import central_diff, randomise, rel_error

from dropout_study.nn import losses
from dropout_study.nn.mlp import MLP

HEAD_OUT = {"sigmoid": 1, "softmax": 3, "identity": 2}


def targets(head, n, rng):
    if head == "sigmoid":
        return rng.integers(0, 2, n).astype(float)
    if head == "softmax":
        return rng.integers(0, HEAD_OUT["softmax"], n)
    return rng.standard_normal((n, HEAD_OUT["identity"]))


def make(head="sigmoid", activation="relu", dropout=0.3, input_dropout=0.2, seed=0, **kw):
    sizes = kw.pop("sizes", [3, 5, 4, HEAD_OUT[head]])
    return MLP(
        sizes,
        activation=activation,
        head=head,
        dropout=dropout,
        input_dropout=input_dropout,
        rng=seed,
        **kw,
    )


# ---------------------------------------------------------------------------------------------
# Whole-network gradients: central finite differences in float64, masks frozen
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("head", ["sigmoid", "softmax", "identity"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_network_gradient_with_frozen_masks_matches_finite_differences(head, activation):
    rng = np.random.default_rng(11)
    model = make(head, activation)
    theta = randomise(model, rng)
    X = rng.standard_normal((6, 3))
    y = targets(head, 6, rng)
    masks = model.draw_masks(6, rng)
    assert all(m is not None and 0 < m.sum() < m.size for m in masks)
    loss, grad = model.loss_and_grad(X, y, training=True, masks=masks)

    def f(t):
        model.set_params(t)
        return model.loss(X, y, training=True, masks=masks)

    fd = central_diff(f, theta)
    model.set_params(theta)
    assert loss == model.loss(X, y, training=True, masks=masks)
    assert rel_error(grad, fd) < 1e-6, rel_error(grad, fd)


@pytest.mark.parametrize("head", ["sigmoid", "softmax", "identity"])
def test_input_gradient_matches_finite_differences(head):
    rng = np.random.default_rng(12)
    model = make(head, "tanh")
    randomise(model, rng)
    X = rng.standard_normal((5, 3))
    y = targets(head, 5, rng)
    masks = model.draw_masks(5, rng)
    g = model.input_gradient(X, y, training=True, masks=masks)
    fd = central_diff(lambda x: model.loss(x, y, training=True, masks=masks), X)
    assert g.shape == X.shape and rel_error(g, fd) < 1e-6
    g_eval = model.input_gradient(X, y)
    fd_eval = central_diff(lambda x: model.loss(x, y), X)
    assert rel_error(g_eval, fd_eval) < 1e-6


def test_evaluation_mode_gradient_matches_finite_differences_without_hidden_layers():
    rng = np.random.default_rng(3)
    model = MLP([4, 1], head="sigmoid", dropout=None, rng=0)
    theta = randomise(model, rng)
    X, y = rng.standard_normal((8, 4)), rng.integers(0, 2, 8)
    _, grad = model.loss_and_grad(X, y)

    def f(t):
        model.set_params(t)
        return model.loss(X, y)

    assert rel_error(grad, central_diff(f, theta)) < 1e-6


# ---------------------------------------------------------------------------------------------
# The heads are the losses module's losses (the same loss with and without dropout)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("head", ["sigmoid", "softmax", "identity"])
def test_head_loss_is_the_losses_module_loss(head):
    rng = np.random.default_rng(4)
    model = make(head)
    randomise(model, rng)
    X, y = rng.standard_normal((7, 3)), targets(head, 7, rng)
    z = model.forward(X)
    if head == "sigmoid":
        ref = losses.binary_cross_entropy(y, z, from_logits=True)
    elif head == "softmax":
        ref = losses.sparse_categorical_cross_entropy(y, z, from_logits=True)
    else:
        ref = losses.mean_squared_error(y, z)
    assert model.loss(X, y) == pytest.approx(ref, rel=1e-13)
    masks = model.draw_masks(7, rng)
    zt = model.forward(X, training=True, masks=masks)
    assert not np.allclose(zt, z)


def test_sigmoid_head_is_finite_for_huge_logits():
    model = MLP([1, 1], head="sigmoid", dropout=None, rng=0)
    model.set_params(np.array([1e4, 0.0]))
    X = np.array([[1.0], [-1.0], [1.0]])
    y = np.array([1.0, 0.0, 0.0])
    loss, grad = model.loss_and_grad(X, y)
    assert loss == pytest.approx(1e4 / 3, rel=1e-15)
    np.testing.assert_allclose(grad, [1 / 3, 1 / 3], rtol=1e-15)


def test_softmax_head_is_finite_for_huge_logits():
    model = MLP([1, 2], head="softmax", dropout=None, rng=0)
    model.set_params(np.array([1e4, -1e4, 0.0, 0.0]))
    X = np.array([[1.0], [1.0]])
    loss, grad = model.loss_and_grad(X, [0, 1])
    assert loss == pytest.approx(1e4, rel=1e-15) and np.all(np.isfinite(grad))


# ---------------------------------------------------------------------------------------------
# Dropout invariants
# ---------------------------------------------------------------------------------------------
def test_p_zero_network_equals_network_without_dropout_layers():
    rng = np.random.default_rng(5)
    a = make(dropout=0.0, input_dropout=0.0, seed=3)
    b = make(dropout=None, input_dropout=0.0, seed=3)
    assert len(a.dropouts) == 2 and len(b.dropouts) == 0
    np.testing.assert_array_equal(a.get_params(), b.get_params())
    X, y = rng.standard_normal((6, 3)), targets("sigmoid", 6, rng)
    la, ga = a.loss_and_grad(X, y, training=True)
    lb, gb = b.loss_and_grad(X, y, training=True)
    assert la == lb
    np.testing.assert_array_equal(ga, gb)
    assert a.draw_masks(6, rng) == [None, None]


def test_draw_masks_then_inject_reproduces_a_training_forward():
    rng = np.random.default_rng(6)
    model = make("softmax", dropout=[0.3, 0.6], input_dropout=0.25)
    X = rng.standard_normal((9, 3))
    masks = model.draw_masks(9, np.random.default_rng(42))
    z_drawn = model.forward(X, training=True, rng=np.random.default_rng(42))
    used = model.masks_
    for m, u in zip(masks, used, strict=True):
        np.testing.assert_array_equal(m, u)
    np.testing.assert_array_equal(z_drawn, model.forward(X, training=True, masks=masks))
    # and the same generator state is left behind
    g1, g2 = np.random.default_rng(1), np.random.default_rng(1)
    model.draw_masks(9, g1)
    model.forward(X, training=True, rng=g2)
    assert g1.bit_generator.state == g2.bit_generator.state


def test_mask_shapes_follow_the_layers():
    model = make(sizes=[3, 5, 4, 1], input_dropout=0.1)
    assert model.mask_shapes(7) == [(7, 3), (7, 5), (7, 4)]
    assert make(input_dropout=0.0).mask_shapes(2) == [(2, 5), (2, 4)]


def test_first_layer_pre_activation_after_input_dropout_is_unbiased_exactly():
    """E_m[(x⊙m/(1-p)) W + b] = x W + b, computed exactly over all 2^d input masks."""
    rng = np.random.default_rng(8)
    p, d = 0.4, 4
    model = MLP([d, 3, 1], input_dropout=p, dropout=None, rng=1)
    randomise(model, rng)
    W, b = model.dense[0].W, model.dense[0].b
    X = rng.standard_normal((5, d))
    expected = np.zeros((5, 3))
    for bits in itertools.product([False, True], repeat=d):
        m = np.array(bits)
        prob = np.prod(np.where(m, 1 - p, p))
        masks = [np.broadcast_to(m, (5, d)).copy()]
        model.forward(X, training=True, masks=masks)
        expected += prob * model.dense[0].forward(X * m / (1 - p))
    np.testing.assert_allclose(expected, X @ W + b, rtol=1e-12, atol=1e-12)


def test_first_layer_pre_activation_after_input_dropout_monte_carlo():
    """The same through the network's own masks: z-scores of the Monte Carlo mean of each
    pre-activation against its evaluation value stay below 5 (SE from the sample spread)."""
    rng = np.random.default_rng(9)
    model = MLP([6, 4, 1], input_dropout=0.5, dropout=None, rng=2)
    randomise(model, rng)
    X = rng.standard_normal((8, 6))
    first = model.dense[0]
    eval_pre = X @ first.W + first.b
    K = 3000
    samples = np.empty((K, 8, 4))
    for k in range(K):
        (mask,) = model.draw_masks(8, rng)
        samples[k] = first.forward(X * mask / 0.5)
    se = samples.std(axis=0, ddof=1) / math.sqrt(K)
    z = (samples.mean(axis=0) - eval_pre) / se
    assert np.max(np.abs(z)) < 5


# ---------------------------------------------------------------------------------------------
# Parameters and API
# ---------------------------------------------------------------------------------------------
def test_get_set_params_round_trip_and_layout():
    model = make(sizes=[3, 5, 4, 1])
    theta = model.get_params()
    assert theta.shape == (3 * 5 + 5 + 5 * 4 + 4 + 4 * 1 + 1,) == (model.n_params,)
    new = np.arange(model.n_params, dtype=float)
    model.set_params(new)
    np.testing.assert_array_equal(model.get_params(), new)
    np.testing.assert_array_equal(model.dense[0].W.ravel(), new[:15])
    np.testing.assert_array_equal(model.dense[0].b, new[15:20])
    wm = model.weight_mask()
    assert wm.sum() == 15 + 20 + 4 and not wm[15:20].any()
    assert [w.shape for w in model.weights] == [(3, 5), (5, 4), (4, 1)]
    assert len(model.params) == len(model.grads) == 6
    theta2 = model.get_params()
    theta2[0] = 99.0  # a copy, not a view
    assert model.get_params()[0] == 0.0


def test_get_grads_matches_layers_and_copy_is_independent():
    rng = np.random.default_rng(10)
    model = make()
    X, y = rng.standard_normal((4, 3)), targets("sigmoid", 4, rng)
    _, g = model.loss_and_grad(X, y)
    np.testing.assert_array_equal(g, model.get_grads())
    np.testing.assert_array_equal(g, np.concatenate([a.ravel() for a in model.grads]))
    clone = model.copy()
    np.testing.assert_array_equal(clone.get_params(), model.get_params())
    clone.set_params(clone.get_params() + 1)
    assert not np.array_equal(clone.get_params(), model.get_params())
    assert repr(clone) == repr(model)


def test_public_methods_return_copies_not_buffers():
    rng = np.random.default_rng(13)
    model = make()
    X1, X2 = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    z1 = model.forward(X1)
    z1_copy = z1.copy()
    model.forward(X2)
    np.testing.assert_array_equal(z1, z1_copy)
    h = model.hidden(X1, 0)
    model.hidden(X2, 0)
    np.testing.assert_array_equal(h, np.maximum(X1 @ model.dense[0].W + model.dense[0].b, 0))
    X1_before = X1.copy()
    model.loss_and_grad(X1, targets("sigmoid", 4, rng), training=True, rng=0)
    np.testing.assert_array_equal(X1, X1_before)


def test_predictions_and_accuracy():
    rng = np.random.default_rng(14)
    X = rng.standard_normal((30, 3))
    sig = make("sigmoid")
    z = sig.forward(X)[:, 0]
    np.testing.assert_allclose(sig.predict_proba(X), 1 / (1 + np.exp(-z)), rtol=1e-14)
    np.testing.assert_array_equal(sig.predict(X), (z > 0).astype(int))
    y = rng.integers(0, 2, 30)
    assert sig.accuracy(X, y) == pytest.approx(np.mean((z > 0) == (y == 1)))
    soft = make("softmax")
    zs = soft.forward(X)
    P = soft.predict_proba(X)
    np.testing.assert_allclose(P.sum(1), 1, rtol=1e-14)
    np.testing.assert_array_equal(soft.predict(X), zs.argmax(1))
    lab = rng.integers(0, 3, 30)
    assert soft.accuracy(X, lab) == pytest.approx(np.mean(zs.argmax(1) == lab))
    ident = make("identity")
    np.testing.assert_array_equal(ident.predict(X), ident.forward(X))
    assert math.isnan(ident.accuracy(X, rng.standard_normal((30, 2))))
    one = make("identity", sizes=[3, 4, 1])
    assert one.predict(X).shape == (30,)


def test_hidden_layers_in_evaluation_mode():
    rng = np.random.default_rng(15)
    model = make("softmax", activation="tanh")
    randomise(model, rng)
    X = rng.standard_normal((4, 3))
    d0, d1 = model.dense[0], model.dense[1]
    h0 = np.tanh(X @ d0.W + d0.b)
    np.testing.assert_allclose(model.hidden(X, 0), h0, rtol=1e-14)
    np.testing.assert_allclose(model.hidden(X, -1), np.tanh(h0 @ d1.W + d1.b), rtol=1e-14)
    np.testing.assert_allclose(model.hidden(X, 1), model.hidden(X, -1), rtol=0)


def test_same_seed_same_network_and_float32_agrees_with_float64():
    a, b = make(seed=4), make(seed=4)
    np.testing.assert_array_equal(a.get_params(), b.get_params())
    assert not np.array_equal(a.get_params(), make(seed=5).get_params())
    f32 = make(seed=4, dtype=np.float32)
    assert f32.get_params().dtype == np.float32
    np.testing.assert_allclose(f32.get_params(), a.get_params(), rtol=1e-6)
    rng = np.random.default_rng(16)
    X, y = rng.standard_normal((10, 3)), targets("sigmoid", 10, rng)
    masks = a.draw_masks(10, rng)
    la, ga = a.loss_and_grad(X, y, training=True, masks=masks)
    lf, gf = f32.loss_and_grad(X, y, training=True, masks=masks)
    assert gf.dtype == np.float32
    assert lf == pytest.approx(la, rel=1e-5)
    assert rel_error(gf, ga) < 1e-5


def test_layer_size_forms_and_init_defaults():
    assert MLP(np.array([2, 3, 1])).layer_sizes == (2, 3, 1)
    assert MLP((2, 3, 1)).layer_sizes == (2, 3, 1)
    assert MLP([2, 3, 1], activation="tanh").init == "glorot"
    assert MLP([2, 3, 1]).init == "he"
    m = MLP([2, 3, 3, 1], dropout=[0.1, 0.2])
    assert [d.p for d in m.dropouts] == [0.1, 0.2] and m.dropout == (0.1, 0.2)
    assert MLP([2, 1], dropout=0.5).dropouts == []  # no hidden layer, nothing to drop


# ---------------------------------------------------------------------------------------------
# Validation: every branch of the constructor and the methods
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"layer_sizes": 3}, TypeError, r"'layer_sizes' parameter of MLP must be a list of at le"),
        ({"layer_sizes": "23"}, TypeError, r"'layer_sizes' parameter of MLP"),
        ({"layer_sizes": [3]}, ValueError, r"'layer_sizes' .* at least two ints >= 1; got \[3\]"),
        ({"layer_sizes": [3, 0, 1]}, ValueError, r"'layer_sizes' .* got \[3, 0, 1\]"),
        ({"layer_sizes": [3, 2.0, 1]}, TypeError, r"'layer_sizes' parameter of MLP"),
        ({"layer_sizes": [3, True, 1]}, TypeError, r"'layer_sizes' parameter of MLP"),
        ({"layer_sizes": [3, 2]}, ValueError, r"'layer_sizes' .* ending in 1 for the sigmoid"),
        (
            {"layer_sizes": [3, 1], "head": "softmax"},
            ValueError,
            r"'layer_sizes' .* ending in >= 2 for the softmax head",
        ),
        ({"activation": "gelu"}, ValueError, r"'activation' .* one of 'relu', 'tanh'; got 'gelu'"),
        ({"activation": None}, TypeError, r"'activation' parameter of MLP"),
        ({"head": "probit"}, ValueError, r"'head' parameter of MLP must be one of 'sigmoid'"),
        ({"dropout": 1.0}, ValueError, r"'dropout' parameter of MLP must be in \[0, 1\); got 1"),
        ({"dropout": -0.2}, ValueError, r"'dropout' parameter of MLP must be in \[0, 1\)"),
        ({"dropout": "0.5"}, TypeError, r"'dropout' parameter of MLP must be a float"),
        ({"dropout": [0.1, 0.2]}, ValueError, r"'dropout' .* a float or a list of 1 floats"),
        ({"dropout": [1.5]}, ValueError, r"'dropout' parameter of MLP must be in \[0, 1\)"),
        ({"input_dropout": 1.0}, ValueError, r"'input_dropout' .* in \[0, 1\); got 1.0"),
        ({"input_dropout": None}, TypeError, r"'input_dropout' parameter of MLP must be a float"),
        ({"init": "orthogonal"}, ValueError, r"'init' parameter of MLP must be one of 'he'"),
        ({"rng": -1}, TypeError, r"'rng' parameter of MLP must be a numpy.random.Generator or"),
        ({"rng": 1.5}, TypeError, r"'rng' parameter of MLP"),
        ({"dtype": np.float16}, TypeError, r"'dtype' parameter of MLP must be float32 or float64"),
        ({"dtype": "nope"}, TypeError, r"'dtype' parameter of MLP must be float32 or float64"),
    ],
)
def test_constructor_validation(kwargs, exc, match):
    args = {"layer_sizes": [3, 4, 1]} | kwargs
    with pytest.raises(exc, match=match):
        MLP(args.pop("layer_sizes"), **args)


SIG = MLP([3, 4, 1], dropout=0.5, rng=0)
SOFT = MLP([3, 4, 3], head="softmax", dropout=0.5, rng=0)
IDENT = MLP([3, 4, 2], head="identity", dropout=0.5, rng=0)
X3 = np.ones((2, 3))


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: SIG.forward(np.ones((2, 4))), ValueError, r"'X' .* shape \(n, 3\); got shape"),
        (lambda: SIG.forward(np.ones(3)), ValueError, r"'X' parameter of MLP .* got shape \(3,\)"),
        (lambda: SIG.forward(np.ones((0, 3))), ValueError, r"'X' .* non-empty; got 0 samples"),
        (lambda: SIG.forward(np.full((2, 3), "a")), TypeError, r"'X' .* real numeric array"),
        (lambda: SIG.forward(X3 * np.nan), ValueError, r"'X' parameter of MLP must be finite"),
        (lambda: SIG.forward(X3, training=1), TypeError, r"'training' parameter of MLP .* bool"),
        (lambda: SIG.forward(X3, training=True), ValueError, r"'rng' .* Generator or seed"),
        (
            lambda: SIG.forward(X3, training=True, masks=[]),
            ValueError,
            r"'masks' parameter of MLP must be a list of 1 masks; got 0 masks",
        ),
        (
            lambda: SIG.forward(X3, training=True, masks=np.ones((2, 4), bool)),
            TypeError,
            r"'masks' parameter of MLP must be a list of 1 masks; got ndarray",
        ),
        (
            lambda: SIG.forward(X3, training=True, masks=[np.ones((2, 5), bool)]),
            ValueError,
            r"'masks' .* bool arrays of shape \(2, 4\); got a bool array of shape \(2, 5\)",
        ),
        (
            lambda: SIG.forward(X3, training=True, masks=[np.ones((2, 4))]),
            ValueError,
            r"'masks' .* got a float64 array of shape \(2, 4\)",
        ),
        (
            lambda: SIG.forward(X3, training=True, masks=[None]),
            ValueError,
            r"'masks' .* a bool array of shape \(2, 4\) for p=0.5; got None",
        ),
        (lambda: SIG.forward(X3, training=True, rng="x"), TypeError, r"'rng' parameter of MLP"),
        (lambda: SIG.loss(X3, [0, 1, 1]), ValueError, r"'y' .*\(sigmoid head\) .* shape \(2,\)"),
        (lambda: SIG.loss(X3, [0, 2]), ValueError, r"'y' .* finite targets in \[0, 1\]; got"),
        (lambda: SIG.loss(X3, [0, np.nan]), ValueError, r"'y' .* finite targets in \[0, 1\]"),
        (lambda: SIG.loss(X3, ["a", "b"]), TypeError, r"'y' .* numeric targets .* got dtype"),
        (
            lambda: SOFT.loss(X3, [0, 3]),
            ValueError,
            r"'y' .*\(softmax head\) .* labels in \[0, 2\]",
        ),
        (lambda: SOFT.loss(X3, [0]), ValueError, r"'y' .* of length 2 \(one label per sample\)"),
        (lambda: SOFT.loss(X3, [0.5, 1]), TypeError, r"'y' .* integer class labels"),
        (lambda: IDENT.loss(X3, np.ones(2)), ValueError, r"'y' .* shape \(2, 2\); got shape"),
        (lambda: IDENT.loss(X3, np.ones((2, 2), bool)), TypeError, r"'y' .* real targets"),
        (lambda: IDENT.loss(X3, np.full((2, 2), np.inf)), ValueError, r"'y' .* finite targets"),
        (lambda: SIG.loss_and_grad(X3, [0, 1, 1]), ValueError, r"'y' parameter of MLP"),
        (lambda: SIG.input_gradient(np.ones((2, 2)), [0, 1]), ValueError, r"'X' parameter"),
        (lambda: SIG.accuracy(X3, [0]), ValueError, r"'y' parameter of MLP"),
        (lambda: SIG.predict(np.ones((2, 2))), ValueError, r"'X' parameter of MLP"),
        (lambda: SIG.predict_proba(np.ones((2, 2))), ValueError, r"'X' parameter of MLP"),
        (lambda: SIG.set_params(np.ones(3)), ValueError, r"'theta' .* vector of shape \(21,\)"),
        (lambda: SIG.draw_masks(0, 0), ValueError, r"'n' parameter of MLP.draw_masks must be"),
        (lambda: SIG.mask_shapes(0), ValueError, r"'n' parameter of MLP.mask_shapes must be an"),
        (lambda: SIG.mask_shapes(2.0), TypeError, r"'n' parameter of MLP.mask_shapes"),
        (lambda: SIG.draw_masks(2, None), TypeError, r"'rng' parameter of MLP.draw_masks"),
        (lambda: SIG.hidden(X3, 1), ValueError, r"'layer' .* int in the range \[-1, 0\]; got 1"),
        (lambda: SIG.hidden(X3, 0.0), TypeError, r"'layer' parameter of MLP.hidden"),
        (
            lambda: MLP([3, 1]).hidden(X3),
            ValueError,
            r"'layer' parameter of MLP.hidden must be used only on a network with hidden layers",
        ),
    ],
)
def test_method_validation(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
