"""Chapter 4's experiment (dropout_study.experiments.l1_vs_l2) and its figures.

Runs a small experiment once (module fixture, no cache on disk) and checks properties that
could fail: pairing across regularisers (λ = 0 reproduces the unregularised run bit for bit),
exact zeros from the proximal step and none from L2 or the sub-gradient, the scikit-learn
oracle inside the experiment, the λ* selection rule, determinism across processes, the cache
in a temporary directory, parameter checks, and the figures' labels.
"""

import matplotlib

matplotlib.use("Agg")  # tests only: no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dropout_study import chapters  # noqa: E402
from dropout_study.experiments import l1_vs_l2 as exp  # noqa: E402
from dropout_study.plots import l1_vs_l2 as plots  # noqa: E402
from dropout_study.verdicts import WORDS  # noqa: E402
from dropout_study.verdicts.l1_vs_l2 import decide as l1_vs_l2  # noqa: E402

SMALL = {
    "n_lambdas": 6,
    "lambda_ratio": 0.01,
    "n_oracle": 3,
    "oracle_max_iter": 300,
    "n_seeds": 2,
    "hidden": [6],
    "lambdas": [0.001, 0.01, 0.1],
    "n_steps": 80,
    "pitfall_lambda": 0.01,
}


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
    base.update({"dropout_rate": 0.5, "lr": 0.5, "n_steps": 80})
    none = exp.run_cell({**base, "reg": "none"})
    np.testing.assert_array_equal(none["weights"], result.mlp["none"]["weights"][1, 0])
    for reg in ("l1", "l2", "l1-sub"):
        out = exp.run_cell({**base, "reg": reg})
        np.testing.assert_array_equal(out["weights"], none["weights"], err_msg=reg)


def test_replicates_differ(result):
    w = result.mlp["none"]["weights"]
    assert not np.array_equal(w[0, 0], w[1, 0])


def test_exact_zeros_only_from_the_proximal_step(result):
    mlp = result.mlp
    # proximal L1 at the largest λ zeroes most weights; zeros grow with λ within each seed
    assert np.all(mlp["l1"]["exact_zero"][:, -1] > 0.5)
    assert np.all(np.diff(mlp["l1"]["exact_zero"], axis=1) >= 0)
    for reg in ("none", "l2", "l1-sub", "dropout"):
        assert np.all(mlp[reg]["exact_zero"] == 0.0), reg
    # L2 shrinks more as λ grows, and the reference has ratio 1
    assert np.all(np.diff(mlp["l2"]["norm_ratio"], axis=1) < 0)
    np.testing.assert_array_equal(mlp["none"]["norm_ratio"], 1.0)


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
                assert row["max_abs_diff"] <= 1e-4, row
                assert row["zeros_match"], row
            else:
                assert row["objective_gap"] <= 1e-12, row
            assert "DeprecationWarning" not in row["warnings"]
            assert "FutureWarning" not in row["warnings"]
    m = result.metrics["oracle_l2"]
    assert m["n_converged"] == 3 and m["max_abs_diff"] <= 1e-4


def test_strongest_lambda_within_margin():
    lams = [0.001, 0.01, 0.1, 1.0]
    f = exp._strongest_within_margin
    assert f(lams, [0.97, 0.965, 0.96, 0.5], 0.97, 0.01) == 2
    assert f(lams, [0.97, 0.95, 0.97, 0.5], 0.97, 0.01) == 2  # not the first drop: the largest
    assert f(lams, [0.9, 0.9, 0.9, 0.9], 0.97, 0.01) is None
    assert f(lams, [0.97, 0.97, 0.97, 0.97], 0.97, 0.0) == 3


def test_verdict_metrics_follow_the_selection(result):
    m = result.metrics
    lams = result.lambdas
    for pen in ("l1", "l2"):
        star = m[f"lambda_star_{pen}"]
        acc = np.asarray(m[f"{pen}_val_acc"]["mean"])
        ok = acc >= m["acc_none"] - m["acc_margin"] - 1e-12
        assert star == (lams[ok].max() if ok.any() else 0.0)
        if star > 0:
            j = int(np.flatnonzero(lams == star)[0])
            assert m[f"near_zero_{pen}_star"] == pytest.approx(m[f"{pen}_near_zero"]["mean"][j])
    j1 = np.flatnonzero(lams == m["lambda_star_l1"])
    j2 = np.flatnonzero(lams == m["lambda_star_l2"])
    if j1.size and j2.size:
        diff = result.mlp["l1"]["near_zero"][:, j1[0]] - result.mlp["l2"]["near_zero"][:, j2[0]]
        assert m["near_zero_diff"] == pytest.approx(np.mean(diff))


def test_same_numbers_in_one_process_and_two(result, tmp_path):
    two = exp.run(SMALL, cache_dir=tmp_path, n_jobs=2)
    assert two.metrics == result.metrics
    np.testing.assert_array_equal(two.mlp["l1"]["weights"], result.mlp["l1"]["weights"])
    again = exp.run(SMALL, cache_dir=tmp_path, n_jobs=1)
    assert again.seconds["cells_computed"] == 0
    assert again.seconds["cells_cached"] == two.seconds["cells_computed"]
    assert again.metrics == result.metrics


def test_adding_a_seed_reuses_cached_cells(tmp_path):
    small = {**SMALL, "lambdas": [0.01, 0.1], "n_steps": 20}
    first = exp.run(small, cache_dir=tmp_path, n_jobs=1)
    more = exp.run({**small, "n_seeds": 3}, cache_dir=tmp_path, n_jobs=1)
    per_seed = 1 + 2 + 2 + 2
    assert more.seconds["cells_computed"] == per_seed
    assert more.seconds["cells_cached"] == first.seconds["cells_computed"]


def test_default_cache_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DROPOUT_STUDY_SWEEP_CACHE", str(tmp_path))
    small = {**SMALL, "lambdas": [0.01, 0.1], "n_steps": 20}
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
    ({"lambdas": [0.1, 0.1]}, ValueError, r"'lambdas' .* distinct"),
    ({"dropout_rate": 0.0}, ValueError, r"'dropout_rate' parameter of l1-vs-l2"),
    ({"dropout_rate": 1.0}, ValueError, r"'dropout_rate' parameter of l1-vs-l2"),
    ({"lr": 0.0}, ValueError, r"'lr' parameter of l1-vs-l2"),
    ({"lr": 5.0}, ValueError, r"'lr' parameter of l1-vs-l2"),
    ({"n_steps": 0}, ValueError, r"'n_steps' parameter of l1-vs-l2"),
    ({"acc_margin": -0.1}, ValueError, r"'acc_margin' parameter of l1-vs-l2"),
    ({"near_zero_rel": 1.0}, ValueError, r"'near_zero_rel' parameter of l1-vs-l2"),
    ({"pitfall_lambda": 0.05}, ValueError, r"'pitfall_lambda' .* one of the lambdas"),
    ({"pitfall_lambda": -1.0}, ValueError, r"'pitfall_lambda' parameter of l1-vs-l2"),
    ({"seed": -1}, ValueError, r"'seed' parameter of l1-vs-l2"),
    (
        {"colour": 1},
        ValueError,
        r"'colour' parameter of l1-vs-l2 must be a declared parameter \(one of seed",
    ),
]


@pytest.mark.parametrize(("override", "exc", "match"), BAD)
def test_check_params_rejects(override, exc, match):
    with pytest.raises(exc, match=match):
        exp.check_params(override)


def test_run_checks_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="'n_seeds' parameter of l1-vs-l2"):
        exp.run({"n_seeds": 1}, cache_dir=tmp_path)
    assert not any(tmp_path.iterdir())
    with pytest.raises(TypeError, match="'params' parameter of l1-vs-l2"):
        exp.check_params([("seed", 0)])
    with pytest.raises(ValueError, match="'kind' parameter of l1_vs_l2.run_cell"):
        exp.run_cell({"kind": "other"})


def test_defaults_are_the_notebook_parameters_cell():
    spec = chapters.load("l1-vs-l2")
    assert {p.name: p.default for p in spec.params} == exp.DEFAULTS
    for name, override in spec.profiles.items():
        exp.check_params(override)  # every profile passes the checks
        assert set(override) <= set(exp.DEFAULTS), name


def test_figures_have_labelled_axes(result):
    for name in ("paths", "histograms", "sparsity", "pitfall"):
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
