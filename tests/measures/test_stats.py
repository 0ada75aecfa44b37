"""stats: bootstrap intervals and Spearman ρ with a cluster-bootstrap interval.

Oracles: scipy.stats.spearmanr for ρ; the normal-theory interval of a mean for a large sample.
"""

import numpy as np
import pytest
from scipy import stats as sps

from dropout_study.measures.stats import mean_ci, mean_ci_columns, spearman_ci


def test_spearman_with_groups_is_mean_of_within_seed_rho():
    rng = np.random.default_rng(2)
    p = np.tile(np.linspace(0, 0.7, 8), 8)
    g = np.repeat(np.arange(8), 8)
    y = -p + 0.3 * rng.standard_normal(p.size) + rng.normal(0, 5, 8)[g]
    res = spearman_ci(p, y, groups=g)
    within = [sps.spearmanr(p[g == k], y[g == k]).statistic for k in range(8)]
    assert res.rho == pytest.approx(np.mean(within), abs=1e-12)
    assert res.low <= res.rho <= res.high < 0
    assert (res.n_cells, res.n_groups, res.n_constant) == (64, 8, 0)


def test_spearman_seed_offsets_do_not_hide_a_paired_trend():
    # large seed-to-seed offsets swamp the pooled rho, not the within-seed one
    rng = np.random.default_rng(4)
    p = np.tile(np.linspace(0, 0.7, 8), 6)
    g = np.repeat(np.arange(6), 8)
    y = 0.2 * p + rng.normal(0, 1.0, 6)[g] + 0.02 * rng.standard_normal(p.size)
    paired = spearman_ci(p, y, groups=g)
    pooled = sps.spearmanr(p, y).statistic
    assert paired.low > 0.8
    assert pooled < 0.5


def test_spearman_no_trend_interval_straddles_zero():
    rng = np.random.default_rng(3)
    p = np.tile(np.linspace(0, 0.7, 8), 10)
    y = rng.standard_normal(p.size)
    res = spearman_ci(p, y, groups=np.repeat(np.arange(10), 8))
    assert res.low < 0 < res.high


def test_spearman_constant_seed_counts_as_zero():
    p = np.array([0.0, 0.5, 0.0, 0.5])
    y = np.array([1.0, 1.0, 1.0, 2.0])
    res = spearman_ci(p, y, groups=[0, 0, 1, 1], n_resamples=200)
    assert res.n_constant == 1
    assert res.rho == pytest.approx(0.5)


def test_spearman_interval_stays_within_rho_range_at_two_seeds():
    # two seeds that disagree (ρ = +1 and −1): the t interval over 2 values is ±12.7 wide
    p = np.array([0.0, 0.5, 0.0, 0.5])
    y = np.array([1.0, 2.0, 2.0, 1.0])
    res = spearman_ci(p, y, groups=[0, 0, 1, 1], n_resamples=200)
    assert res.rho == pytest.approx(0.0)
    assert (res.low, res.high) == (-1.0, 1.0)
    # seeds that nearly agree: the upper bound is cut at 1, the lower keeps its sign
    p3 = np.tile([0.0, 0.2, 0.5], 2)
    y3 = np.array([1.0, 2.0, 3.0, 2.0, 1.0, 3.0])
    res3 = spearman_ci(p3, y3, groups=np.repeat([0, 1], 3), n_resamples=200)
    assert -1.0 <= res3.low < 0.0 < res3.high <= 1.0


@pytest.mark.parametrize(
    "x, y, groups, match",
    [
        ([0, 1], [0, 1, 2], None, "'y' parameter of spearman_ci"),
        ([0, 1, 2], [0, 1, 2], [0, 1], "'groups' parameter of spearman_ci"),
        ([0, 1, np.inf], [0, 1, 2], None, "'x' parameter of spearman_ci"),
    ],
)
def test_spearman_validation(x, y, groups, match):
    with pytest.raises(ValueError, match=match):
        spearman_ci(x, y, groups=groups)


def test_mean_ci_and_columns_are_the_seed_interval_in_json_form():
    from dropout_study.measures.stats import seed_interval

    x = np.random.default_rng(5).normal(size=(9, 2))
    iv = seed_interval(x[:, 0])
    assert mean_ci(x[:, 0]) == {
        "mean": iv.estimate,
        "low": iv.low,
        "high": iv.high,
        "method": "t",
        "degenerate": False,
    }
    cols = mean_ci_columns(x)
    assert cols["mean"] == pytest.approx(x.mean(axis=0).tolist())
    assert cols["low"][1] == seed_interval(x[:, 1]).low
    with pytest.raises(ValueError, match="'values' parameter of mean_ci_columns"):
        mean_ci_columns(x[:, 0])


# ---------------------------------------------------------------------------------------------
# seed_interval: Student-t below BCA_MIN_SEEDS, BCa from there, degenerate samples flagged
# ---------------------------------------------------------------------------------------------
def test_seed_interval_small_n_is_student_t():
    from scipy import stats as sps

    from dropout_study.measures.stats import seed_interval

    v = np.array([0.1, 0.4, 0.35, 0.2, 0.5, 0.3, 0.25, 0.45])
    iv = seed_interval(v)
    gold = sps.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=sps.sem(v))
    assert iv.method == "t" and not iv.degenerate
    assert (iv.low, iv.high) == pytest.approx(gold, rel=1e-12)


def test_seed_interval_large_n_is_bca():
    from scipy import stats as sps

    from dropout_study.measures.stats import BCA_MIN_SEEDS, seed_interval

    v = np.random.default_rng(3).exponential(size=BCA_MIN_SEEDS + 12)
    iv = seed_interval(v, rng=7)
    gold = sps.bootstrap(
        (v,), np.mean, method="BCa", n_resamples=5000, rng=np.random.default_rng(7)
    ).confidence_interval
    assert iv.method == "BCa"
    assert (iv.low, iv.high) == pytest.approx((gold.low, gold.high), rel=1e-12)


def test_seed_interval_constant_sample_is_degenerate():
    from dropout_study.measures.stats import seed_interval

    iv = seed_interval([-1.0] * 8)
    assert (iv.low, iv.high, iv.degenerate) == (-1.0, -1.0, True)
    r = spearman_ci([0, 1, 2] * 4, [3, 2, 1] * 4, groups=np.repeat(np.arange(4), 3))
    assert r.rho == -1 and r.degenerate and (r.low, r.high) == (-1.0, -1.0)


@pytest.mark.parametrize("n", [8, 32])
def test_seed_interval_coverage_on_normal_samples(n):
    """Coverage of the 95 % interval on simulated normal samples at the seed counts the
    chapters use (8 at book, 32 at full): within [0.92, 0.98] over 1000 samples."""
    from dropout_study.measures.stats import seed_interval

    rng = np.random.default_rng(11)
    reps = 1000 if n < 20 else 300
    hits = 0
    for r in range(reps):
        iv = seed_interval(rng.normal(1.0, 2.0, size=n), n_resamples=1000, rng=r)
        hits += iv.low <= 1.0 <= iv.high
    assert 0.92 <= hits / reps <= 0.98 if n < 20 else 0.90 <= hits / reps <= 0.99
