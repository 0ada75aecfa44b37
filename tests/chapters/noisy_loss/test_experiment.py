"""Chapter 3's experiment (dropout_study.chapters.noisy_loss.experiment) and its figures.

Runs a tiny experiment once (module fixture, no cache on disk) and checks properties that
could fail: pairing across p, exact zeros at p = 0, the K = 1 control being plain dropout,
censoring counts, determinism across processes, the cache, parameter checks and the figures.
"""

import json

import matplotlib

matplotlib.use("Agg")  # tests only: no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import chapter_params

from dropout_study.book import source as chapters
from dropout_study.book.report import to_jsonable  # noqa: E402
from dropout_study.chapters.noisy_loss import cells as cells
from dropout_study.chapters.noisy_loss import experiment as exp
from dropout_study.chapters.noisy_loss import plots
from dropout_study.chapters.noisy_loss.verdict import decide, robustness  # noqa: E402
from dropout_study.chapters.verdicts import WORDS

BOOK = chapter_params("noisy-loss")
"""The book profile: the notebook's parameters cell."""

SMALL = chapter_params(
    "noisy-loss",
    **{
        "n_seeds": 2,
        "dropout_rates": [0.0, 0.2, 0.5],
        "n_samples": 120,
        "max_steps": 60,
        "patience": 5,
        "checkpoints": [0, 10],
        "n_grad_masks": 3,
        "n_slice_masks": 3,
        "n_alphas": 5,
        "control_ks": [1, 2, 4],
        "surrogate": True,
        "surrogate_masks": 3,
        "n_fresh_masks": 2,
    },
)
S, P = 2, 3


def _same(a, b) -> bool:
    """Equal metrics, NaN equal to NaN (as metrics.json writes them: null)."""
    return json.dumps(to_jsonable(a), sort_keys=True) == json.dumps(to_jsonable(b), sort_keys=True)


@pytest.fixture(scope="module")
def result():
    return exp.run(SMALL, cache_dir=None, n_jobs=1)


def test_shapes_metric_keys_and_verdict(result):
    m = result.metrics
    assert set(m["by_dataset"]) == {"moons", "breast_cancer"}
    for d in ("moons", "breast_cancer"):
        r, md = result.runs[d], m["by_dataset"][d]
        assert r["spread0"].shape == r["spread_avg"].shape == r["best"].shape == (S, P)
        assert r["snr"].shape == r["grad_variance"].shape == (S, P, 2)
        assert r["slice_masks"].shape == (S, P, 3, 5)
        assert set(md["steps"]) == {
            "primary",
            "own 0.5",
            "own 0.8",
            "abs 1",
            "abs 2",
            "abs 3",
            "abs 4",
        }
        assert len(md["abs_targets"]) == 4 and len(md["best_lr"]) == P
        assert all(lr in SMALL.get("lr_grid", BOOK["lr_grid"]) for lr in md["best_lr"])
    assert result.control["moons"]["steps"].shape == (S, 3)
    assert decide(m).word in WORDS
    rob = robustness(m)
    assert rob.n >= 12 and any("surrogate" in a.choice for a in rob.alternatives)


def test_p0_has_no_mask_noise_and_p_positive_has_some(result):
    for d in ("moons", "breast_cancer"):
        r = result.runs[d]
        assert np.all(r["spread0"][:, 0] == 0.0) and np.all(r["spread_avg"][:, 0] == 0.0)
        assert np.all(r["grad_variance"][:, 0, 0] == 0.0)
        assert np.all(r["spread0"][:, 1:] > 0)
        assert np.all(r["grad_variance"][:, 1:, 0] > 0)
        for s in range(S):
            for k in range(3):
                np.testing.assert_array_equal(r["slice_masks"][s, 0, k], r["slice_eval"][s, 0])


def test_runs_differing_only_in_p_share_data_and_initialisation(result):
    for d in ("moons", "breast_cancer"):
        first = np.array([[c[1][0] for c in row] for row in result.runs[d]["eval_curves"]])
        assert np.all(first == first[:, :1])  # initial validation loss: same for every p
        assert first[0, 0] != first[1, 0]  # replicates differ


def test_the_k1_control_is_plain_dropout_training(result):
    params = exp.check_params(SMALL)
    main = next(
        c for c in exp._cells(params)["main"]
        if c["dataset"] == "moons" and c["replicate"] == 1 and c["p"] == 0.5 and c["measure"]
    )  # fmt: skip
    kcell = {k: v for k, v in main.items() if k not in exp._MEASURE_KEYS + ("measure",)}
    one = cells.run_kmask({**kcell, "k": 1})
    np.testing.assert_array_equal(one["val_loss"], cells.run_main(main)["val_loss"])
    j = params["dropout_rates"].index(0.5)
    assert result.control["moons"]["steps"][1, 0] == result.runs["moons"]["times"]["primary"][1, j]


def test_own_targets_are_always_reached_and_the_lowest_absolute_one_is_counted(result):
    for d in ("moons", "breast_cancer"):
        md, r = result.metrics["by_dataset"][d], result.runs[d]
        assert md["steps"]["primary"]["censored"] == 0
        abs4 = r["times"]["abs 4"]
        assert md["steps"]["abs 4"]["censored"] == int(np.isnan(abs4).sum())
        # the targets run from the initial loss down to the mean p = 0 best
        assert md["abs_targets"][-1] == pytest.approx(np.mean(r["best"][:, 0]))
        assert np.all(np.diff(md["abs_targets"]) < 0)


def test_surrogate_tracks_fresh_masks_beside_it(result):
    outs = result.control["moons"]["surrogate"]
    assert len(outs) == S
    for o in outs:
        n = len(o["eval_step"])
        assert o["surrogate_loss"].shape == o["fresh_loss"].shape == (n,)
    assert "surrogate" in result.metrics["control"]["moons"]


def test_same_numbers_in_one_process_and_two(result, tmp_path):
    two = exp.run(SMALL, cache_dir=tmp_path, n_jobs=2)
    assert _same(two.metrics, result.metrics)
    np.testing.assert_array_equal(
        two.runs["moons"]["slice_masks"], result.runs["moons"]["slice_masks"]
    )
    again = exp.run(SMALL, cache_dir=tmp_path, n_jobs=1)
    assert again.seconds["cells_computed"] == 0
    assert _same(again.metrics, result.metrics)


def test_adding_seeds_reuses_cached_cells(tmp_path):
    small = {**SMALL, "surrogate": False}
    first = exp.run(small, cache_dir=tmp_path, n_jobs=1)
    more = exp.run({**small, "n_seeds": 3}, cache_dir=tmp_path, n_jobs=1)
    assert more.seconds["cells_cached"] == first.seconds["cells_computed"]
    assert more.seconds["cells_computed"] == first.seconds["cells_computed"] // 2


def test_cached_run_only_when_every_cell_is_cached(tmp_path, monkeypatch):
    small = {**SMALL, "surrogate": False}
    assert exp.cached_run(dict(small), cache_dir=tmp_path) is None
    ran = exp.run(small, cache_dir=tmp_path, n_jobs=1)
    got = exp.cached_run(dict(small), cache_dir=tmp_path)
    assert got is not None and _same(got.metrics, ran.metrics)
    assert got.seconds["cells_computed"] == 0


BAD = [
    ({"n_seeds": 1}, ValueError, "'n_seeds' parameter of noisy-loss"),
    ({"n_seeds": 2.0}, TypeError, "'n_seeds' parameter of noisy-loss"),
    ({"datasets": ["moons"]}, ValueError, "'datasets' parameter .* both moons and breast_cancer"),
    ({"datasets": ["moons", "iris"]}, ValueError, "'datasets' parameter of noisy-loss"),
    (
        {"control_datasets": ["breast_cancer"]},
        ValueError,
        "'control_datasets' .* starting with moons",
    ),
    ({"dropout_rates": [0.0, 0.5]}, ValueError, "'dropout_rates' parameter of noisy-loss"),
    ({"dropout_rates": [0.1, 0.2, 0.5]}, ValueError, "'dropout_rates' .* with 0"),
    ({"dropout_rates": [0.0, 0.5, 1.0]}, ValueError, "'dropout_rates' parameter of noisy-loss"),
    ({"lr": 0.2}, ValueError, "'lr_grid' .* including lr \\(lr = 0.2\\)"),
    ({"lr_grid": [0.1]}, ValueError, "'lr_grid' parameter of noisy-loss"),
    ({"momentum": 1.0}, ValueError, "'momentum' parameter of noisy-loss"),
    ({"max_steps": 1}, ValueError, "'max_steps' parameter of noisy-loss"),
    ({"eval_every": 4000}, ValueError, "'eval_every' parameter of noisy-loss"),
    ({"patience": 0}, ValueError, "'patience' parameter of noisy-loss"),
    ({"target_fraction": 1.5}, ValueError, "'target_fraction' parameter of noisy-loss"),
    ({"alt_fractions": [0.0]}, ValueError, "'alt_fractions' parameter of noisy-loss"),
    ({"checkpoints": [10, 20]}, ValueError, "'checkpoints' .* including 0"),
    ({"checkpoints": [0, 5000]}, ValueError, "'checkpoints' parameter of noisy-loss"),
    ({"n_alphas": 20}, ValueError, "'n_alphas' parameter of noisy-loss must be an odd int"),
    ({"control_rate": 0.4}, ValueError, "'control_rate' .* one of the dropout_rates"),
    ({"control_ks": [2, 4, 8]}, ValueError, "'control_ks' .* including 1"),
    ({"surrogate": 1}, TypeError, "'surrogate' parameter of noisy-loss"),
    ({"seed": -1}, ValueError, "'seed' parameter of noisy-loss"),
]


@pytest.mark.parametrize(("override", "exc", "match"), BAD)
def test_check_params_rejects(override, exc, match):
    with pytest.raises(exc, match=match):
        exp.check_params({**BOOK, **override})


def test_run_checks_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="'n_seeds' parameter of noisy-loss"):
        exp.run({**BOOK, "n_seeds": 1}, cache_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_every_profile_passes_the_checks():
    spec = chapters.load("noisy-loss")
    for name, override in spec.profiles.items():
        exp.check_params({**BOOK, **override})  # every profile passes the checks
        assert set(override) <= set(BOOK), name
    full = spec.profiles["full"]
    assert full["n_seeds"] >= 32 and full["seed"] != BOOK["seed"]
    assert full["surrogate"] is True and "breast_cancer" in full["control_datasets"]


def test_trend_words_follow_the_interval():
    assert exp.trend_words({"low": 0.1, "high": 0.5}) == "rises with p"
    assert exp.trend_words({"low": -0.5, "high": -0.1}) == "falls with p"
    assert exp.trend_words({"low": -0.1, "high": 0.5}) == "shows no clear trend in p"


def test_figures_have_labelled_axes(result):
    for name in plots.__all__:
        fig = getattr(plots, name)(result)
        shown = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
        assert any(ax.get_xlabel() for ax in shown), name
        assert any(ax.get_ylabel() for ax in shown), name
        plt.close(fig)


def test_default_cache_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DROPOUT_STUDY_SWEEP_CACHE", str(tmp_path))
    small = {**SMALL, "surrogate": False}
    first = exp.run(small, n_jobs=1)
    assert any(tmp_path.rglob("*.pkl"))
    assert exp.run(small, n_jobs=1).seconds["cells_cached"] == first.seconds["cells_computed"]
