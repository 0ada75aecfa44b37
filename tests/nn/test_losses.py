"""Losses against scikit-learn, closed forms and central finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import central_diff, rel_error
from sklearn.metrics import log_loss

from dropout_study.nn import losses as L


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


def _onehot(labels, k):
    return np.eye(k)[labels]


# ---------------------------------------------------------------------------------------------
# Oracle: sklearn.metrics.log_loss (gold) on random data
# ---------------------------------------------------------------------------------------------
def test_binary_cross_entropy_equals_sklearn_log_loss(rng):
    y = rng.integers(0, 2, 500)
    q = rng.uniform(0.001, 0.999, 500)
    gold = log_loss(y, q)
    mine = L.binary_cross_entropy(y, q)
    assert abs(mine - gold) < 1e-10, f"mine {mine!r} / sklearn {gold!r}"
    # from logits: q = σ(z)
    z = np.log(q) - np.log1p(-q)
    mine_z = L.binary_cross_entropy(y, z, from_logits=True)
    assert abs(mine_z - gold) < 1e-10, f"mine {mine_z!r} / sklearn {gold!r}"


def test_ten_class_cross_entropies_equal_sklearn_log_loss(rng):
    n, k = 400, 10
    labels = rng.integers(0, k, n)
    z = 3 * rng.standard_normal((n, k))
    q = np.exp(z - z.max(1, keepdims=True))
    q /= q.sum(1, keepdims=True)
    gold = log_loss(labels, q, labels=np.arange(k))
    for mine in (
        L.sparse_categorical_cross_entropy(labels, q),
        L.sparse_categorical_cross_entropy(labels, z, from_logits=True),
        L.categorical_cross_entropy(_onehot(labels, k), q),
        L.categorical_cross_entropy(_onehot(labels, k), z, from_logits=True),
    ):
        assert abs(mine - gold) < 1e-10, f"mine {mine!r} / sklearn {gold!r}"


def test_binary_equals_two_class_categorical_equals_sparse(rng):
    y = rng.integers(0, 2, 300)
    z = 4 * rng.standard_normal(300)
    q = 1 / (1 + np.exp(-z))
    bce = L.binary_cross_entropy(y, q)
    two = np.stack([1 - q, q], axis=1)
    cce = L.categorical_cross_entropy(_onehot(y, 2), two)
    scce = L.sparse_categorical_cross_entropy(y, two)
    # from logits: the 2-class logits (0, z) give softmax = (1 - σ(z), σ(z))
    z2 = np.stack([np.zeros_like(z), z], axis=1)
    cce_z = L.categorical_cross_entropy(_onehot(y, 2), z2, from_logits=True)
    bce_z = L.binary_cross_entropy(y, z, from_logits=True)
    for v in (cce, scce, cce_z, bce_z):
        assert abs(v - bce) < 1e-12, (v, bce)


def test_soft_targets_and_units(rng):
    y = rng.uniform(0, 1, 50)
    z = rng.standard_normal(50)
    q = 1 / (1 + np.exp(-z))
    closed = np.mean(-(y * np.log(q) + (1 - y) * np.log(1 - q)))
    assert L.binary_cross_entropy(y, z, from_logits=True) == pytest.approx(closed, rel=1e-12)
    nats = L.binary_cross_entropy(y, q)
    assert L.binary_cross_entropy(y, q, base=2) == pytest.approx(nats / math.log(2), rel=1e-14)
    assert L.binary_cross_entropy(y, q, base=10) == pytest.approx(nats / math.log(10), rel=1e-14)


# ---------------------------------------------------------------------------------------------
# The sources' worked numbers
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("counts", "bits"),
    [((3, 7), 0.8812908992306927), ((5, 5), 1.0), ((10, 0), 0.0)],
)
def test_entropy_of_the_three_hampers(counts, bits):
    p = np.array(counts) / 10
    closed = -sum(pi * math.log2(pi) for pi in p if pi > 0)
    assert closed == pytest.approx(bits, abs=1e-15)
    assert L.entropy(p) == pytest.approx(bits, abs=1e-12)


def test_entropy_in_nats_and_of_rows():
    assert L.entropy([0.5, 0.5], base=math.e) == pytest.approx(math.log(2), rel=1e-15)
    rows = np.array([[0.3, 0.7], [1.0, 0.0]])
    assert L.entropy(rows) == pytest.approx((0.8812908992306927 + 0.0) / 2, rel=1e-12)


def test_the_apple_example_in_nats_bits_and_base_ten():
    # The article's row [0.723, 0.240, 0.036] sums to 0.999; only the true class's
    # probability enters the loss, so complete the row to sum to 1.
    t = np.array([[1.0, 0.0, 0.0]])
    q = np.array([[0.723, 0.241, 0.036]])
    assert L.categorical_cross_entropy(t, q) == pytest.approx(-math.log(0.723), rel=1e-14)
    assert round(L.categorical_cross_entropy(t, q), 4) == 0.3243
    assert round(L.categorical_cross_entropy(t, q, base=10), 4) == 0.1409
    assert round(L.categorical_cross_entropy(t, q, base=2), 3) == 0.468
    assert round(L.sparse_categorical_cross_entropy([0], q, base=10), 2) == 0.14


# ---------------------------------------------------------------------------------------------
# Extremes: logits of ±1e4, probabilities of exactly 0 and 1
# ---------------------------------------------------------------------------------------------
def test_binary_logits_of_plus_minus_1e4_are_finite_and_exact():
    z = np.array([1e4, -1e4, 1e4, -1e4])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    # per sample: 0, 0, softplus(1e4) = 1e4, softplus(1e4) = 1e4  → mean 5000
    v = L.binary_cross_entropy(y, z, from_logits=True)
    assert np.isfinite(v) and v == pytest.approx(5000.0, rel=1e-15)
    assert L.binary_cross_entropy([1.0], [1e4], from_logits=True) == 0.0
    ls = L.log_sigmoid(np.array([1e4, -1e4, 0.0]))
    np.testing.assert_allclose(ls, [0.0, -1e4, -math.log(2)], rtol=1e-15, atol=0)
    s = L.sigmoid(np.array([1e4, -1e4]))
    assert s[0] == 1.0 and s[1] == 0.0


def test_categorical_logits_of_plus_minus_1e4_are_finite_and_exact():
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]])
    labels = np.array([0, 0])
    # row 0: -log softmax_0 = 0; row 1: 1e4 - (-1e4) + log 2 = 2e4 + log 2
    expected = (0.0 + 2e4 + math.log(2)) / 2
    v = L.sparse_categorical_cross_entropy(labels, z, from_logits=True)
    assert np.isfinite(v) and v == pytest.approx(expected, rel=1e-15)
    v2 = L.categorical_cross_entropy(_onehot(labels, 3), z, from_logits=True)
    assert v2 == pytest.approx(expected, rel=1e-15)
    assert np.all(np.isfinite(L.softmax(z))) and np.all(np.isfinite(L.log_softmax(z)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_probabilities_of_exactly_zero_and_one_are_clipped_with_one_bound_for_every_dtype(dtype):
    eps = np.finfo(np.float64).eps  # one documented bound (losses.EPS), whatever the dtype
    big = -math.log(float(eps))
    q = np.array([0.0, 1.0], dtype=dtype)
    # y=1 with q=0 and y=0 with q=1: both clipped to a loss of -log(eps)
    v = L.binary_cross_entropy(np.array([1.0, 0.0]), q)
    assert np.isfinite(v) and v == pytest.approx(big, rel=1e-6)
    # y=1 with q=1: -log(1 - eps) ≈ eps, not 0 and not a NaN
    v1 = L.binary_cross_entropy(np.array([1.0]), np.array([1.0], dtype=dtype))
    assert 0 < v1 < 2 * eps
    cat = L.categorical_cross_entropy(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]], dtype=dtype))
    assert cat == pytest.approx(big, rel=1e-6)
    sp = L.sparse_categorical_cross_entropy([1], np.array([[1.0, 0.0]], dtype=dtype))
    assert sp == pytest.approx(big, rel=1e-6)


def test_mean_squared_error_closed_form(rng):
    y, q = rng.standard_normal(20), rng.standard_normal(20)
    assert L.mean_squared_error(y, q) == pytest.approx(np.mean((y - q) ** 2), rel=1e-15)
    assert L.mean_squared_error(y, q.reshape(-1, 1)) == L.mean_squared_error(y, q)
    assert L.mean_squared_error(y.reshape(-1, 1), q) == L.mean_squared_error(y, q)


def test_losses_do_not_modify_their_arguments(rng):
    y = rng.integers(0, 2, 10).astype(float)
    q = np.array([0.0, 1.0] + [0.5] * 8)
    y0, q0 = y.copy(), q.copy()
    L.binary_cross_entropy(y, q)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(q, q0)
    z = rng.standard_normal((5, 3))
    z0 = z.copy()
    L.sparse_categorical_cross_entropy_grad(np.array([0, 1, 2, 0, 1]), z)
    np.testing.assert_array_equal(z, z0)


# ---------------------------------------------------------------------------------------------
# Gradients with respect to the logits: central finite differences (float64)
# ---------------------------------------------------------------------------------------------
def test_binary_cross_entropy_grad_matches_finite_differences(rng):
    y = rng.uniform(0, 1, (12, 1))
    z = 2 * rng.standard_normal((12, 1))
    g = L.binary_cross_entropy_grad(y, z)
    fd = central_diff(lambda zz: L.binary_cross_entropy(y, zz, from_logits=True), z)
    assert g.shape == z.shape
    assert rel_error(g, fd) < 1e-6


def test_sparse_categorical_grad_matches_finite_differences(rng):
    labels = rng.integers(0, 4, 9)
    z = 2 * rng.standard_normal((9, 4))
    g = L.sparse_categorical_cross_entropy_grad(labels, z)
    fd = central_diff(
        lambda zz: L.sparse_categorical_cross_entropy(labels, zz, from_logits=True), z
    )
    assert rel_error(g, fd) < 1e-6


def test_mean_squared_error_grad_matches_finite_differences(rng):
    y = rng.standard_normal((7, 2))
    z = rng.standard_normal((7, 2))
    g = L.mean_squared_error_grad(y, z)
    fd = central_diff(lambda zz: L.mean_squared_error(y, zz), z)
    assert rel_error(g, fd) < 1e-6


def test_categorical_from_logits_gradient_is_softmax_minus_target(rng):
    t = rng.dirichlet(np.ones(3), size=6)
    z = rng.standard_normal((6, 3))
    fd = central_diff(lambda zz: L.categorical_cross_entropy(t, zz, from_logits=True), z)
    assert rel_error((L.softmax(z) - t) / 6, fd) < 1e-6


# ---------------------------------------------------------------------------------------------
# Validation: every branch, with the message template
# ---------------------------------------------------------------------------------------------
BAD = [
    (L.entropy, ([0.5, 0.5],), {"base": 1}, ValueError, r"'base' parameter of entropy must be"),
    (L.entropy, ([0.5, 0.5],), {"base": -2}, ValueError, r"'base' .* > 0 and != 1; got -2"),
    (L.entropy, ([0.5, 0.5],), {"base": "e"}, TypeError, r"'base' parameter of entropy"),
    (L.entropy, ([0.5, 0.5],), {"base": True}, TypeError, r"'base' parameter of entropy"),
    (L.entropy, ([0.5, 0.6],), {}, ValueError, r"'p' .* rows that sum to 1; got a row summing"),
    (L.entropy, ([-0.5, 1.5],), {}, ValueError, r"'p' .* probabilities in \[0, 1\]; got values"),
    (L.entropy, ([],), {}, ValueError, r"'p' parameter of entropy must be non-empty"),
    (L.entropy, (["a", "b"],), {}, TypeError, r"'p' parameter of entropy must be a numeric"),
    (L.entropy, ([np.nan, 1.0],), {}, ValueError, r"'p' parameter of entropy must be finite"),
    (L.entropy, ([1j, 0],), {}, TypeError, r"'p' parameter of entropy must be a real array"),
    (L.entropy, (object(),), {}, TypeError, r"'p' parameter of entropy must be a numeric"),
    (
        L.binary_cross_entropy,
        ([0, 1], [0.5, 0.5, 0.5]),
        {},
        ValueError,
        r"'y_pred' parameter of binary_cross_entropy must be of the shape of 'y_true', \(2,\)",
    ),
    (
        L.binary_cross_entropy,
        ([0, 1], [[0.5, 0.5], [0.5, 0.5]]),
        {},
        ValueError,
        r"'y_pred' .* shape \(n,\) or \(n, 1\); got shape \(2, 2\)",
    ),
    (L.binary_cross_entropy, ([], []), {}, ValueError, r"'y_true' .* at least one sample"),
    (L.binary_cross_entropy, ([2, 0], [0.5, 0.5]), {}, ValueError, r"'y_true' .* in \[0, 1\]"),
    (L.binary_cross_entropy, ([1, 0], [1.5, 0.5]), {}, ValueError, r"'y_pred' .* probabilities"),
    (L.binary_cross_entropy, ([1, 0], [np.inf, 0]), {"from_logits": True}, ValueError, "finite"),
    (L.binary_cross_entropy, ([1], [0.5]), {"base": 0}, ValueError, r"'base' parameter of bin"),
    (
        L.categorical_cross_entropy,
        ([1, 0], [0.5, 0.5]),
        {},
        ValueError,
        r"'y_pred' parameter of categorical_cross_entropy must be of shape \(n, k\)",
    ),
    (
        L.categorical_cross_entropy,
        ([[1, 0]], [[0.5, 0.5], [0.5, 0.5]]),
        {},
        ValueError,
        r"'y_pred' .* of the shape of 'y_true', \(1, 2\); got \(2, 2\)",
    ),
    (
        L.categorical_cross_entropy,
        (np.zeros((0, 2)), np.zeros((0, 2))),
        {},
        ValueError,
        r"'y_pred' parameter of categorical_cross_entropy must be non-empty",
    ),
    (
        L.categorical_cross_entropy,
        ([[1, 1]], [[0.5, 0.5]]),
        {},
        ValueError,
        r"'y_true' parameter of categorical_cross_entropy must be rows that sum to 1",
    ),
    (
        L.categorical_cross_entropy,
        ([[1, 0]], [[0.9, 0.5]]),
        {},
        ValueError,
        r"'y_pred' parameter of categorical_cross_entropy must be rows that sum to 1",
    ),
    (
        L.categorical_cross_entropy,
        ([[1, 0]], [[0.5, 0.5]]),
        {"base": "2"},
        TypeError,
        r"'base' parameter of categorical_cross_entropy",
    ),
    (
        L.sparse_categorical_cross_entropy,
        ([0, 3], [[0.5, 0.5], [0.5, 0.5]]),
        {},
        ValueError,
        r"'labels' .* labels in \[0, 1\]; got labels in \[0, 3\]",
    ),
    (
        L.sparse_categorical_cross_entropy,
        ([0], [[0.5, 0.5], [0.5, 0.5]]),
        {},
        ValueError,
        r"'labels' .* of length 2 \(one label per sample\); got length 1",
    ),
    (
        L.sparse_categorical_cross_entropy,
        ([[0], [1]], [[0.5, 0.5], [0.5, 0.5]]),
        {},
        ValueError,
        r"'labels' .* a 1-D array of integer labels; got shape \(2, 1\)",
    ),
    (
        L.sparse_categorical_cross_entropy,
        ([0.5, 1], [[0.5, 0.5], [0.5, 0.5]]),
        {},
        TypeError,
        r"'labels' .* integer class labels; got dtype float64",
    ),
    (
        L.sparse_categorical_cross_entropy,
        ([0, 1], [0.5, 0.5]),
        {},
        ValueError,
        r"'y_pred' parameter of sparse_categorical_cross_entropy must be of shape \(n, k\)",
    ),
    (
        L.sparse_categorical_cross_entropy,
        ([0, 1], [[0.5, 0.6], [0.5, 0.5]]),
        {},
        ValueError,
        r"'y_pred' .* rows that sum to 1",
    ),
    (
        L.sparse_categorical_cross_entropy,
        ([0], [[0.5, 0.5]]),
        {"base": 1.0},
        ValueError,
        r"'base' parameter of sparse_categorical_cross_entropy",
    ),
    (
        L.mean_squared_error,
        ([1, 2], [1, 2, 3]),
        {},
        ValueError,
        r"'y_pred' parameter of mean_squared_error must be of the shape of 'y_true'",
    ),
    (L.mean_squared_error, ([], []), {}, ValueError, r"'y_true' .* at least one sample"),
    (L.mean_squared_error, (["a"], [1.0]), {}, TypeError, r"'y_true' .* numeric array"),
]


@pytest.mark.parametrize(
    ("func", "args", "kwargs", "exc", "match"),
    BAD,
    ids=[f"{b[0].__name__}-{i}" for i, b in enumerate(BAD)],
)
def test_bad_input_is_rejected_with_the_template(func, args, kwargs, exc, match):
    with pytest.raises(exc, match=match) as info:
        func(*args, **kwargs)
    msg = str(info.value)
    assert msg.startswith("The '") and " parameter of " in msg and "; got " in msg, msg
    assert msg.endswith("."), msg


def test_integer_valued_float_labels_are_accepted():
    q = np.array([[0.25, 0.75], [0.6, 0.4]])
    assert L.sparse_categorical_cross_entropy([1.0, 0.0], q) == pytest.approx(
        -(math.log(0.75) + math.log(0.6)) / 2, rel=1e-14
    )
