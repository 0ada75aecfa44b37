"""Chapter 1 (``cross-entropy``): cross-entropy, and how to read its value.

Parts (all losses are means over samples; nats unless a base is named)
-----------------------------------------------------------------------
1. **Entropy** of the tutorial's three hampers of candies (3/7, 5/5, 10/0), in bits, with and
   without the minus sign the article leaves out.
2. **The worked example** ``q = ce_example`` with true class ``true_class``: the
   cross-entropy ``−log_b q_true`` in nats (``b = e``), bits (2) and base 10.
3. **Three names, one loss**: on the validation split of ``breast_cancer``, the predictions
   ``q`` of a scikit-learn logistic regression give the same number as binary CE of ``q``,
   categorical CE of ``[1 − q, q]`` with one-hot targets, sparse categorical CE with integer
   labels, and scikit-learn's ``log_loss``.
4. **CE is the negative log-likelihood**: for a constant predictor, the mean CE is
   ``NLL / n``; its minimiser over ``θ`` (Bernoulli, breast-cancer labels) is the sample mean,
   the maximum-likelihood estimate, and over the 10 digit classes it is the class frequencies,
   where it equals the entropy of the class prior.
5. **Convexity**: logistic regression on one standardised feature ``feature`` of
   ``breast_cancer``, ``q = σ(w x + b)``, on a ``n_grid × n_grid`` grid of ``(w, b)`` in
   ``[−grid_half_width, grid_half_width]²``: the cost with CE and with MSE of ``σ`` and, at
   every interior grid point, the smallest second difference along the four grid directions
   (``w``, ``b`` and both diagonals), :func:`directional_curvature`. A convex function has
   no negative second difference (for any step), so a negative value proves non-convexity.
   Then a network with one hidden layer of ``mlp_width`` tanh units, trained by full-batch
   gradient descent: swapping two hidden units gives parameters ``θ'`` with the same cost;
   along the segment ``θ + α (θ' − θ)``, ``α ∈ [−0.5, 1.5]``, a convex cost could not rise
   between the ends (``J(mid) ≤ J(θ)``) — the curvature along it is measured.
6. **Reading a CE value** on ``digits`` (a network ``[64, *digits_hidden, 10]``, ReLU, Adam,
   full batch, training split ``digits_train_fraction``; the validation split halved at
   random: half A is the network's validation data — curves, the step of lowest validation
   CE, temperature fits —, half B is held out): the baseline ``H(prior)`` of the class prior,
   ``exp(−CE)`` (the geometric-mean probability of the true class), perplexity ``exp(CE)``,
   bits per example ``CE / ln 2``, ``CE = H + KL`` for the constant prior predictor, and on
   half B at the step of lowest validation CE and at the end: CE, accuracy, reliability
   (:func:`reliability`) and CE after temperature scaling (:func:`fit_temperature` on half A,
   Guo et al. 2017) — how much of the CE rise after its minimum is over-confidence. The
   digits network is retrained for the alternatives of these findings at the step sizes
   ``digits_alt_lr``, widths ``digits_alt_hidden`` and training shares
   ``digits_alt_train_fraction`` (empty at ``book``: too costly; set at ``full``).

Replicates (``n_seeds``, paired by ``seeds.replicates``) repeat parts 5 (network) and 6;
parts 1–5 (logistic regression) use replicate 0's data split. Statistics over replicates:
means with 95 % intervals from :func:`dropout_study.measures.stats.seed_interval` (Student-t
below 20 seeds, BCa from 20); the reliability diagram pools every seed's held-out predictions. The
findings are :mod:`dropout_study.chapters.cross_entropy.evidence`, the verdict
:mod:`dropout_study.chapters.cross_entropy.verdict`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from dropout_study import data as datasets
from dropout_study.chapters import cost
from dropout_study.chapters.cross_entropy.cells import (
    load_digits_split,
    replicate_streams,
    run_cell,
)
from dropout_study.chapters.cross_entropy.parts import (
    convexity_alternatives,
    entropy_and_example,
    logistic_convexity,
    maximum_likelihood,
    three_names,
)
from dropout_study.chapters.cross_entropy.quantities import FEATURES, HAMPERS, reliability_top
from dropout_study.chapters.cross_entropy.summary import summarise
from dropout_study.parameters import complete
from dropout_study.sweep.runner import run_sweep
from dropout_study.validation import (
    bound,
    check_choice,
    check_float,
    check_float_list,
    check_int,
    check_int_list,
    require,
)

__all__ = [
    "estimate",
    "CHAPTER",
    "HAMPERS",
    "FEATURES",
    "Result",
    "check_params",
    "run",
]

CHAPTER = "cross-entropy"
_VERSION = "v3"  # bump when a cell's meaning changes without a source change


def check_params(params: dict) -> dict:
    """Check ranges and consistency; return a new dict with every parameter (defaults filled).

    Raises ``ValueError``/``TypeError`` with the project's template, e.g. "The 'true_class'
    parameter of cross-entropy must be ...; got ...", naming the first offending parameter.
    """
    o = CHAPTER
    p = complete(params, o)
    out: dict[str, Any] = {"seed": check_int(p["seed"], "seed", o, low=0)}
    out["n_seeds"] = check_int(p["n_seeds"], "n_seeds", o, low=2)
    q = check_float_list(
        p["ce_example"],
        "ce_example",
        o,
        low=0.0,
        high=1.0,
        min_len=2,
        order="any: class probabilities",
    )
    what = "probabilities that sum to 1 (within 0.01 for rounding)"
    require(abs(sum(q) - 1.0) <= 0.01, "ce_example", o, what, q)
    out["ce_example"] = q
    high = bound(len(q) - 1, "len(ce_example) − 1")
    out["true_class"] = check_int(p["true_class"], "true_class", o, low=0, high=high)
    what = "a class with probability > 0 in ce_example"
    require(q[out["true_class"]] > 0, "true_class", o, what, p["true_class"])
    out["feature"] = check_choice(p["feature"], "feature", o, FEATURES)
    out["grid_half_width"] = check_float(
        p["grid_half_width"], "grid_half_width", o, low=0.0, high=50.0, low_open=True
    )
    out["n_grid"] = check_int(p["n_grid"], "n_grid", o, low=5, high=401)
    out["mlp_width"] = check_int(p["mlp_width"], "mlp_width", o, low=2)
    out["mlp_steps"] = check_int(p["mlp_steps"], "mlp_steps", o, low=1)
    out["mlp_lr"] = check_float(p["mlp_lr"], "mlp_lr", o, low=0.0, low_open=True)
    out["n_alphas"] = check_int(p["n_alphas"], "n_alphas", o, low=5)
    out["digits_hidden"] = check_int_list(
        p["digits_hidden"], "digits_hidden", o, low=1, order="any: layer widths, input to output"
    )
    out["digits_steps"] = check_int(p["digits_steps"], "digits_steps", o, low=2)
    out["digits_lr"] = check_float(p["digits_lr"], "digits_lr", o, low=0.0, low_open=True)
    out["digits_eval_every"] = check_int(
        p["digits_eval_every"],
        "digits_eval_every",
        o,
        low=1,
        high=bound(out["digits_steps"], "digits_steps"),
    )
    out["digits_train_fraction"] = check_float(
        p["digits_train_fraction"], "digits_train_fraction", o, low=0.05, high=0.7
    )
    out["n_bins"] = check_int(p["n_bins"], "n_bins", o, low=2, high=50)
    out["digits_alt_lr"] = check_float_list(
        p["digits_alt_lr"], "digits_alt_lr", o, low=0.0, low_open=True, min_len=0
    )
    out["digits_alt_hidden"] = check_int_list(
        p["digits_alt_hidden"], "digits_alt_hidden", o, low=1, min_len=0
    )
    out["digits_alt_train_fraction"] = check_float_list(
        p["digits_alt_train_fraction"],
        "digits_alt_train_fraction",
        o,
        low=0.05,
        high=0.7,
        min_len=0,
    )
    return out


# ---------------------------------------------------------------------------------------------
# Measures (pure functions; tested against closed forms and scikit-learn)
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Parts computed once (replicate 0's data split)
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# One cell: one replicate (the hidden-layer network and the digits run)
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# The whole experiment
# ---------------------------------------------------------------------------------------------
@dataclass
class Result:
    """What :func:`run` returns.

    ``metrics`` is JSON-able (every number the verdict and the page use). The other fields
    hold the arrays the figures need:

    - ``entropy``: ``{"hampers": {name: {"p", "bits", "without_minus"}}, "example": {...}}``;
    - ``mle``: ``{"bernoulli": {"thetas", "ce", "theta_hat", "mean_y", ...},
      "categorical": {"freq", "q_hat", ...}}``;
    - ``logistic``: ``{"axis" (G,), "h", "ce", "mse" (G, G) indexed [w, b] (nats and squared
      probability), "ce_curvature", "mse_curvature" (G−2, G−2), and per cost its smallest
      value ("ce_min_curvature"), largest absolute value ("ce_scale") and the share of
      interior grid points where it curves down ("ce_down_share"; likewise "mse_…")}``;
    - ``hidden``: per replicate, the segment between a network and its unit-swapped twin:
      ``alphas`` (A,), ``cost`` (A,) nats, ``curvature`` (A−2,) nats per unit α²;
    - ``digits``: per replicate, the training record (``eval_step``, ``train_loss``,
      ``val_loss`` nats, ``train_acc``, ``val_acc``) and reliability diagrams at the step of
      lowest validation CE (``reliability_best``) and at the end (``reliability_end``);
    - ``pooled``: ``{"best", "end"}`` → the reliability diagram of every seed's validation
      predictions pooled (:func:`reliability_top`), the one the page shows.
    """

    params: dict
    metrics: dict
    entropy: dict
    mle: dict
    three_names: dict
    logistic: dict
    hidden: list
    digits: list
    pooled: dict = field(default_factory=dict)
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
        Where :func:`dropout_study.sweep.runner.run_sweep` keeps finished cells (``"default"``:
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
    hidden = [o["hidden"] for o in sweep.results]
    digits = [o["digits"] for o in sweep.results]
    with threadpool_limits(limits=1, user_api="blas"):
        ds_bc = datasets.load("breast_cancer", rng=replicate_streams(params, 0).split)
        ds_digits = load_digits_split(params, replicate_streams(params, 0).split)
        ent = entropy_and_example(params)
        three = three_names(ds_bc)
        mle = maximum_likelihood(ds_bc, ds_digits)
        logi = logistic_convexity(params, ds_bc)
        moons = datasets.load("moons", rng=replicate_streams(params, 0).split)
        alternatives = convexity_alternatives(params, ds_bc, moons)
    metrics = summarise(params, ent, three, mle, logi, hidden, digits)
    alts = [o["digits_alternatives"] for o in sweep.results]
    metrics["digits"]["alternatives"] = [
        {
            "label": first["label"],
            "per_seed": {k: [a[i][k] for a in alts] for k in first if k != "label"},
        }
        for i, first in enumerate(alts[0])
    ]
    metrics["convexity"]["alternatives"] = alternatives
    pooled = {
        name: reliability_top(
            np.concatenate([d["top"][name][0] for d in digits]),
            np.concatenate([d["top"][name][1] for d in digits]),
            params["n_bins"],
        )
        for name in ("best", "end")
    }
    metrics["digits"]["pooled_ece_best"] = pooled["best"]["ece"]
    metrics["digits"]["pooled_ece_end"] = pooled["end"]["ece"]
    metrics["digits"]["pooled_n"] = int(pooled["end"]["count"].sum())
    seconds = {
        "wall": time.perf_counter() - t0,
        "cells": float(sum(o["seconds"] for o in sweep.results)),
        "cells_cpu": float(sum(o.get("cpu_seconds", 0.0) for o in sweep.results)),
        "cells_computed": sweep.n_computed,
        "cells_cached": sweep.n_cached,
    }
    return Result(
        params=params,
        metrics=metrics,
        entropy=ent,
        mle=mle,
        three_names=three,
        logistic=logi,
        hidden=hidden,
        digits=digits,
        pooled=pooled,
        seconds=seconds,
    )


def estimate(p: dict) -> tuple[float, float]:
    """(multiply-adds, bytes of the largest arrays) of one run with the resolved ``p``
    (:mod:`dropout_study.chapters.cost`), read before any kernel starts."""
    seeds = cost.n(p, "n_seeds", 8)
    n, d, _ = cost.data("breast_cancer")
    w_mlp = cost.weights(1, [p.get("mlp_width", 8)], 1)
    mlp = 3 * cost.n(p, "mlp_steps", 500) * n * w_mlp
    dn, dd, dk = cost.data("digits")
    w_dig = cost.weights(dd, p.get("digits_hidden", [128]), dk)
    total = dn / cost.TRAIN  # the whole data set
    tf = cost.n(p, "digits_train_fraction", 0.2)
    steps = cost.n(p, "digits_steps", 3000)
    evals = steps / max(1, cost.n(p, "digits_eval_every", 10))
    digits = (3 * steps * tf + evals * (0.8 - tf)) * total * w_dig
    # the retrained alternatives: about one digits run each (widths scale the weights)
    n_alt = cost.n(p, "digits_alt_lr", 0) + cost.n(p, "digits_alt_train_fraction", 0)
    widths = p.get("digits_alt_hidden", [])
    digits *= 1 + n_alt + sum(cost.weights(dd, [w], dk) for w in widths) / w_dig
    grid = cost.n(p, "n_grid", 81) ** 2 * n * 2 + cost.n(p, "n_alphas", 201) * n * w_mlp
    memory = max(
        cost.n(p, "n_grid", 81) ** 2 * n * 8,
        cost.n(p, "digits_steps", 400) / max(1, cost.n(p, "digits_eval_every", 4)) * w_dig * 8,
    )
    return seeds * (mlp + digits) + grid, memory
