"""Dropout's explicit regulariser on one linear layer (measures.dropout_theory).

Oracles: exact enumeration of every mask computed a second way (an explicit loop over masks
with ``itertools.product``), closed forms, and the limits the module docstring derives.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dropout_study.measures import dropout_theory as th


def _problem(k=6, n=40, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    h = np.abs(rng.normal(size=(n, k)))  # ReLU-like activations
    w = rng.normal(size=k) * scale
    y = (rng.random(n) < 0.5).astype(float)
    return h * w, 0.3 * scale, y


def _loop_exact(a, b, y, p, loss):
    k = a.shape[1]
    zbar = a.sum(axis=1) + b
    total = 0.0
    for m in itertools.product((0.0, 1.0), repeat=k):
        m = np.array(m)
        prob = (1 - p) ** m.sum() * p ** (k - m.sum())
        total += prob * th.loss_value(a @ m / (1 - p) + b, y, loss)
    return float(np.mean(total - th.loss_value(zbar, y, loss)))


@pytest.mark.parametrize("loss", th.LOSSES)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_exact_equals_explicit_sum_over_masks(loss, p):
    a, b, y = _problem(k=3)
    assert th.regulariser_exact(a, b, y, p, loss=loss) == pytest.approx(
        _loop_exact(a, b, y, p, loss), rel=1e-12
    )


def test_all_zero_at_p0():
    a, b, y = _problem()
    assert th.regulariser_exact(a, b, y, 0.0) == 0.0
    assert th.regulariser_second_order(a, b, y, 0.0) == 0.0
    assert th.regulariser_mc(a, b, y, 0.0, n_masks=10)[0] == 0.0


def test_closed_form_one_unit_squared_error():
    # R = p/(1-p) for a = 1, b = 0, y = 1 (module docstring)
    for p in (0.1, 0.3, 0.5):
        r = th.regulariser_exact([[1.0]], 0.0, [1.0], p, loss="squared")
        assert r == pytest.approx(p / (1 - p), rel=1e-12)
        # squared error: the second-order formula is exact
        assert th.regulariser_second_order([[1.0]], 0.0, [1.0], p, loss="squared") == pytest.approx(
            p / (1 - p), rel=1e-12
        )


def test_small_p_slope_is_single_drop_bregman_sum_on_large_weights():
    a, b, y = _problem(k=10, scale=4.0)  # confident: large contributions
    s = th.single_drop_slope(a, b, y)
    ratios = [th.regulariser_exact(a, b, y, p) / p / s for p in (1e-2, 1e-3, 1e-4)]
    errs = [abs(r - 1) for r in ratios]
    assert errs[-1] < 1e-3 and errs[0] > errs[1] > errs[2]
    # the second-order formula is NOT the small-p slope here (quadratic misses)
    q = th.regulariser_second_order(a, b, y, 1e-4) / 1e-4
    assert abs(q / s - 1) > 0.1


def test_second_order_agrees_as_weights_shrink():
    rel = []
    for eps in (1.0, 0.1, 0.01):
        a, b, y = _problem(k=8, scale=3.0 * eps)
        p = 0.3
        rel.append(
            abs(th.regulariser_second_order(a, b, y, p) / th.regulariser_exact(a, b, y, p) - 1)
        )
    assert rel[0] > rel[1] > rel[2] and rel[2] < 1e-3


def test_mc_within_its_standard_error_of_exact():
    a, b, y = _problem(k=8, scale=2.0)
    exact = th.regulariser_exact(a, b, y, 0.5)
    est, se = th.regulariser_mc(a, b, y, 0.5, n_masks=4000, rng=1)
    assert abs(est - exact) < 4 * se
    assert exact > 0  # Jensen


def test_invalid_inputs_name_the_parameter():
    a, b, y = _problem(k=3)
    with pytest.raises(ValueError, match="'p' parameter of regulariser_exact"):
        th.regulariser_exact(a, b, y, 1.0)
    with pytest.raises(ValueError, match="'a' parameter of regulariser_exact"):
        th.regulariser_exact(np.ones((2, 17)), 0.0, np.zeros(2), 0.5)
    with pytest.raises(ValueError, match="'y' parameter"):
        th.single_drop_slope(a, b, y[:-1])
    with pytest.raises(ValueError, match="'loss' parameter"):
        th.regulariser_second_order(a, b, y, 0.5, loss="hinge")


# ---------------------------------------------------------------------------------------------
# A real trained MLP: dropout on its last hidden layer (6 units, all 2^6 masks enumerated)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained():
    from dropout_study import data as datasets
    from dropout_study.chapters.cost_under_dropout.cells import last_layer_model
    from dropout_study.nn.optim import SGD
    from dropout_study.nn.training import train

    ds = datasets.load("moons", rng=0)
    model = last_layer_model([2, 8, 6, 1], 0.0, "sigmoid", 1)
    train(model, ds.X_train, ds.y_train, optimizer=SGD(0.5), n_steps=3000)
    X, y = ds.X_train, np.asarray(ds.y_train, dtype=float).ravel()
    return model, X, y


def _with_rate(model, p, eps=1.0):
    """The same parameters in a network with dropout at ``p`` on the last hidden layer, the
    output layer's weights and bias scaled by ``eps``."""
    from dropout_study.chapters.cost_under_dropout.cells import last_layer_model

    net = last_layer_model(list(model.layer_sizes), p, "sigmoid", 0)
    net.set_params(model.get_params())
    net.dense[-1].W[...] *= eps
    net.dense[-1].b[...] *= eps
    return net


def _mlp_mask_average(net, X, y, p):
    """E_m J(θ, m) from the network's own training-mode loss, every keep pattern of the last
    hidden layer applied to every example, weighted by its probability (per-example masks
    are independent, so the per-example expectation is this weighted sum)."""
    k = net.layer_sizes[-2]
    total = 0.0
    for bits in itertools.product((False, True), repeat=k):
        keep = np.broadcast_to(np.array(bits), (X.shape[0], k)).copy()
        prob = (1 - p) ** keep[0].sum() * p ** (k - keep[0].sum())
        masks = [None] * (len(net.dropouts) - 1) + [keep]
        total += prob * net.loss(X, y, training=True, masks=masks)
    return total


def test_contributions_rebuild_the_logit(trained):
    model, X, _ = trained
    a, b = th.last_layer_contributions(model, X)
    assert a.shape == (X.shape[0], 6)
    np.testing.assert_allclose(a.sum(axis=1) + b, model.forward(X)[:, 0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_mlp_mask_average_equals_enumeration(trained, p):
    model, X, y = trained
    net = _with_rate(model, p)
    a, b = th.last_layer_contributions(net, X)
    expected = net.loss(X, y) + th.regulariser_exact(a, b, y, p)
    assert _mlp_mask_average(net, X, y, p) == pytest.approx(expected, rel=1e-12)


def test_trained_layer_small_p_slope_is_the_bregman_sum(trained):
    model, X, y = trained
    a, b = th.last_layer_contributions(model, X)
    assert np.abs(a).max() > 5  # trained: large contributions
    s = th.single_drop_slope(a, b, y)
    errs = [abs(th.regulariser_exact(a, b, y, p) / p / s - 1) for p in (1e-2, 1e-3, 1e-4)]
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-3
    # the quadratic is not the slope on these weights
    assert abs(th.regulariser_second_order(a, b, y, 1e-4) / 1e-4 / s - 1) > 0.2


def test_trained_layer_second_order_agrees_only_as_weights_shrink(trained):
    model, X, y = trained
    rel = []
    for eps in (1.0, 0.1, 0.01):
        a, b = th.last_layer_contributions(_with_rate(model, 0.3, eps), X)
        r = th.regulariser_exact(a, b, y, 0.3)
        rel.append(abs(th.regulariser_second_order(a, b, y, 0.3) / r - 1))
    assert rel[0] > 0.2  # not on the trained weights
    assert rel[0] > rel[1] > rel[2] and rel[2] < 2e-3


def test_trained_layer_everything_zero_at_p0(trained):
    model, X, y = trained
    a, b = th.last_layer_contributions(model, X)
    assert th.regulariser_exact(a, b, y, 0.0) == 0.0
    assert th.regulariser_second_order(a, b, y, 0.0) == 0.0
    est, se = th.regulariser_mc_rates(a, b, y, [0.0, 0.2], n_masks=20, rng=0)
    assert est[0] == 0.0 and se[0] == 0.0 and est[1] > 0
    assert _mlp_mask_average(_with_rate(model, 0.0), X, y, 0.0) == model.loss(X, y)


def test_mc_rates_within_standard_error_of_exact_and_reproducible(trained):
    model, X, y = trained
    a, b = th.last_layer_contributions(model, X)
    rates = [0.05, 0.3, 0.6]
    est, se = th.regulariser_mc_rates(a, b, y, rates, n_masks=600, rng=3)
    for p, e, s in zip(rates, est, se, strict=True):
        assert abs(e - th.regulariser_exact(a, b, y, p)) < 4 * s
    again, _ = th.regulariser_mc_rates(a, b, y, rates, n_masks=600, rng=3)
    np.testing.assert_array_equal(est, again)
    with pytest.raises(ValueError, match="'p' parameter of regulariser_mc_rates"):
        th.regulariser_mc_rates(a, b, y, [1.0])
    with pytest.raises(TypeError, match="'model' parameter of last_layer_contributions"):
        th.last_layer_contributions(object(), X)


def test_mc_rates_control_variate_is_unbiased_and_reduces_the_error_at_small_p(trained):
    model, X, y = trained
    a, b = th.last_layer_contributions(model, X)
    p = 0.02
    exact = th.regulariser_exact(a, b, y, p)
    plain, se_plain = th.regulariser_mc_rates(a, b, y, [p], n_masks=800, rng=5, estimator="raw")
    cv, se_cv = th.regulariser_mc_rates(
        a, b, y, [p], n_masks=800, rng=5, estimator="control_variate"
    )
    assert abs(plain[0] - exact) < 4 * se_plain[0]
    assert abs(cv[0] - exact) < 4 * se_cv[0]
    assert se_cv[0] < se_plain[0]


def test_mc_rates_refuses_an_unknown_estimator(trained):
    model, X, y = trained
    a, b = th.last_layer_contributions(model, X)
    with pytest.raises(ValueError, match="'estimator' parameter of regulariser_mc_rates"):
        th.regulariser_mc_rates(a, b, y, [0.1], estimator="bregmann")


# ---------------------------------------------------------------------------------------------
# The Bregman form E_m D_ℓ(z(m) ‖ z̄): the same expectation as the raw difference, less noise
# ---------------------------------------------------------------------------------------------
def _per_example_moments(a, b, y, p):
    """Exact mean and variance of one draw of the raw and the Bregman forms, by enumerating
    every keep mask of the layer for each example (per-example masks are independent, so the
    variance of a draw's mean over the n examples is the sum of the per-example variances
    divided by n²)."""
    k = a.shape[1]
    zbar = a.sum(axis=1) + b
    masks = np.array(list(itertools.product((0.0, 1.0), repeat=k)))  # (2^k, k)
    kept = masks.sum(axis=1)
    prob = (1 - p) ** kept * p ** (k - kept)
    z = a @ masks.T / (1 - p) + b  # (n, 2^k)
    raw = th.loss_value(z, y[:, None]) - th.loss_value(zbar, y)[:, None]
    breg = th.bregman(z, zbar[:, None], y[:, None])
    out = {}
    for name, g in (("raw", raw), ("bregman", breg)):
        mean = g @ prob
        var = (g - mean[:, None]) ** 2 @ prob
        out[name] = (float(mean.mean()), float(var.sum() / y.size**2))
    return out


@pytest.fixture(scope="module")
def trained_with_dropout():
    """A 2→8→8→1 moons network trained with dropout p = 0.5 on its last hidden layer (the
    θ*_p of chapter 2, small enough for exact enumeration)."""
    from dropout_study import data as datasets
    from dropout_study.chapters.cost_under_dropout.cells import last_layer_model
    from dropout_study.nn.optim import SGD
    from dropout_study.nn.training import train

    ds = datasets.load("moons", rng=0)
    model = last_layer_model([2, 16, 8, 1], 0.5, "sigmoid", 1)
    train(model, ds.X_train, ds.y_train, optimizer=SGD(0.5), n_steps=3000, mask_rng=2)
    X, y = ds.X_train, np.asarray(ds.y_train, dtype=float).ravel()
    a, b = th.last_layer_contributions(model, X)
    return a, b, y


@pytest.mark.parametrize("p", [0.05, 0.5])
def test_bregman_form_equals_the_raw_difference_in_expectation(trained_with_dropout, p):
    # oracle: exact enumeration of all 2^8 masks per example, twice (regulariser_exact and
    # the explicit sums of both forms here)
    a, b, y = trained_with_dropout
    m = _per_example_moments(a, b, y, p)
    exact = th.regulariser_exact(a, b, y, p)
    assert m["bregman"][0] == pytest.approx(exact, rel=1e-10)
    assert m["raw"][0] == pytest.approx(exact, rel=1e-10)
    # the estimator is unbiased: within 4 standard errors of the exact value
    est, se = th.regulariser_mc_rates(a, b, y, [p], n_masks=2000, rng=7)
    assert abs(est[0] - exact) < 4 * se[0]


@pytest.mark.parametrize(("p", "at_most"), [(0.05, 0.3), (0.5, 0.8)])
def test_bregman_form_has_smaller_variance_on_a_trained_layer(trained_with_dropout, p, at_most):
    # exact per-draw variances (enumeration, no randomness): measured 0.10 at p = 0.05 and
    # 0.59 at p = 0.5 on this layer; the bounds leave room and still fail for equal variances
    a, b, y = trained_with_dropout
    m = _per_example_moments(a, b, y, p)
    assert m["bregman"][1] < at_most * m["raw"][1]
    # and the estimator's own standard error shows it, with the same draws
    _, se_b = th.regulariser_mc_rates(a, b, y, [p], n_masks=1000, rng=11)
    _, se_r = th.regulariser_mc_rates(a, b, y, [p], n_masks=1000, rng=11, estimator="raw")
    assert se_b[0] < se_r[0]


def test_bregman_draws_are_never_negative(trained):
    # D_ℓ ≥ 0 for the convex cross-entropy, so every draw and the estimate are ≥ 0
    model, X, y = trained
    a, b = th.last_layer_contributions(model, X)
    est, _ = th.regulariser_mc_rates(a, b, y, [0.001, 0.3], n_masks=50, rng=0)
    assert np.all(est >= 0)
