"""Chapter 4's experiment (dropout_study.chapters.l1_vs_l2.experiment) and its figures.

Runs a small experiment once (module fixture, no cache on disk) and checks properties that
could fail: pairing across regularisers (λ = 0 reproduces the unregularised run bit for bit),
exact zeros from the proximal step and none from L2 or the sub-gradient, the scikit-learn
oracle inside the experiment, the stopping rule's counts (steps, capped runs), that the test
split never enters the selection, determinism across processes, the cache in a temporary
directory, parameter checks, and the figures' labels.
"""

import dataclasses

import matplotlib

matplotlib.use("Agg")  # tests only: no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import chapter_params

from dropout_study.book import source as chapters
from dropout_study.chapters.l1_vs_l2 import experiment as exp
from dropout_study.chapters.l1_vs_l2 import plots
from dropout_study.chapters.l1_vs_l2 import verdict as rule
from dropout_study.chapters.l1_vs_l2.verdict import decide as l1_vs_l2  # noqa: E402
from dropout_study.chapters.verdicts import WORDS

BOOK = chapter_params("l1-vs-l2")
"""The book profile: the notebook's parameters cell."""

SMALL = chapter_params(
    "l1-vs-l2",
    **{
        "n_lambdas": 6,
        "lambda_ratio": 0.01,
        "n_oracle": 3,
        "oracle_max_iter": 300,
        "n_seeds": 2,
        "hidden": [6],
        "lambdas": [0.001, 0.01, 0.1],
        "max_steps": 400,
        "eval_every": 10,
        "patience": 5,
        "pitfall_lambda": 0.01,
    },
)


@pytest.fixture(scope="module")
def result():
    return exp.run(SMALL, cache_dir=None, n_jobs=1)


def test_shapes_and_metric_keys(result):
    S, L, d = 2, 3, 30
    n_w = 30 * 6 + 6
    assert result.mlp["l1"]["weights"].shape == (S, L, n_w)
    assert result.mlp["l2"]["near_zero"].shape == (S, L)
    for reg in ("none", "l1-sub", "dropout"):
        assert result.mlp[reg]["weights"].shape == (S, 1, n_w)
    assert result.logistic["l1"]["coefs"].shape == (6, d)
    assert len(result.oracle["l1"]) == len(result.oracle["l2"]) == 3
    assert l1_vs_l2(result.metrics).word in WORDS


def test_lambda_zero_reproduces_the_unregularised_run(result):
    """Pairing: a penalty with λ = 0 starts from the same weights and data as 'none'."""
    base = {"kind": "mlp", "replicate": 1, "lam": 0.0, "seed": 0, "hidden": [6]}
    base.update({"dropout_rate": 0.5, "lr": 0.5, "max_steps": 400, "eval_every": 10})
    base.update({"patience": 5, "min_delta": 1e-4})
    none = exp.run_cell({**base, "reg": "none"})
    flat = np.concatenate([w.ravel() for w in none["weights"]])
    np.testing.assert_array_equal(flat, result.mlp["none"]["weights"][1, 0])
    for reg in ("l1", "l2", "l1-sub"):
        out = exp.run_cell({**base, "reg": reg})
        assert out["steps"] == none["steps"]
        for a, b in zip(out["weights"], none["weights"], strict=True):
            np.testing.assert_array_equal(a, b, err_msg=reg)


def test_replicates_differ(result):
    w = result.mlp["none"]["weights"]
    assert not np.array_equal(w[0, 0], w[1, 0])


def test_exact_zeros_only_from_the_proximal_step(result):
    mlp = result.mlp
    # proximal L1 at the largest λ zeroes most weights
    assert np.all(mlp["l1"]["exact_zero"][:, -1] > 0.5)
    for reg in ("none", "l2", "l1-sub", "dropout"):
        assert np.all(mlp[reg]["exact_zero"] == 0.0), reg
    # the references have ratio 1: the unregularised run, and each path's smallest λ
    np.testing.assert_array_equal(mlp["none"]["norm_ratio"], 1.0)
    for pen in ("l1", "l2"):
        np.testing.assert_array_equal(mlp[pen]["norm_ratio_ref"][:, 0], 1.0)
        assert np.all(mlp[pen]["norm_ratio_ref"][:, -1] < 1.0)
    # Hoyer indices are in [0, 1] where defined, and dead units never exceed the width
    for reg in exp.REGULARISERS:
        h = mlp[reg]["hoyer"]
        assert np.all((h[np.isfinite(h)] >= 0) & (h[np.isfinite(h)] <= 1)), reg
        assert np.all((mlp[reg]["dead"] >= 0) & (mlp[reg]["dead"] <= 6)), reg


def test_logistic_part_against_closed_form_and_oracle(result):
    lg = result.logistic
    assert np.all(lg["l1"]["coefs"][0] == 0.0)  # the grid starts at λ_max
    assert np.any(lg["l1"]["coefs"][1] != 0.0)
    assert not np.any(lg["l2"]["coefs"] == 0.0)
    assert lg["l1"]["converged"].all() and lg["l2"]["converged"].all()
    for pen in ("l1", "l2"):
        for row in result.oracle[pen]:
            assert row["index"] != 0  # λ_max itself is never an oracle point
            if row["converged"]:
                assert row["max_abs_diff"] <= exp.ORACLE_COEF_TOL, row
                assert row["zeros_match"], row
            else:
                assert row["objective_gap"] <= 1e-12, row
            assert "DeprecationWarning" not in row["warnings"]
            assert "FutureWarning" not in row["warnings"]
    m = result.metrics["oracle_l2"]
    assert m["n_converged"] == 3 and m["max_abs_diff"] <= exp.ORACLE_COEF_TOL
    assert m["n_within_tol"] == 3


def test_stopping_rule_counts(result):
    st = result.metrics["steps"]
    steps = np.concatenate([result.mlp[r]["steps"].ravel() for r in exp.REGULARISERS])
    capped = np.concatenate([result.mlp[r]["capped"].ravel() for r in exp.REGULARISERS])
    assert st["n_runs"] == steps.size == 2 * (1 + 3 + 3 + 2)
    assert st["total"] == steps.sum() and st["max"] <= st["cap"] == 400
    assert st["n_capped"] == capped.sum() == np.sum(steps == 400)
    assert np.all(steps % 10 == 0)  # training stops only at an evaluation
    tiny = exp.run({**SMALL, "lambdas": [0.01, 0.1], "max_steps": 20, "n_seeds": 2},
                   cache_dir=None, n_jobs=1)  # fmt: skip
    assert tiny.metrics["steps"]["n_capped"] == tiny.metrics["steps"]["n_runs"]  # all capped


def test_verdict_metrics_follow_the_selection(result):
    m = result.metrics
    lams = result.lambdas
    acc_none = result.mlp["none"]["val_acc"][:, 0]
    e = rule.evaluate(m)
    for pen in ("l1", "l2"):
        acc = result.mlp[pen]["val_acc"].mean(axis=0)
        ok = acc >= acc_none.mean() - m["acc_margin"] - 1e-12
        star = lams[ok].max() if ok.any() else None
        assert e[f"star_{pen}"] == star
        assert m["lambda_star"][f"{m['acc_margin']:g}"][pen] == star
    if "j1" in e:
        loss2 = result.mlp["l2"]["val_loss"].mean(axis=0)
        target = result.mlp["l1"]["val_loss"][:, e["j1"]].mean()
        assert e["j2"] == int(np.argmin(np.abs(loss2 - target)))


def test_the_test_split_never_enters_the_selection(result, monkeypatch):
    """Replace every test split by noise: selection, matching and verdict do not move."""
    real = exp.datasets.load

    def scrambled(*args, **kwargs):
        ds = real(*args, **kwargs)
        rng = np.random.default_rng(0)
        return dataclasses.replace(
            ds, X_test=rng.normal(size=ds.X_test.shape) * 50, y_test=1 - ds.y_test
        )

    monkeypatch.setattr(exp.datasets, "load", scrambled)
    other = exp.run(SMALL, cache_dir=None, n_jobs=1)
    for pen in ("l1", "l2"):
        for key in ("val_acc", "val_loss", "hoyer", "exact_zero", "dead"):
            np.testing.assert_array_equal(other.mlp[pen][key], result.mlp[pen][key])
        assert not np.array_equal(other.mlp[pen]["test_acc"], result.mlp[pen]["test_acc"])
    mine, theirs = rule.evaluate(other.metrics), rule.evaluate(result.metrics)
    assert mine["finding"] == theirs["finding"] and mine["word"] == theirs["word"]
    assert l1_vs_l2(other.metrics) == l1_vs_l2(result.metrics)


def test_same_numbers_in_one_process_and_two(result, tmp_path):
    two = exp.run(SMALL, cache_dir=tmp_path, n_jobs=2)
    assert two.metrics == result.metrics
    np.testing.assert_array_equal(two.mlp["l1"]["weights"], result.mlp["l1"]["weights"])
    again = exp.run(SMALL, cache_dir=tmp_path, n_jobs=1)
    assert again.seconds["cells_computed"] == 0
    assert again.seconds["cells_cached"] == two.seconds["cells_computed"]
    assert again.metrics == result.metrics


def test_adding_a_seed_reuses_cached_cells(tmp_path):
    small = {**SMALL, "lambdas": [0.01, 0.1], "max_steps": 20}
    first = exp.run(small, cache_dir=tmp_path, n_jobs=1)
    more = exp.run({**small, "n_seeds": 3}, cache_dir=tmp_path, n_jobs=1)
    per_seed = 1 + 2 + 2 + 2
    assert more.seconds["cells_computed"] == per_seed
    assert more.seconds["cells_cached"] == first.seconds["cells_computed"]


def test_default_cache_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DROPOUT_STUDY_SWEEP_CACHE", str(tmp_path))
    small = {**SMALL, "lambdas": [0.01, 0.1], "max_steps": 20}
    first = exp.run(small, n_jobs=1)
    assert any(tmp_path.rglob("*.pkl"))
    assert exp.run(small, n_jobs=1).seconds["cells_cached"] == first.seconds["cells_computed"]


BAD = [
    ({"n_seeds": 1}, ValueError, r"'n_seeds' parameter of l1-vs-l2"),
    ({"n_seeds": 2.0}, TypeError, r"'n_seeds' parameter of l1-vs-l2"),
    ({"n_lambdas": 2}, ValueError, r"'n_lambdas' parameter of l1-vs-l2"),
    ({"lambda_ratio": 1.0}, ValueError, r"'lambda_ratio' parameter of l1-vs-l2"),
    ({"lambda_ratio": 0.0}, ValueError, r"'lambda_ratio' parameter of l1-vs-l2"),
    ({"n_oracle": 20}, ValueError, r"'n_oracle' parameter of l1-vs-l2 must be an int .*19\]"),
    ({"n_oracle": 0}, ValueError, r"'n_oracle' parameter of l1-vs-l2"),
    ({"oracle_max_iter": 5}, ValueError, r"'oracle_max_iter' parameter of l1-vs-l2"),
    ({"hidden": [0]}, ValueError, r"'hidden' parameter of l1-vs-l2"),
    ({"hidden": "16"}, TypeError, r"'hidden' parameter of l1-vs-l2"),
    ({"lambdas": [0.1]}, ValueError, r"'lambdas' parameter of l1-vs-l2"),
    ({"lambdas": [0.0, 0.1]}, ValueError, r"'lambdas' parameter of l1-vs-l2"),
    ({"lambdas": [0.1, 0.1]}, ValueError, r"'lambdas' .* increasing and without repeats"),
    ({"dropout_rate": 0.0}, ValueError, r"'dropout_rate' parameter of l1-vs-l2"),
    ({"dropout_rate": 1.0}, ValueError, r"'dropout_rate' parameter of l1-vs-l2"),
    ({"lr": 0.0}, ValueError, r"'lr' parameter of l1-vs-l2"),
    ({"lr": 5.0}, ValueError, r"'lr' parameter of l1-vs-l2"),
    ({"max_steps": 0}, ValueError, r"'max_steps' parameter of l1-vs-l2"),
    ({"eval_every": 0}, ValueError, r"'eval_every' parameter of l1-vs-l2"),
    ({"max_steps": 5, "eval_every": 10}, ValueError, r"'eval_every' parameter of l1-vs-l2"),
    ({"patience": 0}, ValueError, r"'patience' parameter of l1-vs-l2"),
    ({"min_delta": -1e-3}, ValueError, r"'min_delta' parameter of l1-vs-l2"),
    ({"hoyer_delta": 1.0}, ValueError, r"'hoyer_delta' parameter of l1-vs-l2"),
    ({"acc_margin": -0.1}, ValueError, r"'acc_margin' parameter of l1-vs-l2"),
    ({"near_zero_rel": 1.0}, ValueError, r"'near_zero_rel' parameter of l1-vs-l2"),
    ({"pitfall_lambda": 0.05}, ValueError, r"'pitfall_lambda' .* one of the lambdas"),
    ({"pitfall_lambda": -1.0}, ValueError, r"'pitfall_lambda' parameter of l1-vs-l2"),
    ({"seed": -1}, ValueError, r"'seed' parameter of l1-vs-l2"),
]


@pytest.mark.parametrize(("override", "exc", "match"), BAD)
def test_check_params_rejects(override, exc, match):
    with pytest.raises(exc, match=match):
        exp.check_params({**BOOK, **override})


def test_run_checks_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="'n_seeds' parameter of l1-vs-l2"):
        exp.run({**BOOK, "n_seeds": 1}, cache_dir=tmp_path)
    assert not any(tmp_path.iterdir())
    with pytest.raises(TypeError, match="'params' parameter of l1-vs-l2"):
        exp.check_params([("seed", 0)])
    with pytest.raises(ValueError, match="'kind' parameter of l1_vs_l2.run_cell"):
        exp.run_cell({"kind": "other"})


def test_every_profile_passes_the_checks():
    spec = chapters.load("l1-vs-l2")
    for name, override in spec.profiles.items():
        exp.check_params({**BOOK, **override})  # every profile passes the checks
        assert set(override) <= set(BOOK), name


def test_figures_have_labelled_axes(result):
    for name in ("paths", "histograms", "sparsity", "balance", "pitfall"):
        fig = getattr(plots, name)(result)
        shown = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
        assert any(ax.get_xlabel() for ax in shown), name
        assert any(ax.get_ylabel() for ax in shown), name
        assert all(ax.get_title() for ax in shown), name
        plt.close(fig)


def test_oracle_table_lists_every_oracle_fit(result):
    rows = plots.oracle_rows(result)
    assert [r["solver"] for r in rows] == ["saga"] * 3 + ["lbfgs"] * 3
    for r, o in zip(rows, result.oracle["l1"] + result.oracle["l2"], strict=True):
        assert r["converged"] == ("yes" if o["converged"] else "no")
        assert r["iterations"] == str(o["n_iter"])
    table = plots.oracle_table(result)
    assert table.count("<tr>") == 1 + 6
    assert "max |Δw|" in table


def test_unit_measures_against_an_independent_recomputation(result):
    """Dead units, the share of zeros on dead units, living zeros and the balance of units,
    recomputed here from the stored weights with numpy alone (activity from a forward pass)."""
    w = result.mlp["l1"]["weights"][0, -1]  # seed 0, largest λ: many zeros
    W1, W2 = w[: 30 * 6].reshape(30, 6), w[30 * 6 :].reshape(6, 1)
    dead_w = (
        np.all(np.abs(W1) < 1e-3 * np.abs(W1).max(), axis=0) if np.any(W1) else np.ones(6, bool)
    )
    assert result.mlp["l1"]["dead"][0, -1] >= dead_w.sum()  # activity can only add dead units
    zeros = (W1 == 0).sum() + (W2 == 0).sum()
    share = result.mlp["l1"]["zeros_on_dead"][0, -1]
    assert np.isnan(share) if zeros == 0 else 0.0 <= share <= 1.0
    for reg in ("none", "l2", "dropout"):
        bal = result.mlp[reg]["log_balance"][1][0]
        v = result.mlp[reg]["weights"][1, 0]
        U, V = v[: 30 * 6].reshape(30, 6), v[30 * 6 :].reshape(6, 1)
        gold = np.log(np.linalg.norm(U, axis=0) / np.abs(V[:, 0]))
        dead = int(result.mlp[reg]["dead"][1, 0])
        assert bal.size == 6 - dead
        assert set(np.round(bal, 12)) <= set(np.round(gold, 12)), reg
        assert result.mlp[reg]["balance_median"][1, 0] == pytest.approx(np.median(bal))
        assert result.mlp[reg]["living_last"][1, 0] == 6 - dead


def test_side_by_side_table_and_power_text(result):
    from dropout_study.chapters.l1_vs_l2 import tables

    e = rule.evaluate(result.metrics)
    md = tables.side_by_side(result, e)
    assert md.startswith("```{list-table}") and md.count("* - ") == 1 + len(tables.ROWS)
    assert "dead hidden units (of 6)" in md
    text = tables.power_text(e)
    if e.get("finding") is not None:
        assert f"against a margin of {result.metrics['hoyer_delta']:g}" in text
