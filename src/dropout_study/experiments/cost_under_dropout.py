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
  rates, the single-drop sum as a control variate,
  :func:`~dropout_study.measures.dropout_theory.regulariser_mc_rates`) with the
  second-order formula and the single-drop slope, at ``θ*_0`` and at ``θ*_{primary_rate}``
  for every rate of ``curve_rates`` (the union of ``theory_rates`` and the trained rates),
  and at each ``θ*_p`` at its own ``p``;
- **R along training** at ``primary_rate`` at the ``checkpoints`` of the ``p = 0`` and the
  ``p = primary_rate`` runs (steps the run did not reach are NaN);
- **price** ``J(θ*_p) − J(θ*_0)`` on the training data (and on validation data);
- **up-shares**: share of steps in which ``J(θ_t)`` and ``J(θ_t, m_t)`` went up;
- **pitfall**: the ``p = 0`` network for ``pitfall_steps`` steps with a large step and with
  Adam: the share of steps in which its cost went up;
- replicate 0: ``n_masks`` values of ``J(θ*_p, m)`` at the primary rate (histogram).

Statistics: means over replicates with :func:`dropout_study.stats.seed_interval` (Student-t
below 20 seeds, BCa from 20). The verdict is :mod:`dropout_study.verdicts.cost_under_dropout`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from dropout_study import data as datasets
from dropout_study import seeds
from dropout_study.experiments import with_defaults
from dropout_study.experiments.cost_under_dropout_summary import summarise
from dropout_study.measures import dropout_theory as th
from dropout_study.mlp import MLP
from dropout_study.optim import SGD, Adam
from dropout_study.sweep import run_sweep
from dropout_study.training import EarlyStopping, TrainingDiverged, train
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
    "CHAPTER",
    "DATASETS",
    "DEFAULTS",
    "Result",
    "check_params",
    "run",
    "run_cell",
    "up_fraction",
    "mask_losses",
    "last_layer_model",
]

CHAPTER = "cost-under-dropout"
_VERSION = "v2"  # bump when a cell's meaning changes without a source change
DATASETS = ("moons", "circles", "breast_cancer")

DEFAULTS: dict = {
    "seed": 0,
    "n_seeds": 8,
    "dataset": "moons",
    "hidden": [32, 32],
    "dropout_rates": [0.0, 0.1, 0.2, 0.5],
    "primary_rate": 0.5,
    "margin": 0.01,
    "lr": 0.2,
    "max_steps": 4000,
    "patience": 100,
    "min_delta": 1e-5,
    "theory_rates": [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5],
    "n_theory_masks": 400,
    "checkpoints": [0, 25, 50, 100, 200, 400],
    "n_masks": 1000,
    "pitfall_lr": 1.0,
    "pitfall_adam_lr": 0.05,
    "pitfall_steps": 150,
    "check_steps": 50,
}
"""The book profile: the same values as the chapter's ``parameters`` cell."""


def _increasing(values, name, o, raw):
    ok = all(b > a for a, b in zip(values, values[1:], strict=False))
    require(ok, name, o, "increasing and without repeats", raw)


def check_params(params: dict) -> dict:
    """Check ranges and consistency; return a new dict with every parameter (defaults filled).

    Raises ``ValueError``/``TypeError`` with the project's template, e.g. "The 'dropout_rates'
    parameter of cost-under-dropout must be ...; got ...", naming the first offending one.
    """
    o = CHAPTER
    p = with_defaults(o, params, DEFAULTS)
    out = {"seed": check_int(p["seed"], "seed", o, low=0)}
    out["n_seeds"] = check_int(p["n_seeds"], "n_seeds", o, low=2)
    out["dataset"] = check_choice(p["dataset"], "dataset", o, DATASETS)
    out["hidden"] = check_int_list(p["hidden"], "hidden", o, low=1)
    rates = check_float_list(
        p["dropout_rates"], "dropout_rates", o, low=0.0, high=1.0, high_open=True, min_len=2
    )
    what = "a list that starts with 0.0 (the reference)"
    require(rates[0] == 0.0, "dropout_rates", o, what, p["dropout_rates"])
    _increasing(rates, "dropout_rates", o, p["dropout_rates"])
    out["dropout_rates"] = rates
    prim = check_float(
        p["primary_rate"], "primary_rate", o, low=0.0, high=1.0, low_open=True, high_open=True
    )
    what = "one of the dropout_rates above 0"
    require(prim in rates, "primary_rate", o, what, prim, detail=f"{rates[1:]}")
    out["primary_rate"] = prim
    out["margin"] = check_float(p["margin"], "margin", o, low=0.0, low_open=True)
    out["lr"] = check_float(p["lr"], "lr", o, low=0.0, low_open=True)
    out["max_steps"] = check_int(p["max_steps"], "max_steps", o, low=3)
    out["patience"] = check_int(p["patience"], "patience", o, low=1)
    out["min_delta"] = check_float(p["min_delta"], "min_delta", o, low=0.0)
    tr = check_float_list(
        p["theory_rates"], "theory_rates", o, low=0.0, high=1.0, low_open=True, high_open=True
    )
    _increasing(tr, "theory_rates", o, p["theory_rates"])
    out["theory_rates"] = tr
    out["n_theory_masks"] = check_int(p["n_theory_masks"], "n_theory_masks", o, low=10)
    ck = check_int_list(
        p["checkpoints"], "checkpoints", o, low=0, high=bound(out["max_steps"], "max_steps")
    )
    require(ck[0] == 0, "checkpoints", o, "a list starting with 0", p["checkpoints"])
    _increasing(ck, "checkpoints", o, p["checkpoints"])
    out["checkpoints"] = ck
    out["n_masks"] = check_int(p["n_masks"], "n_masks", o, low=100)
    for name in ("pitfall_lr", "pitfall_adam_lr"):
        out[name] = check_float(p[name], name, o, low=0.0, low_open=True)
    out["pitfall_steps"] = check_int(p["pitfall_steps"], "pitfall_steps", o, low=3)
    out["check_steps"] = check_int(p["check_steps"], "check_steps", o, low=1)
    return out


# ---------------------------------------------------------------------------------------------
# Measures
# ---------------------------------------------------------------------------------------------
def up_fraction(curve) -> float:
    """Share of consecutive pairs in which ``curve`` went up: ``mean_t [c[t+1] > c[t]]``.

    ``curve``: finite values of shape ``(T,)``, ``T >= 2``. Returns a float in [0, 1].
    """
    c = np.asarray(curve, dtype=float)
    if c.ndim != 1 or c.shape[0] < 2:
        fail("curve", "up_fraction", "a 1-D array of at least 2 values", f"shape {c.shape}")
    if not np.all(np.isfinite(c)):
        fail("curve", "up_fraction", "finite", "an array with NaN or inf")
    return float(np.mean(np.diff(c) > 0))


def mask_losses(model: MLP, X, y, n_masks: int, rng) -> np.ndarray:
    """``J(θ, m_k)`` for ``k = 1..n_masks`` independent mask sets drawn from ``rng``.

    ``model``: an MLP with dropout (its current parameters are ``θ``); ``X`` ``(n, d)``,
    ``y`` its targets. Returns ``(n_masks,)`` float64: the mean data loss over the ``n``
    samples in training mode (nats), one value per mask set.
    """
    n_masks = check_int(n_masks, "n_masks", "mask_losses", low=1)
    return np.array([model.loss(X, y, training=True, rng=rng) for _ in range(n_masks)])


def last_layer_model(sizes, p, head: str, rng) -> MLP:
    """``MLP(sizes)`` with inverted dropout at rate ``p`` on the last hidden layer only
    (identity dropout layers before it); ``p=None`` builds no dropout layers at all."""
    n_hidden = len(sizes) - 2
    rates = None if p is None else [0.0] * (n_hidden - 1) + [float(p)]
    return MLP(list(sizes), head=head, dropout=rates, rng=rng)


def _contribution_check(model: MLP, X, y, rng, n_draws: int = 3) -> float:
    """Largest |network training-mode loss − loss from the contributions| over a few masks."""
    a, b = th.last_layer_contributions(model, X)
    p = model.dropout[-1]
    worst = 0.0
    for _ in range(n_draws):
        masks = model.draw_masks(X.shape[0], rng)
        z = (a * masks[-1]).sum(axis=1) / (1.0 - p) + b
        direct = float(np.mean(th.loss_value(z, y)))
        worst = max(worst, abs(model.loss(X, y, training=True, masks=masks) - direct))
    return worst


# ---------------------------------------------------------------------------------------------
# One cell: one replicate, every rate
# ---------------------------------------------------------------------------------------------
def _train(cell, ds, p, optimizer, streams, what, *, stop=True, n_steps=None, checkpoints=()):
    sizes = [ds.n_features, *cell["hidden"], 1]
    model = last_layer_model(sizes, p, ds.head, streams.init)
    rule = EarlyStopping(cell["patience"], cell["min_delta"], monitor="val") if stop else None
    try:
        hist = train(
            model,
            ds.X_train,
            ds.y_train,
            optimizer=optimizer,
            n_steps=n_steps or cell["max_steps"],
            X_val=ds.X_val,
            y_val=ds.y_val,
            eval_every=1,
            mask_rng=streams.masks,
            checkpoints=checkpoints,
            stop=rule,
        )
    except TrainingDiverged as exc:
        raise ValueError(
            f"The '{what}' parameter of {CHAPTER} must be small enough for training not to "
            f"diverge; got {cell[what]!r}."
        ) from exc
    return model, hist


def _r_at(model, X, y, rates, n_masks, rng) -> dict:
    a, b = th.last_layer_contributions(model, X)
    est, se = th.regulariser_mc_rates(a, b, y, rates, n_masks=n_masks, rng=rng)
    s = th.single_drop_slope(a, b, y)
    return {
        "measured": est,
        "se": se,
        "second_order": np.array([th.regulariser_second_order(a, b, y, p) for p in rates]),
        "slope": np.asarray(rates) * s,
    }


def run_cell(cell: dict) -> dict:
    """Train and measure one replicate (see the module docstring); a dict of arrays.

    ``cell`` holds the checked parameters (without ``n_seeds``) plus ``replicate`` (int).
    Deterministic given the cell.
    """
    c0 = time.process_time()
    t0 = time.perf_counter()
    ss = seeds.replicate(cell["seed"], cell["replicate"])
    st = seeds.streams(ss)
    ds = datasets.load(cell["dataset"], rng=st.split)
    if ds.head != "sigmoid":
        fail("dataset", CHAPTER, "a binary data set (one logit)", cell["dataset"])
    X, y = ds.X_train, np.asarray(ds.y_train, dtype=np.float64).ravel()
    rates, prim = cell["dropout_rates"], cell["primary_rate"]
    curve_rates = sorted(set(cell["theory_rates"]) | set(rates[1:]))
    r_rng, ck_rng, hist_rng, check_rng = st.measure.spawn(4)
    out: dict = {"curve_rates": np.asarray(curve_rates), "n_train": int(X.shape[0])}
    models, hists = {}, {}
    for p in rates:
        ck = cell["checkpoints"] if p in (0.0, prim) else ()
        models[p], hists[p] = _train(
            cell, ds, p, SGD(cell["lr"]), seeds.streams(ss), "lr", checkpoints=ck
        )
    j0 = models[0.0].loss(X, y)
    v0 = models[0.0].loss(ds.X_val, ds.y_val)
    out["eval_curve"] = [hists[p].train_loss for p in rates]  # J(θ_t), variable length
    out["train_curve"] = [hists[p].step_loss for p in rates]  # J(θ_t, m_t)
    out["eval_up"] = np.array([up_fraction(c) for c in out["eval_curve"]])
    out["train_up"] = np.array([up_fraction(c) for c in out["train_curve"]])
    out["stopped_at"] = np.array([hists[p].stopped_at for p in rates])
    out["best_step"] = np.array([hists[p].best_step for p in rates])
    out["capped"] = np.array([hists[p].capped for p in rates])
    out["price"] = np.array([models[p].loss(X, y) - j0 for p in rates])
    out["price_val"] = np.array([models[p].loss(ds.X_val, ds.y_val) - v0 for p in rates])
    out["p0_eval_up_steps"] = int(np.sum(np.diff(hists[0.0].train_loss) > 0))
    out["p0_steps"] = int(hists[0.0].stopped_at)

    # exact checks
    n_check = cell["check_steps"]
    pair = []
    for p in (None, 0.0):
        pair.append(
            _train(
                cell, ds, p, SGD(cell["lr"]), seeds.streams(ss), "lr", stop=False, n_steps=n_check
            )
        )
    (plain, plain_hist), (zero, zero_hist) = pair
    out["p0_identical"] = bool(
        np.array_equal(plain_hist.step_loss, zero_hist.step_loss)
        and np.array_equal(plain_hist.train_loss, zero_hist.train_loss)
        and np.array_equal(plain.get_params(), zero.get_params())
        and np.array_equal(zero_hist.train_loss, hists[0.0].train_loss[: n_check + 1])
    )
    det = plain.copy()
    det.set_params(models[prim].get_params())
    z_eval = models[prim].forward(X)
    out["eval_deterministic"] = bool(
        np.array_equal(z_eval, det.forward(X))
        and np.array_equal(z_eval, models[prim].forward(X, training=False, rng=check_rng))
    )
    out["contribution_diff"] = _contribution_check(models[prim], X, y, check_rng)

    # R at θ*_0 and θ*_primary over the curve rates; at each θ*_p at its own p
    out["at_theta0"] = _r_at(models[0.0], X, y, curve_rates, cell["n_theory_masks"], r_rng)
    out["at_primary"] = _r_at(models[prim], X, y, curve_rates, cell["n_theory_masks"], r_rng)
    own = [_r_at(models[p], X, y, [p], cell["n_theory_masks"], r_rng) for p in rates[1:]]
    out["own"] = {k: np.array([0.0] + [o[k][0] for o in own]) for k in own[0]}

    # R at the primary rate along training (checkpoints)
    along = {}
    for p in (0.0, prim):
        vals = []
        for step in cell["checkpoints"]:
            theta = hists[p].checkpoints.get(step)
            if theta is None:
                vals.append(np.nan)
                continue
            net = models[p].copy()
            net.set_params(theta)
            a, b = th.last_layer_contributions(net, X)
            est, _ = th.regulariser_mc_rates(
                a, b, y, [prim], n_masks=cell["n_theory_masks"], rng=ck_rng
            )
            vals.append(float(est[0]))
        along[p] = np.array(vals)
    out["along_p0"], out["along_primary"] = along[0.0], along[prim]

    # the pitfall: p = 0 with a large step and with Adam, a fixed small budget
    pit = {}
    for name, opt, what in (
        ("large_step", SGD(cell["pitfall_lr"]), "pitfall_lr"),
        ("adam", Adam(cell["pitfall_adam_lr"]), "pitfall_adam_lr"),
    ):
        _, h = _train(
            cell, ds, 0.0, opt, seeds.streams(ss), what, stop=False, n_steps=cell["pitfall_steps"]
        )
        pit[name] = h.train_loss
    out["pitfall_curve"] = pit
    out["pitfall_up"] = {k: up_fraction(v) for k, v in pit.items()}
    if cell["replicate"] == 0:
        mp = models[prim]
        out["hist"] = {
            "samples": mask_losses(mp, X, y, cell["n_masks"], hist_rng),
            "eval": mp.loss(X, y),
        }
    out["seconds"] = time.perf_counter() - t0
    out["cpu_seconds"] = time.process_time() - c0  # this process only (BLAS single-threaded)
    return out


# ---------------------------------------------------------------------------------------------
# The whole experiment
# ---------------------------------------------------------------------------------------------
@dataclass
class Result:
    """What :func:`run` returns.

    ``metrics`` is JSON-able (every number the verdict and the page use; see
    :func:`~dropout_study.experiments.cost_under_dropout_summary.summarise`). ``cells`` is
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
        The chapter's parameters (missing ones take :data:`DEFAULTS`); checked first.
    cache_dir : path, None or "default"
        Where :func:`dropout_study.sweep.run_sweep` keeps finished cells.
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
