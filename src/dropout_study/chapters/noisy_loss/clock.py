"""The paired clock of chapter 3 (STUDY.md, "Clocks"), applied to the recorded validation
curves of one data set: targets from each seed's ``p = 0`` run, crossing times, restricted
times, per-seed ratios of restricted times, and the variants of the clock the robustness table
re-decides the verdict under.

Arrays: ``steps`` ``(E,)`` evaluated steps (shared by every run: fixed budget);
``ref`` ``(S, E)`` the validation losses (nats) of each seed's ``p = 0`` run; an arm's curves
``(S, E)``. A seed whose reference improves by less than ``min_improvement`` times its initial
loss has no reference: its ratios are left out (counted in ``no_reference``).

A *clock* is ``(kind, value, budget)``: ``kind = "fraction"`` puts the target at ``value`` of the
reference's improvement within ``budget`` steps (the primary: 0.9 and the full budget);
``kind = "offset"`` puts it ``value`` nats above the reference's best loss within the budget
(an absolute target, set per seed). Curves are cut at ``budget`` before anything is read.

A *ratio record* (:func:`ratio_record`) holds, over the seeds with a reference, the per-seed
ratios of restricted times ``min(T_arm, B) / min(T_ref, B)`` (``values``), which seeds tie
exactly (``ties``: both censored, or equal times) and how many runs of each side never reached
the target (``censored_arm``, ``censored_ref``). The findings kit turns ``values`` into a
geometric mean with a t interval on the logarithms.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from dropout_study.measures.time_to_target import (
    censored_median,
    crossing_time,
    reference_target,
    restricted_time,
    rmst,
)

__all__ = [
    "cut",
    "targets",
    "times",
    "ratio_record",
    "per_seed_spearman",
    "arm_table",
    "extrapolated_ratio",
]


def cut(steps: np.ndarray, curves: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` and ``curves`` (last axis: evaluations) up to and including ``budget``."""
    keep = np.asarray(steps) <= budget
    return np.asarray(steps)[keep], np.asarray(curves)[..., keep]


def targets(steps, ref, clock: tuple, min_improvement: float) -> np.ndarray:
    """One target per seed (nats, shape ``(S,)``) from the reference curves ``ref`` ``(S, E)``
    under ``clock = (kind, value, budget)``; NaN for a seed without a reference (its ``p = 0``
    run diverged, or improved by less than ``min_improvement · L_0``)."""
    kind, value, budget = clock
    _, r = cut(steps, ref, budget)
    out = np.full(r.shape[0], np.nan)
    for s, curve in enumerate(r):
        if not np.all(np.isfinite(curve)):
            continue
        best = reference_target(curve, 1.0, min_improvement=min_improvement)
        if np.isnan(best):  # improved too little: no reference
            continue
        if kind == "fraction":
            out[s] = reference_target(curve, value)
        elif best + value < curve[0]:  # an offset target below the start
            out[s] = best + value
    return out


def times(steps, curves, target, budget: int) -> np.ndarray:
    """Crossing times (steps, NaN = censored) of ``curves`` ``(S, ..., E)`` at the per-seed
    ``target`` ``(S,)``, each curve cut at ``budget``."""
    st, c = cut(steps, curves, budget)
    flat = c.reshape(c.shape[0], -1, c.shape[-1])
    pairs = zip(flat, target, strict=True)
    out = np.array([[crossing_time(st, row, t) for row in rows] for rows, t in pairs])
    return out.reshape(c.shape[:-1])


def ratio_record(arm: np.ndarray, ref: np.ndarray, has_ref: np.ndarray, budget: int) -> dict:
    """Per-seed ratios of restricted times ``arm / ref`` over the seeds with a reference
    (module docstring); ``arm``, ``ref``: crossing times ``(S,)``, NaN = censored."""
    a = restricted_time(arm[has_ref], budget)
    r = restricted_time(ref[has_ref], budget)
    return {
        "values": (a / r).tolist(),
        "ties": (a == r).tolist(),
        "censored_arm": int(np.isnan(arm[has_ref]).sum()),
        "censored_ref": int(np.isnan(ref[has_ref]).sum()),
        "n": int(has_ref.sum()),
    }


def per_seed_spearman(x, y) -> list[float]:
    """Spearman ρ between ``x`` ``(P,)`` and each row of ``y`` ``(S, P)``; NaN for a row with
    a NaN or a constant ``y`` (undefined: no ranks to correlate)."""
    out = []
    for row in np.asarray(y, dtype=float):
        if not np.all(np.isfinite(row)) or np.all(row == row[0]):
            out.append(float("nan"))
        else:
            out.append(float(sps.spearmanr(x, row).statistic))
    return out


def arm_table(t: np.ndarray, has_ref: np.ndarray, budget: int) -> dict:
    """Per arm (columns of crossing times ``t`` ``(S, A)``, seeds with a reference): the
    RMST to ``budget``, the number censored and the median ("not reached": ``None``)."""
    t = t[has_ref]
    cols = range(t.shape[1])
    if t.shape[0] == 0:
        return {
            "rmst": [None for _ in cols],
            "censored": [0 for _ in cols],
            "median": [None for _ in cols],
        }
    return {
        "rmst": [rmst(t[:, j], budget) for j in cols],
        "censored": [int(np.isnan(t[:, j]).sum()) for j in cols],
        "median": [censored_median(t[:, j]) for j in cols],
    }


def extrapolated_ratio(ks, t: np.ndarray, has_ref, budget: int) -> list[float]:
    """Exploratory: per seed, fit the restricted times at the ``K`` values ``ks`` (columns of
    ``t`` ``(S, nK)``) as ``a + b/K`` by least squares and return ``R(K = 1) / a`` (the
    slowdown the noise would explain as ``K → ∞``); NaN where ``a <= 0`` (a fit can give a
    non-positive intercept) or with fewer than 3 values of ``K``."""
    ks = np.asarray(ks, dtype=float)
    r = restricted_time(t[has_ref], budget)
    if ks.shape[0] < 3:
        return [float("nan")] * int(r.shape[0])
    out = []
    for row in r:
        b, a = np.polyfit(1.0 / ks, row, 1)
        out.append(float(row[list(ks).index(1.0)] / a) if a > 0 else float("nan"))
    return out
