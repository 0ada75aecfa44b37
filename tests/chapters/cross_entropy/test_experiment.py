"""Tests of chapter 1's experiment (dropout_study.chapters.cross_entropy.experiment).

Oracles: closed forms (−log q, entropies of the hampers, second differences of quadratics,
the analytic Hessian of logistic regression), scikit-learn (``log_loss``,
``mean_squared_error``, ``calibration_curve``), SciPy (``gmean`` for e^(−CE), a second
optimiser and central differences for temperature scaling), and invariances (swapping hidden
units; temperature scaling keeps the ranking).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import chapter_params
from sklearn.calibration import calibration_curve
from sklearn.metrics import log_loss, mean_squared_error

from dropout_study.chapters.cross_entropy import experiment as exp
from dropout_study.chapters.cross_entropy import parts, quantities
from dropout_study.chapters.cross_entropy.verdict import decide as cross_entropy
from dropout_study.chapters.verdicts import WORDS
from dropout_study.nn.mlp import MLP

BOOK = chapter_params("cross-entropy")
"""The book profile: the notebook's parameters cell."""

SMALL = chapter_params(
    "cross-entropy",
    **{
        "n_seeds": 2,
        "n_grid": 21,
        "mlp_width": 4,
        "mlp_steps": 100,
        "n_alphas": 41,
        "digits_hidden": [16],
        "digits_steps": 24,
        "digits_eval_every": 4,
    },
)


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------
def test_defaults_pass_and_are_filled():
    assert exp.check_params(dict(BOOK)) == BOOK
    assert exp.check_params({**BOOK, "true_class": 1})["true_class"] == 1


@pytest.mark.parametrize(
    ("override", "exc", "match"),
    [
        ({"seed": -2}, ValueError, r"'seed' parameter of cross-entropy .*got -2"),
        ({"n_seeds": 1}, ValueError, r"'n_seeds' parameter"),
        ({"n_seeds": 2.0}, TypeError, r"'n_seeds' parameter"),
        ({"ce_example": [0.5, 0.2]}, ValueError, r"'ce_example' .*sum to 1"),
        ({"ce_example": [1.2, -0.2]}, ValueError, r"'ce_example' parameter"),
        ({"ce_example": [1.0]}, ValueError, r"'ce_example' parameter"),
        (
            {"true_class": 3},
            ValueError,
            r"'true_class' parameter .*\[0, len\(ce_example\) − 1 = 2\]",
        ),
        ({"ce_example": [1.0, 0.0], "true_class": 1}, ValueError, r"'true_class' .*> 0"),
        ({"feature": "radius"}, ValueError, r"'feature' parameter .*'mean radius'"),
        ({"grid_half_width": 0.0}, ValueError, r"'grid_half_width' parameter"),
        ({"n_grid": 3}, ValueError, r"'n_grid' parameter"),
        ({"mlp_width": 1}, ValueError, r"'mlp_width' parameter"),
        ({"mlp_steps": 0}, ValueError, r"'mlp_steps' parameter"),
        ({"mlp_lr": -0.5}, ValueError, r"'mlp_lr' parameter"),
        ({"n_alphas": 4}, ValueError, r"'n_alphas' parameter"),
        ({"digits_hidden": [0]}, ValueError, r"'digits_hidden' parameter"),
        ({"digits_steps": 1}, ValueError, r"'digits_steps' parameter"),
        ({"digits_lr": 0.0}, ValueError, r"'digits_lr' parameter"),
        ({"digits_eval_every": 5000}, ValueError, r"'digits_eval_every' parameter"),
        ({"digits_train_fraction": 0.9}, ValueError, r"'digits_train_fraction' parameter"),
        ({"n_bins": 1}, ValueError, r"'n_bins' parameter"),
        ({"digits_alt_lr": [0.0]}, ValueError, r"'digits_alt_lr' parameter"),
        ({"digits_alt_lr": [0.02, 0.01]}, ValueError, r"'digits_alt_lr' .*increasing"),
        ({"digits_alt_hidden": [0]}, ValueError, r"'digits_alt_hidden' parameter"),
        ({"digits_alt_train_fraction": [0.9]}, ValueError, r"'digits_alt_train_fraction'"),
    ],
)
def test_invalid_parameters_are_named(override, exc, match):
    with pytest.raises(exc, match=match):
        exp.check_params({**BOOK, **override})


def test_params_must_be_a_dict():
    with pytest.raises(TypeError, match=r"'params' parameter of cross-entropy"):
        exp.check_params(None)


# ---------------------------------------------------------------------------------------------
# The worked example and the hampers
# ---------------------------------------------------------------------------------------------
def test_example_cross_entropy_in_three_bases():
    q = [0.723, 0.240, 0.036]
    nats = quantities.example_cross_entropy(q, 0)
    assert nats == pytest.approx(-math.log(0.723), rel=1e-12)
    assert quantities.example_cross_entropy(q, 0, 2) == pytest.approx(-math.log2(0.723), rel=1e-12)
    assert quantities.example_cross_entropy(q, 0, 10) == pytest.approx(
        -math.log10(0.723), rel=1e-12
    )
    # the numbers the study quotes: 0.324 nats, 0.468 bits, 0.141 (the tutorial's "0.14")
    assert round(nats, 3) == 0.324
    assert round(quantities.example_cross_entropy(q, 0, 2), 3) == 0.468
    assert round(quantities.example_cross_entropy(q, 0, 10), 2) == 0.14
    # only the true class enters (a one-hot target)
    assert quantities.example_cross_entropy([0.723, 0.0, 0.277], 0) == nats


def test_example_cross_entropy_validates():
    with pytest.raises(ValueError, match=r"'true_class' parameter of example_cross_entropy"):
        quantities.example_cross_entropy([0.5, 0.5], 2)
    with pytest.raises(ValueError, match=r"'q' parameter of example_cross_entropy"):
        quantities.example_cross_entropy([[0.5, 0.5]], 0)


def test_hamper_entropies():
    out = parts.entropy_and_example(exp.check_params(dict(BOOK)))
    h = out["hampers"]
    assert h["3/7"]["bits"] == pytest.approx(-(0.3 * math.log2(0.3) + 0.7 * math.log2(0.7)))
    assert round(h["3/7"]["bits"], 3) == 0.881
    assert h["5/5"]["bits"] == pytest.approx(1.0)
    assert h["10/0"]["bits"] == 0.0
    assert h["3/7"]["without_minus"] == -h["3/7"]["bits"]


# ---------------------------------------------------------------------------------------------
# Logistic regression costs and curvature
# ---------------------------------------------------------------------------------------------
def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    y = (x + 0.7 * rng.standard_normal(n) > 0).astype(int)
    return x, y


def test_logistic_costs_match_sklearn():
    x, y = _data()
    w = np.array([[-2.0, 0.3], [1.5, 4.0]])
    b = np.array([[0.5, -1.0], [0.0, 2.0]])
    ce, mse = quantities.logistic_costs(w, b, x, y)
    assert ce.shape == mse.shape == (2, 2)
    for idx in np.ndindex(w.shape):
        q = 1.0 / (1.0 + np.exp(-(w[idx] * x + b[idx])))
        assert ce[idx] == pytest.approx(log_loss(y, q, labels=[0, 1]), rel=1e-10)
        assert mse[idx] == pytest.approx(mean_squared_error(y, q), rel=1e-10)


def test_logistic_costs_validate_shapes():
    with pytest.raises(ValueError, match=r"'b' parameter of logistic_costs"):
        quantities.logistic_costs(np.zeros(3), np.zeros(2), [0.0], [1])


def test_directional_curvature_of_quadratics_is_exact():
    a, c, e = 1.5, 0.5, 0.8
    axis = np.linspace(-2, 2, 9)
    h = axis[1] - axis[0]
    W, B = np.meshgrid(axis, axis, indexing="ij")
    f = a * W**2 + c * B**2 + e * W * B
    # second differences of a quadratic are exact: 2a, 2c, (2a + 2c + 2e)/2, (2a + 2c − 2e)/2
    expected = min(2 * a, 2 * c, a + c + e, a + c - e)
    curv = quantities.directional_curvature(f, h)
    assert curv.shape == (7, 7)
    np.testing.assert_allclose(curv, expected, rtol=1e-9)
    np.testing.assert_allclose(
        quantities.directional_curvature(-f, h), -max(2 * a, 2 * c, a + c + e)
    )


def test_directional_curvature_matches_the_analytic_hessian_of_logistic_ce():
    x, y = _data(200)
    axis = np.linspace(-3, 3, 301)
    h = axis[1] - axis[0]
    W, B = np.meshgrid(axis, axis, indexing="ij")
    ce, _ = quantities.logistic_costs(W, B, x, y)
    curv = quantities.directional_curvature(ce, h)
    # analytic: H = mean σ(1−σ) [x, 1][x, 1]ᵀ; the smallest of vᵀHv/|v|² over the 4 directions
    for i, j in [(40, 200), (150, 150), (260, 30)]:
        z = axis[i] * x + axis[j]
        s = 1.0 / (1.0 + np.exp(-z))
        d = s * (1 - s)
        hww, hbb, hwb = np.mean(d * x * x), np.mean(d), np.mean(d * x)
        analytic = min(hww, hbb, (hww + hbb + 2 * hwb) / 2, (hww + hbb - 2 * hwb) / 2)
        assert curv[i - 1, j - 1] == pytest.approx(analytic, rel=1e-3, abs=1e-7)
    assert curv.min() >= 0.0  # convex


def test_directional_curvature_validates():
    with pytest.raises(ValueError, match=r"'J' parameter of directional_curvature"):
        quantities.directional_curvature(np.zeros((2, 5)), 0.1)
    with pytest.raises(ValueError, match=r"'h' parameter of directional_curvature"):
        quantities.directional_curvature(np.zeros((3, 3)), 0.0)


# ---------------------------------------------------------------------------------------------
# The hidden-layer network: swapping units
# ---------------------------------------------------------------------------------------------
def test_swapping_hidden_units_keeps_the_function():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((25, 4))
    y = (X[:, 0] > 0).astype(float)
    model = MLP([4, 5, 1], activation="tanh", dropout=None, rng=1)
    model.dense[0].b[:] = rng.standard_normal(5)
    theta = model.get_params()
    swapped = quantities.swap_hidden_units(model, 1, 3)
    np.testing.assert_array_equal(model.get_params(), theta)  # argument not modified
    assert not np.array_equal(swapped, theta)
    twin = model.copy()
    twin.set_params(swapped)
    np.testing.assert_allclose(twin.forward(X), model.forward(X), rtol=0, atol=1e-12)
    # swapping back restores θ exactly
    np.testing.assert_array_equal(quantities.swap_hidden_units(twin, 1, 3), theta)
    costs = quantities.segment_costs(model, theta, swapped, [0.0, 0.5, 1.0], X, y)
    assert costs[0] == pytest.approx(model.loss(X, y), abs=1e-15)
    assert costs[2] == pytest.approx(model.loss(X, y), abs=1e-12)
    np.testing.assert_array_equal(model.get_params(), theta)


def test_swap_hidden_units_validates():
    with pytest.raises(ValueError, match=r"'model' parameter of swap_hidden_units"):
        quantities.swap_hidden_units(MLP([2, 3, 3, 1], rng=0), 0, 1)
    with pytest.raises(ValueError, match=r"'j' parameter of swap_hidden_units"):
        quantities.swap_hidden_units(MLP([2, 3, 1], rng=0), 0, 3)


# ---------------------------------------------------------------------------------------------
# Reliability diagrams
# ---------------------------------------------------------------------------------------------
def test_reliability_matches_sklearn_calibration_curve():
    rng = np.random.default_rng(7)
    logits = 3 * rng.standard_normal((500, 4))
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = rng.integers(0, 4, 500)
    labels[:300] = P[:300].argmax(axis=1)
    rel = quantities.reliability(P, labels, n_bins=10)
    conf = P.max(axis=1)
    correct = (P.argmax(axis=1) == labels).astype(int)
    prob_true, prob_pred = calibration_curve(correct, conf, n_bins=10, strategy="uniform")
    ok = rel["count"] > 0
    np.testing.assert_allclose(rel["accuracy"][ok], prob_true, rtol=1e-12)
    np.testing.assert_allclose(rel["confidence"][ok], prob_pred, rtol=1e-12)
    assert rel["count"].sum() == 500
    ece = np.sum(rel["count"][ok] * np.abs(prob_true - prob_pred)) / 500
    assert rel["ece"] == pytest.approx(ece)
    assert rel["accuracy_overall"] == pytest.approx(correct.mean())
    assert rel["mean_confidence"] == pytest.approx(conf.mean())


def test_reliability_by_hand():
    P = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.45, 0.55]])
    rel = quantities.reliability(P, [0, 1, 1, 0], n_bins=2)
    # bin (0.5, 1] holds all four: confidence 0.7375, accuracy 0.5
    np.testing.assert_allclose(rel["count"], [0, 4])
    assert rel["ece"] == pytest.approx(abs(0.5 - 0.7375))
    assert np.isnan(rel["accuracy"][0])


def test_reliability_validates():
    with pytest.raises(ValueError, match=r"'labels' parameter of reliability"):
        quantities.reliability(np.full((3, 2), 0.5), [0, 1])
    with pytest.raises(ValueError, match=r"'proba' parameter of reliability .*\(n, k\)"):
        quantities.reliability(np.full(3, 0.5), [0, 1, 1])


# ---------------------------------------------------------------------------------------------
# The whole experiment, small
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_result():
    return exp.run(SMALL, cache_dir=None, n_jobs=1)


def test_run_numbers(small_result):
    m = small_result.metrics
    assert m["hampers_bits"]["5/5"] == pytest.approx(1.0)
    t = m["three_names"]
    assert t["max_abs_difference"] < 1e-12
    assert t["binary"] == pytest.approx(t["sklearn_log_loss"], rel=1e-12)
    mle = m["mle"]
    assert mle["bernoulli_theta_hat"] == pytest.approx(mle["bernoulli_mean_y"], abs=1e-6)
    assert mle["bernoulli_nll_over_n"] == pytest.approx(mle["bernoulli_ce_at_mean"], rel=1e-12)
    assert mle["categorical_max_abs_difference"] < 1e-4
    assert mle["categorical_ce_min"] == pytest.approx(mle["categorical_entropy_of_freq"], rel=1e-8)
    d = m["digits"]
    # CE of the constant prior predictor = H(half-B prior) + KL(half-B ‖ training prior)
    assert d["constant_predictor_ce"] == pytest.approx(
        d["prior_entropy_held"] + d["kl_held_train_prior"], rel=1e-12
    )
    # e^(−CE) is the geometric-mean probability of the true class (one value per seed)
    ps = d["per_seed"]
    assert d["geometric_mean_probability_end"]["mean"] == pytest.approx(
        np.mean(np.exp(-np.asarray(ps["ce_end"]))), rel=1e-12
    )
    # one temperature never changes the ranking, and fitting it on half A cannot make half A
    # worse; on half B it is a held-out score
    assert ps["accuracy_end"] == [x["held"]["end"]["accuracy"] for x in small_result.digits]
    c = m["convexity"]
    assert c["logreg_ce_min_curvature"] >= 0.0
    assert c["logreg_mse_min_curvature"] < 0.0
    assert max(c["mlp_endpoint_difference"]) < 1e-12
    assert min(c["mlp_midpoint_excess"]) > 0.0
    assert cross_entropy(m).word in WORDS


def test_run_shapes(small_result):
    r = small_result
    assert r.logistic["ce"].shape == (21, 21)
    assert r.logistic["ce_curvature"].shape == (19, 19)
    # the share of the grid that curves down: none for CE, some for MSE (as in the metrics)
    assert r.logistic["ce_down_share"] == 0.0
    assert 0.0 < r.logistic["mse_down_share"] < 1.0
    assert len(r.hidden) == len(r.digits) == 2
    assert r.hidden[0]["cost"].shape == (41,)
    d = r.digits[0]
    assert d["eval_step"].tolist() == list(range(0, 25, 4))
    assert d["val_loss"][d["best"]] == d["val_loss"].min()
    # half A is the validation data, half B held out: together the validation split
    from dropout_study.chapters.cross_entropy.cells import load_digits_split, replicate_streams

    ds = load_digits_split(SMALL, replicate_streams(SMALL, 0).split)
    assert d["n_val"] + d["n_held"] == ds.y_val.size and abs(d["n_val"] - d["n_held"]) <= 1
    assert d["held"]["end"]["reliability"]["count"].sum() == d["n_held"]
    # the page's diagram pools every seed's held-out predictions: its bin counts are the sums
    # of the per-seed counts, not one seed's
    for key in ("best", "end"):
        pooled = r.pooled[key]
        assert pooled["count"].sum() == sum(x["n_held"] for x in r.digits)
        per_seed = [x["held"][key]["reliability"]["count"] for x in r.digits]
        np.testing.assert_array_equal(pooled["count"], np.sum(per_seed, axis=0))
    assert r.metrics["digits"]["pooled_n"] == 2 * d["n_held"]


def test_retrained_alternatives_are_findings_of_their_own(small_result):
    from dropout_study.chapters.cross_entropy import evidence

    small = {**SMALL, "digits_alt_lr": [0.02], "digits_alt_hidden": [8]}
    r = exp.run(small, cache_dir=None, n_jobs=1)
    alts = r.metrics["digits"]["alternatives"]
    assert [a["label"] for a in alts] == ["step size 0.02", "one hidden layer of 8"]
    assert all(len(a["per_seed"]["ce_end"]) == 2 for a in alts)
    names = [f.name for f in evidence.measured(r.metrics) if "(retrained)" in f.name]
    assert len(names) == 3 * 2 and any("one hidden layer of 8" in n for n in names)
    # the base run is the same with or without alternatives (they use their own networks)
    assert r.metrics["digits"]["per_seed"] == small_result.metrics["digits"]["per_seed"]


def test_validation_halves_split_every_row_once():
    from dropout_study.chapters.cross_entropy.cells import validation_halves

    a, b = validation_halves(11, np.random.default_rng(0))
    assert len(a) == 5 and len(b) == 6
    np.testing.assert_array_equal(np.sort(np.concatenate([a, b])), np.arange(11))


# ---------------------------------------------------------------------------------------------
# Temperature scaling and e^(−CE)
# ---------------------------------------------------------------------------------------------
def _calibration_problem(n=4000, k=5, true_t=1.0, over=2.5, seed=0):
    """Labels drawn from softmax(z / true_t); the model reports ``over · z`` (over-confident
    by the factor ``over``), so the best temperature is about ``over · true_t``."""
    rng = np.random.default_rng(seed)
    z = 2.0 * rng.standard_normal((n, k))
    p = np.exp(z / true_t - (z / true_t).max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(k, p=row) for row in p])
    return over * z, labels


def test_scaled_cross_entropy_matches_sklearn_log_loss():
    logits, labels = _calibration_problem(n=300)
    for t in (0.5, 1.0, 2.7):
        z = logits / t
        q = np.exp(z - z.max(axis=1, keepdims=True))
        q /= q.sum(axis=1, keepdims=True)
        gold = log_loss(labels, q, labels=range(5))
        assert quantities.scaled_cross_entropy(logits, labels, t) == pytest.approx(gold, rel=1e-10)


def test_fit_temperature_is_the_minimiser():
    logits, labels = _calibration_problem()
    t = quantities.fit_temperature(logits, labels)
    # oracle 1: the over-confidence factor the data were made with (large n)
    assert t == pytest.approx(2.5, rel=0.08)
    # oracle 2: a different optimiser (Nelder–Mead on T itself) finds the same minimum
    from scipy.optimize import minimize

    res = minimize(
        lambda v: quantities.scaled_cross_entropy(logits, labels, abs(v[0])),
        x0=[1.0],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-14},
    )
    assert t == pytest.approx(abs(res.x[0]), rel=1e-5)
    # oracle 3: the derivative of the cross-entropy in T vanishes there (central differences)
    h = 1e-5 * t
    dce = (
        quantities.scaled_cross_entropy(logits, labels, t + h)
        - quantities.scaled_cross_entropy(logits, labels, t - h)
    ) / (2 * h)
    assert abs(dce) < 1e-6
    # and it keeps every ranking: the arg max of z / T is the arg max of z
    np.testing.assert_array_equal((logits / t).argmax(axis=1), logits.argmax(axis=1))


def test_fit_temperature_of_calibrated_logits_is_near_one():
    logits, labels = _calibration_problem(over=1.0)
    assert quantities.fit_temperature(logits, labels) == pytest.approx(1.0, rel=0.08)


def test_temperature_functions_validate():
    with pytest.raises(ValueError, match=r"'logits' parameter of fit_temperature"):
        quantities.fit_temperature(np.zeros(3), [0, 1, 2])
    with pytest.raises(ValueError, match=r"'labels' parameter of fit_temperature"):
        quantities.fit_temperature(np.zeros((3, 2)), [0, 1])
    with pytest.raises(ValueError, match=r"'temperature' parameter of scaled_cross_entropy"):
        quantities.scaled_cross_entropy(np.zeros((3, 2)), [0, 1, 0], 0.0)


def test_e_to_the_minus_ce_is_the_geometric_mean_probability_of_the_true_class():
    from scipy.stats import gmean

    logits, labels = _calibration_problem(n=200)
    z = logits - logits.max(axis=1, keepdims=True)
    q = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    ce = quantities.scaled_cross_entropy(logits, labels)
    assert math.exp(-ce) == pytest.approx(gmean(q[np.arange(200), labels]), rel=1e-12)


def test_reliability_top_of_concatenated_seeds_equals_reliability_of_stacked_probabilities():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(4), size=60)
    lab = rng.integers(0, 4, 60)
    whole = quantities.reliability(P, lab, n_bins=5)
    parts = [(P[:25], lab[:25]), (P[25:], lab[25:])]
    conf = np.concatenate([q.max(axis=1) for q, _ in parts])
    correct = np.concatenate([(q.argmax(axis=1) == lb).astype(float) for q, lb in parts])
    pooled = quantities.reliability_top(conf, correct, n_bins=5)
    for key in ("count", "confidence", "accuracy"):
        np.testing.assert_array_equal(pooled[key], whole[key])
    assert pooled["ece"] == whole["ece"]
    with pytest.raises(ValueError, match=r"'correct' parameter of reliability_top"):
        quantities.reliability_top(conf, correct[:-1])


def test_convexity_alternatives_are_in_the_metrics(small_result):
    alts = small_result.metrics["convexity"]["alternatives"]
    assert len(alts) == len(parts.CONVEXITY_ALTERNATIVES)
    assert "41 × 41" in alts[3]["choice"] and "[−16, 16]" in alts[1]["choice"]
    # the theorem holds on every alternative: the CE cost of logistic regression never
    # curves down; squared error does on the primary grid
    assert all(a["logreg_ce_min_curvature"] >= 0 for a in alts)


def test_run_is_deterministic_and_cached(small_result, tmp_path):
    first = exp.run(SMALL, cache_dir=tmp_path, n_jobs=1)
    again = exp.run(SMALL, cache_dir=tmp_path, n_jobs=1)
    assert again.seconds["cells_cached"] == SMALL["n_seeds"]
    for r in (first, again):
        assert r.metrics == small_result.metrics
        np.testing.assert_array_equal(r.hidden[1]["cost"], small_result.hidden[1]["cost"])
        np.testing.assert_array_equal(r.digits[1]["val_loss"], small_result.digits[1]["val_loss"])
        assert r.digits[1]["held"] is not None


def test_remaining_validation_branches():
    with pytest.raises(ValueError, match=r"'n_bins' parameter of reliability"):
        quantities.reliability(np.full((2, 2), 0.5), [0, 1], n_bins=0)
    with pytest.raises(ValueError, match=r"'i' parameter of swap_hidden_units"):
        quantities.swap_hidden_units(MLP([2, 3, 1], rng=0), -1, 1)


@pytest.mark.parametrize(
    "name",
    [
        "hampers",
        "likelihood",
        "convexity",
        "hidden_segment",
        "digits_training",
        "temperature",
        "reliability",
    ],
)
def test_figures_have_labelled_axes(small_result, name):
    import matplotlib.pyplot as plt

    from dropout_study.chapters.cross_entropy import plots

    fig = getattr(plots, name)(small_result)
    try:
        main = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
        for ax in main:
            assert ax.get_xlabel() and ax.get_ylabel(), (name, ax.get_title())
    finally:
        plt.close(fig)


def test_chapter_source_defaults_and_profiles_are_valid():
    from dropout_study.book import source as chapters

    spec = chapters.load("cross-entropy")
    assert spec.experiment == "dropout_study.chapters.cross_entropy.experiment"
    for name in ("smoke", "full"):
        assert set(exp.check_params(spec.defaults() | spec.profiles[name])) == set(BOOK)
    assert spec.profiles["smoke"]["n_seeds"] == 2
    assert spec.profiles["full"]["n_seeds"] >= 32 and BOOK["n_seeds"] >= 8
    # fresh seeds: version 3 confirms from seed 2000 (seeds 1000-1031 informed its rules)
    assert spec.profiles["full"]["seed"] >= 2000
    # the retrained alternatives are too costly for the book profile and run at full
    assert BOOK["digits_alt_lr"] == [] and spec.profiles["full"]["digits_alt_hidden"]
