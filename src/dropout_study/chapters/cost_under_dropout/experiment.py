"""Chapter 2 (``cost-under-dropout``): does dropout change the cost function?

The cost is one function, ``J(θ)`` = mean cross-entropy (nats) of the network in evaluation
mode on the training set. Under dropout a training step computes ``J(θ, m)``: the same loss
of the network thinned by a random keep mask ``m``. The gap ``R(θ) = E_m J(θ, m) − J(θ)`` is
dropout's **explicit regulariser** (Wei, Kakade & Ma 2020); the fluctuation of ``J(θ, m_t)``
around its mean is the **implicit** (noise) part.

Design
------
Data ``dataset`` (default ``moons``), split 60/20/20, standardised with training statistics.
Model ``MLP([d, *hidden, 1])``, ReLU, sigmoid head, inverted dropout with rate ``p`` on the
**last hidden layer only**, so the logit is ``z = Σ_j a_j m_j / (1 − p) + b`` with
``a_j = w_j h_j`` and the two theory formulas of :mod:`dropout_study.measures.dropout_theory`
are exact statements about this network. Training: full-batch plain gradient descent
(``SGD(lr)``), evaluated every step, stopped by early stopping on the validation loss
(``EarlyStopping(patience, min_delta, monitor="val")``, best parameters restored) with the
cap ``max_steps``; ``θ*_p`` is the network so trained with dropout at ``p``.

Pairing: replicate ``r`` uses ``seeds.replicate(seed, r)`` for every rate (same data, initial
weights, mask stream). Per replicate (:func:`run_cell`):

- **exact checks**: ``p = 0`` with dropout layers trains bit-identically to a network without
  dropout layers (``check_steps`` steps, and the same costs as the start of the ``p = 0``
  run); evaluation mode of the trained ``θ*_p`` network is the deterministic
  network (bit-identical to the same parameters without dropout layers, whatever the rng);
  the network's own training-mode loss for given masks equals the loss computed from the
  contributions (the formula the theory uses);
- **step check**: the number of steps in which the ``p = 0`` cost went up (must be 0);
- **R** by Monte Carlo (``n_theory_masks`` per-example masks, common random numbers across
  rates, the Bregman form ``E_m D_ℓ(z(m) ‖ z̄)``,
  :func:`~dropout_study.measures.dropout_theory.regulariser_mc_rates`) with the
  second-order formula and the single-drop slope, at ``θ*_0`` and at ``θ*_{primary_rate}``
  for every rate of ``curve_rates`` (the union of ``theory_rates`` and the trained rates),
  and at each ``θ*_p`` at its own ``p``;
- **alternatives that retrain**: the ``primary_rate`` network trained on each of
  ``alt_datasets`` and with each width of ``alt_widths`` (every hidden layer that wide), with
  R (at ``primary_rate``) and ``J`` at its ``θ*_p``; on each of ``control_alt_datasets`` (a
  subset of ``alt_datasets``) also the K-mask control (``K = 1`` and the largest ``K``, over
  that run's own window);
- **R along training** at ``primary_rate`` at the ``checkpoints`` of the ``p = 0`` and the
  ``p = primary_rate`` runs, with ``J`` there (steps the run did not reach are NaN);
- **the K-mask control** (:mod:`~dropout_study.chapters.cost_under_dropout.control`): the
  ``primary_rate`` network retrained from the same ``θ_0`` and mask stream by plain gradient
  descent whose every step averages the gradient over ``K`` fresh mask sets, for each ``K`` in
  ``control_ks``, up to the step where the ``primary_rate`` run stopped; its curve ``J(θ_t)``;
- **price** ``J(θ*_p) − J(θ*_0)`` on the training data (and on validation data), and
  ``J(θ*_p)`` itself;
- **up-shares**: share of steps in which ``J(θ_t)`` and ``J(θ_t, m_t)`` went up;
- **pitfall**: the ``p = 0`` network for ``pitfall_steps`` steps with a large step and with
  Adam: the share of steps in which its cost went up;
- replicate 0: ``n_masks`` values of ``J(θ*_p, m)`` at the primary rate (histogram).

Statistics: means over replicates with :func:`dropout_study.measures.stats.seed_interval`
(Student-t below 20 seeds, BCa from 20), per-seed values kept for the findings
(:mod:`~dropout_study.chapters.cost_under_dropout.evidence`); the verdict is
:mod:`dropout_study.chapters.cost_under_dropout.verdict`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dropout_study.chapters import cost
from dropout_study.chapters.cost_under_dropout import CHAPTER
from dropout_study.chapters.cost_under_dropout.cells import run_cell
from dropout_study.chapters.cost_under_dropout.summary import summarise
from dropout_study.parameters import complete, follow_member, keep_members
from dropout_study.sweep.runner import run_sweep
from dropout_study.validation import (
    bound,
    check_choice,
    check_float,
    check_float_list,
    check_int,
    check_int_list,
    fail,
    require,
)

__all__ = [
    "estimate",
    "CHAPTER",
    "DATASETS",
    "Result",
    "check_params",
    "run",
]

_VERSION = "v3"  # bump when a cell's meaning changes without a source change
DATASETS = ("moons", "circles", "breast_cancer")


# control_alt_datasets and primary_rate follow alt_datasets and dropout_rates when the user
# did not set them (params.resolve applies it): narrowing a list narrows what depends on it
DEPENDENT_DEFAULTS = {
    "control_alt_datasets": keep_members("control_alt_datasets", "alt_datasets"),
    "primary_rate": follow_member("primary_rate", "dropout_rates", lambda r: r > 0),
}


def check_params(params: dict) -> dict:
    """Check ranges and consistency; return a new dict with every parameter (defaults filled).

    Raises ``ValueError``/``TypeError`` with the project's template, e.g. "The 'dropout_rates'
    parameter of cost-under-dropout must be ...; got ...", naming the first offending one.
    """
    o = CHAPTER
    p = complete(params, o)
    out: dict[str, Any] = {"seed": check_int(p["seed"], "seed", o, low=0)}
    out["n_seeds"] = check_int(p["n_seeds"], "n_seeds", o, low=2)
    out["dataset"] = check_choice(p["dataset"], "dataset", o, DATASETS)
    out["hidden"] = check_int_list(
        p["hidden"], "hidden", o, low=1, order="any: layer widths, input to output"
    )
    rates = check_float_list(
        p["dropout_rates"], "dropout_rates", o, low=0.0, high=1.0, high_open=True, min_len=2
    )
    what = "a list that starts with 0.0 (the reference)"
    require(rates[0] == 0.0, "dropout_rates", o, what, p["dropout_rates"])
    out["dropout_rates"] = rates
    prim = check_float(
        p["primary_rate"], "primary_rate", o, low=0.0, high=1.0, low_open=True, high_open=True
    )
    what = "one of the dropout_rates above 0"
    require(prim in rates, "primary_rate", o, what, prim, detail=f"{rates[1:]}")
    out["primary_rate"] = prim
    out["margin"] = check_float(
        p["margin"], "margin", o, low=0.0, high=1.0, low_open=True, high_open=True
    )
    out["abs_margin"] = check_float(p["abs_margin"], "abs_margin", o, low=0.0, low_open=True)
    out["lr"] = check_float(p["lr"], "lr", o, low=0.0, low_open=True)
    out["max_steps"] = check_int(p["max_steps"], "max_steps", o, low=3)
    out["patience"] = check_int(p["patience"], "patience", o, low=1)
    out["min_delta"] = check_float(p["min_delta"], "min_delta", o, low=0.0)
    tr = check_float_list(
        p["theory_rates"], "theory_rates", o, low=0.0, high=1.0, low_open=True, high_open=True
    )
    out["theory_rates"] = tr
    out["n_theory_masks"] = check_int(p["n_theory_masks"], "n_theory_masks", o, low=10)
    ck = check_int_list(
        p["checkpoints"], "checkpoints", o, low=0, high=bound(out["max_steps"], "max_steps")
    )
    require(ck[0] == 0, "checkpoints", o, "a list starting with 0", p["checkpoints"])
    out["checkpoints"] = ck
    ks = check_int_list(p["control_ks"], "control_ks", o, low=1, min_len=2)
    what = "a list that starts with 1 (the chapter's own dropout run)"
    require(ks[0] == 1, "control_ks", o, what, p["control_ks"])
    out["control_ks"] = ks
    out["control_margin"] = check_float(
        p["control_margin"], "control_margin", o, low=1.0, low_open=True
    )
    alt = p["alt_datasets"]
    if isinstance(alt, str) or not isinstance(alt, list | tuple):
        fail("alt_datasets", o, "a list of " + ", ".join(DATASETS), alt, TypeError)
    for name in alt:
        check_choice(name, "alt_datasets", o, DATASETS)
    what = "other data sets than dataset: the alternatives retrain elsewhere"
    shown = f"dataset = {out['dataset']}"
    require(out["dataset"] not in alt, "alt_datasets", o, what, alt, detail=shown)
    require(len(set(alt)) == len(alt), "alt_datasets", o, "a list without repeats", alt)
    out["alt_datasets"] = list(alt)
    calt = p["control_alt_datasets"]
    if isinstance(calt, str) or not isinstance(calt, list | tuple):
        fail("control_alt_datasets", o, "a list of names from alt_datasets", calt, TypeError)
    what = "names from alt_datasets, without repeats"
    ok = all(name in alt for name in calt) and len(set(calt)) == len(calt)
    require(ok, "control_alt_datasets", o, what, calt, detail=f"alt_datasets = {list(alt)}")
    out["control_alt_datasets"] = list(calt)
    out["alt_widths"] = check_int_list(p["alt_widths"], "alt_widths", o, low=1, min_len=0)
    out["n_masks"] = check_int(p["n_masks"], "n_masks", o, low=100)
    for name in ("pitfall_lr", "pitfall_adam_lr"):
        out[name] = check_float(p[name], name, o, low=0.0, low_open=True)
    out["pitfall_steps"] = check_int(p["pitfall_steps"], "pitfall_steps", o, low=3)
    out["check_steps"] = check_int(p["check_steps"], "check_steps", o, low=1)
    return out


# ---------------------------------------------------------------------------------------------
# Measures
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# One cell: one replicate, every rate
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# The whole experiment
# ---------------------------------------------------------------------------------------------
@dataclass
class Result:
    """What :func:`run` returns.

    ``metrics`` is JSON-able (every number the verdict and the page use; see
    :func:`~dropout_study.chapters.cost_under_dropout.summary.summarise`). ``cells`` is
    the list of per-replicate dicts of :func:`run_cell` (curves of variable length: each run
    stops at its own step).
    """

    params: dict
    metrics: dict
    rates: np.ndarray
    cells: list
    seconds: dict = field(default_factory=dict)


def _cells(params: dict) -> list[dict]:
    common = {k: v for k, v in params.items() if k != "n_seeds"}
    return [{**common, "replicate": r} for r in range(params["n_seeds"])]


def run(params: dict, *, cache_dir="default", n_jobs: int | None = None) -> Result:
    """Run the chapter's experiment (see the module docstring).

    Parameters
    ----------
    params : dict
        The chapter's parameters (every one, as resolved from the notebook's parameters cell);
        checked first.
    cache_dir : path, None or "default"
        Where :func:`dropout_study.sweep.runner.run_sweep` keeps finished cells.
    n_jobs : int, optional
        Worker processes (default: ``DROPOUT_STUDY_JOBS`` or the number of CPUs).
    """
    params = check_params(params)
    t0 = time.perf_counter()
    sweep = run_sweep(
        run_cell,
        _cells(params),
        key=f"{CHAPTER}/{_VERSION}",
        n_jobs=n_jobs,
        desc=CHAPTER,
        cache_dir=cache_dir,
    )
    outs = sweep.results
    metrics = summarise(params, outs)
    seconds = {
        "wall": time.perf_counter() - t0,
        "cells": float(sum(o["seconds"] for o in outs)),
        "cells_cpu": float(sum(o.get("cpu_seconds", 0.0) for o in outs)),
        "cells_computed": sweep.n_computed,
        "cells_cached": sweep.n_cached,
    }
    return Result(
        params=params,
        metrics=metrics,
        rates=np.asarray(params["dropout_rates"]),
        cells=outs,
        seconds=seconds,
    )


def estimate(p: dict) -> tuple[float, float]:
    """(multiply-adds, bytes of the largest arrays) of one run with the resolved ``p``
    (:mod:`dropout_study.chapters.cost`), read before any kernel starts."""
    n, d, k = cost.data(p.get("dataset", "moons"))
    hidden = p.get("hidden", [32, 32])
    w = cost.weights(d, hidden, k)
    seeds = cost.n(p, "n_seeds", 8)
    train = 3 * cost.stopped(p, cap=4000) * n * w * (cost.n(p, "dropout_rates", 4) + 1)
    pitfall = 3 * 2 * cost.n(p, "pitfall_steps", 150) * n * w
    last = int(hidden[-1]) if hidden else 1
    theory = cost.n(p, "theory_rates", 8) * cost.n(p, "n_theory_masks", 400) * n * last * 2
    masks = cost.n(p, "n_masks", 1000) * n * w * (cost.n(p, "checkpoints", 6) + 1)
    ks = p.get("control_ks", [1, 4, 16, 64])
    n_alt = cost.n(p, "control_alt_datasets", 1)
    control = 3 * cost.stopped(p, cap=4000) * n * (w + (sum(ks) + n_alt * (1 + max(ks))) * last)
    alts = 3 * cost.stopped(p, cap=4000) * n * w * cost.n(p, "alt_datasets", 2)
    alts += 3 * cost.stopped(p, cap=4000) * n * w * cost.n(p, "alt_widths", 2)
    memory = max(
        cost.n(p, "n_theory_masks", 400) * n * last * 8, cost.n(p, "n_masks", 1000) * n * 8
    )
    memory = max(memory, max(ks) * n * last * 8 * 3)
    return seeds * (train + pitfall + theory + masks + control + alts), memory
