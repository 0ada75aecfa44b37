"""Chapter 3's experiment (dropout_study.experiments.noisy_loss) and its figures.

Runs the smoke-sized experiment once (module fixture, no cache on disk) and checks properties
that could fail: pairing across p, exact zeros at p = 0, censoring, determinism across
processes, the cache in a temporary directory, parameter checks, and the figures' labels.
"""

import matplotlib

matplotlib.use("Agg")  # tests only: no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dropout_study import chapters  # noqa: E402
from dropout_study import data as datasets  # noqa: E402
from dropout_study.experiments import noisy_loss as exp  # noqa: E402
from dropout_study.plots import noisy_loss as plots  # noqa: E402
from dropout_study.verdicts import WORDS  # noqa: E402
from dropout_study.verdicts.noisy_loss import decide as noisy_loss  # noqa: E402

SMALL = {
    "n_seeds": 2,
    "dropout_rates": [0.0, 0.2, 0.5],
    "n_samples": 200,
    "n_steps": 60,
    "eval_every": 5,
    "checkpoints": [0, 30, 60],
    "n_grad_masks": 4,
    "n_slice_masks": 3,
    "n_alphas": 5,
    "contour_rate": 0.5,
    "n_contour": 4,
    "target_loss": 0.45,
    "target_acc": 0.8,
}


@pytest.fixture(scope="module")
def result():
    return exp.run(SMALL, cache_dir=None, n_jobs=1)


def test_shapes_and_metric_keys(result):
    S, P = 2, 3
    assert result.spread.shape == (S, P)
    assert result.steps_loss.shape == result.steps_acc.shape == (S, P)
    assert result.val_loss.shape == (S, P, result.eval_step.shape[0])
    assert result.snr.shape == result.grad_variance.shape == (S, P, 3)
    assert result.slice_eval.shape == (S, P, 5)
    assert result.slice_masks.shape == (S, P, 3, 5)
    assert result.contour["eval"].shape == result.contour["masked"].shape == (4, 4)
    m = result.metrics
    for key in ("rho_spread", "rho_steps", "rho_steps_acc", "rho_final_loss", "snr_median"):
        assert key in m
    assert len(m["spread"]["mean"]) == P
    assert len(m["snr_median"]) == 3 and len(m["snr_median"][0]) == P
    v = noisy_loss(m)
    assert v.word in WORDS


def test_n_train_is_the_size_of_the_training_split(result):
    ds = datasets.load("moons", n_samples=SMALL["n_samples"])
    assert result.n_train == ds.X_train.shape[0]


def test_p0_has_no_mask_noise_and_p_positive_has_some(result):
    assert np.all(result.spread[:, 0] == 0.0)
    assert np.all(result.grad_variance[:, 0, :] == 0.0)
    assert np.all(np.isinf(result.snr[:, 0, :]))
    assert np.all(result.spread[:, 1:] > 0)
    assert np.all(result.grad_variance[:, 1:, :] > 0)
    # at p = 0 every fixed-mask slice is the evaluation-mode slice
    for s in range(2):
        for k in range(3):
            np.testing.assert_array_equal(result.slice_masks[s, 0, k], result.slice_eval[s, 0])


def test_slice_shape_metrics(result):
    m = result.metrics
    # p = 0: masked curves are the evaluation curve: never above it, same rise
    assert m["slice_above_eval"][0] == 0.0
    assert m["slice_rise_ratio"][0] == pytest.approx(1.0, rel=1e-12)
    assert all(0.0 <= v <= 1.0 for v in m["slice_above_eval"])
    ev, mk = result.slice_eval[:, 2], result.slice_masks[:, 2]
    assert m["slice_above_eval"][2] == np.mean(mk > ev[:, None, :])


def test_runs_differing_only_in_p_share_data_and_initialisation(result):
    # evaluation-mode validation loss at step 0 depends only on data and initial weights
    first = result.val_loss[:, :, 0]
    for s in range(2):
        assert np.all(first[s] == first[s, 0])
    assert first[0, 0] != first[1, 0]  # seeds differ


def test_censoring_is_counted_not_dropped():
    res = exp.run({**SMALL, "target_loss": 1e-4, "target_acc": 1.0}, cache_dir=None, n_jobs=1)
    m = res.metrics
    assert np.all(np.isnan(res.steps_loss))
    assert m["steps_censored_total"] == m["n_runs"] == 6
    assert m["steps_loss_censored"] == [2, 2, 2]
    assert m["steps_loss_median"] == [None, None, None]
    assert m["rho_steps"] == 0.0  # every seed constant: no monotone association
    assert noisy_loss(m).word != "supported"


def test_steps_to_target():
    steps = np.array([0, 5, 10, 15])
    assert exp.steps_to_target(steps, [0.9, 0.5, 0.3, 0.2], 0.3) == 10.0
    assert np.isnan(exp.steps_to_target(steps, [0.9, 0.5, 0.4, 0.35], 0.3))
    assert exp.steps_to_target(steps, [0.5, 0.7, 0.95, 0.9], 0.9, below=False) == 10.0
    assert exp.steps_to_target(steps, [0.2, 0.5, 0.3, 0.2], 0.3) == 0.0
    with pytest.raises(ValueError, match="'values' parameter of steps_to_target"):
        exp.steps_to_target(steps, [0.1, 0.2], 0.3)


def test_same_numbers_in_one_process_and_two(result, tmp_path):
    two = exp.run(SMALL, cache_dir=tmp_path, n_jobs=2)
    assert two.metrics == result.metrics
    np.testing.assert_array_equal(two.slice_masks, result.slice_masks)
    np.testing.assert_array_equal(two.contour["masked"], result.contour["masked"])
    again = exp.run(SMALL, cache_dir=tmp_path, n_jobs=1)
    assert again.seconds["cells_cached"] == 6 and again.seconds["cells_computed"] == 0
    assert again.metrics == result.metrics


def test_adding_seeds_reuses_cached_cells(tmp_path):
    small = {**SMALL, "dropout_rates": [0.0, 0.5], "n_seeds": 2}
    exp.run(small, cache_dir=tmp_path, n_jobs=1)
    more = exp.run({**small, "n_seeds": 3}, cache_dir=tmp_path, n_jobs=1)
    assert more.seconds["cells_cached"] == 4 and more.seconds["cells_computed"] == 2


BAD = [
    ({"n_seeds": 1}, ValueError, "'n_seeds' parameter of noisy-loss"),
    ({"n_seeds": 2.0}, TypeError, "'n_seeds' parameter of noisy-loss"),
    ({"dropout_rates": [0.0]}, ValueError, "'dropout_rates' parameter of noisy-loss"),
    ({"dropout_rates": [0.0, 1.0]}, ValueError, "'dropout_rates' parameter of noisy-loss"),
    ({"dropout_rates": [0.2, 0.2]}, ValueError, "'dropout_rates' .* distinct"),
    ({"dropout_rates": "0.5"}, TypeError, "'dropout_rates' parameter of noisy-loss"),
    ({"hidden": [0]}, ValueError, "'hidden' parameter of noisy-loss"),
    ({"n_samples": 10}, ValueError, "'n_samples' parameter of noisy-loss"),
    ({"noise": -0.1}, ValueError, "'noise' parameter of noisy-loss"),
    ({"lr": 0.0}, ValueError, "'lr' parameter of noisy-loss"),
    ({"momentum": 1.0}, ValueError, "'momentum' parameter of noisy-loss"),
    ({"batch_size": 0}, ValueError, "'batch_size' parameter of noisy-loss"),
    ({"n_steps": 0}, ValueError, "'n_steps' parameter of noisy-loss"),
    ({"eval_every": 700}, ValueError, "'eval_every' parameter of noisy-loss"),
    ({"target_loss": 0.0}, ValueError, "'target_loss' parameter of noisy-loss"),
    ({"target_acc": 1.5}, ValueError, "'target_acc' parameter of noisy-loss"),
    ({"checkpoints": [0, 601]}, ValueError, "'checkpoints' .* in \\[0, n_steps=600\\]"),
    ({"checkpoints": [0, 0]}, ValueError, "'checkpoints' parameter of noisy-loss"),
    ({"checkpoints": [-1]}, ValueError, "'checkpoints' parameter of noisy-loss"),
    ({"n_grad_masks": 1}, ValueError, "'n_grad_masks' parameter of noisy-loss"),
    ({"n_slice_masks": 1}, ValueError, "'n_slice_masks' parameter of noisy-loss"),
    ({"alpha_max": 0.0}, ValueError, "'alpha_max' parameter of noisy-loss"),
    ({"n_alphas": 1}, ValueError, "'n_alphas' parameter of noisy-loss"),
    ({"n_alphas": 30}, ValueError, "'n_alphas' parameter of noisy-loss must be an odd int"),
    ({"contour_rate": 0.4}, ValueError, "'contour_rate' .* one of the dropout_rates"),
    ({"contour_rate": 0.0}, ValueError, "'contour_rate' parameter of noisy-loss"),
    ({"n_contour": 2}, ValueError, "'n_contour' parameter of noisy-loss"),
    ({"seed": -1}, ValueError, "'seed' parameter of noisy-loss"),
    (
        {"colour": 1},
        ValueError,
        "'colour' parameter of noisy-loss must be a declared parameter \\(one of seed",
    ),
]


@pytest.mark.parametrize(("override", "exc", "match"), BAD)
def test_check_params_rejects(override, exc, match):
    with pytest.raises(exc, match=match):
        exp.check_params(override)


def test_run_checks_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="'n_seeds' parameter of noisy-loss"):
        exp.run({"n_seeds": 1}, cache_dir=tmp_path)
    assert not any(tmp_path.iterdir())
    with pytest.raises(TypeError, match="'params' parameter of noisy-loss"):
        exp.check_params([("seed", 0)])


def test_defaults_are_the_notebook_parameters_cell():
    spec = chapters.load("noisy-loss")
    assert {p.name: p.default for p in spec.params} == exp.DEFAULTS
    for name, override in spec.profiles.items():
        exp.check_params(override)  # every profile passes the checks
        assert set(override) <= set(exp.DEFAULTS), name


def test_figures_have_labelled_axes(result):
    for name in plots.__all__:
        fig = getattr(plots, name)(result)
        shown = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
        assert any(ax.get_xlabel() for ax in shown), name
        assert any(ax.get_ylabel() for ax in shown), name
        plt.close(fig)


def test_default_cache_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DROPOUT_STUDY_SWEEP_CACHE", str(tmp_path))
    small = {**SMALL, "dropout_rates": [0.0, 0.5], "contour_rate": 0.5}
    first = exp.run(small, n_jobs=1)
    assert any(tmp_path.rglob("*.pkl"))
    assert exp.run(small, n_jobs=1).seconds["cells_cached"] == first.seconds["cells_computed"]
