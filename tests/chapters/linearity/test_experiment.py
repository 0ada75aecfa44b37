"""Tests of the chapter-5 experiment (dropout_study.chapters.linearity.experiment) and its
figures."""

from __future__ import annotations

import json
import math

import matplotlib
import numpy as np
import pytest

from dropout_study import data, seeds
from dropout_study.chapters.linearity import experiment as exp
from dropout_study.chapters.linearity import plots
from dropout_study.chapters.linearity.verdict import decide
from dropout_study.chapters.verdicts import WORDS
from dropout_study.measures.linearity import linearity_terms, logit_function
from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import Adam
from dropout_study.nn.training import EarlyStopping, train

matplotlib.use("Agg")

from fixtures.sizes import LINEARITY_TINY as TINY
from helpers import chapter_params

BOOK = chapter_params("linearity")
"""The book profile: the notebook's parameters cell."""


@pytest.fixture
def no_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("DROPOUT_STUDY_SWEEP_CACHE", "off")
    monkeypatch.setenv("DROPOUT_STUDY_JOBS", "1")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def tiny_result():
    mp = pytest.MonkeyPatch()
    mp.setenv("DROPOUT_STUDY_SWEEP_CACHE", "off")
    mp.setenv("DROPOUT_STUDY_JOBS", "1")
    try:
        yield exp.run(dict(TINY))
    finally:
        mp.undo()


def _cell(family, values, **kw):
    settings = {
        "hidden_sizes": [8, 8],
        "max_steps": 60,
        "eval_every": 10,
        "patience": 2,
        "min_delta": 1e-4,
        "budget": 20,
        "batch_size": 32,
        "learning_rate": 0.01,
        "step": 0.5,
        "robustness_steps": [0.25],
        "n_directions": 4,
        "z_checkpoints": [10, 30],
        "trajectory_rates": [0.0, 0.3],
    }
    cell = {"dataset": "moons", "seed": 3, "replicate": 1, "family": family, "values": values}
    return cell | settings | kw


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------
def test_defaults_are_valid_and_the_book_profile_has_at_least_8_seeds():
    p = exp.check_params(dict(BOOK))
    assert p == exp.check_params(dict(BOOK))
    assert p["n_seeds"] >= 8
    assert p["dropout_rates"] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    assert set(p["datasets"]) == {"moons", "breast_cancer", "noisy_moons"}
    assert p["max_steps"] >= 1000 and p["budget"] < p["max_steps"]


def test_check_params_does_not_mutate():
    params = {**BOOK, "dropout_rates": [0.0, 0.5], "match_rate": 0.5}
    before = json.dumps(params)
    exp.check_params(params)
    assert json.dumps(params) == before


@pytest.mark.parametrize(
    "override, exc, match",
    [
        ({"seed": -1}, ValueError, r"'seed' parameter of linearity must be an int"),
        ({"seed": 1.5}, TypeError, r"'seed' parameter of linearity"),
        ({"n_seeds": 1}, ValueError, r"'n_seeds' parameter of linearity .* \[2, 200\]"),
        ({"datasets": "moons"}, TypeError, r"'datasets' .* non-empty list"),
        ({"datasets": []}, TypeError, r"'datasets' .* non-empty list"),
        ({"datasets": ["iris"]}, ValueError, r"'datasets' parameter of linearity must be one of"),
        ({"datasets": ["moons", "moons"]}, ValueError, r"'datasets' .* without repeats"),
        ({"datasets": ["moons"]}, ValueError, r"'datasets' .* includes moons and breast_cancer"),
        ({"dropout_rates": [0.5]}, ValueError, r"'dropout_rates' .* at least 2 floats"),
        ({"dropout_rates": [0.0, 1.5]}, ValueError, r"'dropout_rates' .* \[0, 0.95\]"),
        ({"dropout_rates": [0.5, 0.0]}, ValueError, r"'dropout_rates' .* increasing"),
        ({"dropout_rates": [0.0, 0.5, 0.5]}, ValueError, r"'dropout_rates' .* without repeats"),
        ({"l2_lambdas": [0.0, 1e-3]}, ValueError, r"'l2_lambdas' .* \(0, 10\]"),
        ({"l1_lambdas": [1e-2, 1e-3]}, ValueError, r"'l1_lambdas' .* increasing"),
        ({"l1_lambdas": "0.1"}, TypeError, r"'l1_lambdas' parameter of linearity"),
        ({"match_rate": 0.25}, ValueError, r"'match_rate' .* one of dropout_rates"),
        ({"match_rate": 1.0}, ValueError, r"'match_rate' .* \(0, 0.95\]"),
        ({"hidden_sizes": [0]}, ValueError, r"'hidden_sizes' .* ints?, each in \[1, 1024\]"),
        ({"hidden_sizes": [2048]}, ValueError, r"'hidden_sizes' .* \[1, 1024\]"),
        ({"toy_hidden_sizes": []}, ValueError, r"'toy_hidden_sizes' .* at least 1 int"),
        ({"max_steps": 0}, ValueError, r"'max_steps' parameter of linearity"),
        ({"budget": 205}, ValueError, r"'budget' .* multiple of eval_every \(eval_every = 10\)"),
        ({"budget": 5000}, ValueError, r"'budget' parameter of linearity"),
        ({"patience": 0}, ValueError, r"'patience' parameter of linearity"),
        ({"dropout_rates": [0.1, 0.5]}, ValueError, r"'dropout_rates' .* starts with 0.0"),
        ({"trajectory_rate": 0.0}, ValueError, r"'trajectory_rate' parameter of linearity"),
        (
            {"z_checkpoints": [10, 5000]},
            ValueError,
            r"'z_checkpoints' .* each in \[0, max_steps = 3000\]",
        ),
        ({"coverage_sims": 1}, ValueError, r"'coverage_sims' parameter of linearity"),
        ({"batch_size": 0}, ValueError, r"'batch_size' parameter of linearity"),
        ({"learning_rate": 0.0}, ValueError, r"'learning_rate' .* \(0, 1\]"),
        ({"step": 0.0}, ValueError, r"'step' parameter of linearity .* \(0, 10\]"),
        ({"step": "0.5"}, TypeError, r"'step' parameter of linearity must be a float"),
        (
            {"robustness_steps": [0.5]},
            ValueError,
            r"'robustness_steps' .* does not contain step \(step = 0.5\)",
        ),
        ({"robustness_steps": [1.0, 0.1]}, ValueError, r"'robustness_steps' .* increasing"),
        ({"n_directions": 0}, ValueError, r"'n_directions' parameter of linearity"),
        ({"toy_rates": [0.96]}, ValueError, r"'toy_rates' .* \[0, 0.95\]"),
        ({"toy_rates": [0.2, 0.5]}, ValueError, r"'toy_rates' .* starts with 0.0"),
        ({"toy_steps": 0}, ValueError, r"'toy_steps' parameter of linearity"),
    ],
)
def test_check_params_rejects(override, exc, match):
    with pytest.raises(exc, match=match):
        exp.check_params({**BOOK, **override})


def test_check_params_needs_a_dict():
    with pytest.raises(TypeError, match=r"'params' parameter of linearity must be a dict"):
        exp.check_params([("seed", 0)])


def test_run_validates_before_any_work(no_cache):
    with pytest.raises(ValueError, match=r"'match_rate' parameter of linearity"):
        exp.run({**BOOK, "match_rate": 0.25})
    assert list(no_cache.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# Matching the validation loss (hand-computed oracles)
# ---------------------------------------------------------------------------------------------
def test_match_loss_interpolates_linearly_in_the_loss_and_log_lambda():
    # loss 0.10 → 0.30 between λ = 1e-3 and 1e-1; target 0.15 is a quarter of the way
    value, lam, status = exp.match_loss([1e-3, 1e-1], [0.10, 0.30], [2.0, 6.0], 0.15)
    assert status == "matched"
    assert value == pytest.approx(3.0, rel=1e-12)
    assert lam == pytest.approx(10 ** (-3 + 0.25 * 2), rel=1e-12)


def test_match_loss_takes_the_largest_lambda_crossing():
    # U-shaped validation loss: the target 0.2 is crossed between λ0-λ1 and between λ3-λ4
    lams = [0.0, 1e-3, 1e-2, 1e-1, 1.0]
    loss = [0.25, 0.15, 0.10, 0.15, 0.35]
    zs = [1.0, 0.9, 0.8, 0.7, 0.2]
    value, lam, status = exp.match_loss(lams, loss, zs, 0.2)
    assert status == "matched"
    w = (0.2 - 0.15) / (0.35 - 0.15)
    assert value == pytest.approx(0.7 + w * (0.2 - 0.7), rel=1e-12)
    assert 1e-1 < lam < 1.0
    # from λ = 0 the interpolation of λ is linear (log 0 is undefined)
    value, lam, _ = exp.match_loss(lams[:2], loss[:2], zs[:2], 0.2)
    assert lam == pytest.approx(0.5e-3, rel=1e-12)
    assert value == pytest.approx(0.95, rel=1e-12)


def test_match_loss_exact_hit_and_misses():
    assert exp.match_loss([1.0, 2.0, 3.0], [0.1, 0.2, 0.3], [5, 6, 7], 0.2) == (6.0, 2.0, "matched")
    v, lam, status = exp.match_loss([1.0, 2.0], [0.3, 0.4], [5, 6], 0.2)
    assert status == "above" and math.isnan(v) and math.isnan(lam)
    v, lam, status = exp.match_loss([1.0, 2.0], [0.1, 0.15], [5, 6], 0.2)
    assert status == "below" and math.isnan(v)


def test_match_loss_validates_shapes():
    with pytest.raises(ValueError, match=r"'val_loss' parameter of match_loss"):
        exp.match_loss([1.0, 2.0], [0.1], [1.0, 2.0], 0.1)


# ---------------------------------------------------------------------------------------------
# One cell: pairing (common random numbers), determinism, consistency
# ---------------------------------------------------------------------------------------------
def test_unregularised_run_is_identical_in_every_family():
    # p = 0 and λ = 0 are the same network trained on the same data, init and batches.
    a = exp.sweep_cell(_cell("dropout", [0.0]))
    b = exp.sweep_cell(_cell("l2", [0.0]))
    c = exp.sweep_cell(_cell("l1", [0.0]))
    for out in (a, b, c):
        out.pop("z_trajectory")  # followed along training in the dropout family only
    assert a == b == c


def test_sweep_cell_is_deterministic_and_its_terms_consistent():
    cell = _cell("dropout", [0.0, 0.3])
    a, b = exp.sweep_cell(cell), exp.sweep_cell(dict(cell))
    assert a == b
    for z, d2, d1 in zip(a["z"], a["d2"], a["d1"], strict=True):
        assert z == pytest.approx(d2 / d1, rel=1e-12)
    assert len(a["z_steps"]) == 2 and len(a["z_steps"][0]) == 1
    assert all(0 <= acc <= 1 for acc in a["test_acc"])
    assert a["z"][0] != a["z"][1]  # p changes the network


def test_sweep_cell_matches_a_run_built_by_hand():
    # The wiring: replicate seed → streams → data, init, masks, batches, directions.
    cell = _cell("dropout", [0.3])
    out = exp.sweep_cell(cell)
    ss = seeds.replicates(3, 2)[1]
    ds = data.load("moons", rng=seeds.streams(ss).split)
    st = seeds.streams(ss)
    model = MLP([2, 8, 8, 1], dropout=0.3, rng=st.init)
    hist = train(
        model,
        ds.X_train,
        ds.y_train,
        optimizer=Adam(0.01),
        n_steps=60,
        batch_size=32,
        X_val=ds.X_val,
        y_val=ds.y_val,
        eval_every=10,
        mask_rng=st.masks,
        batch_rng=st.batches,
        stop=EarlyStopping(patience=2, min_delta=1e-4),
    )
    t = linearity_terms(
        logit_function(model), ds.X_test, step=0.5, n_directions=4, rng=seeds.streams(ss).measure
    )
    assert out["z"][0] == t.z
    assert out["d2"][0] == t.mean_abs_d2
    assert out["test_acc"][0] == model.accuracy(ds.X_test, ds.y_test)
    assert out["steps"][0] == hist.stopped_at and out["capped"][0] == float(hist.capped)
    assert out["val_loss"][0] == model.loss(ds.X_val, ds.y_val) == np.min(hist.val_loss)


def test_budget_alternative_equals_a_run_capped_at_the_budget():
    # Z and validation loss "at the budget" are recovered from checkpoints of the long run;
    # the oracle is a separate run whose cap is the budget (same rule, same streams).
    cell = _cell("l2", [1e-3], max_steps=200, patience=50, budget=40)
    out = exp.sweep_cell(cell)
    short = exp.sweep_cell(cell | {"max_steps": 40, "z_checkpoints": [10, 30]})
    assert out["steps"][0] > 40  # the long run went past the budget
    assert out["z_budget"][0] == short["z"][0]
    assert out["val_budget"][0] == short["val_loss"][0]
    assert out["capped_budget"][0] == 1.0 and short["capped"][0] == 1.0


def test_trajectory_is_measured_until_the_stop_and_only_for_the_chosen_rates():
    cell = _cell("dropout", [0.0, 0.1, 0.3], z_checkpoints=[10, 30, 60], patience=1)
    out = exp.sweep_cell(cell)
    traj = np.asarray(out["z_trajectory"])
    assert np.all(np.isnan(traj[1]))  # p = 0.1 is not a trajectory rate
    for i in (0, 2):
        reached = np.asarray([10, 30, 60]) <= out["steps"][i]
        assert np.all(np.isfinite(traj[i][reached])) and np.all(np.isnan(traj[i][~reached]))


def test_toy_cell_shapes_and_determinism():
    cell = {
        "seed": 0,
        "replicate": 0,
        "rates": [0.0, 0.5],
        "hidden_sizes": [8],
        "max_steps": 30,
        "eval_every": 10,
        "patience": 2,
        "min_delta": 1e-4,
        "learning_rate": 0.01,
        "step": 0.5,
        "n_directions": 3,
    }
    a, b = exp.toy_cell(cell), exp.toy_cell(dict(cell))
    assert a["curves"].shape == (2, 201)
    np.testing.assert_array_equal(a["curves"], b["curves"])
    assert a["z"] == b["z"] and a["d2"] == b["d2"] and a["d1"] == b["d1"]
    assert all(s <= 30 for s in a["steps"])
    # the grid spans the data in raw units
    assert a["grid_raw"].min() == pytest.approx(a["x_train_raw"].min(), abs=1.0)
    assert np.all(np.diff(a["grid_raw"]) > 0)


# ---------------------------------------------------------------------------------------------
# The whole run (tiny profile)
# ---------------------------------------------------------------------------------------------
def test_run_shapes_and_metrics(tiny_result):
    r = tiny_result
    assert set(r.arrays) == {"moons", "breast_cancer", "noisy_moons"}
    a = r.arrays["moons"]
    assert a["dropout/z"].shape == (2, 2)
    assert a["dropout/z_steps"].shape == (2, 2, 1)
    assert a["l2/z"].shape == (2, 2)
    assert a["l1/z"].shape == (2, 1)
    assert a["matched/l2/z"].shape == (2,)
    m = r.metrics["datasets"]["moons"]
    # the shared unregularised run (p = 0) heads the penalty grids as λ = 0
    assert m["by_lambda_l2_z"][0] == m["by_rate_z"][0] == m["by_lambda_l1_z"][0]
    assert m["l2_lambdas"] == [0.0, 1e-3, 1e-1]
    assert len(m["by_lambda_l2_z"]) == 3
    for fam in ("l2", "l1"):
        mm = m["matched"][fam]
        assert mm["n_matched"] + mm["n_never_reached"] + mm["n_always_below"] == mm["n_seeds"] == 2
    assert r.toy["curves"].shape == (3, 201)
    assert r.toy["z"].shape == (2, 3) and r.toy["d2"].shape == (2, 3)
    t = m["training"]
    assert t["n_runs"] == 2 * (2 + 2 + 1) and 0 <= t["n_capped"] <= t["n_runs"]
    assert set(m["variants"]) >= {"primary", "matched", "matched_fill", "h=0.25", "budget"}
    assert m["variants"]["matched"]["l2"]["n_required"] == exp.MIN_MATCHED == 5


def test_run_metrics_are_jsonable_and_feed_the_verdict(tiny_result):
    from dropout_study.book.report import to_jsonable

    m = tiny_result.metrics
    text = json.dumps(to_jsonable(m), allow_nan=False)
    assert decide(m).word in WORDS
    # the verdict reads the same from metrics.json (NaN stored as null)
    assert decide(json.loads(text)) == decide(m)


def test_run_is_reproducible(no_cache, tiny_result):
    again = exp.run(dict(TINY))
    assert json.dumps(again.metrics, default=str) == json.dumps(tiny_result.metrics, default=str)
    np.testing.assert_array_equal(again.toy["curves"], tiny_result.toy["curves"])


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    ["toy", "toy_terms", "z_vs_rate", "terms", "fit", "regularisers", "matched", "steps",
     "robustness"],
)  # fmt: skip
def test_figures_have_labelled_axes(tiny_result, name):
    from matplotlib.figure import Figure

    fig = getattr(plots, name)(tiny_result)
    assert isinstance(fig, Figure)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert axes
    assert any(ax.get_xlabel() for ax in axes) or name == "matched"
    assert any(ax.get_ylabel() for ax in axes)
    assert fig.get_figwidth() <= 7.0 + 1e-9
    matplotlib.pyplot.close(fig)


# ---------------------------------------------------------------------------------------------
# Per-seed values behind the findings (oracle: scipy.stats.spearmanr, numpy)
# ---------------------------------------------------------------------------------------------
def test_per_seed_rho_against_scipy():
    from scipy.stats import spearmanr

    from dropout_study.chapters.linearity.summary import per_seed_rho

    rng = np.random.default_rng(0)
    x = [0.0, 0.1, 0.3, 0.5]
    t = rng.normal(size=(5, 4))
    t[3] = 2.0  # constant: no monotone association
    t[4, 1] = np.nan  # one undefined cell: ρ over the other three
    r = per_seed_rho(x, t)
    for i in range(3):
        assert r[i] == pytest.approx(spearmanr(x, t[i]).statistic, abs=1e-12)
    assert np.isnan(r[3])
    assert r[4] == pytest.approx(spearmanr([0.0, 0.3, 0.5], t[4, [0, 2, 3]]).statistic)
    np.testing.assert_allclose(per_seed_rho([0.0, 1.0], [[1.0, 0.5], [0.5, 1.0]]), [-1, 1])


def test_findings_read_the_per_seed_values_of_the_run(tiny_result):
    from scipy.stats import spearmanr

    from dropout_study.chapters.linearity.verdict import exploratory, parts_of

    m = tiny_result.metrics
    a = tiny_result.arrays["moons"]
    rates = m["datasets"]["moons"]["rates"]
    gold = [spearmanr(rates, row).statistic for row in a["dropout/z"]]
    per = m["datasets"]["moons"]["variants"]["primary"]["rho"]["per_seed"]
    np.testing.assert_allclose(per, gold, atol=1e-12)
    parts = parts_of(m)
    f = parts["moons"]["trend"]
    if f.applicable:
        assert f.estimate == pytest.approx(np.mean(gold))
    # the analogy: Z of each family's own-best network, paired; ties where both chose λ = p = 0
    best = m["datasets"]["moons"]["own_best"]
    i_d, i_2 = np.asarray(best["dropout"]["index"]), np.asarray(best["l2"]["index"])
    z_l2 = np.concatenate([a["dropout/z"][:, :1], a["l2/z"]], axis=1)
    diff = a["dropout/z"][np.arange(2), i_d] - z_l2[np.arange(2), i_2]
    block = m["datasets"]["moons"]["variants"]["primary"]["l2"]
    np.testing.assert_allclose(block["per_seed"], diff, atol=1e-12)
    assert block["ties"] == [bool(t) for t in (i_d == 0) & (i_2 == 0)]
    ex = exploratory(m)
    assert set(ex) == {"l2", "l1", "helped", "toy"}
    toy = m["toy"]["change_z"]["per_seed"]
    np.testing.assert_allclose(toy, tiny_result.toy["z"][:, -1] - tiny_result.toy["z"][:, 0])


def test_readings_give_numbers_only(tiny_result):
    import re

    from helpers import CLAIM_WORDS

    r = exp.readings(tiny_result.metrics)
    assert set(r) == {"terms_moons", "terms_breast_cancer", "terms_noisy_moons", "toy_terms"}
    for text in r.values():
        assert not set(re.findall(r"[a-z]+", text.lower())) & set(CLAIM_WORDS), text
    metrics = {
        "datasets": {"moons": {"rates": [0.0, 0.7],
                               "by_rate_d2": [{"estimate": 2.0}, {"estimate": 0.5}],
                               "by_rate_d1": [{"estimate": 2.0}, {"estimate": 1.0}]}},
        "toy": {"rates": [0.0, 0.5], "d2": [{"estimate": 1.0}, {"estimate": 1.5}],
                "d1": [{"estimate": 1.0}, {"estimate": 2.0}]},
    }  # fmt: skip
    r = exp.readings(metrics)
    assert (
        "mean|D2| changes by a factor of 0.25 and mean|D1| by a factor of 0.50"
        in (r["terms_moons"])
    )
    assert "(their ratio by 0.50)" in r["terms_moons"]
    assert "factor of 1.50" in r["toy_terms"] and "(their ratio by 0.75)" in r["toy_terms"]


def test_tables_of_a_real_run(tiny_result):
    from dropout_study.chapters.linearity.tables import tables

    t = tables(tiny_result.metrics)
    assert set(t) == {"trend", "terms", "training", "helped", "own_best", "own_best_diff",
                      "matched", "power", "toy"}  # fmt: skip
    for name, md in t.items():
        rows = [line for line in md.splitlines() if line.startswith("|")]
        width = rows[0].count("|") - rows[0].count("\\|")  # escaped pipes are text
        assert all(r.count("|") - r.count("\\|") == width for r in rows), name
    assert t["power"].count("\n") == 2 + 2 * 3  # header, rule, two findings per data set


# ---------------------------------------------------------------------------------------------
# The chapter source agrees with the experiment
# ---------------------------------------------------------------------------------------------
def test_chapter_source_defaults_and_profiles_are_valid():
    from dropout_study.book import source as chapters

    spec = chapters.load("linearity")
    assert spec.experiment == "dropout_study.chapters.linearity.experiment"
    # the parameters cell is the book profile: the same values as the experiment's defaults
    for name in ("smoke", "full"):
        checked = exp.check_params(spec.defaults() | spec.profiles[name])
        assert set(checked) == set(BOOK)
    assert spec.profiles["smoke"]["n_seeds"] == 2
    assert spec.profiles["full"]["n_seeds"] >= 32
    # full runs on a seed range disjoint from book's
    book_seeds = {BOOK["seed"] + i for i in range(BOOK["n_seeds"])}
    full = spec.profiles["full"]
    assert not book_seeds & {full["seed"] + i for i in range(full["n_seeds"])}
    assert "digits_small" in full["datasets"]


# ---------------------------------------------------------------------------------------------
# Own-best selection reads validation data only
# ---------------------------------------------------------------------------------------------
def test_own_best_is_the_argmin_of_validation_loss():
    val = np.array([[0.3, 0.2, 0.25], [0.1, np.nan, 0.4], [np.nan, np.nan, np.nan]])
    np.testing.assert_array_equal(exp.own_best(val), [1, 0, -1])


def test_own_best_selection_never_sees_the_test_split(tiny_result):
    # Scramble everything measured on the test split (Z, losses, accuracy) and keep the
    # validation losses: the chosen p and λ must not move. Then perturb one validation loss:
    # the choice must follow it.
    from dropout_study.chapters.linearity.summary import summarise

    a = tiny_result.arrays["moons"]
    params = tiny_result.params
    rng = np.random.default_rng(0)
    scrambled = {
        k: (v if k.endswith("val_loss") or k.endswith("val_budget") else rng.permutation(
            v.ravel()).reshape(v.shape) + rng.normal(size=v.shape))
        for k, v in a.items() if not k.startswith("matched/")
    }  # fmt: skip
    base = summarise({k: v.copy() for k, v in a.items()}, params)["own_best"]
    again = summarise(scrambled, params)["own_best"]
    for fam in ("dropout", "l2", "l1"):
        assert base[fam]["chosen"] == again[fam]["chosen"]
    moved = {k: v.copy() for k, v in a.items()}
    moved["l2/val_loss"][:, -1] = -1.0  # the largest λ now has the lowest validation loss
    chosen = summarise(moved, params)["own_best"]["l2"]["chosen"]
    assert chosen == [params["l2_lambdas"][-1]] * params["n_seeds"]


# ---------------------------------------------------------------------------------------------
# The interval's coverage at the seed counts this chapter uses
# ---------------------------------------------------------------------------------------------
def _chapter_seed_counts() -> list[int]:
    from dropout_study.book import source as chapters

    spec = chapters.load("linearity")
    counts = {spec.profiles["smoke"]["n_seeds"], BOOK["n_seeds"], exp.MIN_MATCHED}
    counts.add(spec.profiles["full"]["n_seeds"])
    return sorted(counts)


@pytest.mark.parametrize("n", _chapter_seed_counts())
def test_seed_interval_covers_95_percent_at_the_chapters_seed_counts(n):
    """Band: Student-t (n < 20) within [0.93, 0.97] over 2000 normal samples (Monte-Carlo
    SE ≈ 0.005); BCa (n ≥ 20) within [0.90, 0.98] over 300 samples (SE ≈ 0.013; BCa
    under-covers slightly at small n)."""
    from dropout_study.measures.stats import simulated_coverage

    if n < 20:
        c = simulated_coverage(n, n_sims=2000, rng=n)
        assert c["method"] == "t" and 0.93 <= c["coverage"] <= 0.97
    else:
        c = simulated_coverage(n, n_sims=300, n_resamples=1000, rng=n)
        assert c["method"] == "BCa" and 0.90 <= c["coverage"] <= 0.98


def test_simulated_coverage_follows_the_level():
    # a sharp property that a broken simulation (wrong true mean, wrong counting) fails
    from dropout_study.measures.stats import simulated_coverage

    c = simulated_coverage(8, n_sims=2000, level=0.5, rng=1)
    assert 0.46 <= c["coverage"] <= 0.54


def test_cell_probes_reuse_gives_the_numbers_of_a_fresh_draw():
    from dropout_study import seeds
    from dropout_study.chapters.linearity.cells import _CellProbes, _z
    from dropout_study.measures.linearity import hidden_function, logit_function
    from dropout_study.nn.mlp import MLP

    X = np.random.default_rng(0).normal(size=(20, 2))
    ss = seeds.replicate(3, 1)
    probes = _CellProbes(X, ss, 4)
    for p in (0.0, 0.5):
        model = MLP([2, 8, 8, 1], dropout=p, rng=int(10 * p))
        for f in (logit_function(model), hidden_function(model, 0)):
            for h in (0.5, 0.25, 0.5):
                assert probes.z(f, h) == _z(f, X, ss, h, 4)


def test_probe_inputs_cap_large_test_sets_and_leave_small_ones_and_the_directions_alone():
    from dropout_study import seeds
    from dropout_study.chapters.linearity.cells import _CellProbes, _z, probe_inputs

    ss = seeds.replicate(0, 2)
    X = np.random.default_rng(1).normal(size=(50, 3))
    assert probe_inputs(X, ss, 50) is X and probe_inputs(X, ss, None) is X
    sub = probe_inputs(X, ss, 20)
    assert sub.shape == (20, 3)
    rows = [int(np.flatnonzero((X == r).all(axis=1))[0]) for r in sub]
    assert rows == sorted(set(rows))  # distinct rows of X, in their order
    np.testing.assert_array_equal(probe_inputs(X, ss, 20), sub)  # the same every time
    assert not np.array_equal(probe_inputs(X, seeds.replicate(0, 3), 20), sub)
    model = MLP([3, 8, 1], dropout=0.3, rng=0)
    f = logit_function(model)
    # Z at the subset is Z of the same directions' draw at those inputs
    assert _CellProbes(X, ss, 5, 20).z(f, 0.5) == _z(f, sub, ss, 0.5, 5)


def test_a_retrained_alternative_equals_the_primary_of_a_run_at_that_setting(no_cache):
    """The learning-rate row of the robustness table reads the same per-seed values as a run
    whose own learning rate is the alternative's (the dropout and L2 families retrained)."""
    small = {**TINY, "datasets": ["moons", "breast_cancer"], "alt_learning_rates": [0.005]}
    with_alt = exp.run(small)
    direct = exp.run({**small, "learning_rate": 0.005, "alt_learning_rates": []})
    for ds in small["datasets"]:
        alt = with_alt.metrics["datasets"][ds]["variants"]["lr=0.005"]
        gold = direct.metrics["datasets"][ds]["variants"]["primary"]
        assert alt["rho"]["per_seed"] == gold["rho"]["per_seed"]
        assert alt["l2"]["per_seed"] == gold["l2"]["per_seed"]
        assert alt["l2"]["ties"] == gold["l2"]["ties"]
    t = with_alt.metrics["datasets"]["moons"]["training"]
    assert t["n_runs"] == 2 * (2 + 2 + 1) + 2 * (2 + 2)  # the retrained runs are counted
    with pytest.raises(ValueError, match=r"'alt_learning_rates' .* does not contain learning_r"):
        exp.check_params({**BOOK, "alt_learning_rates": [0.01]})
    with pytest.raises(ValueError, match=r"'alt_batch_sizes' parameter of linearity"):
        exp.check_params({**BOOK, "alt_batch_sizes": [0]})
