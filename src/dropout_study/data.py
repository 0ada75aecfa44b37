"""Data sets that ship with scikit-learn or are generated (nothing is downloaded).

``load(name, rng=...)`` returns a :class:`Dataset` with seeded train / validation / test
splits (stratified for classification), standardised with the mean and standard deviation of
the **training split only**.

=================  =======================  ===========================================
name               task                     source
=================  =======================  ===========================================
``moons``          binary, 2 features       ``sklearn.datasets.make_moons``
``circles``        binary, 2 features       ``sklearn.datasets.make_circles``
``breast_cancer``  binary, 30 features      ``sklearn.datasets.load_breast_cancer``
``digits``         10 classes, 64 features  ``sklearn.datasets.load_digits``
``toy1d``          regression, 1 feature    ``y = toy_function(x) + N(0, noise²)``
=================  =======================  ===========================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn import datasets as skd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from dropout_study.validation import as_generator, check_choice, check_float, check_int, fail

__all__ = ["DATASETS", "Dataset", "SPLIT", "load", "toy_function", "TOY_RANGE"]

DATASETS = ("moons", "circles", "breast_cancer", "digits", "toy1d")
TOY_RANGE = (-3.0, 3.0)
SPLIT = (0.6, 0.2, 0.2)
"""The default shares of a data set's rows in its training, validation and test parts."""

_DEFAULT_N = {"moons": 600, "circles": 600, "toy1d": 40}
_DEFAULT_NOISE = {"moons": 0.25, "circles": 0.1, "toy1d": 0.25}


def toy_function(x: np.ndarray) -> np.ndarray:
    """The smooth curve behind ``toy1d``: ``sin(1.5 x) + 0.3 x`` on ``x`` in [-3, 3]."""
    x = np.asarray(x, dtype=float)
    return np.sin(1.5 * x) + 0.3 * x


@dataclass(frozen=True)
class Dataset:
    """Standardised splits. ``X_*`` are ``(n, d)`` float64; ``y_*`` are ``(n,)`` int labels
    (classification) or float targets (regression)."""

    name: str
    task: str  # "binary", "multiclass" or "regression"
    n_classes: int  # 0 for regression
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    mean_: np.ndarray  # training-split feature means (raw units)
    scale_: np.ndarray  # training-split feature standard deviations (raw units)

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def head(self) -> str:
        """The network head that fits the task."""
        return {"binary": "sigmoid", "multiclass": "softmax", "regression": "identity"}[self.task]

    @property
    def n_outputs(self) -> int:
        return self.n_classes if self.task == "multiclass" else 1

    def standardise(self, X_raw: np.ndarray) -> np.ndarray:
        """Raw-unit inputs to the standardised units the splits are in."""
        return (np.asarray(X_raw, dtype=float) - self.mean_) / self.scale_


def _raw(name: str, n_samples: int | None, noise: float | None, rng: np.random.Generator):
    seed = int(rng.integers(2**31 - 1))
    if name == "moons":
        return skd.make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    if name == "circles":
        return skd.make_circles(n_samples=n_samples, noise=noise, factor=0.5, random_state=seed)
    if name == "breast_cancer":
        return skd.load_breast_cancer(return_X_y=True)
    if name == "digits":
        return skd.load_digits(return_X_y=True)
    x = rng.uniform(*TOY_RANGE, size=n_samples)
    y = toy_function(x) + noise * rng.standard_normal(n_samples)  # type: ignore[operator]  # load() sets it
    return x.reshape(-1, 1), y


def _check_split(n: int, n_classes: int, val_fraction: float, test_fraction: float) -> None:
    """Check, before scikit-learn splits, that every part gets enough samples (each class at
    least once in each part of a stratified split); the error names our parameters."""
    owner = "load"
    need = max(1, n_classes)
    n_test = math.ceil(test_fraction * n)
    n_rest = n - n_test
    n_val = math.ceil(val_fraction / (1.0 - test_fraction) * n_rest)
    n_train = n_rest - n_val
    if n_test < need:
        fail(
            "test_fraction",
            owner,
            f"large enough for {need} test samples out of {n}",
            test_fraction,
        )
    if n_val < need:
        fail(
            "val_fraction",
            owner,
            f"large enough for {need} validation samples out of {n}",
            val_fraction,
        )
    if n_train < max(2, need):
        fail(
            "val_fraction",
            owner,
            f"small enough, with test_fraction={test_fraction:g}, to leave {max(2, need)} "
            f"training samples out of {n}",
            val_fraction,
        )


def load(
    name: str,
    *,
    rng=0,
    n_samples: int | None = None,
    noise: float | None = None,
    val_fraction: float = SPLIT[1],
    test_fraction: float = SPLIT[2],
) -> Dataset:
    """Load or generate data set ``name`` and split it with the ``split`` stream ``rng``.

    ``n_samples`` and ``noise`` apply to the generated sets (``moons``, ``circles``,
    ``toy1d``) and must be left ``None`` for the bundled ones.
    """
    owner = "load"
    check_choice(name, "name", owner, DATASETS)
    rng = as_generator(rng, "rng", owner)
    generated = name in _DEFAULT_N
    if not generated and (n_samples is not None or noise is not None):
        bad, value = ("n_samples", n_samples) if n_samples is not None else ("noise", noise)
        fail(bad, f"load({name!r})", "None for a bundled data set", value)
    if generated:
        n_samples = check_int(
            _DEFAULT_N[name] if n_samples is None else n_samples, "n_samples", owner, low=10
        )
        noise = check_float(
            _DEFAULT_NOISE[name] if noise is None else noise, "noise", owner, low=0.0
        )
    val_fraction = check_float(
        val_fraction, "val_fraction", owner, low=0.0, high=1.0, low_open=True, high_open=True
    )
    test_fraction = check_float(
        test_fraction, "test_fraction", owner, low=0.0, high=1.0, low_open=True, high_open=True
    )
    if val_fraction + test_fraction >= 1:
        fail("val_fraction", owner, f"< 1 - test_fraction = {1 - test_fraction:g}", val_fraction)
    X, y = _raw(name, n_samples, noise, rng)
    task = "regression" if name == "toy1d" else ("multiclass" if name == "digits" else "binary")
    stratify = None if task == "regression" else y
    _check_split(len(y), 0 if stratify is None else len(np.unique(y)), val_fraction, test_fraction)
    s1 = int(rng.integers(2**31 - 1))
    s2 = int(rng.integers(2**31 - 1))
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=test_fraction, random_state=s1, stratify=stratify
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest,
        y_rest,
        test_size=val_fraction / (1.0 - test_fraction),
        random_state=s2,
        stratify=None if stratify is None else y_rest,
    )
    scaler = StandardScaler().fit(X_train)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    mean = scaler.mean_

    def std(a):
        return (np.asarray(a, dtype=float) - mean) / scale

    label_dtype = None if task == "regression" else np.intp  # targets as they are; labels intp
    return Dataset(
        name=name,
        task=task,
        n_classes=0 if task == "regression" else int(np.max(y) + 1),
        X_train=std(X_train),
        y_train=np.asarray(y_train, dtype=label_dtype),
        X_val=std(X_val),
        y_val=np.asarray(y_val, dtype=label_dtype),
        X_test=std(X_test),
        y_test=np.asarray(y_test, dtype=label_dtype),
        mean_=mean.copy(),
        scale_=scale.copy(),
    )
