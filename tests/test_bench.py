"""The speed internals change no number: the benchmark's numpy steps are train()'s, the
optimisers' flat chunked pass equals the array-by-array formula, dropout equals its formula."""

import importlib.util

import numpy as np
import pytest
from helpers import ROOT

from dropout_study.nn import optim
from dropout_study.nn.layers import Dropout
from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import SGD, Adam

BENCH = ROOT / "benchmarks" / "bench_mlp.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_mlp", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # imports neither torch nor jax
    return module


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("sizes", "batch"), [([2, 32, 32, 1], 64), ([64, 40, 30, 10], 48)])
def test_benchmark_numpy_step_is_the_training_step(bench, sizes, batch, dtype):
    bench.check_numpy_step_is_train_step(sizes, batch, dtype, n=4)


def test_the_check_would_notice_a_different_step(bench, monkeypatch):
    original = bench.numpy_blocks

    def other(sizes, batch, dtype):
        block, model = original(sizes, batch, dtype)

        def nudged(k):  # one extra tiny change per block: no longer train()'s steps
            block(k)
            model.dense[0].b[0] += 1e-12

        return nudged, model

    monkeypatch.setattr(bench, "numpy_blocks", other)
    with pytest.raises(AssertionError, match="differs"):
        bench.check_numpy_step_is_train_step([2, 8, 1], 16, np.float64)


def _separate_and_flat(rng, shapes, dtype=np.float64):
    """The same values as separate arrays and as consecutive views of one flat buffer."""
    sizes = [int(np.prod(s)) for s in shapes]
    flat_p, flat_g = (rng.standard_normal(sum(sizes)).astype(dtype) for _ in range(2))
    views_p, views_g, i = [], [], 0
    for s, n in zip(shapes, sizes, strict=True):
        views_p.append(flat_p[i : i + n].reshape(s))
        views_g.append(flat_g[i : i + n].reshape(s))
        i += n
    sep_p = [v.copy() for v in views_p]
    sep_g = [v.copy() for v in views_g]
    return (views_p, views_g, flat_p), (sep_p, sep_g)


@pytest.mark.parametrize(
    "make", [lambda: Adam(0.01), lambda: SGD(0.1), lambda: SGD(0.1, momentum=0.9)]
)
@pytest.mark.parametrize("threads", [1, 3])
def test_flat_chunked_update_equals_array_by_array(make, threads):
    rng = np.random.default_rng(5)
    # larger than two chunks, so the chunked walk and the threads are exercised, plus a
    # bias-sized piece
    shapes = [(300, 250), (250,), (250, 3), (3,)]
    assert 300 * 250 >= max(2 * optim.CHUNK, optim.THREADED_MIN)
    optim.set_threads(threads)
    (views_p, views_g, flat_p), (sep_p, sep_g) = _separate_and_flat(rng, shapes)
    assert optim._tiled_by(views_p) is flat_p and optim._tiled_by(sep_p) is None
    a, b = make(), make()
    for step in range(4):
        for g in views_g:  # a new gradient each step, the same in both
            g[...] = rng.standard_normal(g.shape)
        for g, v in zip(sep_g, views_g, strict=True):
            g[...] = v
        a.step(views_p, views_g)
        b.step(sep_p, sep_g)
        for x, y in zip(views_p, sep_p, strict=True):
            np.testing.assert_array_equal(x, y, err_msg=f"step {step}")
    optim.set_threads(1)


def test_set_threads_refuses_a_non_positive_count():
    with pytest.raises(ValueError, match="'n' parameter of set_threads"):
        optim.set_threads(0)
    with pytest.raises(TypeError, match="'n' parameter of set_threads"):
        optim.set_threads(2.0)


def test_mlp_parameters_and_gradients_tile_flat_vectors():
    model = MLP([5, 7, 3, 2], head="softmax", dropout=0.3, rng=1)
    theta = optim._tiled_by(model.params)
    grad = optim._tiled_by(model.grads)
    assert theta is not None and grad is not None
    np.testing.assert_array_equal(theta, model.get_params())
    model.set_params(np.arange(model.n_params, dtype=float))
    np.testing.assert_array_equal(theta, np.arange(model.n_params))
    X = np.random.default_rng(0).standard_normal((6, 5))
    _, g = model.loss_and_grad(X, [0, 1, 0, 1, 1, 0], training=True, rng=3)
    np.testing.assert_array_equal(grad, g)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_is_x_times_mask_over_keep_probability(dtype):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((40, 30)).astype(dtype)
    X[0, 0] = np.inf
    dY = rng.standard_normal((40, 30)).astype(dtype)
    layer = Dropout(0.3)
    Y = layer.forward(X, training=True, rng=np.random.default_rng(9)).copy()
    m = layer.mask_.copy()
    scaled = m * dtype(1 / (1 - 0.3))  # the formula, with the mask as floats
    np.testing.assert_array_equal(Y, X * scaled)
    np.testing.assert_array_equal(np.signbit(Y), np.signbit(X * scaled))
    np.testing.assert_array_equal(layer.backward(dY), dY * scaled)
    assert Y.dtype == dtype


def test_adam_denominators_come_back_per_parameter_array_from_a_flat_step():
    rng = np.random.default_rng(8)
    (views_p, views_g, _), (sep_p, sep_g) = _separate_and_flat(rng, [(150, 120), (120,), (7, 3)])
    a, b = Adam(0.01), Adam(0.01)
    for _ in range(2):
        a.step(views_p, views_g)
        b.step(sep_p, sep_g)
    da, db = a.denominators(), b.denominators()
    assert [d.shape for d in da] == [(150, 120), (120,), (7, 3)]
    for x, y in zip(da, db, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_relu_dropout_backward_is_the_two_passes_signed_zeros_included(dtype):
    from dropout_study.nn.layers import ReLU

    rng = np.random.default_rng(3)
    Z = rng.standard_normal((50, 40)).astype(dtype)
    Z[0, :6] = [np.inf, -np.inf, np.nan, 0.0, -0.0, np.finfo(dtype).smallest_subnormal]
    dY = rng.standard_normal((50, 40)).astype(dtype)
    dY[1, :4] = [np.inf, -np.inf, np.nan, -0.0]
    dY[0, 6:9] = -0.0
    relu, drop = ReLU(), Dropout(0.5)
    with np.errstate(invalid="ignore"):  # inf · 0 on purpose
        drop.forward(relu.forward(Z), training=True, rng=np.random.default_rng(4))
        two = relu.backward(drop.backward(dY)).copy()
        one = drop.backward_through_relu(dY)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(np.signbit(one), np.signbit(two))
    assert (drop.mask_ == 0).any() and (drop.mask_ == 1).any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("head", "k"), [("sigmoid", 1), ("softmax", 10), ("identity", 3)])
def test_heads_loss_and_grad_together_are_loss_and_grad_bit_for_bit(head, k, dtype):
    rng = np.random.default_rng(7)
    model = MLP([4, 5, k], head=head, rng=0, dtype=dtype)
    z = (rng.standard_normal((60, k)) * 5).astype(dtype)
    z[:4] = np.array([80.0, -80.0, 700.0 if dtype == np.float64 else 80.0, 0.0])[:, None]
    z[4, 0] = -0.0
    if head == "softmax":
        y = model._head.targets(rng.integers(0, k, 60), 60, k, dtype)
    elif head == "sigmoid":
        y = model._head.targets(rng.random(60), 60, k, dtype)  # soft targets too
    else:
        y = model._head.targets(rng.standard_normal((60, k)), 60, k, dtype)
    loss, grad = model._head.loss_and_grad(z, y)
    assert loss == model._head.loss(z, y)
    ref = model._head.grad(z, y)
    assert grad.dtype == ref.dtype
    np.testing.assert_array_equal(grad, ref)
    np.testing.assert_array_equal(np.signbit(grad), np.signbit(ref))


@pytest.mark.parametrize("threads", [2, 3])
def test_a_flat_update_is_shared_equally_among_the_threads(threads):
    # 74 000 parameters (the 30→256→256→1 network) is two chunks and a bit: dealt out chunk by
    # chunk, one thread would get 65 536 elements and the other 8 464
    optim.set_threads(threads)
    try:
        plan = optim._plan([np.zeros(74_000)])
    finally:
        optim.set_threads(1)
    assert len(plan) == threads
    shares = [sum(c.stop - c.start for _, c in mine) for mine in plan]
    assert sum(shares) == 74_000 and max(shares) - min(shares) <= 1
    covered = [i for mine in plan for _, c in mine for i in (c.start, c.stop)]
    assert covered == sorted(covered)  # contiguous ranges, in order
    assert all(c.stop - c.start <= optim.CHUNK for mine in plan for _, c in mine)
