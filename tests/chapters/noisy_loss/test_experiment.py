"""Chapter 3's experiment (dropout_study.chapters.noisy_loss.experiment), its cells and its clock.

Runs a tiny experiment once (module fixture, no cache on disk) and checks properties that
could fail: every timed run trains the whole budget, the replayed stopping rule picks the very
network an early-stopped run keeps (the training loop's own EarlyStopping is the oracle),
pairing across p, exact zeros at p = 0, the K = 1 control being plain dropout, the paired clock
on synthetic curves (a stalled arm is censored, never fast; a seed without a reference is
counted and left out), determinism across processes, the cache, the parameter checks and the
figures.
"""

import json

import matplotlib

matplotlib.use("Agg")  # tests only: no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import chapter_params  # noqa: E402

from dropout_study.book import source as chapters  # noqa: E402
from dropout_study.book.report import to_jsonable  # noqa: E402
from dropout_study.chapters.noisy_loss import cells, clock, plots  # noqa: E402
from dropout_study.chapters.noisy_loss import experiment as exp  # noqa: E402
from dropout_study.chapters.noisy_loss.verdict import all_findings, decide, robustness  # noqa: E402
from dropout_study.chapters.verdicts import WORDS  # noqa: E402
from dropout_study.measures.landscape import filter_normalized_direction, slice_1d  # noqa: E402
from dropout_study.nn.optim import SGD  # noqa: E402
from dropout_study.nn.training import EarlyStopping, train  # noqa: E402

BOOK = chapter_params("noisy-loss")
"""The book profile: the notebook's parameters cell."""

SMALL = chapter_params(
    "noisy-loss",
    **{
        "n_seeds": 2,
        "dropout_rates": [0.0, 0.2, 0.5],
        "n_samples": 120,
        "lr_grid": [0.1, 1.0],
        "max_steps": 80,
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


def _main_cell(dataset="moons", replicate=1, p=0.5):
    params = exp.check_params(SMALL)
    return next(
        c
        for c in exp._cells(params)["main"]
        if c["dataset"] == dataset and c["replicate"] == replicate and c["p"] == p and c["measure"]
    )


def test_shapes_metric_keys_and_verdict(result):
    m = result.metrics
    assert set(m["by_dataset"]) == {"moons", "breast_cancer"}
    for d in ("moons", "breast_cancer"):
        r, md = result.runs[d], m["by_dataset"][d]
        assert r["spread0"].shape == r["spread_avg"].shape == r["best"].shape == (S, P)
        assert r["snr"].shape == r["grad_variance"].shape == (S, P, 2)
        assert r["slice_masks"].shape == (S, P, 3, 5)
        assert set(md["clock"]) == {
            "primary",
            "fraction 0.5",
            "fraction 0.8",
            "offset 0.02",
            "offset 0.1",
            "budget halved",
            "coarse",
        }
        assert len(md["noise"]["spread0"]) == S and len(md["best_lr"]) == P
    assert np.asarray(result.control["moons"]["times"]).shape == (S, 3)
    assert decide(m).word in WORDS
    rob = robustness(m)
    assert len(rob.alternatives) >= 20 and any("surrogate" in a.choice for a in rob.alternatives)
    assert rob.n + rob.not_applicable + rob.exploratory == len(rob.alternatives)
    assert len({f.name for f in all_findings(m)}) == len(all_findings(m))


def test_every_timed_run_trains_the_whole_budget(result):
    for d in ("moons", "breast_cancer"):
        steps = result.runs[d]["steps"]
        assert steps[0] == 0 and steps[-1] == SMALL["max_steps"]
        assert np.all(np.diff(steps) == SMALL["eval_every"])
        assert result.runs[d]["val"].shape == (S, P, steps.shape[0])
        assert np.all(np.isfinite(result.runs[d]["val"]))
    assert result.control["moons"]["val"].shape[-1] == result.runs["moons"]["steps"].shape[0]


def test_the_replayed_stopping_rule_picks_the_network_early_stopping_keeps():
    # oracle: the training loop's own EarlyStopping on the same network, seed and masks
    cell = _main_cell(replicate=0)
    out = cells.run_main(cell)
    st, ds, model = cells._setup(cell, cell["p"])
    hist = train(
        model,
        ds.X_train,
        ds.y_train,
        optimizer=SGD(cell["lr"], momentum=cell["momentum"]),
        n_steps=cell["max_steps"],
        X_val=ds.X_val,
        y_val=ds.y_val,
        mask_rng=st.masks,
        eval_every=cell["eval_every"],
        stop=EarlyStopping(patience=cell["patience"], min_delta=cell["min_delta"]),
    )
    assert out["best_step"] == hist.best_step
    assert out["stop_step"] == (-1 if hist.capped else hist.stopped_at)
    # θ* is that network bit for bit: the slice at α = 0 is its evaluation-mode loss
    mid = cell["n_alphas"] // 2
    assert out["slice_eval"][mid] == model.loss(ds.X_train, ds.y_train, training=False)
    # and the curves agree up to the stop
    n = len(hist.val_loss)
    np.testing.assert_array_equal(out["val_loss"][:n], hist.val_loss)


def test_theta_star_is_the_same_network_kept_or_recomputed(monkeypatch):
    cell = _main_cell(replicate=0)
    kept = cells.run_main(cell)
    monkeypatch.setattr(cells, "KEEP_BYTES", 0)  # force the second run up to θ*
    again = cells.run_main(cell)
    assert kept["best_step"] not in cell["checkpoints"]  # so the second path really ran
    np.testing.assert_array_equal(again["slice_eval"], kept["slice_eval"])
    np.testing.assert_array_equal(again["slice_masks"], kept["slice_masks"])


def test_the_spread_at_other_points_uses_the_same_masks():
    cell = _main_cell(replicate=0)
    out = cells.run_main(cell)
    mid = cell["n_alphas"] // 2
    spread0 = np.std(out["slice_masks"][:, mid], ddof=1)
    assert out["best_step_patience2"] >= out["best_step"]
    if out["best_step_patience2"] == out["best_step"]:  # the same θ and the same masks
        assert out["spread_patience2"] == pytest.approx(spread0, rel=1e-12)
    zero = cells.run_main({**cell, "p": 0.0})
    assert zero["spread_end"] == zero["spread_patience2"] == 0.0


def test_one_pass_stands_for_identity_mask_sets_bit_for_bit():
    """At p = 0 run_main takes the mask slices from the evaluation-mode slice and _spread
    makes one pass: each set's own training-mode pass gives the same numbers."""
    cell = _main_cell(replicate=0, p=0.0)
    st, ds, model = cells._setup(cell, 0.0)
    X, y = ds.X_train, ds.y_train
    train(model, X, y, optimizer=SGD(0.5, momentum=0.9), n_steps=20)
    masks = [model.draw_masks(X.shape[0], st.measure) for _ in range(3)]
    assert cells._identity(masks)
    d = filter_normalized_direction(model, 0)
    alphas = np.linspace(-1.0, 1.0, 5)
    evaluated = slice_1d(model, X, y, d, alphas)
    for m in masks:
        np.testing.assert_array_equal(slice_1d(model, X, y, d, alphas, masks=m), evaluated)
    theta = model.get_params() + 0.1 * d
    work = model.copy()
    work.set_params(theta)
    losses = np.array([work.loss(X, y, training=True, masks=m) for m in masks])
    assert cells._spread(model, ds, masks, theta) == float(np.std(losses - losses[0], ddof=1))
    _, ds5, dropped = cells._setup(cell, 0.5)
    assert not cells._identity([dropped.draw_masks(ds5.X_train.shape[0], st.measure)])


@pytest.mark.parametrize(
    ("curve", "patience", "want"),
    [
        ([1.0, 0.9, 0.8, 0.85, 0.86, 0.87], 3, (2, 5)),
        ([1.0, 0.9, 0.8, 0.7], 2, (3, None)),  # never fires: the budget came first
        ([1.0, 0.9995, 0.999, 0.998], 2, (0, 2)),  # gains below min_delta do not count
    ],
)
def test_early_stopping_point_by_hand(curve, patience, want):
    assert cells.early_stopping_point(curve, patience, 0.001) == want


def test_p0_has_no_mask_noise_and_p_positive_has_some(result):
    for d in ("moons", "breast_cancer"):
        r = result.runs[d]
        assert np.all(r["spread0"][:, 0] == 0.0) and np.all(r["spread_avg"][:, 0] == 0.0)
        assert np.all(r["grad_variance"][:, 0, :] == 0.0)
        assert np.all(np.isnan(r["snr"][:, 0, :]))
        assert np.all(r["spread0"][:, 1:] > 0)
        assert np.all(r["grad_variance"][:, 1:, :] > 0)
        for s in range(S):
            for k in range(3):
                np.testing.assert_array_equal(r["slice_masks"][s, 0, k], r["slice_eval"][s, 0])


def test_runs_differing_only_in_p_share_data_and_initialisation(result):
    for d in ("moons", "breast_cancer"):
        first = result.runs[d]["val"][:, :, 0]
        assert np.all(first == first[:, :1])  # initial validation loss: same for every p
        assert first[0, 0] != first[1, 0]  # replicates differ


def test_the_k1_control_is_plain_dropout_training(result):
    main = _main_cell()
    kcell = {k: v for k, v in main.items() if k not in exp._MEASURE_KEYS + ("measure",)}
    one = cells.run_kmask({**kcell, "k": 1})
    np.testing.assert_array_equal(one["val_loss"], cells.run_main(main)["val_loss"])
    np.testing.assert_array_equal(
        result.control["moons"]["val"][1, 0], result.runs["moons"]["val"][1, 2]
    )


def test_the_clock_times_every_arm_against_its_seeds_p0_line():
    steps = np.arange(0, 101)
    ref = np.stack([0.2 + 0.5 * np.exp(-steps / 10.0), 0.6 + 0.0 * steps])  # seed 1: flat
    ref[1, 0] = 0.62  # seed 1's p = 0 run gains 0.02 nats of 0.62: below 10 %, no reference
    tgt = clock.targets(steps, ref, ("fraction", 0.9, 100), 0.1)
    assert np.isfinite(tgt[0]) and np.isnan(tgt[1])
    stalled = np.where(steps < 3, ref[0], 0.45)[None, :].repeat(2, axis=0)  # drops, then sits
    T = clock.times(steps, np.stack([ref, stalled], axis=1), tgt, 100)  # (S, 2)
    assert np.isnan(T[0, 1]) and np.isfinite(T[0, 0])  # censored, never fast
    r = clock.ratio_record(T[:, 1], T[:, 0], np.isfinite(tgt), 100)
    assert r["n"] == 1 and r["censored_arm"] == 1
    assert r["values"] == [pytest.approx(100 / T[0, 0])]


def test_absolute_targets_are_set_per_seed_and_always_reachable_by_p0():
    steps = np.arange(0, 51)
    ref = np.stack([0.3 + 0.4 * np.exp(-steps / 5.0), 0.1 + 0.6 * np.exp(-steps / 5.0)])
    tgt = clock.targets(steps, ref, ("offset", 0.05, 50), 0.1)
    np.testing.assert_allclose(tgt, ref.min(axis=1) + 0.05)
    assert np.all(np.isfinite(clock.times(steps, ref, tgt, 50)))


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
    ({"max_steps": 2_000_000}, ValueError, "'max_steps' parameter of noisy-loss"),
    ({"eval_every": 4000}, ValueError, "'eval_every' parameter of noisy-loss"),
    ({"patience": 0}, ValueError, "'patience' parameter of noisy-loss"),
    ({"target_fraction": 1.5}, ValueError, "'target_fraction' parameter of noisy-loss"),
    ({"alt_fractions": [0.0]}, ValueError, "'alt_fractions' parameter of noisy-loss"),
    ({"abs_offsets": [0.0]}, ValueError, "'abs_offsets' parameter of noisy-loss"),
    ({"abs_offsets": [0.1, 0.02]}, ValueError, "'abs_offsets' parameter of noisy-loss"),
    ({"min_improvement": 1.0}, ValueError, "'min_improvement' parameter of noisy-loss"),
    ({"checkpoints": [10, 20]}, ValueError, "'checkpoints' .* including 0"),
    ({"checkpoints": [0, 5000]}, ValueError, "'checkpoints' parameter of noisy-loss"),
    ({"n_alphas": 20}, ValueError, "'n_alphas' parameter of noisy-loss must be an odd int"),
    ({"control_rate": 0.4}, ValueError, "'control_rate' .* one of the dropout_rates"),
    ({"control_ks": [2, 4, 8]}, ValueError, "'control_ks' .* including 1"),
    ({"control_ks": [1]}, ValueError, "'control_ks' parameter of noisy-loss"),
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
    assert full["n_seeds"] >= 32 and full["seed"] == 2000
    assert full["surrogate"] is True and "breast_cancer" in full["control_datasets"]
    assert BOOK["n_seeds"] >= 8
    assert max(BOOK["lr_grid"]) >= 10 * BOOK["lr"]  # the grid spans 10× upward


def test_the_estimate_grows_with_the_budget_and_the_control():
    w0, _ = exp.estimate(BOOK)
    assert exp.estimate({**BOOK, "max_steps": 2 * BOOK["max_steps"]})[0] > 1.9 * w0
    assert exp.estimate({**BOOK, "control_ks": [1, 4, 16, 64]})[0] > w0


def test_figures_have_labelled_axes_and_the_slice_replicate_did_not_stall(result):
    for name in plots.__all__:
        if name == "slice_replicate":
            continue
        fig = getattr(plots, name)(result)
        shown = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
        assert any(ax.get_xlabel() for ax in shown), name
        assert any(ax.get_ylabel() for ax in shown), name
        plt.close(fig)
    rep, stalled = plots.slice_replicate(result)
    if not stalled:
        for d in ("moons", "breast_cancer"):
            assert np.all(np.isfinite(result.runs[d]["clocks"]["primary"]["times"][rep]))


def test_the_slice_figure_names_a_stalled_replicate(result):
    import copy

    r = copy.copy(result)
    r.runs = copy.deepcopy(result.runs)
    for d in r.runs:
        r.runs[d]["clocks"]["primary"]["times"][:, -1] = np.nan  # every p = 0.5 run stalled
    rep, stalled = plots.slice_replicate(r)
    assert rep == 0 and "moons, p = 0.5" in stalled
    fig = plots.slices(r)
    assert "stalled" in fig.get_suptitle()
    plt.close(fig)


def test_default_cache_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DROPOUT_STUDY_SWEEP_CACHE", str(tmp_path))
    small = {**SMALL, "surrogate": False}
    first = exp.run(small, n_jobs=1)
    assert any(tmp_path.rglob("*.pkl"))
    assert exp.run(small, n_jobs=1).seconds["cells_cached"] == first.seconds["cells_computed"]
