"""Tests of chapter 2's experiment (dropout_study.experiments.cost_under_dropout).

Oracles: exact expectations over masks by enumerating every keep mask of a one-hidden-layer
network (2^width configurations per sample, with their binomial probabilities), hand-counted
up-fractions, and the identity p = 0 ≡ no dropout layers.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dropout_study.experiments import cost_under_dropout as exp
from dropout_study.losses import log_sigmoid
from dropout_study.mlp import MLP
from dropout_study.verdicts import WORDS
from dropout_study.verdicts.cost_under_dropout import decide as cost_under_dropout

SMALL = {
    "n_seeds": 2,
    "hidden": [8],
    "n_steps": 30,
    "n_masks": 100,
    "gap_rates": [0.2, 0.5],
    "n_gap_masks": 20,
}


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------
def test_defaults_pass_and_are_filled():
    p = exp.check_params({})
    assert p == exp.DEFAULTS
    assert exp.check_params({"seed": 3})["seed"] == 3


@pytest.mark.parametrize(
    ("override", "exc", "match"),
    [
        ({"nope": 1}, ValueError, r"'nope' parameter of cost-under-dropout must be a declared"),
        ({"seed": -1}, ValueError, r"'seed' parameter of cost-under-dropout .*got -1"),
        ({"seed": True}, TypeError, r"'seed' parameter"),
        ({"n_seeds": 1}, ValueError, r"'n_seeds' parameter .*got 1"),
        ({"dataset": "mnist"}, ValueError, r"'dataset' parameter .*'moons'.*got 'mnist'"),
        ({"hidden": []}, ValueError, r"'hidden' parameter"),
        ({"hidden": [0]}, ValueError, r"'hidden' parameter"),
        ({"dropout_rates": [0.0, 1.5]}, ValueError, r"'dropout_rates' parameter"),
        ({"dropout_rates": [0.2, 0.5]}, ValueError, r"'dropout_rates' .*starts with 0.0"),
        ({"dropout_rates": [0.0, 0.5, 0.2]}, ValueError, r"'dropout_rates' .*increasing"),
        ({"dropout_rates": [0.0]}, ValueError, r"'dropout_rates' parameter"),
        ({"dropout_rates": "0.5"}, TypeError, r"'dropout_rates' parameter"),
        ({"lr": 0.0}, ValueError, r"'lr' parameter .*got 0.0"),
        ({"n_steps": 2}, ValueError, r"'n_steps' parameter"),
        ({"n_masks": 99}, ValueError, r"'n_masks' parameter"),
        ({"gap_rates": [0.0, 0.5]}, ValueError, r"'gap_rates' parameter"),
        ({"gap_rates": [0.5, 0.2]}, ValueError, r"'gap_rates' .*increasing"),
        ({"n_gap_masks": 5}, ValueError, r"'n_gap_masks' parameter"),
        ({"pitfall_lr": -1.0}, ValueError, r"'pitfall_lr' parameter"),
        ({"pitfall_adam_lr": 0}, ValueError, r"'pitfall_adam_lr' parameter"),
    ],
)
def test_invalid_parameters_are_named(override, exc, match):
    with pytest.raises(exc, match=match):
        exp.check_params(override)


def test_params_must_be_a_dict():
    with pytest.raises(TypeError, match=r"'params' parameter of cost-under-dropout"):
        exp.check_params([("seed", 0)])


# ---------------------------------------------------------------------------------------------
# up_fraction
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("curve", "expected"),
    [([3.0, 2.0, 1.0], 0.0), ([1.0, 2.0, 3.0], 1.0), ([1, 2, 1, 2], 2 / 3), ([1.0, 1.0], 0.0)],
)
def test_up_fraction_counts_strict_rises(curve, expected):
    assert exp.up_fraction(curve) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("curve", "match"),
    [
        ([1.0], r"'curve' parameter of up_fraction must be a 1-D array of at least 2"),
        ([[1.0, 2.0]], r"'curve' parameter of up_fraction"),
        ([1.0, np.nan], r"'curve' parameter of up_fraction must be finite"),
    ],
)
def test_up_fraction_rejects_bad_curves(curve, match):
    with pytest.raises(ValueError, match=match):
        exp.up_fraction(curve)


# ---------------------------------------------------------------------------------------------
# Exact expectations over masks (oracle by enumeration)
# ---------------------------------------------------------------------------------------------
def _tiny(p=0.5, width=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((12, 2))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(float)
    model = MLP([2, width, 1], dropout=p, rng=seed)
    # biases away from 0 so that every unit is active on some samples
    model.dense[0].b[:] = rng.uniform(0.2, 1.0, width)
    return model, X, y


def _exact_mean_loss(model, X, y, p):
    """E_m J(θ, m) by summing over every keep mask of the single hidden layer."""
    W1, b1, W2, b2 = (q.copy() for q in model.params)
    a = np.maximum(X @ W1 + b1, 0.0)
    width = W1.shape[1]
    total = 0.0
    for bits in itertools.product([0, 1], repeat=width):
        m = np.asarray(bits, dtype=float)
        prob = np.prod(np.where(m == 1, 1 - p, p))
        z = (a * m / (1 - p)) @ W2[:, 0] + b2[0]
        per_sample = -(y * log_sigmoid(z) + (1 - y) * log_sigmoid(-z))
        total += prob * per_sample  # independent masks per sample: average per sample
    return float(np.mean(total))


def test_mask_losses_mean_matches_exact_expectation():
    p = 0.5
    model, X, y = _tiny(p)
    exact = _exact_mean_loss(model, X, y, p)
    s = exp.mask_losses(model, X, y, 4000, np.random.default_rng(1))
    assert s.shape == (4000,)
    se = s.std(ddof=1) / np.sqrt(s.size)
    assert abs(s.mean() - exact) < 4 * se, (s.mean(), exact, se)
    assert s.std() > 0


def test_gap_samples_match_exact_gap_and_are_zero_at_p0():
    model, X, y = _tiny(0.3)
    theta = model.get_params()
    g = exp.gap_samples(model, X, y, [0.0, 0.25, 0.6], 3000, np.random.default_rng(2))
    assert g.shape == (3, 3000)
    np.testing.assert_array_equal(g[0], 0.0)
    for row, p in zip(g[1:], (0.25, 0.6), strict=True):
        exact = _exact_mean_loss(model, X, y, p) - model.loss(X, y)
        se = row.std(ddof=1) / np.sqrt(row.size)
        assert exact >= 0  # Jensen: BCE is convex in the logit, which is linear in the mask
        assert abs(row.mean() - exact) < 4 * se, (p, row.mean(), exact, se)
    np.testing.assert_array_equal(model.get_params(), theta)  # argument not modified


def test_gap_samples_rejects_models_without_hidden_dropout():
    model = MLP([2, 3, 1], dropout=None, rng=0)
    with pytest.raises(ValueError, match=r"'model' parameter of gap_samples"):
        exp.gap_samples(model, np.zeros((2, 2)), np.zeros(2), [0.5], 2, 0)
    with pytest.raises(ValueError, match=r"'rates' parameter of gap_samples"):
        exp.gap_samples(_tiny()[0], np.zeros((2, 2)), np.zeros(2), [1.0], 2, 0)


# ---------------------------------------------------------------------------------------------
# The inverted-dropout expectation check
# ---------------------------------------------------------------------------------------------
def test_preactivation_check_passes_for_inverted_dropout():
    model = MLP([2, 6, 5, 1], dropout=0.5, rng=3)
    X = np.random.default_rng(4).standard_normal((30, 2))
    r = exp.preactivation_check(model, X, 400, np.random.default_rng(5))
    assert r["ok"] and r["max_abs_z"] <= r["z_crit"]
    assert r["n_entries"] == 30 * 5 and r["rate"] == 0.5
    # after a second non-linearity the mean logit is not its evaluation value
    assert r["logit_max_abs_z"] > r["z_crit"]


def test_preactivation_check_catches_dropout_without_rescaling():
    model = MLP([2, 6, 5, 1], dropout=0.5, rng=3)
    model.dropouts[0].scale = 1.0  # plain (not inverted) dropout: E_m[a] = (1 - p) · a
    X = np.random.default_rng(4).standard_normal((30, 2))
    r = exp.preactivation_check(model, X, 400, np.random.default_rng(5))
    assert not r["ok"]
    assert r["max_abs_z"] > 10


def test_preactivation_check_linear_logit_with_one_hidden_layer():
    model, X, _ = _tiny(0.4, width=5)
    r = exp.preactivation_check(model, X, 500, np.random.default_rng(6))
    assert r["ok"]
    assert r["logit_max_abs_z"] <= r["z_crit"]  # the logit is linear in the only mask


def test_preactivation_check_rejects_models_without_dropout():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"'model' parameter of preactivation_check"):
        exp.preactivation_check(MLP([2, 3, 1], dropout=None, rng=0), X, 10, 0)
    with pytest.raises(ValueError, match=r"'model' parameter of preactivation_check"):
        exp.preactivation_check(MLP([2, 3, 1], dropout=0.0, rng=0), X, 10, 0)
    with pytest.raises(ValueError, match=r"without input dropout"):
        exp.preactivation_check(MLP([2, 3, 1], dropout=0.5, input_dropout=0.2, rng=0), X, 10, 0)
    with pytest.raises(ValueError, match=r"'n_masks' parameter of preactivation_check"):
        exp.preactivation_check(MLP([2, 3, 1], dropout=0.5, rng=0), X, 1, 0)


# ---------------------------------------------------------------------------------------------
# The whole experiment, small
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_result():
    return exp.run(SMALL, cache_dir=None, n_jobs=1)


def test_run_shapes_and_checks(small_result):
    r = small_result
    S, P, T = 2, 3, SMALL["n_steps"]
    assert r.eval_curve.shape == (S, P, T + 1)
    assert r.train_curve.shape == (S, P, T)
    assert r.gap_curve.shape == (S, 2)
    m = r.metrics
    assert m["p0_identical"] and m["p0_train_equals_eval"]
    # the chapter's step is small enough: the p = 0 cost falls at every step
    assert m["p0_eval_up_steps"] == 0
    # at p = 0 the two curves are one: J(θ_t, m_t) = J(θ_t)
    np.testing.assert_array_equal(r.train_curve[:, 0], r.eval_curve[:, 0, :-1])
    # dropout makes the step's number noisy, and its mean over masks exceeds J(θ)
    assert all(u > 0 for u in m["train_up"]["mean"][1:])
    assert all(g > 0 for g in m["gap"]["mean"][1:])
    assert all(g > 0 for g in m["gap_curve"]["mean"])
    assert m["expectation"]["ok"]
    assert set(m["hist"]["rates"]) == {0.2, 0.5}
    assert len(r.hist[0.5]["samples"]) == SMALL["n_masks"]
    assert cost_under_dropout(m).word in WORDS


def test_run_is_deterministic_and_cached(small_result, tmp_path):
    first = exp.run(SMALL, cache_dir=tmp_path, n_jobs=1)
    again = exp.run(SMALL, cache_dir=tmp_path, n_jobs=1)
    assert again.seconds["cells_cached"] == SMALL["n_seeds"]
    for r in (first, again):
        np.testing.assert_array_equal(r.eval_curve, small_result.eval_curve)
        np.testing.assert_array_equal(r.train_curve, small_result.train_curve)
        np.testing.assert_array_equal(r.gap, small_result.gap)
        assert r.metrics == small_result.metrics


def test_runs_differing_only_in_p_share_initial_weights(small_result):
    # common random numbers: every rate starts from the same θ_0, so J(θ_0) is shared
    j0 = small_result.eval_curve[:, :, 0]
    np.testing.assert_array_equal(j0, np.repeat(j0[:, :1], j0.shape[1], axis=1))


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
def test_a_diverging_pitfall_step_names_the_parameter():
    with pytest.raises(ValueError, match=r"'pitfall_lr' parameter of cost-under-dropout"):
        exp.run({**SMALL, "pitfall_lr": 1e12}, cache_dir=None, n_jobs=1)


def test_mask_and_gap_sample_counts_are_validated():
    model, X, y = _tiny(0.5)
    with pytest.raises(ValueError, match=r"'n_masks' parameter of mask_losses"):
        exp.mask_losses(model, X, y, 0, 0)
    with pytest.raises(ValueError, match=r"'n_masks' parameter of gap_samples"):
        exp.gap_samples(model, X, y, [0.5], 0, 0)


@pytest.mark.parametrize("name", ["loss_curves", "mask_histograms", "gap_curve", "up_fractions"])
def test_figures_have_labelled_axes(small_result, name):
    import matplotlib.pyplot as plt

    from dropout_study.plots import cost_under_dropout as plots

    fig = getattr(plots, name)(small_result)
    try:
        for ax in fig.axes:
            assert ax.get_xlabel(), (name, ax.get_title())
        assert any(ax.get_ylabel() for ax in fig.axes)
    finally:
        plt.close(fig)


def test_chapter_source_defaults_and_profiles_are_valid():
    from dropout_study import chapters

    spec = chapters.load("cost-under-dropout")
    assert spec.experiment == "dropout_study.experiments.cost_under_dropout"
    assert spec.defaults() == exp.DEFAULTS  # the parameters cell is the book profile
    for name in ("smoke", "full"):
        assert set(exp.check_params(spec.defaults() | spec.profiles[name])) == set(exp.DEFAULTS)
    assert spec.profiles["smoke"]["n_seeds"] == 2
    assert exp.DEFAULTS["n_seeds"] >= 8 and exp.DEFAULTS["n_masks"] >= 1000
    assert spec.profiles["full"]["n_seeds"] > exp.DEFAULTS["n_seeds"]
    assert exp.DEFAULTS["dropout_rates"] == [0.0, 0.2, 0.5]
