"""Intervals over seeds: the interval of a mean over seeds, and Spearman ρ within seeds.

Every sweep in the book runs several seeds (replicates). Uncertainty is reported over seeds:

- :func:`seed_interval` — the interval the study reports for a mean over seeds (STUDY.md,
  "Common ground"): Student-t for fewer than :data:`BCA_MIN_SEEDS` seeds, BCa bootstrap
  (``scipy.stats.bootstrap(method="BCa")``) from :data:`BCA_MIN_SEEDS` on. A percentile or BCa
  bootstrap covers only ~84–89 % of the time at n = 5–8 seeds (it ignores that the spread is
  itself estimated), which is why small samples get the t interval. A constant sample gives
  ``[v, v]`` flagged ``degenerate`` (no spread to estimate: an interval of zero width is not a
  measurement of certainty). :func:`mean_ci` and :func:`mean_ci_columns` call it.
- :func:`spearman_ci` — Spearman's ρ between a swept parameter ``x`` (e.g. the dropout rate)
  and a measured ``y`` in a paired sweep (cells grouped by seed, which share data, initial
  weights and batches): ρ is computed within each seed and averaged, and the interval is the
  :func:`seed_interval` of the per-seed ρ values.

The resampling generator is seeded (default 0), so intervals are reproducible.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as sps

from dropout_study.validation import as_generator, check_float, check_int, described, fail

__all__ = [
    "BCA_MIN_SEEDS",
    "Interval",
    "seed_interval",
    "SpearmanResult",
    "mean_ci",
    "mean_ci_columns",
    "spearman_ci",
    "simulated_coverage",
]


@dataclass(frozen=True)
class Interval:
    """``estimate`` with a ``level`` interval ``[low, high]`` from ``n`` values."""

    estimate: float
    low: float
    high: float
    level: float
    n: int
    method: str = "percentile"
    degenerate: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SpearmanResult:
    """Spearman ``rho`` (see :func:`spearman_ci`), its interval, and counts."""

    rho: float
    low: float
    high: float
    level: float
    n_cells: int
    n_groups: int
    n_constant: int
    method: str = "percentile"
    degenerate: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def _finite_1d(values, name: str, owner: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0 or arr.shape[0] == 0:
        fail(name, owner, "a non-empty array", values)
    if not np.all(np.isfinite(arr)):
        fail(
            name,
            owner,
            "finite (censored values must be capped or counted by the caller)",
            described("an array with NaN or inf"),
        )
    return arr


BCA_MIN_SEEDS = 20
"""From this many seeds on, :func:`seed_interval` uses BCa; below it, Student-t."""


def seed_interval(values, *, level: float = 0.95, n_resamples: int = 5000, rng=0) -> Interval:
    """Interval of the mean of per-seed ``values`` (shape ``(n_seeds,)``, finite).

    - ``n < BCA_MIN_SEEDS``: Student-t, ``mean ± t_{1-α/2, n-1} · s / √n``
      (``scipy.stats.t.interval``); ``method="t"``.
    - ``n ≥ BCA_MIN_SEEDS``: bias-corrected and accelerated bootstrap (Efron 1987;
      ``scipy.stats.bootstrap(method="BCa")``) with ``n_resamples`` resamples from ``rng``;
      ``method="BCa"``.
    - one value, or all values equal: ``[v, v]`` with ``degenerate=True``, ``method="none"``.

    Raises ``ValueError`` for empty or non-finite input or a level outside (0, 1).
    """
    owner = "seed_interval"
    arr = _finite_1d(values, "values", owner)
    if arr.ndim != 1:
        fail("values", owner, "a 1-D array (one value per seed)", described(f"shape {arr.shape}"))
    level = check_float(level, "level", owner, low=0.0, high=1.0, low_open=True, high_open=True)
    n = int(arr.shape[0])
    est = float(arr.mean())
    if n == 1 or np.all(arr == arr[0]):
        return Interval(est, est, est, level, n, "none", True)
    if n < BCA_MIN_SEEDS:
        sem = float(arr.std(ddof=1) / np.sqrt(n))
        low, high = sps.t.interval(level, n - 1, loc=est, scale=sem)
        return Interval(est, float(low), float(high), level, n, "t", False)
    n_resamples = check_int(n_resamples, "n_resamples", owner, low=100)
    res = sps.bootstrap(
        (arr,),
        np.mean,
        n_resamples=n_resamples,
        confidence_level=level,
        method="BCa",
        vectorized=True,
        rng=as_generator(rng, "rng", owner),
    )
    ci = res.confidence_interval
    return Interval(est, float(ci.low), float(ci.high), level, n, "BCa", False)


def mean_ci(values, **kwargs) -> dict:
    """``{"mean", "low", "high", "method", "degenerate"}`` of :func:`seed_interval` over 1-D
    ``values`` (JSON-able)."""
    iv = seed_interval(np.asarray(values, dtype=float), **kwargs)
    return {
        "mean": iv.estimate,
        "low": iv.low,
        "high": iv.high,
        "method": iv.method,
        "degenerate": iv.degenerate,
    }


def mean_ci_columns(values, **kwargs) -> dict:
    """For ``values`` of shape ``(n_seeds, k)``: ``{"mean": [k], "low": [k], "high": [k]}``."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2:
        fail(
            "values",
            "mean_ci_columns",
            "a 2-D array (seeds, columns)",
            described(f"shape {arr.shape}"),
        )
    cis = [seed_interval(arr[:, j], **kwargs) for j in range(arr.shape[1])]
    return {
        "mean": [c.estimate for c in cis],
        "low": [c.low for c in cis],
        "high": [c.high for c in cis],
    }


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    if np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan")
    return float(sps.spearmanr(x, y).statistic)


def spearman_ci(
    x,
    y,
    *,
    groups,
    level: float = 0.95,
    n_resamples: int = 2000,
    rng=0,
) -> SpearmanResult:
    """Spearman ρ between ``x`` and ``y`` within seeds, averaged, with an interval over seeds.

    Parameters
    ----------
    x, y : arrays of shape ``(n_cells,)``
        E.g. the dropout rate of each cell of a sweep and the measure in that cell.
    groups : array of shape ``(n_cells,)``
        The seed (replicate) of each cell of a paired sweep. ``rho`` is the **mean of the
        within-seed Spearman ρ** (the trend seen under common random numbers, free of
        seed-to-seed offsets), and the interval is :func:`seed_interval` of the per-seed ρ,
        clipped to [−1, 1] (Student-t below ``BCA_MIN_SEEDS`` seeds, BCa from there;
        ``degenerate`` when every seed gives the same ρ, e.g. −1). A seed whose ``y`` (or
        ``x``) is constant has no monotone association: it counts as ρ = 0 (reported in
        ``n_constant``).
    level, n_resamples, rng : as in :func:`seed_interval`.

    Returns
    -------
    SpearmanResult
    """
    owner = "spearman_ci"
    xa = _finite_1d(x, "x", owner)
    ya = _finite_1d(y, "y", owner)
    if xa.ndim != 1 or ya.shape != xa.shape:
        allowed = f"a 1-D array of the same shape as x {xa.shape}"
        fail("y", owner, allowed, described(f"shape {ya.shape}"))
    level = check_float(level, "level", owner, low=0.0, high=1.0, low_open=True, high_open=True)
    n_resamples = check_int(n_resamples, "n_resamples", owner, low=100)
    rng = as_generator(rng, "rng", owner)
    g = np.asarray(groups)
    if g.shape != xa.shape:
        fail("groups", owner, f"an array of shape {xa.shape}", described(f"shape {g.shape}"))
    labels, inverse = np.unique(g, return_inverse=True)
    per_group = np.array(
        [_spearman(xa[inverse == k], ya[inverse == k]) for k in range(labels.shape[0])]
    )
    n_constant = int(np.sum(~np.isfinite(per_group)))
    per_group = np.where(np.isfinite(per_group), per_group, 0.0)
    iv = seed_interval(per_group, level=level, n_resamples=n_resamples, rng=rng)
    # ρ lies in [-1, 1]; a Student-t interval over few seeds can reach far beyond (±12.7 at
    # two seeds), which no reader can interpret: clip to the range of ρ (the sign of each
    # bound, hence every "above/below 0" rule, is unchanged).
    return SpearmanResult(
        iv.estimate,
        max(iv.low, -1.0),
        min(iv.high, 1.0),
        level,
        int(xa.shape[0]),
        int(labels.shape[0]),
        n_constant,
        iv.method,
        iv.degenerate,
    )


def simulated_coverage(
    n_seeds: int,
    *,
    n_sims: int = 2000,
    level: float = 0.95,
    n_resamples: int = 1000,
    rng=0,
) -> dict:
    """How often :func:`seed_interval` covers the true mean, by simulation at ``n_seeds``.

    Draws ``n_sims`` samples of ``n_seeds`` values from N(0, 1) (true mean 0) with ``rng`` and
    counts the intervals (level ``level``; BCa with ``n_resamples`` resamples from
    ``BCA_MIN_SEEDS`` seeds on) that contain 0. Returns ``{"n_seeds", "n_sims", "coverage",
    "se", "method"}``; ``se = sqrt(c (1 - c) / n_sims)`` is the Monte-Carlo standard error of
    the coverage ``c``. The Student-t interval is exact for normal data (coverage = level up
    to Monte-Carlo error); BCa is approximate and under-covers at small n (Efron 1987).
    """
    owner = "simulated_coverage"
    n_seeds = check_int(n_seeds, "n_seeds", owner, low=2)
    n_sims = check_int(n_sims, "n_sims", owner, low=10)
    level = check_float(level, "level", owner, low=0.0, high=1.0, low_open=True, high_open=True)
    gen = as_generator(rng, "rng", owner)
    samples = gen.standard_normal((n_sims, n_seeds))
    hits = 0
    method = "t"
    for k, x in enumerate(samples):
        iv = seed_interval(x, level=level, n_resamples=n_resamples, rng=k)
        method = iv.method
        hits += iv.low <= 0.0 <= iv.high
    c = hits / n_sims
    return {
        "n_seeds": n_seeds,
        "n_sims": n_sims,
        "coverage": c,
        "se": float(np.sqrt(c * (1.0 - c) / n_sims)),
        "method": method,
    }
