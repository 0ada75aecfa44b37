"""Chapter 4 (``l1-vs-l2``): does L1 make weights sparse while L2 only shrinks them?

Design
------
**Logistic regression** (no hidden layer) on breast cancer, the training split of
``data.load("breast_cancer", rng=streams(seed).split)`` (341 × 30, standardised with training
statistics). Objective: mean log-loss (nats) + ``λ‖w‖₁`` or ``(λ/2)‖w‖²``, intercept
unpenalised, solved by :mod:`dropout_study.linear` (FISTA with soft-thresholding, stopping when
the gradient mapping is ``<= 1e-9``) over ``n_lambdas`` values of λ log-spaced from
``λ_max = ‖Xᵀ(y − ȳ)‖∞ / n`` down to ``lambda_ratio · λ_max``, warm-started. The oracle is
scikit-learn's ``LogisticRegression`` at ``C = 1/(n·λ)`` (saga for L1, lbfgs for L2,
``tol = 1e-8``, at most ``oracle_max_iter`` iterations) on ``n_oracle`` of those λ (evenly
spread over the grid without λ_max itself, where the zero pattern is a boundary case).
Coefficients are compared only where the oracle converged (``n_iter_ < max_iter``); elsewhere
the two objectives are compared, both computed by :func:`linear.logistic_objective`.

**MLP** ``[30, *hidden, 1]`` (ReLU, sigmoid head) on breast cancer, ``n_seeds`` replicates.
Replicate ``r`` uses ``seeds.streams(seeds.replicate(seed, r))``: its data split and
initial weights are shared by every regulariser (common random numbers). Training is plain
full-batch gradient descent (``SGD(lr)``, no momentum) for ``n_steps`` steps, so the proximal
L1 step soft-thresholds by exactly ``lr · λ`` after each gradient step
(:func:`dropout_study.training.train`). Regularisers, one run each per replicate:

- ``none``; ``l1`` (proximal) and ``l2`` at every λ in ``lambdas``;
- ``l1-sub``: L1 as a sub-gradient ``λ·sign(w)`` at ``pitfall_lambda`` (the pitfall);
- ``dropout``: inverted dropout with rate ``dropout_rate`` after the hidden layers, no penalty.

Measures of the trained weight matrices (biases excluded), pooled over layers
(:mod:`dropout_study.measures.sparsity`): exact-zero fraction, near-zero fraction
(``|w| < near_zero_rel · max|w|``) and the norm ratio ``‖w_λ‖ / ‖w_0‖`` against the ``none``
run of the same replicate; validation accuracy. Means with 95 % bootstrap intervals over
seeds (:func:`dropout_study.stats.bootstrap_ci`).

**Selection for the verdict.** For each penalty, ``λ*`` is the largest λ in ``lambdas`` whose
mean validation accuracy over seeds is at least the unregularised model's minus
``acc_margin`` (``λ* = 0``, the unregularised model itself, if no λ qualifies). At ``λ*_L1``
and ``λ*_L2`` the paired per-seed difference of near-zero fractions (L1 − L2) and the L2
norm ratio get bootstrap intervals; :func:`dropout_study.verdicts.l1_vs_l2` states the rule.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from dropout_study import data as datasets
from dropout_study import linear, seeds
from dropout_study.experiments import with_defaults
from dropout_study.measures.sparsity import exact_zero_fraction, near_zero_fraction, norm_ratio
from dropout_study.mlp import MLP
from dropout_study.optim import SGD
from dropout_study.penalties import make_penalty
from dropout_study.stats import mean_ci, mean_ci_columns
from dropout_study.sweep import run_sweep
from dropout_study.training import train
from dropout_study.validation import (
    check_float,
    check_float_list,
    check_int,
    check_int_list,
    fail,
)

__all__ = ["CHAPTER", "DEFAULTS", "REGULARISERS", "Result", "check_params", "run", "run_cell"]

CHAPTER = "l1-vs-l2"
_VERSION = "v1"  # bump when a cell's meaning changes without a source change
LOGISTIC_TOL = 1e-9  # stopping tolerance of our logistic solver (gradient mapping, max-norm)
ORACLE_TOL = 1e-8  # scikit-learn's tol
REGULARISERS = ("none", "l1", "l2", "l1-sub", "dropout")
DEFAULTS: dict = {
    "seed": 0,
    "n_lambdas": 20,
    "lambda_ratio": 1e-3,
    "n_oracle": 6,
    "oracle_max_iter": 5000,
    "n_seeds": 8,
    "hidden": [16],
    "lambdas": [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0],
    "dropout_rate": 0.5,
    "lr": 0.5,
    "n_steps": 600,
    "acc_margin": 0.01,
    "near_zero_rel": 1e-3,
    "pitfall_lambda": 1e-2,
}
"""The book profile: the same values as the chapter's ``parameters`` cell."""


def check_params(params: dict) -> dict:
    """Check ranges and consistency; return a new dict with every parameter (defaults filled).

    Raises ``ValueError``/``TypeError`` with the project's template, e.g. "The 'lambdas'
    parameter of l1-vs-l2 must be ...; got ...", naming the first offending parameter.
    """
    o = CHAPTER
    p = with_defaults(o, params, DEFAULTS)
    out = {"seed": check_int(p["seed"], "seed", o, low=0)}
    out["n_lambdas"] = check_int(p["n_lambdas"], "n_lambdas", o, low=3)
    out["lambda_ratio"] = check_float(
        p["lambda_ratio"], "lambda_ratio", o, low=0.0, high=1.0, low_open=True, high_open=True
    )
    out["n_oracle"] = check_int(p["n_oracle"], "n_oracle", o, low=1, high=out["n_lambdas"] - 1)
    out["oracle_max_iter"] = check_int(p["oracle_max_iter"], "oracle_max_iter", o, low=10)
    out["n_seeds"] = check_int(p["n_seeds"], "n_seeds", o, low=2)
    out["hidden"] = check_int_list(p["hidden"], "hidden", o, low=1)
    lams = check_float_list(p["lambdas"], "lambdas", o, low=0.0, low_open=True, min_len=2)
    if len(set(lams)) != len(lams):
        fail("lambdas", o, "a list of at least 2 distinct floats > 0", p["lambdas"])
    out["lambdas"] = sorted(lams)
    out["dropout_rate"] = check_float(
        p["dropout_rate"], "dropout_rate", o, low=0.0, high=1.0, low_open=True, high_open=True
    )
    out["lr"] = check_float(p["lr"], "lr", o, low=0.0, high=4.0, low_open=True)
    out["n_steps"] = check_int(p["n_steps"], "n_steps", o, low=1)
    out["acc_margin"] = check_float(p["acc_margin"], "acc_margin", o, low=0.0, high=1.0)
    out["near_zero_rel"] = check_float(
        p["near_zero_rel"], "near_zero_rel", o, low=0.0, high=1.0, low_open=True, high_open=True
    )
    pit = check_float(p["pitfall_lambda"], "pitfall_lambda", o, low=0.0, low_open=True)
    if pit not in out["lambdas"]:
        fail("pitfall_lambda", o, f"one of the lambdas {out['lambdas']}", p["pitfall_lambda"])
    out["pitfall_lambda"] = pit
    return out


# ---------------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------------
def _logistic_data(seed: int) -> datasets.Dataset:
    return datasets.load("breast_cancer", rng=seeds.streams(seed).split)


def _logistic_grid(ds: datasets.Dataset, n_lambdas: int, ratio: float) -> np.ndarray:
    return linear.lambda_grid(ds.X_train, ds.y_train, n_lambdas, ratio)


def _oracle_indices(n_lambdas: int, n_oracle: int) -> list[int]:
    """``n_oracle`` grid indices spread evenly over ``1 .. n_lambdas - 1`` (λ_max excluded)."""
    return sorted({int(round(i)) for i in np.linspace(1, n_lambdas - 1, n_oracle)})


def _logistic_cell(cell: dict) -> dict:
    ds = _logistic_data(cell["seed"])
    grid = _logistic_grid(ds, cell["n_lambdas"], cell["lambda_ratio"])
    t0 = time.perf_counter()
    path = linear.logistic_path(
        ds.X_train, ds.y_train, grid, penalty=cell["penalty"], tol=LOGISTIC_TOL
    )
    val_acc = np.mean(
        ((ds.X_val @ path.coefs.T + path.intercepts) > 0) == (ds.y_val[:, None] == 1), axis=0
    )
    return {
        "lams": path.lams,
        "coefs": path.coefs,
        "intercepts": path.intercepts,
        "objectives": path.objectives,
        "n_iter": path.n_iter,
        "converged": path.converged,
        "val_acc": val_acc,
        "n_train": int(ds.X_train.shape[0]),
        "seconds": time.perf_counter() - t0,
    }


def _oracle_cell(cell: dict) -> dict:
    ds = _logistic_data(cell["seed"])
    X, y = ds.X_train, ds.y_train
    lam = float(_logistic_grid(ds, cell["n_lambdas"], cell["lambda_ratio"])[cell["index"]])
    est = linear.sklearn_logistic(
        cell["penalty"], lam, X.shape[0], tol=ORACLE_TOL, max_iter=cell["oracle_max_iter"]
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, y)
    seconds = time.perf_counter() - t0
    coef, intercept = est.coef_[0].copy(), float(est.intercept_[0])
    return {
        "lam": lam,
        "coef": coef,
        "intercept": intercept,
        "n_iter": int(est.n_iter_[0]),
        "converged": bool(est.n_iter_[0] < cell["oracle_max_iter"]),
        "warnings": sorted({w.category.__name__ for w in caught}),
        "objective": linear.logistic_objective(
            X, y, coef, intercept, penalty=cell["penalty"], lam=lam
        ),
        "seconds": seconds,
    }


def _mlp_cell(cell: dict) -> dict:
    rep = cell["replicate"]
    st = seeds.streams(seeds.replicate(cell["seed"], rep))
    ds = datasets.load("breast_cancer", rng=st.split)
    reg = cell["reg"]
    model = MLP(
        [ds.n_features, *cell["hidden"], 1],
        dropout=cell["dropout_rate"] if reg == "dropout" else None,
        rng=st.init,
    )
    penalty = None
    if reg in ("l1", "l2"):
        penalty = make_penalty(reg, cell["lam"])
    elif reg == "l1-sub":
        penalty = make_penalty("l1", cell["lam"], l1_mode="subgradient")
    t0 = time.perf_counter()
    hist = train(
        model,
        ds.X_train,
        ds.y_train,
        optimizer=SGD(cell["lr"]),
        n_steps=cell["n_steps"],
        penalty=penalty,
        X_val=ds.X_val,
        y_val=ds.y_val,
        eval_every=cell["n_steps"],
        mask_rng=st.masks,
    )
    return {
        "weights": np.concatenate([w.ravel() for w in model.weights]),
        "val_acc": float(hist.val_acc[-1]),
        "val_loss": float(hist.val_loss[-1]),
        "train_loss": float(hist.train_loss[-1]),
        "seconds": time.perf_counter() - t0,
    }


def run_cell(cell: dict) -> dict:
    """One cell of the sweep: ``cell["kind"]`` is ``"logistic"`` (a whole path of one
    penalty), ``"oracle"`` (scikit-learn at one λ of that path) or ``"mlp"`` (one network,
    one regulariser, one replicate). Deterministic given the cell (run by
    :func:`~dropout_study.sweep.run_sweep`, with single-threaded BLAS)."""
    kind = cell["kind"]
    if kind == "logistic":
        return _logistic_cell(cell)
    if kind == "oracle":
        return _oracle_cell(cell)
    if kind == "mlp":
        return _mlp_cell(cell)
    fail("kind", "l1_vs_l2.run_cell", "one of 'logistic', 'oracle', 'mlp'", kind)


_LOGISTIC_KEYS = ("seed", "n_lambdas", "lambda_ratio")
_MLP_KEYS = ("seed", "hidden", "dropout_rate", "lr", "n_steps")


def _mlp_runs(params: dict) -> list[tuple[str, float]]:
    """(regulariser, λ) of each MLP run of a replicate, in a fixed order."""
    runs = [("none", 0.0)]
    runs += [("l1", lam) for lam in params["lambdas"]]
    runs += [("l2", lam) for lam in params["lambdas"]]
    runs += [("l1-sub", params["pitfall_lambda"]), ("dropout", 0.0)]
    return runs


def _cells(params: dict) -> list[dict]:
    """Every cell, each holding only what it depends on (so cached cells are reused when,
    e.g., seeds or λ values are added)."""
    lp = {k: params[k] for k in _LOGISTIC_KEYS}
    cells = [{"kind": "logistic", "penalty": pen, **lp} for pen in ("l1", "l2")]
    for pen in ("l1", "l2"):
        for i in _oracle_indices(params["n_lambdas"], params["n_oracle"]):
            cells.append(
                {
                    "kind": "oracle",
                    "penalty": pen,
                    "index": i,
                    "oracle_max_iter": params["oracle_max_iter"],
                    **lp,
                }
            )
    mp = {k: params[k] for k in _MLP_KEYS}
    for r in range(params["n_seeds"]):
        for reg, lam in _mlp_runs(params):
            cells.append({"kind": "mlp", "replicate": r, "reg": reg, "lam": lam, **mp})
    return cells


# ---------------------------------------------------------------------------------------------
# The whole experiment
# ---------------------------------------------------------------------------------------------
@dataclass
class Result:
    """What :func:`run` returns.

    ``metrics`` is JSON-able (every number the verdict and the page use). Arrays:

    - ``logistic``: per penalty ``"l1"``/``"l2"`` a dict with ``lams`` ``(m,)``, ``coefs``
      ``(m, 30)``, ``intercepts``, ``objectives`` (nats), ``n_iter``, ``converged``,
      ``val_acc`` ``(m,)``;
    - ``oracle``: per penalty a list of dicts (``index``, ``lam``, ``coef`` ``(30,)``,
      ``intercept``, ``n_iter``, ``converged``, ``objective``, ``max_abs_diff``,
      ``zeros_match``, ``objective_gap`` = ours − theirs);
    - ``lambdas`` ``(L,)``; ``mlp``: per regulariser ``none``/``l1``/``l2``/``l1-sub``/
      ``dropout`` a dict of ``(S, K)`` arrays (K = L for l1/l2, else 1): ``val_acc``,
      ``exact_zero``, ``near_zero``, ``norm_ratio``, ``train_loss``; ``weights``
      ``(S, K, n_weights)`` (all weight matrices, flattened in layer order);
    - ``seconds``: wall-clock of the run and summed per-part times of the cells.
    """

    params: dict
    metrics: dict
    logistic: dict
    oracle: dict
    lambdas: np.ndarray
    mlp: dict
    seconds: dict = field(default_factory=dict)


def _compare_oracle(logistic: dict, oracle_outs: dict) -> dict:
    table = {}
    for pen, outs in oracle_outs.items():
        rows = []
        for o in outs:
            i = o["index"]
            mine = logistic[pen]["coefs"][i]
            rows.append(
                {
                    **o,
                    "max_abs_diff": float(np.max(np.abs(mine - o["coef"]))),
                    "intercept_diff": float(abs(logistic[pen]["intercepts"][i] - o["intercept"])),
                    "zeros_match": bool(np.array_equal(mine == 0, o["coef"] == 0)),
                    "n_zeros_ours": int(np.sum(mine == 0)),
                    "n_zeros_theirs": int(np.sum(o["coef"] == 0)),
                    "objective_gap": float(logistic[pen]["objectives"][i] - o["objective"]),
                }
            )
        table[pen] = rows
    return table


def _strongest_within_margin(lambdas, acc_mean, acc_none: float, margin: float) -> int | None:
    """Index of the largest λ whose mean accuracy is ``>= acc_none - margin``; None if none."""
    ok = [j for j, a in enumerate(acc_mean) if a >= acc_none - margin - 1e-12]
    return max(ok, key=lambda j: lambdas[j]) if ok else None


def _summarise(params: dict, logistic: dict, oracle: dict, mlp: dict) -> dict:
    lams = np.asarray(params["lambdas"])
    m: dict = {
        "dataset": "breast_cancer",
        "n_seeds": params["n_seeds"],
        "lambdas": lams.tolist(),
        "acc_margin": params["acc_margin"],
        "near_zero_rel": params["near_zero_rel"],
        "lr": params["lr"],
        "n_steps": params["n_steps"],
    }
    # ----- logistic regression
    l1, l2 = logistic["l1"], logistic["l2"]
    m["logistic"] = {
        "n_train": int(l1["n_train"]),
        "lambda_max": float(l1["lams"][0]),
        "lams": l1["lams"].tolist(),
        "n_zeros_l1": np.sum(l1["coefs"] == 0, axis=1).tolist(),
        "n_zeros_l2": np.sum(l2["coefs"] == 0, axis=1).tolist(),
        "n_features": int(l1["coefs"].shape[1]),
        "all_converged": bool(l1["converged"].all() and l2["converged"].all()),
        "n_iter_l1_total": int(l1["n_iter"].sum()),
        "n_iter_l2_total": int(l2["n_iter"].sum()),
        "val_acc_l1": l1["val_acc"].tolist(),
        "val_acc_l2": l2["val_acc"].tolist(),
    }
    for pen, rows in oracle.items():
        conv = [r for r in rows if r["converged"]]
        unconv = [r for r in rows if not r["converged"]]
        m[f"oracle_{pen}"] = {
            "n": len(rows),
            "n_converged": len(conv),
            "max_abs_diff": max((r["max_abs_diff"] for r in conv), default=None),
            "max_intercept_diff": max((r["intercept_diff"] for r in conv), default=None),
            "n_zeros_match": sum(r["zeros_match"] for r in conv),
            "n_unconverged_ours_not_above": sum(r["objective_gap"] <= 1e-12 for r in unconv),
            "max_objective_gap_unconverged": max(
                (r["objective_gap"] for r in unconv), default=None
            ),
            "smallest_converged_lam": min((r["lam"] for r in conv), default=None),
            "largest_unconverged_lam": max((r["lam"] for r in unconv), default=None),
            "max_iter": params["oracle_max_iter"],
            "deprecation_warnings": sorted(
                {w for r in rows for w in r["warnings"] if w != "ConvergenceWarning"}
            ),
        }
    # ----- MLP
    acc_none = float(np.mean(mlp["none"]["val_acc"]))
    m["acc_none"] = acc_none
    m["acc_none_ci"] = mean_ci(mlp["none"]["val_acc"][:, 0])
    for reg in ("l1", "l2"):
        for name in ("val_acc", "exact_zero", "near_zero", "norm_ratio", "train_loss"):
            m[f"{reg}_{name}"] = mean_ci_columns(mlp[reg][name])
    for reg in ("none", "l1-sub", "dropout"):
        key = reg.replace("-", "_")
        m[key] = {
            name: mean_ci(mlp[reg][name][:, 0])
            for name in ("val_acc", "exact_zero", "near_zero", "norm_ratio", "train_loss")
        }
    j_pit = int(np.flatnonzero(lams == params["pitfall_lambda"])[0])
    m["pitfall_lambda"] = params["pitfall_lambda"]
    m["pitfall_prox_exact_zero"] = mean_ci(mlp["l1"]["exact_zero"][:, j_pit])
    m["pitfall_prox_near_zero"] = mean_ci(mlp["l1"]["near_zero"][:, j_pit])
    m["pitfall_sub_exact_zero"] = m["l1_sub"]["exact_zero"]
    m["pitfall_sub_near_zero"] = m["l1_sub"]["near_zero"]
    sub_w = np.abs(mlp["l1-sub"]["weights"][:, 0, :])
    prox_w = mlp["l1"]["weights"][:, j_pit, :]
    # where the proximal run has exact zeros, how large are the sub-gradient run's weights?
    hover = [np.median(sub_w[s][prox_w[s] == 0]) for s in range(sub_w.shape[0])]
    m["pitfall_sub_median_abs_where_prox_zero"] = (
        mean_ci(hover) if np.all(np.isfinite(hover)) else None
    )
    m["pitfall_threshold"] = params["lr"] * params["pitfall_lambda"]

    # ----- the verdict's selection rule
    star = {}
    for reg in ("l1", "l2"):
        acc_mean = np.mean(mlp[reg]["val_acc"], axis=0)
        j = _strongest_within_margin(lams, acc_mean, acc_none, params["acc_margin"])
        m[f"lambda_star_{reg}"] = 0.0 if j is None else float(lams[j])
        source = mlp["none"] if j is None else {k: v[:, [j]] for k, v in mlp[reg].items()}
        m[f"acc_{reg}_star"] = float(np.mean(source["val_acc"]))
        m[f"near_zero_{reg}_star"] = float(np.mean(source["near_zero"]))
        m[f"exact_zero_{reg}_star"] = float(np.mean(source["exact_zero"]))
        ratio = np.ones(params["n_seeds"]) if j is None else source["norm_ratio"][:, 0]
        c = mean_ci(ratio)
        m[f"norm_ratio_{reg}_star"] = c["mean"]
        m[f"norm_ratio_{reg}_star_low"] = c["low"]
        m[f"norm_ratio_{reg}_star_high"] = c["high"]
        star[reg] = source

    diff = star["l1"]["near_zero"][:, 0] - star["l2"]["near_zero"][:, 0]
    c = mean_ci(diff)
    m["near_zero_diff"], m["near_zero_diff_low"], m["near_zero_diff_high"] = (
        c["mean"],
        c["low"],
        c["high"],
    )
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
        Worker processes (default: see :func:`~dropout_study.sweep.run_sweep`; one for a
        sweep as small as the smoke profile's).
    """
    params = check_params(params)
    t0 = time.perf_counter()
    cells = _cells(params)
    sweep = run_sweep(
        run_cell,
        cells,
        key=f"{CHAPTER}/{_VERSION}",
        n_jobs=n_jobs,
        desc=CHAPTER,
        cache_dir=cache_dir,
        steps=sum(c["n_steps"] for c in cells if c["kind"] == "mlp"),
    )
    outs = sweep.results
    logistic, oracle_outs, mlp_outs = {}, {"l1": [], "l2": []}, []
    for c, o in zip(cells, outs, strict=True):
        if c["kind"] == "logistic":
            logistic[c["penalty"]] = o
        elif c["kind"] == "oracle":
            oracle_outs[c["penalty"]].append({**o, "index": c["index"]})
        else:
            mlp_outs.append((c, o))
    oracle = _compare_oracle(logistic, oracle_outs)

    runs = _mlp_runs(params)
    S = params["n_seeds"]
    by_reg = {reg: [k for k, (r, _) in enumerate(runs) if r == reg] for reg in REGULARISERS}
    outs_arr = [[o for (c, o) in mlp_outs if c["replicate"] == r] for r in range(S)]
    ref = np.stack([outs_arr[s][by_reg["none"][0]]["weights"] for s in range(S)])
    rel = params["near_zero_rel"]
    mlp: dict = {}
    for reg, idx in by_reg.items():
        weights = np.stack([[outs_arr[s][k]["weights"] for k in idx] for s in range(S)])
        mlp[reg] = {
            "weights": weights,
            "val_acc": np.array([[outs_arr[s][k]["val_acc"] for k in idx] for s in range(S)]),
            "train_loss": np.array([[outs_arr[s][k]["train_loss"] for k in idx] for s in range(S)]),
            "exact_zero": np.array([[exact_zero_fraction(w) for w in row] for row in weights]),
            "near_zero": np.array([[near_zero_fraction(w, rel) for w in row] for row in weights]),
            "norm_ratio": np.array(
                [[norm_ratio(w, ref[s]) for w in row] for s, row in enumerate(weights)]
            ),
        }
    metrics = _summarise(params, logistic, oracle, mlp)
    seconds = {
        "logistic": float(sum(o["seconds"] for o in logistic.values())),
        "oracle": float(sum(r["seconds"] for rows in oracle.values() for r in rows)),
        "mlp": float(sum(o["seconds"] for _, o in mlp_outs)),
        "wall": time.perf_counter() - t0,
        "cells_computed": sweep.n_computed,
        "cells_cached": sweep.n_cached,
    }
    return Result(
        params=params,
        metrics=metrics,
        logistic=logistic,
        oracle=oracle,
        lambdas=np.asarray(params["lambdas"]),
        mlp=mlp,
        seconds=seconds,
    )
