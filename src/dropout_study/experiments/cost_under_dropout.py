"""Chapter 2 (``cost-under-dropout``): does dropout change the cost function?

The cost is one function, ``J(θ)`` = mean data loss of the network in evaluation mode on the
training set (nats). Under dropout the number computed in a training step is ``J(θ, m)``: the
same loss of the network thinned by a random keep mask ``m``. This module measures how the two
relate along one training trajectory and at a fixed ``θ``.

Design
------
Data: ``dataset`` (default ``moons``), split 60/20/20 and standardised with training
statistics; the cost is measured on the training split (the data gradient descent sees).
Model: ``MLP([d, *hidden, k])``, ReLU, inverted dropout with rate ``p`` after every hidden
layer, the head that fits the data set (sigmoid / softmax, mean cross-entropy in nats).
Training: **full-batch plain gradient descent** (``SGD(lr)``, no momentum), ``n_steps``
updates, so the only randomness in a step is the dropout mask. At every step ``t`` the
training loop records ``J(θ_t, m_t)`` (training mode) and ``J(θ_t)`` (evaluation mode) of the
same parameters (:func:`dropout_study.training.train` with ``eval_every=1``).

Pairing (common random numbers): replicate ``r`` uses ``seeds.replicate(seed, r)``
and :func:`dropout_study.seeds.streams` of it for every rate, so runs that differ only in ``p``
share the data, the initial weights and the mask stream. One sweep *cell* is one replicate
with every rate in it. Per replicate:

- **up-fractions**: the share of steps in which each curve went up,
  ``mean_t [c_{t+1} > c_t]``, for the training-mode and evaluation-mode curves of each rate;
- **gap** at the end of each dropout run: ``E_m J(θ_T, m) − J(θ_T)`` from ``n_gap_masks``
  masks (nats), the implicit regulariser at the point training reached;
- **gap curve**: the same gap at one fixed ``θ`` — the end of the ``p = 0`` run — for every
  rate in ``gap_rates``, with the same uniform numbers behind the masks of every rate;
- **p = 0 checks**: a network built with ``dropout=None`` (no dropout layers at all) trained
  with the same streams gives bit-identical losses and parameters; at ``p = 0`` the
  training-mode loss equals the evaluation-mode loss bit for bit; the number of steps in
  which the ``p = 0`` cost went up (the step-size check: it must be 0);
- **pitfall**: the ``p = 0`` network trained with a large step (``SGD(pitfall_lr)``) and with
  Adam (``pitfall_adam_lr``): the share of steps in which its cost went up.

Replicate 0 also draws ``n_masks`` masks at the end of every dropout run (the histogram of
``J(θ, m)``) and checks inverted dropout: over ``n_masks`` masks at rate ``max(p)``, the Monte
Carlo mean of every pre-activation of the layer right after the first dropout layer must
equal its evaluation-mode value (z-score within a Bonferroni bound at family level 1 %); the
same statistic at the logits shows that after a second non-linearity it need not.

Statistics: per rate, means over replicates with 95 % percentile-bootstrap intervals
(:func:`dropout_study.stats.bootstrap_ci`); the trend of the training-mode up-fraction with
``p`` as a within-seed Spearman ρ (:func:`dropout_study.stats.spearman_ci`). The verdict is
:func:`dropout_study.verdicts.cost_under_dropout`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import norm

from dropout_study import data as datasets
from dropout_study import seeds
from dropout_study.experiments import with_defaults
from dropout_study.mlp import MLP
from dropout_study.optim import SGD, Adam
from dropout_study.stats import mean_ci, mean_ci_columns, spearman_ci
from dropout_study.sweep import run_sweep
from dropout_study.training import TrainingDiverged, train
from dropout_study.validation import (
    check_choice,
    check_float,
    check_float_list,
    check_int,
    check_int_list,
    fail,
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
    "gap_samples",
    "preactivation_check",
]

CHAPTER = "cost-under-dropout"
_VERSION = "v1"  # bump when a cell's meaning changes without a source change
DATASETS = ("moons", "circles", "breast_cancer", "digits")
EXPECTATION_ALPHA = 0.01  # family-wise level of the inverted-dropout expectation check

DEFAULTS: dict = {
    "seed": 0,
    "n_seeds": 8,
    "dataset": "moons",
    "hidden": [32, 32],
    "dropout_rates": [0.0, 0.2, 0.5],
    "lr": 0.1,
    "n_steps": 300,
    "n_masks": 1000,
    "gap_rates": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
    "n_gap_masks": 150,
    "pitfall_lr": 1.0,
    "pitfall_adam_lr": 0.05,
}
"""The book profile: the same values as the chapter's ``parameters`` cell."""


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
    if rates[0] != 0.0 or any(b <= a for a, b in zip(rates, rates[1:], strict=False)):
        fail(
            "dropout_rates",
            o,
            "an increasing list of floats in [0, 1) that starts with 0.0 (the reference)",
            p["dropout_rates"],
        )
    out["dropout_rates"] = rates
    out["lr"] = check_float(p["lr"], "lr", o, low=0.0, low_open=True)
    out["n_steps"] = check_int(p["n_steps"], "n_steps", o, low=3)
    out["n_masks"] = check_int(p["n_masks"], "n_masks", o, low=100)
    gap_rates = check_float_list(
        p["gap_rates"], "gap_rates", o, low=0.0, high=1.0, low_open=True, high_open=True
    )
    if any(b <= a for a, b in zip(gap_rates, gap_rates[1:], strict=False)):
        fail("gap_rates", o, "an increasing list of floats in (0, 1)", p["gap_rates"])
    out["gap_rates"] = gap_rates
    out["n_gap_masks"] = check_int(p["n_gap_masks"], "n_gap_masks", o, low=10)
    out["pitfall_lr"] = check_float(p["pitfall_lr"], "pitfall_lr", o, low=0.0, low_open=True)
    out["pitfall_adam_lr"] = check_float(
        p["pitfall_adam_lr"], "pitfall_adam_lr", o, low=0.0, low_open=True
    )
    return out


# ---------------------------------------------------------------------------------------------
# Measures (pure functions of their arguments; tested one by one)
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
    """``J(θ, m_k)`` for ``k = 1..n_masks`` independent masks drawn from ``rng``.

    ``model``: an MLP with dropout (its current parameters are ``θ``); ``X`` ``(n, d)``,
    ``y`` its targets. Returns ``(n_masks,)`` float64: the mean data loss over the ``n``
    samples in training mode (nats), one value per mask set.
    """
    n_masks = check_int(n_masks, "n_masks", "mask_losses", low=1)
    return np.array([model.loss(X, y, training=True, rng=rng) for _ in range(n_masks)])


def gap_samples(model: MLP, X, y, rates, n_masks: int, rng) -> np.ndarray:
    """``J(θ, m) − J(θ)`` for masks of each rate in ``rates`` at the model's ``θ`` (nats).

    The masks of all rates come from the same uniform numbers ``U ~ Uniform[0, 1)`` (keep
    where ``U >= p``, so ``P(keep) = 1 − p`` as in the network's own dropout layers), so a
    unit dropped at a small rate is also dropped at a larger one and the curve over rates is
    smooth (common random numbers).

    ``model`` must have a dropout layer after every hidden layer (any rate; only its
    architecture and parameters are used). Returns ``(len(rates), n_masks)`` float64.
    """
    owner = "gap_samples"
    rates = check_float_list(rates, "rates", owner, low=0.0, high=1.0, high_open=True)
    n_masks = check_int(n_masks, "n_masks", owner, low=1)
    if model.dropout is None or model.input_dropout > 0:
        fail("model", owner, "an MLP with dropout after its hidden layers only", model)
    X = np.asarray(X, dtype=model.dtype)
    theta = model.get_params()
    nets = []
    for p in rates:
        net = MLP(
            list(model.layer_sizes),
            activation=model.activation,
            head=model.head_name,
            dropout=p,
            rng=0,
            dtype=model.dtype,
        )
        net.set_params(theta)
        nets.append(net)
    j_eval = model.loss(X, y)
    shapes = model.mask_shapes(X.shape[0])
    out = np.empty((len(rates), n_masks))
    for k in range(n_masks):
        uniforms = [rng.random(s) for s in shapes]
        for i, (p, net) in enumerate(zip(rates, nets, strict=True)):
            masks = [u >= p for u in uniforms] if p > 0 else [None] * len(uniforms)
            out[i, k] = net.loss(X, y, training=True, masks=masks) - j_eval
    return out


def preactivation_check(model: MLP, X, n_masks: int, rng) -> dict:
    """Monte Carlo check that inverted dropout keeps ``E_m`` of the pre-activations of the
    layer right after the first dropout layer equal to their evaluation-mode values.

    For ``n_masks`` masks drawn from ``rng`` (through the model's own dropout layer), the
    pre-activations ``a = (h ⊙ m / (1 − p)) W + b`` (shape ``(n, width)``) are averaged and
    compared with ``h W + b``: ``z = (mean − eval) / (sd / sqrt(n_masks))`` per entry.
    Under inverted dropout every ``z`` is approximately standard normal, so the largest
    ``|z|`` must stay below the Bonferroni bound ``Φ⁻¹(1 − α / (2N))`` at family level
    ``α`` = :data:`EXPECTATION_ALPHA` over the ``N`` entries (entries with zero spread must
    match exactly, up to round-off). The same statistic is computed at the logits, where a
    second non-linearity (if any) makes ``E_m z ≠ z_eval`` in general.

    Returns a dict: ``rate``, ``n_masks``, ``n_entries``, ``max_abs_z``, ``z_crit``,
    ``share_above_1_96``, ``max_abs_diff`` (units of the pre-activation), ``ok`` (bool),
    ``logit_max_abs_z``, ``logit_share_above_1_96``.
    """
    owner = "preactivation_check"
    n_masks = check_int(n_masks, "n_masks", owner, low=2)
    if len(model.layer_sizes) < 3 or model.dropout is None or model.dropout[0] == 0.0:
        fail("model", owner, "an MLP with p > 0 dropout after its first hidden layer", model)
    if model.input_dropout > 0:
        fail("model", owner, "an MLP without input dropout", model)
    X = np.asarray(X, dtype=model.dtype)
    drop, dense = model.dropouts[0], model.dense[1]
    h = model.hidden(X, layer=0)
    a_eval = dense.forward(h).copy()
    z_eval = model.forward(X)
    s1 = np.zeros_like(a_eval)
    s2 = np.zeros_like(a_eval)
    t1 = np.zeros_like(z_eval)
    t2 = np.zeros_like(z_eval)
    for _ in range(n_masks):
        a = dense.forward(drop.forward(h, training=True, rng=rng))
        s1 += a
        s2 += a * a
        z = model.forward(X, training=True, rng=rng)
        t1 += z
        t2 += z * z

    def zscores(s, ss, ref):
        mean = s / n_masks
        var = np.maximum(ss / n_masks - mean**2, 0.0) * n_masks / (n_masks - 1)
        se = np.sqrt(var / n_masks)
        diff = mean - ref
        tiny = 1e-9 * (1.0 + np.abs(ref))
        spread = se > tiny
        zs = np.where(spread, diff / np.where(spread, se, 1.0), 0.0)
        exact = bool(np.all(np.abs(diff[~spread]) <= tiny[~spread]))
        return zs, diff, exact

    za, diff, exact = zscores(s1, s2, a_eval)
    zz, _, _ = zscores(t1, t2, z_eval)
    n_entries = int(za.size)
    z_crit = float(norm.ppf(1.0 - EXPECTATION_ALPHA / (2.0 * n_entries)))
    max_abs_z = float(np.max(np.abs(za)))
    return {
        "rate": float(drop.p),
        "n_masks": n_masks,
        "n_entries": n_entries,
        "max_abs_z": max_abs_z,
        "z_crit": z_crit,
        "share_above_1_96": float(np.mean(np.abs(za) > 1.96)),
        "max_abs_diff": float(np.max(np.abs(diff))),
        "ok": bool(exact and max_abs_z <= z_crit),
        "logit_max_abs_z": float(np.max(np.abs(zz))),
        "logit_share_above_1_96": float(np.mean(np.abs(zz) > 1.96)),
    }


# ---------------------------------------------------------------------------------------------
# One cell: one replicate, every rate
# ---------------------------------------------------------------------------------------------
def _model(cell: dict, ds, p, rng) -> MLP:
    return MLP([ds.n_features, *cell["hidden"], ds.n_outputs], head=ds.head, dropout=p, rng=rng)


def _train(cell, ds, p, optimizer, streams, what: str):
    model = _model(cell, ds, p, streams.init)
    try:
        hist = train(
            model,
            ds.X_train,
            ds.y_train,
            optimizer=optimizer,
            n_steps=cell["n_steps"],
            eval_every=1,
            mask_rng=streams.masks,
        )
    except TrainingDiverged as exc:
        raise ValueError(
            f"The '{what}' parameter of {CHAPTER} must be small enough for training not to "
            f"diverge; got {cell[what]!r}."
        ) from exc
    return model, hist


def run_cell(cell: dict) -> dict:
    """Train and measure one replicate (see the module docstring); a dict of arrays.

    ``cell`` holds the checked parameters (without ``n_seeds``) plus ``replicate`` (int).
    Deterministic given the cell (run by :func:`~dropout_study.sweep.run_sweep`, with
    single-threaded BLAS).
    """
    t0 = time.perf_counter()
    rep = cell["replicate"]
    ss = seeds.replicate(cell["seed"], rep)
    st = seeds.streams(ss)
    ds = datasets.load(cell["dataset"], rng=st.split)
    X, y = ds.X_train, ds.y_train
    rates = cell["dropout_rates"]
    gap_rng, curve_rng, hist_rng, check_rng = st.measure.spawn(4)
    out: dict = {"n_train": int(X.shape[0]), "eval_curve": [], "train_curve": [], "gap": []}
    models = {}
    for p in rates:
        model, hist = _train(cell, ds, p, SGD(cell["lr"]), seeds.streams(ss), "lr")
        models[p] = model
        out["eval_curve"].append(hist.train_loss)  # J(θ_t), t = 0..T
        out["train_curve"].append(hist.step_loss)  # J(θ_t, m_t), t = 0..T-1
        if p > 0:
            g = mask_losses(model, X, y, cell["n_gap_masks"], gap_rng) - model.loss(X, y)
            out["gap"].append(float(g.mean()))
        else:
            out["gap"].append(0.0)
            ref_hist = hist
    for key in ("eval_curve", "train_curve", "gap"):
        out[key] = np.asarray(out[key])
    out["eval_up"] = np.array([up_fraction(c) for c in out["eval_curve"]])
    out["train_up"] = np.array([up_fraction(c) for c in out["train_curve"]])
    out["p0_eval_up_steps"] = int(np.sum(np.diff(out["eval_curve"][0]) > 0))
    out["p0_train_equals_eval"] = bool(np.array_equal(ref_hist.step_loss, ref_hist.train_loss[:-1]))

    # p = 0 against a network without dropout layers, same streams
    plain, plain_hist = _train(cell, ds, None, SGD(cell["lr"]), seeds.streams(ss), "lr")
    out["p0_identical"] = bool(
        np.array_equal(plain_hist.step_loss, ref_hist.step_loss)
        and np.array_equal(plain_hist.train_loss, ref_hist.train_loss)
        and np.array_equal(plain.get_params(), models[0.0].get_params())
    )

    # gap at one fixed θ (the end of the p = 0 run) for every gap rate
    probe = _model(cell, ds, cell["gap_rates"][0], 0)
    probe.set_params(models[0.0].get_params())
    g = gap_samples(probe, X, y, cell["gap_rates"], cell["n_gap_masks"], curve_rng)
    out["gap_curve"] = g.mean(axis=1)
    out["gap_curve_se"] = g.std(axis=1, ddof=1) / np.sqrt(g.shape[1])

    # the pitfall: p = 0 with a large step and with Adam
    pit = {}
    for name, opt, what in (
        ("large_step", SGD(cell["pitfall_lr"]), "pitfall_lr"),
        ("adam", Adam(cell["pitfall_adam_lr"]), "pitfall_adam_lr"),
    ):
        _, h = _train(cell, ds, 0.0, opt, seeds.streams(ss), what)
        pit[name] = h.train_loss
    out["pitfall_curve"] = pit
    out["pitfall_up"] = {k: up_fraction(v) for k, v in pit.items()}

    if rep == 0:
        out["hist"] = {}
        for p in rates[1:]:
            m = models[p]
            out["hist"][p] = {
                "samples": mask_losses(m, X, y, cell["n_masks"], hist_rng),
                "eval": m.loss(X, y),
            }
        out["expectation"] = preactivation_check(models[rates[-1]], X, cell["n_masks"], check_rng)
    out["seconds"] = time.perf_counter() - t0
    return out


# ---------------------------------------------------------------------------------------------
# The whole experiment
# ---------------------------------------------------------------------------------------------
@dataclass
class Result:
    """What :func:`run` returns.

    ``metrics`` is JSON-able (every number the verdict and the page use). Arrays are indexed
    ``[seed, rate, ...]`` with rates in the order of ``params["dropout_rates"]``:

    - ``eval_curve`` ``(S, P, T+1)``: ``J(θ_t)`` in evaluation mode, nats;
    - ``train_curve`` ``(S, P, T)``: ``J(θ_t, m_t)`` in training mode, nats;
    - ``eval_up``, ``train_up`` ``(S, P)``: share of steps each curve went up;
    - ``gap`` ``(S, P)``: ``E_m J(θ_T, m) − J(θ_T)`` at the end of each run (0 at p = 0);
    - ``gap_curve`` ``(S, G)``, ``gap_curve_se`` ``(S, G)``: the gap at the end of the p = 0
      run for each of ``params["gap_rates"]`` with its Monte Carlo standard error;
    - ``pitfall_curve``: ``{"large_step", "adam"}`` → ``(S, T+1)`` p = 0 costs;
    - ``hist``: ``{p: {"samples": (n_masks,), "eval": float}}`` for replicate 0;
    - ``expectation``: the dict of :func:`preactivation_check` (replicate 0, largest rate);
    - ``seconds``: wall-clock of the run and summed seconds of the cells.
    """

    params: dict
    metrics: dict
    rates: np.ndarray
    eval_curve: np.ndarray
    train_curve: np.ndarray
    eval_up: np.ndarray
    train_up: np.ndarray
    gap: np.ndarray
    gap_curve: np.ndarray
    gap_curve_se: np.ndarray
    pitfall_curve: dict
    hist: dict
    expectation: dict
    seconds: dict = field(default_factory=dict)


def _cells(params: dict) -> list[dict]:
    common = {k: v for k, v in params.items() if k != "n_seeds"}
    return [{**common, "replicate": r} for r in range(params["n_seeds"])]


def _summarise(params: dict, res: dict, outs: list[dict]) -> dict:
    rates = params["dropout_rates"]
    S, P = res["eval_up"].shape
    m: dict = {
        "dataset": params["dataset"],
        "n_train": outs[0]["n_train"],
        "layer_sizes_hidden": params["hidden"],
        "n_seeds": S,
        "n_steps": params["n_steps"],
        "lr": params["lr"],
        "rates": rates,
        "train_up": mean_ci_columns(res["train_up"]),
        "eval_up": mean_ci_columns(res["eval_up"]),
        "gap": mean_ci_columns(res["gap"]),
        "gap_rates": params["gap_rates"],
        "gap_curve": mean_ci_columns(res["gap_curve"]),
        "p0_identical": all(o["p0_identical"] for o in outs),
        "p0_train_equals_eval": all(o["p0_train_equals_eval"] for o in outs),
        "p0_eval_up_steps": int(sum(o["p0_eval_up_steps"] for o in outs)),
        "p0_steps_total": int(S * params["n_steps"]),
        "expectation": dict(outs[0]["expectation"]),
        "pitfall": {
            "lr": params["pitfall_lr"],
            "adam_lr": params["pitfall_adam_lr"],
            "large_step_up": mean_ci([o["pitfall_up"]["large_step"] for o in outs]),
            "adam_up": mean_ci([o["pitfall_up"]["adam"] for o in outs]),
        },
    }
    grid = np.repeat(np.asarray(rates)[None, :], S, axis=0).ravel()
    groups = np.repeat(np.arange(S), P)
    rho = spearman_ci(grid, res["train_up"].ravel(), groups=groups)
    m["rho_train_up"] = {"rho": rho.rho, "low": rho.low, "high": rho.high}
    rho = spearman_ci(grid, res["eval_up"].ravel(), groups=groups)
    m["rho_eval_up"] = {"rho": rho.rho, "low": rho.low, "high": rho.high}
    hist = outs[0]["hist"]
    m["hist"] = {
        "rates": rates[1:],
        "mean": [float(np.mean(hist[p]["samples"])) for p in rates[1:]],
        "sd": [float(np.std(hist[p]["samples"], ddof=1)) for p in rates[1:]],
        "eval": [float(hist[p]["eval"]) for p in rates[1:]],
        "share_above_eval": [
            float(np.mean(hist[p]["samples"] > hist[p]["eval"])) for p in rates[1:]
        ],
        "n_masks": params["n_masks"],
    }
    return m


def run(params: dict, *, cache_dir="default", n_jobs: int | None = None) -> Result:
    """Run the chapter's experiment (see the module docstring).

    Parameters
    ----------
    params : dict
        The chapter's parameters (missing ones take :data:`DEFAULTS`); checked first.
    cache_dir : path, None or "default"
        Where :func:`dropout_study.sweep.run_sweep` keeps finished cells (``"default"``:
        ``DROPOUT_STUDY_SWEEP_CACHE`` or ``.cache/sweeps``); ``None`` keeps none.
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
    res = {
        k: np.stack([o[k] for o in outs])
        for k in ("eval_curve", "train_curve", "eval_up", "train_up", "gap")
    }
    res["gap_curve"] = np.stack([o["gap_curve"] for o in outs])
    res["gap_curve_se"] = np.stack([o["gap_curve_se"] for o in outs])
    metrics = _summarise(params, res, outs)
    seconds = {
        "wall": time.perf_counter() - t0,
        "cells": float(sum(o["seconds"] for o in outs)),
        "cells_computed": sweep.n_computed,
        "cells_cached": sweep.n_cached,
    }
    return Result(
        params=params,
        metrics=metrics,
        rates=np.asarray(params["dropout_rates"]),
        pitfall_curve={
            k: np.stack([o["pitfall_curve"][k] for o in outs]) for k in ("large_step", "adam")
        },
        hist=outs[0]["hist"],
        expectation=dict(outs[0]["expectation"]),
        seconds=seconds,
        **res,
    )
