"""Data sets: all five load offline, seeded splits, standardisation from the training split."""

from __future__ import annotations

import socket
import urllib.request

import numpy as np
import pytest
from sklearn import datasets as skd

from dropout_study.data import DATASETS, TOY_RANGE, Dataset, load, toy_function

SHAPES = {  # total samples, features, task, classes
    "moons": (600, 2, "binary", 2),
    "circles": (600, 2, "binary", 2),
    "breast_cancer": (569, 30, "binary", 2),
    "digits": (1797, 64, "multiclass", 10),
    "toy1d": (40, 1, "regression", 0),
}


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.mark.parametrize("name", DATASETS)
def test_every_data_set_loads_offline_with_the_expected_shapes(offline, name):
    ds = load(name, rng=0)
    n, d, task, k = SHAPES[name]
    assert isinstance(ds, Dataset) and ds.name == name and ds.task == task and ds.n_classes == k
    assert ds.n_features == d
    sizes = [ds.X_train.shape[0], ds.X_val.shape[0], ds.X_test.shape[0]]
    assert sum(sizes) == n
    assert abs(ds.X_test.shape[0] - 0.2 * n) <= 1 and abs(ds.X_val.shape[0] - 0.2 * n) <= 1
    for X, y in ((ds.X_train, ds.y_train), (ds.X_val, ds.y_val), (ds.X_test, ds.y_test)):
        assert X.dtype == np.float64 and X.ndim == 2 and X.shape[1] == d
        assert y.shape == (X.shape[0],)
        assert np.all(np.isfinite(X))
    if task == "regression":
        assert ds.y_train.dtype == np.float64 and ds.head == "identity" and ds.n_outputs == 1
    else:
        assert ds.y_train.dtype == np.intp and set(np.unique(ds.y_train)) == set(range(k))
        assert ds.head == ("softmax" if k > 2 else "sigmoid")
        assert ds.n_outputs == (k if k > 2 else 1)


@pytest.mark.parametrize("name", ["breast_cancer", "digits"])
def test_classification_splits_are_stratified(name):
    ds = load(name, rng=3)
    full = np.bincount(np.concatenate([ds.y_train, ds.y_val, ds.y_test])) / SHAPES[name][0]
    for y in (ds.y_train, ds.y_val, ds.y_test):
        share = np.bincount(y, minlength=full.size) / y.size
        assert np.max(np.abs(share - full)) < 0.02


@pytest.mark.parametrize("name", DATASETS)
def test_standardisation_uses_training_statistics_only(name):
    ds = load(name, rng=1)
    varying = ds.scale_ != 1.0  # constant pixels of digits keep scale 1
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.X_train[:, varying].std(axis=0), 1.0, rtol=1e-12)
    # validation and test are standardised with the training statistics, so they are not
    # exactly centred and scaled
    assert np.max(np.abs(ds.X_val.mean(axis=0))) > 1e-3
    assert np.max(np.abs(ds.X_val[:, varying].std(axis=0) - 1.0)) > 1e-3
    # the stored statistics map the splits back to raw units
    np.testing.assert_allclose(ds.standardise(ds.X_val * ds.scale_ + ds.mean_), ds.X_val)


def test_raw_rows_are_recovered_for_a_bundled_set():
    ds = load("breast_cancer", rng=2)
    raw = skd.load_breast_cancer().data
    back = ds.X_train * ds.scale_ + ds.mean_
    # every standardised training row is a row of the raw data, and the statistics are the
    # training rows' own (ddof = 0) mean and standard deviation
    d = np.abs(back[:, None, :] - raw[None, :, :]).max(axis=2).min(axis=1)
    assert d.max() < 1e-9
    np.testing.assert_allclose(ds.mean_, back.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(ds.scale_, back.std(axis=0), rtol=1e-10)


@pytest.mark.parametrize("name", DATASETS)
def test_splits_are_seeded(name):
    a, b, c = load(name, rng=5), load(name, rng=5), load(name, rng=6)
    for field in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.y_train, c.y_train) or not np.array_equal(a.X_train, c.X_train)
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    np.testing.assert_array_equal(load(name, rng=g1).X_test, load(name, rng=g2).X_test)


def test_generated_sets_take_size_and_noise():
    ds = load("moons", rng=0, n_samples=100, noise=0.0)
    assert ds.X_train.shape[0] + ds.X_val.shape[0] + ds.X_test.shape[0] == 100
    toy = load("toy1d", rng=0, n_samples=200, noise=0.0)
    x = toy.X_train[:, 0] * toy.scale_[0] + toy.mean_[0]
    assert np.all((x >= TOY_RANGE[0]) & (x <= TOY_RANGE[1]))
    np.testing.assert_allclose(toy.y_train, toy_function(x), rtol=1e-12, atol=1e-12)
    noisy = load("toy1d", rng=0, n_samples=200, noise=0.25)
    xn = noisy.X_train[:, 0] * noisy.scale_[0] + noisy.mean_[0]
    resid = noisy.y_train - toy_function(xn)
    assert 0.2 < resid.std() < 0.3  # noise 0.25 on ~120 points: SE of the std ≈ 0.016


def test_toy_function_closed_form():
    x = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(toy_function(x), np.sin(1.5 * x) + 0.3 * x, rtol=1e-15)
    assert toy_function([0.0]).tolist() == [0.0]


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"name": "mnist"}, ValueError, r"'name' parameter of load must be one of 'moons',"),
        ({"name": 3}, TypeError, r"'name' parameter of load must be one of"),
        ({"rng": "x"}, TypeError, r"'rng' parameter of load must be a numpy.random.Generator"),
        (
            {"name": "digits", "n_samples": 100},
            ValueError,
            r"'n_samples' parameter of load\('digits'\) must be None for a bundled data set",
        ),
        (
            {"name": "breast_cancer", "noise": 0.1},
            ValueError,
            r"'noise' parameter of load\('breast_cancer'\) must be None",
        ),
        ({"n_samples": 5}, ValueError, r"'n_samples' parameter of load .* \[10, ∞\); got 5"),
        ({"n_samples": 50.0}, TypeError, r"'n_samples' parameter of load must be an int"),
        ({"noise": -0.1}, ValueError, r"'noise' parameter of load must be in \[0, ∞\)"),
        ({"val_fraction": 0.0}, ValueError, r"'val_fraction' parameter of load must be in \(0,"),
        ({"test_fraction": 1.0}, ValueError, r"'test_fraction' .* in \(0, 1\); got 1.0"),
        (
            {"val_fraction": 0.5, "test_fraction": 0.5},
            ValueError,
            r"'val_fraction' parameter of load must be < 1 - test_fraction = 0.5; got 0.5",
        ),
    ],
)
def test_load_validation(kwargs, exc, match):
    args = {"name": "moons"} | kwargs
    with pytest.raises(exc, match=match):
        load(args.pop("name"), **args)
