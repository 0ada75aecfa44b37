"""Gradient noise across dropout masks (dropout_study.measures.noise).

Oracles: brute-force numpy formulas; the closed-form moments of Gaussian samples (the
unbiasedness of the estimators); exact expectations by enumerating every mask of a tiny
network; central finite differences of ``J(θ, m)`` with the mask frozen.
"""

import itertools

import numpy as np
import pytest

from dropout_study.measures.noise import (
    gradient_noise,
    mask_gradient_noise,
    mask_gradients,
)
from dropout_study.nn.mlp import MLP


def test_estimators_against_brute_force():
    rng = np.random.default_rng(0)
    g = rng.standard_normal((7, 11)) + np.linspace(-1, 1, 11)
    res = gradient_noise(g)
    mean = g.mean(axis=0)
    var = np.var(g, axis=0, ddof=1).sum()
    np.testing.assert_allclose(res.mean_grad, mean, rtol=1e-13)
    assert res.variance == pytest.approx(var, rel=1e-12)
    assert res.variance_per_param == pytest.approx(var / 11, rel=1e-12)
    assert res.signal == pytest.approx(mean @ mean - var / 7, rel=1e-12)
    assert res.snr == pytest.approx((mean @ mean - var / 7) / var, rel=1e-12)
    assert res.n_masks == 7


def test_estimators_are_unbiased_on_gaussian_samples():
    """Closed form: for g_k ~ N(μ, σ² I_d), E V = d σ² and E S = ||μ||²; the plug-in ||ḡ||²
    is biased upwards by d σ² / K, and the test sees that bias."""
    rng = np.random.default_rng(1)
    d, k, sigma, reps = 10, 4, 0.7, 20000
    mu = np.linspace(-0.3, 0.5, d)
    samples = mu + sigma * rng.standard_normal((reps, k, d))
    V = np.empty(reps)
    S = np.empty(reps)
    plugin = np.empty(reps)
    for r in range(reps):
        res = gradient_noise(samples[r])
        V[r], S[r] = res.variance, res.signal
        plugin[r] = res.mean_grad @ res.mean_grad
    se = lambda a: a.std(ddof=1) / np.sqrt(reps)  # noqa: E731
    assert abs(V.mean() - d * sigma**2) < 4 * se(V)
    assert abs(S.mean() - mu @ mu) < 4 * se(S)
    assert plugin.mean() - mu @ mu > 10 * se(plugin)  # the correction matters


def test_identical_gradients_give_zero_noise_and_infinite_snr():
    g = np.tile(np.array([0.1, -0.3, 0.7, 1e-3]), (5, 1))
    res = gradient_noise(g)
    assert res.variance == 0.0
    assert res.snr == np.inf
    np.testing.assert_array_equal(res.mean_grad, g[0])
    zero = gradient_noise(np.zeros((3, 4)))
    assert zero.variance == 0.0 and np.isnan(zero.snr)


@pytest.fixture
def tiny():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((2, 2))
    y = np.array([0, 1])
    return X, y


def _exact_moments(model, X, y, p):
    """E_m g, Cov_m g and E||g - E g||^4 by enumerating all keep masks with their
    probabilities (the single dropout layer of a tiny network)."""
    shape = model.mask_shapes(X.shape[0])[0]
    n_units = int(np.prod(shape))
    grads, probs = [], []
    for bits in itertools.product([False, True], repeat=n_units):
        keep = np.array(bits).reshape(shape)
        n_keep = keep.sum()
        probs.append((1 - p) ** n_keep * p ** (n_units - n_keep))
        grads.append(model.loss_and_grad(X, y, training=True, masks=[keep])[1])
    grads, probs = np.array(grads), np.array(probs)
    assert probs.sum() == pytest.approx(1.0)
    mean = probs @ grads
    dev = grads - mean
    cov = (probs[:, None] * dev).T @ dev
    m4 = probs @ np.sum(dev**2, axis=1) ** 2
    return mean, cov, m4


@pytest.mark.parametrize("p", [0.3, 0.5])
def test_mask_gradient_noise_converges_to_the_exact_enumeration(tiny, p):
    """Tolerances are 4 standard errors, computed from the exact distribution."""
    X, y = tiny
    model = MLP([2, 3, 1], dropout=p, rng=4)
    model.set_params(model.get_params() + 0.2)  # biases away from 0, all units active sometimes
    mean, cov, m4 = _exact_moments(model, X, y, p)  # 2 samples x 3 units: 64 masks
    var = np.trace(cov)
    k = 4000
    est = mask_gradient_noise(model, X, y, k, np.random.default_rng(0))
    se_var = np.sqrt((m4 - var**2) / k)
    assert abs(est.variance - var) < 4 * se_var, "mine / theirs"
    se_mean = np.sqrt(np.diag(cov) / k)
    assert np.all(np.abs(est.mean_grad - mean) <= 4 * se_mean + 1e-15)
    signal = mean @ mean
    se_signal = np.sqrt(4 * mean @ cov @ mean / k)
    snr_tol = 4 * (se_signal / signal + se_var / var) * signal / var
    assert abs(est.snr - signal / var) < snr_tol
    # and the test can fail: the exact variance at another p is out of reach
    other = MLP([2, 3, 1], dropout=0.1, rng=4)
    other.set_params(model.get_params())
    assert abs(est.variance - np.trace(_exact_moments(other, X, y, 0.1)[1])) > 4 * se_var


def test_mask_gradients_replay_the_masks_and_leave_the_model_alone(tiny):
    X, y = tiny
    model = MLP([2, 3, 3, 1], dropout=0.4, rng=0)
    theta0 = model.get_params()
    theta = theta0 * 1.5
    G = mask_gradients(model, X, y, 4, np.random.default_rng(11), theta=theta)
    np.testing.assert_array_equal(model.get_params(), theta0)
    ref = model.copy()
    ref.set_params(theta)
    rng = np.random.default_rng(11)
    for k in range(4):
        masks = ref.draw_masks(X.shape[0], rng)
        np.testing.assert_array_equal(G[k], ref.loss_and_grad(X, y, training=True, masks=masks)[1])
    assert not np.allclose(G[0], G[1])


def test_mask_gradient_is_the_gradient_of_the_frozen_mask_loss():
    """Central differences of J(θ, m) with m frozen (float64, h = 1e-6)."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((6, 3))
    y = (X[:, 0] > 0).astype(int)
    model = MLP([3, 4, 1], dropout=0.5, rng=1)
    theta = model.get_params()
    G = mask_gradients(model, X, y, 2, np.random.default_rng(3))
    masks = model.draw_masks(6, np.random.default_rng(3))  # the first mask set
    ref = model.copy()
    h = 1e-6
    fd = np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        ref.set_params(theta + e)
        up = ref.loss(X, y, training=True, masks=masks)
        ref.set_params(theta - e)
        down = ref.loss(X, y, training=True, masks=masks)
        fd[i] = (up - down) / (2 * h)
    np.testing.assert_allclose(G[0], fd, atol=1e-8, err_msg="mine / central differences")


@pytest.mark.parametrize("dropout", [0.0, None])
def test_no_dropout_means_no_noise(tiny, dropout):
    X, y = tiny
    model = MLP([2, 5, 1], dropout=dropout, rng=0)
    res = mask_gradient_noise(model, X, y, 6, 0)
    assert res.variance == 0.0
    assert res.snr == np.inf


def test_noise_grows_with_p_at_a_fixed_network():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((50, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    base = MLP([2, 16, 1], dropout=0.1, rng=3)
    variances = []
    for p in (0.1, 0.3, 0.6):
        model = MLP([2, 16, 1], dropout=p, rng=3)
        model.set_params(base.get_params())
        variances.append(mask_gradient_noise(model, X, y, 200, 0).variance)
    assert variances[0] < variances[1] < variances[2]


def test_validation(tiny):
    X, y = tiny
    model = MLP([2, 3, 1], dropout=0.5, rng=0)
    with pytest.raises(ValueError, match=r"'grads' parameter of gradient_noise .*K >= 2"):
        gradient_noise(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"'grads' parameter of gradient_noise .*K >= 2"):
        gradient_noise(np.zeros(3))
    with pytest.raises(ValueError, match="'grads' parameter of gradient_noise must be finite"):
        gradient_noise(np.array([[1.0, np.inf], [0.0, 0.0]]))
    with pytest.raises(TypeError, match="'grads' parameter of gradient_noise must be a numeric"):
        gradient_noise(np.array([["a"], ["b"]]))
    with pytest.raises(TypeError, match="'model' parameter of mask_gradients must be an MLP"):
        mask_gradients("net", X, y, 3, 0)
    with pytest.raises(ValueError, match="'n_masks' parameter of mask_gradients"):
        mask_gradients(model, X, y, 1, 0)
    with pytest.raises(TypeError, match="'n_masks' parameter of mask_gradients"):
        mask_gradients(model, X, y, 2.5, 0)
    with pytest.raises(TypeError, match="'rng' parameter of mask_gradients"):
        mask_gradients(model, X, y, 3, "seed")
    with pytest.raises(ValueError, match="'theta' parameter of mask_gradients must be a numeric"):
        mask_gradients(model, X, y, 3, 0, theta=np.zeros(2))
    with pytest.raises(ValueError, match="'theta' parameter of mask_gradients must be finite"):
        mask_gradients(model, X, y, 3, 0, theta=np.full(model.n_params, np.nan))
