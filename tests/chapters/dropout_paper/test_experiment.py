"""Chapter 6 (dropout-paper): the measures against independent oracles, the parameters and the
paper's protocol (the verdict's branches are in test_verdict.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import chapter_params
from scipy.optimize import check_grad
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

from dropout_study.chapters.dropout_paper import experiment
from dropout_study.chapters.dropout_paper import verdict as rule
from dropout_study.measures import dropout_theory as theory
from dropout_study.measures import ensemble
from dropout_study.measures import input_dropout as inp
from dropout_study.nn.losses import softmax
from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import max_norm_project

BOOK = chapter_params("dropout-paper")
"""The book profile: the notebook's parameters cell."""


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True, scaled=False)


# ---------------------------------------------------------------------------------------------
# §9.1: input dropout on linear regression is ridge
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("form, rate", [("inverted", 0.3), ("inverted", 0.7), ("retention", 0.5)])
def test_ridge_identity_matches_monte_carlo(diabetes, form, rate):
    X, y = diabetes
    rng = np.random.default_rng(1)
    w, b = rng.normal(size=X.shape[1]), 10.0  # any w, not only the minimiser
    closed = inp.objective_closed(X, y, w, b, rate, form)
    mc, se = inp.objective_mc(X, y, w, b, rate, form, n_masks=4000, rng=2)
    assert abs(mc - closed) < 3.5 * se


def _mc_average_proba(model: MLP, X, k: int, rng) -> np.ndarray:
    """Mean class probabilities ``(n, classes)`` of ``k`` thinned networks drawn from ``rng``
    (softmax head; Srivastava et al. 2014, §7.5): the loop ``mc_error_curve`` must equal."""
    k = int(k)
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    total = 0.0
    for _ in range(k):
        total = total + softmax(
            ensemble.thinned_logits(model, X, ensemble.draw_thinned(model, rng))
        )
    return total / k


def test_ridge_identity_wrong_form_misses(diabetes):
    X, y = diabetes
    w, b = inp.solve_closed(X, y, 0.5, "inverted")
    mc, se = inp.objective_mc(X, y, w, b, 0.5, "inverted", n_masks=2000, rng=3)
    wrong = inp.objective_closed(X, y, w, b, 0.5, "retention")  # paper's formula, q = 1 − p
    assert abs(mc - wrong) > 20 * se


def test_ridge_identity_exact_without_dropout(diabetes):
    X, y = diabetes
    w, b = np.linspace(-1, 1, X.shape[1]), 3.0
    mc, se = inp.objective_mc(X, y, w, b, 1.0, "retention", n_masks=3, rng=0)
    assert se == 0.0
    assert mc == pytest.approx(inp.objective_closed(X, y, w, b, 1.0, "retention"), rel=1e-13)
    mc0, _ = inp.objective_mc(X, y, w, b, 0.0, "inverted", n_masks=3, rng=0)
    assert mc0 == pytest.approx(np.mean((y - X @ w - b) ** 2), rel=1e-13)


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_closed_form_solution_is_scaled_ridge(diabetes, p):
    """Oracle: scikit-learn's Ridge on X/Γ with alpha = λ (intercept unpenalised)."""
    X, y = diabetes
    g = inp.gamma(X)
    lam = p / (1 - p)
    sk = Ridge(alpha=lam, fit_intercept=True, solver="cholesky").fit(X / g, y)
    w, b = inp.solve_closed(X, y, p, "inverted")
    np.testing.assert_allclose(w, sk.coef_ / g, rtol=1e-6)
    assert b == pytest.approx(sk.intercept_, rel=1e-6)
    wq, bq = inp.solve_closed(X, y, 1 - p, "retention")
    np.testing.assert_allclose(wq * (1 - p), w, rtol=1e-9)
    assert bq == pytest.approx(b, rel=1e-9)


def test_sgd_with_input_dropout_lands_on_closed_form():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) * [1.0, 5.0, 0.2] + [2.0, -1.0, 0.5]
    y = X @ [1.0, -0.5, 3.0] + 4.0 + rng.normal(size=200)
    w, b = inp.solve_closed(X, y, 0.4, "inverted")
    best = inp.objective_closed(X, y, w, b, 0.4, "inverted")
    r = inp.sgd_input_dropout(X, y, 0.4, n_steps=20000, lr=0.02, rng=1)
    got = inp.objective_closed(X, y, r["w_avg"], r["b_avg"], 0.4, "inverted")
    assert (got - best) / best < 1e-3


# ---------------------------------------------------------------------------------------------
# Wager et al.: the dropout penalty of logistic regression
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def wager_setting():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:150, :12]
    w = np.random.default_rng(4).normal(scale=0.4, size=12)
    return X, y[:150].astype(float), w


def test_wager_penalty_slope_is_single_drop_bregman_sum(wager_setting):
    X, y, w = wager_setting
    a = w * X
    slope = theory.single_drop_slope(a, 0.1, y)
    errs = [
        abs(theory.regulariser_exact(a, 0.1, y, p) / p - slope) / slope for p in (1e-2, 1e-3, 1e-4)
    ]
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 1e-3


def test_wager_quadratic_ratio_tends_to_one_as_weights_shrink(wager_setting):
    X, y, w = wager_setting
    gaps = []
    for eps in (1.0, 0.1, 0.01):
        a = eps * w * X
        exact = theory.regulariser_exact(a, 0.0, y, 0.3)
        quad = theory.regulariser_second_order(a, 0.0, y, 0.3)
        gaps.append(abs(quad / exact - 1))
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 1e-2


@pytest.mark.parametrize("kind", ["mc", "quadratic"])
def test_logistic_objective_gradients(wager_setting, kind):
    X, y, _ = wager_setting
    theta = np.random.default_rng(5).normal(scale=0.3, size=X.shape[1] + 1)
    if kind == "mc":
        keep = np.random.default_rng(6).random((4,) + X.shape) >= 0.3

        def f(t):
            return inp.logistic_dropout_objective(t, X, y, 0.3, keep)
    else:

        def f(t):
            return inp.logistic_quadratic_objective(t, X, y, 0.3)

    assert check_grad(lambda t: f(t)[0], lambda t: f(t)[1], theta) < 1e-6


def test_logistic_dropout_objective_is_loss_plus_monte_carlo_penalty(wager_setting):
    X, y, w = wager_setting
    keep = np.random.default_rng(7).random((1,) + X.shape) >= 0.5
    theta = np.concatenate([w, [0.2]])
    val, _ = inp.logistic_dropout_objective(theta, X, y, 0.5, keep)
    z = (keep[0] * X / 0.5) @ w + 0.2
    assert val == pytest.approx(np.mean(theory.loss_value(z, y)), rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Ensembles: enumeration, NWGM, Monte-Carlo averaging
# ---------------------------------------------------------------------------------------------
def test_enumeration_equals_explicit_sum_on_three_units():
    rng = np.random.default_rng(8)
    a, b, p = rng.normal(size=(5, 3)) * 2, 0.3, 0.4
    mom = ensemble.sigmoid_moments(a, b, p)
    mean_sigma = np.zeros(5)
    for bits in itertools.product([0, 1], repeat=3):
        m = np.array(bits, dtype=float)
        prob = np.prod(np.where(m == 1, 1 - p, p))
        mean_sigma += prob * 1 / (1 + np.exp(-(a @ m / (1 - p) + b)))
    np.testing.assert_allclose(mom["mean_sigma"], mean_sigma, rtol=1e-13)
    assert ensemble.mask_probabilities(ensemble.enumerate_masks(3), p).sum() == pytest.approx(1)


def test_nwgm_equals_sigmoid_of_mean():
    rng = np.random.default_rng(9)
    a = rng.normal(size=(40, 10)) * 1.5
    mom = ensemble.sigmoid_moments(a, -0.4, 0.5)
    sig = 1 / (1 + np.exp(-(a.sum(axis=1) - 0.4)))
    np.testing.assert_allclose(mom["nwgm"], sig, rtol=0, atol=1e-13)
    np.testing.assert_allclose(mom["sigma_mean"], sig, rtol=0, atol=1e-15)
    assert np.max(np.abs(mom["mean_sigma"] - sig)) > 1e-3  # the ensemble mean differs


def _net(p=0.5):
    rng = np.random.default_rng(10)
    model = MLP([6, 20, 4], head="softmax", dropout=p, rng=11)
    for d in model.dense:  # non-trivial weights and biases
        d.W[...] = rng.normal(size=d.W.shape)
        d.b[...] = rng.normal(size=d.b.shape)
    return model, rng.normal(size=(30, 6)), rng.integers(0, 4, size=30)


def test_mc_average_with_one_network_is_a_thinned_network():
    model, X, _ = _net()
    keep = ensemble.draw_thinned(model, np.random.default_rng(12))
    masks = [np.broadcast_to(keep[0], (X.shape[0], 20)).copy()]
    single = softmax(model.forward(X, training=True, masks=masks))
    got = _mc_average_proba(model, X, 1, np.random.default_rng(12))
    np.testing.assert_allclose(got, single, rtol=1e-12)


def test_mc_error_curve_matches_explicit_loop():
    model, X, y = _net()
    ks = [1, 2, 4, 8]
    got = ensemble.mc_error_curve(model, X, y, ks, np.random.default_rng(13), n_repeats=2)
    rng = np.random.default_rng(13)
    want = np.zeros(4)
    for _ in range(2):
        total = 0.0
        for t in range(1, 9):
            m = [np.broadcast_to(rng.random(20) >= 0.5, (30, 20)).copy()]
            total = total + softmax(model.forward(X, training=True, masks=m))
            if t in ks:
                want[ks.index(t)] += np.mean(np.argmax(total, axis=1) != y) / 2
    np.testing.assert_allclose(got, want, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Parameters and the paper's protocol
# ---------------------------------------------------------------------------------------------
def test_check_params_messages():
    with pytest.raises(ValueError, match="'mc_rate' parameter of dropout-paper"):
        experiment.check_params({**BOOK, "mc_rate": 0.3})
    with pytest.raises(ValueError, match="'dropout_rates' parameter of dropout-paper"):
        experiment.check_params({**BOOK, "dropout_rates": [0.2, 0.5]})
    with pytest.raises(ValueError, match="'baldi_widths' parameter of dropout-paper"):
        experiment.check_params({**BOOK, "baldi_widths": [20, 64]})
    with pytest.raises(ValueError, match="'pn_interior' parameter of dropout-paper"):
        experiment.check_params({**BOOK, "pn_interior": 0.0})
    with pytest.raises(TypeError, match="'paper_protocol' parameter of dropout-paper"):
        experiment.check_params({**BOOK, "paper_protocol": "yes"})


def test_parameters_cell_matches_defaults_and_profiles():
    from dropout_study.book import source as chapters

    spec = chapters.load("dropout-paper")
    assert experiment.check_params(dict(BOOK)) == BOOK
    full = spec.profiles["full"]
    assert full["n_seeds"] >= 32 and full["n_theory_seeds"] >= 32 and full["seed"] >= 2000
    assert full["paper_protocol"] and full["retrain_alt"]
    assert BOOK["n_seeds"] >= 8 and BOOK["n_theory_seeds"] >= 8
    for name in ("smoke", "full"):
        experiment.check_params({**BOOK, **spec.profiles[name]})


def test_verdict_claim_is_the_front_matter_claim():
    from dropout_study.book import source as chapters

    assert rule.CLAIM == chapters.load("dropout-paper").claim


def test_max_norm_projection_against_a_closed_form():
    """Columns above the radius are scaled onto it, the others are untouched (oracle: the
    norms computed with numpy.linalg.norm)."""
    W = np.array([[3.0, 0.1, 0.0], [4.0, 0.2, 2.0]])  # column norms 5, 0.224, 2
    want = W.copy()
    want[:, 0] *= 3.0 / 5.0
    max_norm_project(W, 3.0)
    np.testing.assert_allclose(W, want, rtol=1e-15)
    np.testing.assert_allclose(np.linalg.norm(W, axis=0), [3.0, np.hypot(0.1, 0.2), 2.0])


def test_the_paper_protocol_keeps_every_hidden_unit_inside_the_ball():
    """Trained with SGD + momentum under max-norm: every hidden unit's incoming weight vector
    ends with norm ≤ c (and the constraint is active: without it some norm exceeds c)."""
    from dropout_study import data, seeds
    from dropout_study.chapters.dropout_paper.protocol import fit

    c = {"protocol": "paper", "batch_size": 32, "paper_lr": 0.05, "paper_momentum": 0.95,
         "paper_max_norm": 0.5, "paper_steps": 200}  # fmt: skip
    ds = data.load("digits", rng=0, val_fraction=0.2, test_fraction=0.5)
    norms = {}
    for radius in (0.5, 1e9):
        model, hist = fit({**c, "paper_max_norm": radius}, ds, [64, 16, 10], 0.5, "softmax",
                          ds.y_train, ds.y_val, seeds.streams(3))  # fmt: skip
        norms[radius] = np.linalg.norm(model.dense[0].W, axis=0)
        assert hist.stopped_at == 200 if hasattr(hist, "stopped_at") else True
    assert np.all(norms[0.5] <= 0.5 + 1e-12)
    assert np.max(norms[1e9]) > 0.5


def test_fig8_control_is_the_network_fit_started_from():
    """Oracle: the activations of an MLP built from a fresh copy of the replicate's init stream
    — the stream ``protocol.fit`` builds its network from — on the same test split."""
    from dropout_study.chapters.dropout_paper import cells

    c = {"seed": 3, "rep": 1, "n_train": 200, "width": 16, "p": 0.0, "protocol": "fixed",
         "lr": 0.003, "max_steps": 20, "batch_size": 32, "eval_every": 10, "patience": 10,
         "mc": False, "kind": "net"}  # fmt: skip
    out = cells.cell(c)
    ds = cells._digits(c, 200)
    ref = MLP([64, 16, 10], head="softmax", dropout=0.0, rng=cells._streams(c).init)
    h0 = ref.hidden(ds.X_test, -1)
    assert out["mean_act_init"] == pytest.approx(float(h0.mean()), rel=0, abs=0)
    assert out["frac_active_init"] == float((h0 > 0).mean())
    assert out["mean_act"] != out["mean_act_init"]  # 20 steps of Adam moved it
    fresh = MLP([64, 16, 10], head="softmax", dropout=0.0, rng=cells._streams(c).init)
    assert np.array_equal(fresh.hidden(ds.X_test, -1), h0)  # same stream, same parameters
    assert "mean_act_init" not in cells.cell({**c, "p": 0.5})  # only the p = 0 network
