"""How long does training take? The paired clock: time-to-target with censoring (chapter 3).

"Training takes longer" needs a clock and a finish line. The clock is the number of parameter
updates (steps); the finish line is a *target* on the validation loss. Every timed run trains
on the same fixed budget of ``B`` steps, with no early stopping, and is evaluated at steps
``t_0 = 0 < t_1 < … < t_E <= B``.

Definitions
-----------
For one run with evaluated steps ``t_i`` (steps) and validation losses ``L_i`` (nats; ``L_0``
at the shared initialisation):

- **reference target** (:func:`reference_target`): the target of every run of a seed comes
  from that seed's ``p = 0`` run, at a fraction ``f`` of its improvement within the budget,
  ``c = L_0 − f · Δ`` with ``Δ = L_0 − min_i L_i``. A reference that improves by less than
  ``min_improvement · L_0`` gives no target (NaN): that seed is counted and left out. A run
  that stalls on a plateau cannot move its own finish line: the line is the reference's.
- **crossing time** (:func:`crossing_time`): the first ``i`` with ``L_i <= c``, interpolated
  linearly between the two evaluations around it,
  ``T = t_{i−1} + (L_{i−1} − c) / (L_{i−1} − L_i) · (t_i − t_{i−1})`` (``T = t_0`` when
  ``L_0 <= c``), so that a run crossing within 5–7 steps is not timed in whole-step jumps.
  A run that never reaches ``c`` — one stalled on a plateau too — is *censored*: NaN.
- **restricted time** (:func:`restricted_time`): ``min(T, B)``, with a censored run at ``B``:
  never scored as fast.
- **Kaplan–Meier curve** (:func:`kaplan_meier`) of the times of one arm across seeds:
  ``S(t) = Π_{t_j <= t} (1 − d_j / n_j)`` (``d_j`` runs reach the target at ``t_j`` out of
  the ``n_j`` not yet at target and not yet censored). With every run censored at ``B`` it is
  the share of runs still above the target at ``t``.
- **RMST** (:func:`rmst`), the restricted mean time to target: ``∫_0^B S(t) dt``; with every
  run censored at ``B`` it equals the mean of the restricted times.

Units: steps (parameter updates) for times, nats for losses, a plain fraction for ``f``.

Worked example: ``t = [0, 10, 20, 30]``, reference ``L = [1.0, 0.6, 0.2, 0.3]``: ``Δ = 0.8``;
at ``f = 0.9`` the target is ``c = 0.28``, crossed between steps 10 and 20 at
``T = 10 + (0.6 − 0.28) / (0.6 − 0.2) · 10 = 18``. A run ``[1.0, 0.5, 0.4, 0.4]`` stalls above
0.28: censored, restricted time ``B = 30``, ratio to the reference 30/18.

Pitfall: a target relative to each run's *own* improvement (version 2 of this study) scores
a run that stalls early as the fastest of its seed (its own improvement is small, so its
own finish line is close). The reference target is the same line for every arm of a seed.
"""

from __future__ import annotations

import numpy as np

from dropout_study.validation import check_float, described, fail

__all__ = [
    "reference_target",
    "crossing_time",
    "restricted_time",
    "censored_median",
    "kaplan_meier",
    "rmst",
]


def _curve(eval_steps, values, owner: str) -> tuple[np.ndarray, np.ndarray]:
    steps = np.asarray(eval_steps, dtype=float)
    vals = np.asarray(values, dtype=float)
    if steps.ndim != 1 or steps.shape[0] == 0:
        fail(
            "eval_steps", owner, "a non-empty 1-D array of steps", described(f"shape {steps.shape}")
        )
    if vals.shape != steps.shape:
        fail("values", owner, f"an array of shape {steps.shape}", described(f"shape {vals.shape}"))
    if np.any(np.diff(steps) <= 0):
        fail("eval_steps", owner, "strictly increasing", eval_steps)
    return steps, vals


def reference_target(values, fraction: float, *, min_improvement: float = 0.0) -> float:
    """The target ``L_0 − fraction · (L_0 − min L)`` (nats) from a reference (``p = 0``)
    validation-loss curve ``values`` (shape ``(E,)``, ``values[0]`` at initialisation).

    NaN (no reference) when the improvement ``L_0 − min L`` is below
    ``min_improvement · L_0`` or not positive. ``fraction`` in (0, 1]; ``min_improvement``
    in [0, 1). Raises ``ValueError`` naming the argument otherwise."""
    owner = "reference_target"
    vals = np.asarray(values, dtype=float)
    if vals.ndim != 1 or vals.shape[0] == 0 or not np.all(np.isfinite(vals)):
        fail("values", owner, "a non-empty 1-D array of finite losses", values)
    f = check_float(fraction, "fraction", owner, low=0.0, high=1.0, low_open=True)
    mi = check_float(min_improvement, "min_improvement", owner, low=0.0, high=1.0, high_open=True)
    gain = vals[0] - vals.min()
    if gain <= 0 or gain < mi * vals[0]:
        return float("nan")
    return float(vals[0] - f * gain)


def crossing_time(eval_steps, values, target: float) -> float:
    """First time the curve ``values`` (shape ``(E,)``, nats, at ``eval_steps``) reaches
    ``target`` (``value <= target``), interpolated linearly between the evaluations around
    the crossing (module docstring); ``eval_steps[0]`` if the first value is already at the
    target; NaN (censored) if no value reaches it or ``target`` is NaN. NaN values (a run
    that diverged) never reach a target."""
    steps, vals = _curve(eval_steps, values, "crossing_time")
    if target is None or np.isnan(target):
        return float("nan")
    target = check_float(target, "target", "crossing_time")
    with np.errstate(invalid="ignore"):
        hit = np.flatnonzero(vals <= target)
    if hit.size == 0:
        return float("nan")
    i = int(hit[0])
    if i == 0:
        return float(steps[0])
    a, b = vals[i - 1], vals[i]  # a > target >= b
    return float(steps[i - 1] + (a - target) / (a - b) * (steps[i] - steps[i - 1]))


def restricted_time(times, budget: float) -> np.ndarray:
    """``min(T, budget)`` for ``times`` (any shape, steps, NaN = censored → ``budget``)."""
    budget = check_float(budget, "budget", "restricted_time", low=0.0, low_open=True)
    t = np.asarray(times, dtype=float)
    return np.where(np.isnan(t), budget, np.minimum(t, budget))


def censored_median(times) -> float | None:
    """Median of ``times`` (1-D, steps, NaN = censored, later than every observed time);
    ``None`` ("not reached") when the median falls on a censored run."""
    t = np.asarray(times, dtype=float)
    if t.ndim != 1 or t.shape[0] == 0:
        fail("times", "censored_median", "a non-empty 1-D array", described(f"shape {t.shape}"))
    m = float(np.median(np.where(np.isnan(t), np.inf, t)))
    return m if np.isfinite(m) else None


def kaplan_meier(times, censored_at) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan–Meier estimate of the share of runs not yet at the target.

    Parameters
    ----------
    times : (n,) array of steps; NaN = censored (never reached the target)
    censored_at : float or (n,) array — when each censored run left observation (the budget
        ``B`` for a run that trained all of it); a time later than its run's ``censored_at``
        is censored too.

    Returns
    -------
    (event_steps, survival) : the distinct steps ``t_j`` at which a run reached the target,
    increasing, shape ``(J,)``, and ``S(t_j)`` just after each, shape ``(J,)``; ``S`` is 1
    before ``t_0`` and constant between events. A run reaching the target at step ``t`` is
    still at risk at ``t`` while a run censored at ``t`` is not counted among those
    reaching it (the usual convention: events before censorings at tied times).
    """
    owner = "kaplan_meier"
    t = np.asarray(times, dtype=float)
    if t.ndim != 1 or t.shape[0] == 0:
        fail("times", owner, "a non-empty 1-D array", described(f"shape {t.shape}"))
    c = np.broadcast_to(np.asarray(censored_at, dtype=float), t.shape)
    if not np.all(np.isfinite(c)):
        fail("censored_at", owner, "finite steps", censored_at)
    event = np.isfinite(t) & (t <= c)
    exit_time = np.where(event, t, c)
    steps = np.unique(exit_time[event])
    surv = np.empty(steps.shape)
    s = 1.0
    for k, tj in enumerate(steps):
        at_risk = int(np.sum(exit_time >= tj))
        d = int(np.sum(event & (exit_time == tj)))
        s *= 1.0 - d / at_risk
        surv[k] = s
    return steps, surv


def rmst(times, budget: float, censored_at=None) -> float:
    """Restricted mean time to target: ``∫_0^budget S(t) dt`` of :func:`kaplan_meier`
    (steps). ``censored_at`` defaults to ``budget`` (every run trained the whole budget),
    in which case the RMST is the mean of :func:`restricted_time`."""
    budget = check_float(budget, "budget", "rmst", low=0.0, low_open=True)
    steps, surv = kaplan_meier(times, budget if censored_at is None else censored_at)
    keep = steps < budget
    edges = np.r_[0.0, steps[keep], budget]
    heights = np.r_[1.0, surv[keep]]
    return float(np.sum(heights * np.diff(edges)))
