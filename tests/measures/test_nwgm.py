"""Baldi & Sadowski's NWGM, first-order estimate and the delta method, against exact
enumeration written out here (a plain loop over all masks) and closed forms."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dropout_study.measures import nwgm


def _brute(a, b, p):
    """Oracle: E σ(S), Var σ(S), NWGM by an explicit loop over all 2^n inverted masks."""
    N, n = a.shape
    E = np.zeros(N)
    E2 = np.zeros(N)
    lg = np.zeros(N)
    lg1 = np.zeros(N)
    for m in itertools.product((0, 1), repeat=n):
        m = np.asarray(m, dtype=float)
        prob = np.prod(np.where(m == 1, 1 - p, p))
        S = a @ (m / (1 - p)) + b
        o = 1 / (1 + np.exp(-S))
        E += prob * o
        E2 += prob * o * o
        lg += prob * np.log(o)
        lg1 += prob * np.log1p(-o)
    G, G1 = np.exp(lg), np.exp(lg1)
    return E, E2 - E * E, G / (G + G1)


@pytest.fixture
def layer():
    """40 examples of an 8-unit layer in which one unit carries most of the logit (the case where
    a second-order expansion is poor at full size)."""
    rng = np.random.default_rng(3)
    a = np.abs(rng.normal(0.0, 1.0, (40, 8))) * np.array([3.0, 0.3, 0.3, 0.2, 0.2, 0.2, 0.1, 0.1])
    return a, -1.0


def test_exact_moments_match_an_explicit_loop_and_nwgm_is_sigma_of_mean(layer):
    a, b = layer
    m = nwgm.moments_exact(a, b, 0.5)
    E, V, G = _brute(a, b, 0.5)
    np.testing.assert_allclose(m["mean_sigma"], E, rtol=1e-12)
    np.testing.assert_allclose(m["var_sigma"], V, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(G, 1 / (1 + np.exp(-(a.sum(1) + b))), rtol=1e-12)
    np.testing.assert_allclose(m["nwgm"], m["sigma_mean"], rtol=1e-13)


def test_variance_of_the_logit_in_both_forms():
    """Var S over all masks by enumeration, against p/(1 − p) Σa² and q(1 − q) Σa²."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 4))
    p = 0.3
    masks = np.array(list(itertools.product((0, 1), repeat=4)), dtype=float)
    prob = np.prod(np.where(masks == 1, 1 - p, p), axis=1)
    for form, scale in (("inverted", 1 / (1 - p)), ("retention", 1.0)):
        S = a @ (masks.T * scale)
        mean = S @ prob
        var = (S * S) @ prob - mean**2
        rate = p if form == "inverted" else 1 - p
        np.testing.assert_allclose(nwgm.var_logit(a, rate, form), var, rtol=1e-12)
        np.testing.assert_allclose(nwgm.mean_logit(a, 0.0, rate, form), mean, rtol=1e-12)


@pytest.mark.parametrize("estimate", ["first_order", "delta"])
def test_estimates_tend_to_the_exact_gap_as_weights_shrink_and_not_otherwise(layer, estimate):
    a, b = layer
    ratios = []
    for eps in (1.0, 0.1, 0.01):
        m = nwgm.moments_exact(eps * a, b, 0.5)
        gap = m["mean_sigma"] - m["sigma_mean"]
        if estimate == "first_order":
            est = nwgm.first_order_estimate(m["mean_sigma"], m["var_sigma"])
        else:
            est = nwgm.delta_estimate(eps * a, b, 0.5)
        ratios.append(nwgm.aligned_ratio(gap, est))
    assert abs(ratios[-1] - 1) < 1e-3, ratios  # w → εw: exact to leading order
    assert abs(ratios[-2] - 1) < 0.05, ratios
    assert abs(np.log(ratios[0])) > np.log(1.25), ratios  # large weights: off by > 25 %


def test_sign_prediction_holds_at_small_weights(layer):
    a, b = layer
    m = nwgm.moments_exact(0.1 * a, b, 0.5)
    gap = m["mean_sigma"] - m["sigma_mean"]
    assert nwgm.sign_agreement(gap, m["mean_sigma"]) == 1.0
    # and it is a real test: the opposite sign convention fails everywhere
    assert nwgm.sign_agreement(-gap, m["mean_sigma"]) == 0.0


def test_monte_carlo_moments_converge_to_exact(layer):
    a, b = layer
    ex = nwgm.moments_exact(a, b, 0.5)
    mc = nwgm.moments_mc(a, b, 0.5, n_masks=20000, rng=1)
    z = (mc["mean_sigma"] - ex["mean_sigma"]) / mc["se_mean"]
    assert np.max(np.abs(z)) < 4.5
    np.testing.assert_allclose(mc["var_sigma"], ex["var_sigma"], rtol=0.1, atol=1e-4)
    np.testing.assert_allclose(mc["sigma_mean"], ex["sigma_mean"], rtol=1e-14)


def test_mc_draws_do_not_depend_on_chunk(layer):
    a, b = layer
    one = nwgm.moments_mc(a, b, 0.5, n_masks=300, rng=7, chunk=7)
    two = nwgm.moments_mc(a, b, 0.5, n_masks=300, rng=7, chunk=300)
    np.testing.assert_allclose(one["mean_sigma"], two["mean_sigma"], rtol=1e-13)


def test_aligned_ratio_worked_example():
    assert nwgm.aligned_ratio(np.array([0.02, -0.01]), np.array([0.01, -0.01])) == pytest.approx(
        1.5
    )
    assert np.isnan(nwgm.aligned_ratio(np.zeros(2), np.zeros(2)))


def test_bad_input_is_refused_with_the_parameter_named():
    with pytest.raises(ValueError, match="'a' parameter"):
        nwgm.moments_exact(np.zeros((3, 17)), 0.0, 0.5)
    with pytest.raises(ValueError, match="'mean_sigma' parameter"):
        nwgm.first_order_estimate(np.array([0.0]), np.array([0.1]))
    with pytest.raises(ValueError, match="'form' parameter"):
        nwgm.var_logit(np.ones((2, 2)), 0.5, "other")
