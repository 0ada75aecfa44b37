"""Dropout's explicit regulariser on one linear layer (measures.dropout_theory).

Oracles: exact enumeration of every mask computed a second way (an explicit loop over masks
with ``itertools.product``), closed forms, and the limits the module docstring derives.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dropout_study.measures import dropout_theory as th


def _problem(k=6, n=40, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    h = np.abs(rng.normal(size=(n, k)))  # ReLU-like activations
    w = rng.normal(size=k) * scale
    y = (rng.random(n) < 0.5).astype(float)
    return h * w, 0.3 * scale, y


def _loop_exact(a, b, y, p, loss):
    k = a.shape[1]
    zbar = a.sum(axis=1) + b
    total = 0.0
    for m in itertools.product((0.0, 1.0), repeat=k):
        m = np.array(m)
        prob = (1 - p) ** m.sum() * p ** (k - m.sum())
        total += prob * th.loss_value(a @ m / (1 - p) + b, y, loss)
    return float(np.mean(total - th.loss_value(zbar, y, loss)))


@pytest.mark.parametrize("loss", th.LOSSES)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_exact_equals_explicit_sum_over_masks(loss, p):
    a, b, y = _problem(k=3)
    assert th.regulariser_exact(a, b, y, p, loss=loss) == pytest.approx(
        _loop_exact(a, b, y, p, loss), rel=1e-12
    )


def test_all_zero_at_p0():
    a, b, y = _problem()
    assert th.regulariser_exact(a, b, y, 0.0) == 0.0
    assert th.regulariser_second_order(a, b, y, 0.0) == 0.0
    assert th.regulariser_mc(a, b, y, 0.0, n_masks=10)[0] == 0.0


def test_closed_form_one_unit_squared_error():
    # R = p/(1-p) for a = 1, b = 0, y = 1 (module docstring)
    for p in (0.1, 0.3, 0.5):
        r = th.regulariser_exact([[1.0]], 0.0, [1.0], p, loss="squared")
        assert r == pytest.approx(p / (1 - p), rel=1e-12)
        # squared error: the second-order formula is exact
        assert th.regulariser_second_order([[1.0]], 0.0, [1.0], p, loss="squared") == pytest.approx(
            p / (1 - p), rel=1e-12
        )


def test_small_p_slope_is_single_drop_bregman_sum_on_large_weights():
    a, b, y = _problem(k=10, scale=4.0)  # confident: large contributions
    s = th.single_drop_slope(a, b, y)
    ratios = [th.regulariser_exact(a, b, y, p) / p / s for p in (1e-2, 1e-3, 1e-4)]
    errs = [abs(r - 1) for r in ratios]
    assert errs[-1] < 1e-3 and errs[0] > errs[1] > errs[2]
    # the second-order formula is NOT the small-p slope here (quadratic misses)
    q = th.regulariser_second_order(a, b, y, 1e-4) / 1e-4
    assert abs(q / s - 1) > 0.1


def test_second_order_agrees_as_weights_shrink():
    rel = []
    for eps in (1.0, 0.1, 0.01):
        a, b, y = _problem(k=8, scale=3.0 * eps)
        p = 0.3
        rel.append(
            abs(th.regulariser_second_order(a, b, y, p) / th.regulariser_exact(a, b, y, p) - 1)
        )
    assert rel[0] > rel[1] > rel[2] and rel[2] < 1e-3


def test_mc_within_its_standard_error_of_exact():
    a, b, y = _problem(k=8, scale=2.0)
    exact = th.regulariser_exact(a, b, y, 0.5)
    est, se = th.regulariser_mc(a, b, y, 0.5, n_masks=4000, rng=1)
    assert abs(est - exact) < 4 * se
    assert exact > 0  # Jensen


def test_invalid_inputs_name_the_parameter():
    a, b, y = _problem(k=3)
    with pytest.raises(ValueError, match="'p' parameter of regulariser_exact"):
        th.regulariser_exact(a, b, y, 1.0)
    with pytest.raises(ValueError, match="'a' parameter of regulariser_exact"):
        th.regulariser_exact(np.ones((2, 17)), 0.0, np.zeros(2), 0.5)
    with pytest.raises(ValueError, match="'y' parameter"):
        th.single_drop_slope(a, b, y[:-1])
    with pytest.raises(ValueError, match="'loss' parameter"):
        th.regulariser_second_order(a, b, y, 0.5, loss="hinge")
