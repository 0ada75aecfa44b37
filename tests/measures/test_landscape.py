"""Filter-normalised directions and loss slices (dropout_study.measures.landscape).

Oracles: norms recomputed with numpy, slices against the network evaluated point by point,
and against an independent forward pass written here with scikit-learn's ``log_loss``.
"""

import numpy as np
import pytest
from sklearn.metrics import log_loss

from dropout_study.measures.landscape import (
    across_mask_spread,
    filter_normalized_direction,
    slice_1d,
    slice_2d,
)
from dropout_study.nn.mlp import MLP


@pytest.fixture
def problem():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3).astype(int)
    model = MLP([3, 5, 4, 1], dropout=0.3, rng=1)
    # non-zero biases, so the bias part of the direction being zero is a real check
    theta = model.get_params() + 0.1 * rng.standard_normal(model.n_params)
    model.set_params(theta)
    return model, X, y


def _blocks(model, vec):
    out, i = [], 0
    for p in model.params:
        out.append(vec[i : i + p.size].reshape(p.shape))
        i += p.size
    return out


def test_filter_normalised_columns_match_weight_columns_and_biases_are_zero(problem):
    model, _, _ = problem
    d = filter_normalized_direction(model, np.random.default_rng(0))
    assert d.shape == (model.n_params,) and d.dtype == np.float64
    for k, (block, param) in enumerate(zip(_blocks(model, d), model.params, strict=True)):
        if k % 2 == 1:
            assert np.all(block == 0.0), "bias directions must be zero"
        else:
            # filter j = column W[:, j] = incoming weights of output unit j
            mine = np.linalg.norm(block, axis=0)
            theirs = np.linalg.norm(param, axis=0)
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, err_msg="mine / theirs")
            # and the row norms are NOT matched in general (the axis matters)
            assert not np.allclose(np.linalg.norm(block, axis=1), np.linalg.norm(param, axis=1))


def test_direction_uses_theta_when_given_and_is_reproducible(problem):
    model, _, _ = problem
    theta = 3.0 * model.get_params()
    d = filter_normalized_direction(model, 7, theta=theta)
    d_default = filter_normalized_direction(model, 7)
    np.testing.assert_allclose(d, 3.0 * d_default, rtol=1e-12)  # same draws, norms scaled by 3
    np.testing.assert_array_equal(d_default, filter_normalized_direction(model, 7))
    assert not np.allclose(d_default, filter_normalized_direction(model, 8))


def test_zero_weight_column_gives_zero_direction_column():
    model = MLP([2, 3, 1], rng=0)
    theta = model.get_params()
    theta[1] = theta[4] = 0.0  # W1[:, 1] = 0 (W1 is (2, 3), flat row-major)
    d = filter_normalized_direction(model, 0, theta=theta)
    W1_dir = d[:6].reshape(2, 3)
    assert np.all(W1_dir[:, 1] == 0.0)
    assert np.all(np.isfinite(d))


def test_slice_1d_matches_point_by_point_evaluation(problem):
    model, X, y = problem
    theta = model.get_params()
    d = filter_normalized_direction(model, 0)
    alphas = np.linspace(-1, 1, 7)
    masks = model.draw_masks(X.shape[0], np.random.default_rng(5))
    got_eval = slice_1d(model, X, y, d, alphas)
    got_mask = slice_1d(model, X, y, d, alphas, masks=masks)
    ref = model.copy()
    for a, ge, gm in zip(alphas, got_eval, got_mask, strict=True):
        ref.set_params(theta + a * d)
        assert ge == ref.loss(X, y)
        assert gm == ref.loss(X, y, training=True, masks=masks)
    np.testing.assert_array_equal(model.get_params(), theta)  # the argument is not modified


def test_alpha_zero_gives_the_loss_at_theta(problem):
    model, X, y = problem
    d = filter_normalized_direction(model, 0)
    masks = model.draw_masks(X.shape[0], np.random.default_rng(1))
    assert slice_1d(model, X, y, d, [0.0])[0] == model.loss(X, y)
    assert slice_1d(model, X, y, d, [0.0], masks=masks)[0] == model.loss(
        X, y, training=True, masks=masks
    )
    grid = slice_2d(model, X, y, d, -d, [0.0], [0.0])
    assert grid.shape == (1, 1) and grid[0, 0] == model.loss(X, y)


def _independent_loss(theta, shapes, X, y, masks, p):
    """A forward pass written from the formulas (ReLU, inverted dropout), log loss by sklearn."""
    i, Ws = 0, []
    for s in shapes:
        Ws.append(theta[i : i + np.prod(s)].reshape(s))
        i += int(np.prod(s))
    h = X
    n_layers = len(Ws) // 2
    for k in range(n_layers):
        h = h @ Ws[2 * k] + Ws[2 * k + 1]
        if k < n_layers - 1:
            h = np.maximum(h, 0.0)
            if masks is not None:
                h = h * masks[k] / (1.0 - p)
    prob = 1.0 / (1.0 + np.exp(-h[:, 0]))
    return log_loss(y, prob, labels=[0, 1])


def test_slice_against_an_independent_forward_and_sklearn_log_loss(problem):
    model, X, y = problem
    shapes = [p.shape for p in model.params]
    theta = model.get_params()
    d = filter_normalized_direction(model, 2)
    masks = model.draw_masks(X.shape[0], np.random.default_rng(9))
    alphas = np.array([-0.5, 0.25, 1.0])
    for m in (None, masks):
        mine = slice_1d(model, X, y, d, alphas, masks=m)
        gold = [_independent_loss(theta + a * d, shapes, X, y, m, 0.3) for a in alphas]
        np.testing.assert_allclose(mine, gold, rtol=1e-10, err_msg="mine / theirs")


def test_slice_2d_matches_point_by_point_and_its_axes(problem):
    model, X, y = problem
    theta = model.get_params()
    d1 = filter_normalized_direction(model, 0)
    d2 = filter_normalized_direction(model, 1)
    alphas, betas = np.array([-0.5, 0.0, 0.5]), np.array([-1.0, 0.3])
    masks = model.draw_masks(X.shape[0], np.random.default_rng(2))
    for m in (None, masks):
        grid = slice_2d(model, X, y, d1, d2, alphas, betas, masks=m)
        assert grid.shape == (3, 2)
        ref = model.copy()
        for i, a in enumerate(alphas):
            for j, b in enumerate(betas):
                ref.set_params(theta + a * d1 + b * d2)
                assert grid[i, j] == ref.loss(X, y, training=m is not None, masks=m)
        # the beta = 0 column of a grid with beta = 0 is the 1-D slice along d1
        col = slice_2d(model, X, y, d1, d2, alphas, [0.0], masks=m)[:, 0]
        np.testing.assert_allclose(col, slice_1d(model, X, y, d1, alphas, masks=m), rtol=1e-14)
    np.testing.assert_array_equal(model.get_params(), theta)


def test_fixed_mask_slice_at_p0_is_the_evaluation_slice():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 2))
    y = (X[:, 0] > 0).astype(int)
    model = MLP([2, 4, 1], dropout=0.0, rng=0)
    d = filter_normalized_direction(model, 0)
    masks = model.draw_masks(20, rng)
    assert masks == [None]
    np.testing.assert_array_equal(
        slice_1d(model, X, y, d, np.linspace(-1, 1, 5), masks=masks),
        slice_1d(model, X, y, d, np.linspace(-1, 1, 5)),
    )


def test_across_mask_spread_brute_force_and_zero():
    rng = np.random.default_rng(4)
    curves = rng.standard_normal((6, 9)) + 10.0
    gold = np.mean([np.std(curves[:, j], ddof=1) for j in range(9)])
    assert across_mask_spread(curves) == pytest.approx(gold, rel=1e-12)
    same = np.tile(rng.standard_normal(9) * 0.1 + 0.3, (5, 1))
    assert across_mask_spread(same) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"model": "net"}, TypeError, "'model' parameter of filter_normalized_direction"),
        ({"rng": "seed"}, TypeError, "'rng' parameter of filter_normalized_direction"),
        ({"theta": np.zeros(3)}, ValueError, "'theta' parameter of filter_normalized_direction"),
    ],
)
def test_direction_validation(problem, kwargs, exc, match):
    model, _, _ = problem
    args = {"model": model, "rng": 0, **kwargs}
    theta = args.pop("theta", None)
    with pytest.raises(exc, match=match):
        filter_normalized_direction(args["model"], args["rng"], theta=theta)


def test_slice_validation(problem):
    model, X, y = problem
    d = filter_normalized_direction(model, 0)
    with pytest.raises(TypeError, match="'model' parameter of slice_1d must be an MLP"):
        slice_1d(None, X, y, d, [0.0])
    with pytest.raises(ValueError, match=r"'direction' parameter of slice_1d must be a vector"):
        slice_1d(model, X, y, d[:-1], [0.0])
    with pytest.raises(TypeError, match="'direction' parameter of slice_1d must be a numeric"):
        slice_1d(model, X, y, np.array(["a"] * model.n_params), [0.0])
    with pytest.raises(ValueError, match="'direction' parameter of slice_1d must be finite"):
        slice_1d(model, X, y, np.full(model.n_params, np.nan), [0.0])
    with pytest.raises(ValueError, match="'alphas' parameter of slice_1d must be a non-empty"):
        slice_1d(model, X, y, d, [])
    with pytest.raises(ValueError, match="'alphas' parameter of slice_1d must be a non-empty"):
        slice_1d(model, X, y, d, [[0.0, 1.0]])
    with pytest.raises(TypeError, match="'alphas' parameter of slice_1d must be a 1-D"):
        slice_1d(model, X, y, d, ["a"])
    with pytest.raises(ValueError, match="'theta' parameter of slice_1d must be a vector"):
        slice_1d(model, X, y, d, [0.0], theta=np.zeros(2))
    with pytest.raises(ValueError, match="'d2' parameter of slice_2d must be a vector"):
        slice_2d(model, X, y, d, d[:3], [0.0], [0.0])
    with pytest.raises(ValueError, match="'betas' parameter of slice_2d must be a non-empty"):
        slice_2d(model, X, y, d, d, [0.0], [np.inf])
    with pytest.raises(ValueError, match="'masks' parameter of MLP"):
        slice_1d(model, X, y, d, [0.0], masks=[np.ones((3, 5), bool), None])


def test_spread_validation():
    with pytest.raises(ValueError, match="'curves' parameter of across_mask_spread.*K >= 2"):
        across_mask_spread(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="'curves' parameter of across_mask_spread.*K >= 2"):
        across_mask_spread(np.zeros(4))
    with pytest.raises(ValueError, match="'curves' parameter of across_mask_spread must be finite"):
        across_mask_spread(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(TypeError, match="'curves' parameter of across_mask_spread must be a"):
        across_mask_spread(np.array([["a", "b"], ["c", "d"]]))
