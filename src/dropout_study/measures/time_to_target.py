"""How long does training take? Time-to-target with censoring (chapter 3).

"Training takes longer" needs a clock and a finish line. The clock is the number of parameter
updates (steps); the finish line is a *target* on the validation loss, checked at the steps
where the loss was evaluated. A run that never crosses the line is *censored*: it is counted
and ranked, never dropped (dropping it would make the slowest setting look fast).

Definitions
-----------
For one run with evaluated steps ``t_0 < t_1 < … < t_E`` (ints, steps) and validation losses
``L_0, …, L_E`` (nats; ``L_0`` at the shared initialisation):

- **absolute target** ``c`` (nats): the time is ``T(c) = min{t_i : L_i <= c}``, or censored
  (NaN) if no evaluated loss reaches ``c`` before the run stopped (its stopping rule fired or
  it hit the step cap);
- **own-improvement target** with fraction ``f`` in (0, 1]: the run's own improvement is
  ``Δ = L_0 - min_i L_i`` and its target ``c_f = L_0 - f·Δ``; the time is ``T(c_f)``. It is
  always reached when ``Δ > 0`` (at the best step at the latest), so it measures how fast a
  run gets *most of the way to where it levels off*, not where it levels off; a run that never
  improved (``Δ <= 0``) is censored.

Censoring rule: a censored time is larger than every observed time (for ranks it becomes
:func:`censored_values`' ``cap``, any value above every observed time giving the same ranks;
censored runs tie with each other); a median that falls on a censored run is "not reached"
(``None``); :func:`reached_fraction` — the survival-style curve — counts a run only once its
time has passed, so censored runs keep the curve below 1 and are shown as such.

Units: steps (parameter updates) for times, nats for losses, a plain fraction for ``f``.

Worked example: ``t = [0, 10, 20, 30]`` and ``L = [1.0, 0.6, 0.2, 0.3]``: ``Δ = 0.8``; at
``f = 0.5`` the target is 0.6, reached at step 10; at ``f = 0.9`` it is 0.28, reached at step
20; the absolute target 0.1 is censored (NaN).

Pitfall: a relative target and an absolute one answer different questions. A run that levels
off higher can reach 90 % of its *own* improvement early and never reach a fixed low loss;
"slower" (relative) and "converges higher" (best loss) are therefore reported apart.
"""

from __future__ import annotations

import numpy as np

from dropout_study.validation import check_float, described, fail

__all__ = [
    "first_reach",
    "own_target",
    "steps_to_own_fraction",
    "censored_values",
    "censored_median",
    "reached_fraction",
]


def _curve(eval_steps, values, owner: str) -> tuple[np.ndarray, np.ndarray]:
    steps = np.asarray(eval_steps)
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


def first_reach(eval_steps, values, target: float, *, below: bool = True) -> float:
    """First step in ``eval_steps`` (shape ``(E,)``) whose value reaches ``target``.

    ``below=True``: ``value <= target`` (a loss, nats); ``below=False``: ``value >= target``
    (an accuracy). Returns the step as a float, or NaN if no value reaches it (censored).
    NaN values never reach a target.
    """
    owner = "first_reach"
    steps, vals = _curve(eval_steps, values, owner)
    target = check_float(target, "target", owner)
    with np.errstate(invalid="ignore"):
        hit = vals <= target if below else vals >= target
    return float(steps[np.argmax(hit)]) if hit.any() else float("nan")


def own_target(values, fraction: float) -> float:
    """``L_0 - fraction · (L_0 - min L)`` for a validation-loss curve ``values`` (``(E,)``,
    nats, ``values[0]`` at initialisation); NaN if the run never improved (``min L >= L_0``).
    """
    owner = "own_target"
    vals = np.asarray(values, dtype=float)
    if vals.ndim != 1 or vals.shape[0] == 0 or not np.all(np.isfinite(vals)):
        fail("values", owner, "a non-empty 1-D array of finite losses", values)
    f = check_float(fraction, "fraction", owner, low=0.0, high=1.0, low_open=True)
    gain = vals[0] - vals.min()
    return float("nan") if gain <= 0 else float(vals[0] - f * gain)


def steps_to_own_fraction(eval_steps, values, fraction: float) -> float:
    """Steps until the validation loss first gets ``fraction`` of the way from its initial
    value to its best (:func:`own_target`); NaN (censored) if the run never improved."""
    steps, vals = _curve(eval_steps, values, "steps_to_own_fraction")
    c = own_target(vals, fraction)
    return float("nan") if np.isnan(c) else first_reach(steps, vals, c)


def censored_values(times, cap: float) -> np.ndarray:
    """``times`` (any shape, steps, NaN = censored) with NaN replaced by ``cap``, which must
    exceed every observed time (so ranks put censored runs last, tied)."""
    t = np.asarray(times, dtype=float)
    observed = t[np.isfinite(t)]
    cap = check_float(cap, "cap", "censored_values")
    if observed.size and cap <= observed.max():
        fail("cap", "censored_values", f"> every observed time ({observed.max():g})", cap)
    return np.where(np.isnan(t), cap, t)


def censored_median(times) -> float | None:
    """Median of ``times`` (1-D, steps, NaN = censored and larger than every observed time);
    ``None`` if the median falls on a censored run."""
    t = np.asarray(times, dtype=float)
    if t.ndim != 1 or t.shape[0] == 0:
        fail("times", "censored_median", "a non-empty 1-D array", described(f"shape {t.shape}"))
    m = float(np.median(np.where(np.isnan(t), np.inf, t)))
    return m if np.isfinite(m) else None


def reached_fraction(times, grid) -> np.ndarray:
    """Share of runs whose time is ``<= t`` for each ``t`` in ``grid`` (shape ``(G,)``).

    ``times`` has shape ``(n_runs,)`` (steps, NaN = censored). A censored run never counts, so
    the curve ends at ``1 - (censored share)``: the survival-style curve of time-to-target
    (``1 - reached_fraction`` is the share of runs still above the target).
    """
    t = np.asarray(times, dtype=float)
    g = np.asarray(grid, dtype=float)
    if t.ndim != 1 or t.shape[0] == 0:
        fail("times", "reached_fraction", "a non-empty 1-D array", described(f"shape {t.shape}"))
    with np.errstate(invalid="ignore"):
        return np.mean(t[None, :] <= g[:, None], axis=1)
