"""Chapter 4 (``l1-vs-l2``): does L1 make weights sparse while L2 only shrinks them?

Design
------
**Logistic regression** on breast cancer, L1 and L2 paths checked against scikit-learn: see
:mod:`dropout_study.chapters.l1_vs_l2.logistic`.

**MLP** ``[30, *hidden, 1]`` (ReLU, sigmoid head) on breast cancer, ``n_seeds`` replicates.
Replicate ``r`` uses ``seeds.streams(seeds.replicate(seed, r))``: its data split (train /
validation / test) and initial weights are shared by every regulariser (common random
numbers). Training is plain full-batch gradient descent (``SGD(lr)``, no momentum), so the
proximal L1 step soft-thresholds by exactly ``lr · λ`` (with Adam or momentum
:func:`~dropout_study.nn.training.train` refuses it). **Stopping rule**: early stopping on the
validation loss, ``EarlyStopping(patience, min_delta)`` evaluated every ``eval_every`` steps,
at most ``max_steps`` steps (the cap; capped runs are counted), the model restored to its best
evaluation. Regularisers, one run each per replicate (the unregularised run is shared by both
penalty paths):

- ``none``; ``l1`` (proximal) and ``l2`` at every λ in ``lambdas``;
- ``l1-sub``: L1 as a sub-gradient ``λ·sign(w)`` at ``pitfall_lambda`` (the pitfall);
- ``dropout``: inverted dropout with rate ``dropout_rate`` after the hidden layers.

Measures of the trained weight matrices (biases excluded,
:mod:`dropout_study.measures.sparsity`): exact-zero and near-zero fractions (``|w| <
near_zero_rel · max|w|``), the norm ratio against the ``none`` run of the same replicate and
against the smallest λ of the same path (``norm_ratio_ref``), dead hidden units (incoming
weights all near zero, or never active on the training split), the Hoyer index per layer
over living units (mean over layers weighted by living weights: ``hoyer``; unweighted:
``hoyer_unweighted``; first layer: ``hoyer_first``; all units: ``hoyer_all``), the share of
exact zeros on dead units and among living units, and the balance of each unit
(:mod:`dropout_study.chapters.l1_vs_l2.summary`). Validation
accuracy and loss at the restored parameters select λ
(:mod:`dropout_study.chapters.l1_vs_l2.verdict`,
validation data only); test accuracy is recorded for the page and never used to select.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dropout_study import data as datasets
from dropout_study import seeds
from dropout_study.chapters import cost
from dropout_study.chapters.l1_vs_l2 import logistic as logi
from dropout_study.chapters.l1_vs_l2.summary import REGULARISERS, seed_measures, summarise
from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import SGD
from dropout_study.nn.penalties import make_penalty
from dropout_study.nn.training import EarlyStopping, train
from dropout_study.parameters import complete, follow_member
from dropout_study.sweep.runner import run_sweep
from dropout_study.validation import (
    bound,
    check_float,
    check_float_list,
    check_int,
    check_int_list,
    fail,
    require,
)

__all__ = ["CHAPTER", "estimate", "REGULARISERS", "Result", "check_params", "run", "run_cell"]

CHAPTER = "l1-vs-l2"
_VERSION = "v2"  # bump when a cell's meaning changes without a source change
LOGISTIC_TOL, ORACLE_TOL, ORACLE_COEF_TOL = logi.LOGISTIC_TOL, logi.ORACLE_TOL, logi.ORACLE_COEF_TOL
# pitfall_lambda follows lambdas when the user did not set it (params.resolve applies it)
DEPENDENT_DEFAULTS = {"pitfall_lambda": follow_member("pitfall_lambda", "lambdas")}


def check_params(params: dict) -> dict:
    """Check ranges and consistency; return a new dict with every parameter (defaults filled).

    Raises ``ValueError``/``TypeError`` with the project's template, e.g. "The 'lambdas'
    parameter of l1-vs-l2 must be ...; got ...", naming the first offending parameter.
    """
    o = CHAPTER
    p = complete(params, o)
    out: dict[str, Any] = {"seed": check_int(p["seed"], "seed", o, low=0)}
    out["n_lambdas"] = check_int(p["n_lambdas"], "n_lambdas", o, low=3)
    out["lambda_ratio"] = check_float(
        p["lambda_ratio"], "lambda_ratio", o, low=0.0, high=1.0, low_open=True, high_open=True
    )
    high = bound(out["n_lambdas"] - 1, "n_lambdas − 1")
    out["n_oracle"] = check_int(p["n_oracle"], "n_oracle", o, low=1, high=high)
    out["oracle_max_iter"] = check_int(p["oracle_max_iter"], "oracle_max_iter", o, low=10)
    out["n_seeds"] = check_int(p["n_seeds"], "n_seeds", o, low=2)
    out["hidden"] = check_int_list(
        p["hidden"], "hidden", o, low=1, order="any: layer widths, input to output"
    )
    lams = check_float_list(p["lambdas"], "lambdas", o, low=0.0, low_open=True, min_len=2)
    out["lambdas"] = lams
    out["dropout_rate"] = check_float(
        p["dropout_rate"], "dropout_rate", o, low=0.0, high=1.0, low_open=True, high_open=True
    )
    out["lr"] = check_float(p["lr"], "lr", o, low=0.0, high=4.0, low_open=True)
    out["max_steps"] = check_int(p["max_steps"], "max_steps", o, low=1)
    out["eval_every"] = check_int(
        p["eval_every"], "eval_every", o, low=1, high=bound(out["max_steps"], "max_steps")
    )
    out["patience"] = check_int(p["patience"], "patience", o, low=1)
    out["min_delta"] = check_float(p["min_delta"], "min_delta", o, low=0.0)
    out["acc_margin"] = check_float(p["acc_margin"], "acc_margin", o, low=0.0, high=1.0)
    out["hoyer_delta"] = check_float(p["hoyer_delta"], "hoyer_delta", o, low=0.0, high=1.0,
                                     high_open=True)  # fmt: skip
    out["near_zero_rel"] = check_float(
        p["near_zero_rel"], "near_zero_rel", o, low=0.0, high=1.0, low_open=True, high_open=True
    )
    pit = check_float(p["pitfall_lambda"], "pitfall_lambda", o, low=0.0, low_open=True)
    shown = f"{out['lambdas']}"
    require(pit in out["lambdas"], "pitfall_lambda", o, "one of the lambdas", pit, detail=shown)
    out["pitfall_lambda"] = pit
    return out


# ---------------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------------
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
        n_steps=cell["max_steps"],
        penalty=penalty,
        X_val=ds.X_val,
        y_val=ds.y_val,
        eval_every=cell["eval_every"],
        mask_rng=st.masks,
        stop=EarlyStopping(cell["patience"], cell["min_delta"], monitor="val"),
    )
    n_hidden = len(cell["hidden"])
    active = [np.any(model.hidden(ds.X_train, k) > 0, axis=0) for k in range(n_hidden)]
    return {
        "weights": [w.copy() for w in model.weights],
        "active": active,
        "val_acc": model.accuracy(ds.X_val, ds.y_val),
        "val_loss": model.loss(ds.X_val, ds.y_val),
        "test_acc": model.accuracy(ds.X_test, ds.y_test),
        "train_loss": model.loss(ds.X_train, ds.y_train),
        "n_val": int(ds.X_val.shape[0]),
        "steps": int(hist.stopped_at),
        "best_step": int(hist.best_step),
        "capped": bool(hist.capped),
        "seconds": time.perf_counter() - t0,
    }


def run_cell(cell: dict) -> dict:
    """One cell of the sweep: ``cell["kind"]`` is ``"logistic"`` (a whole path of one
    penalty), ``"oracle"`` (scikit-learn at one λ of that path) or ``"mlp"`` (one network,
    one regulariser, one replicate). Deterministic given the cell (run by
    :func:`~dropout_study.sweep.runner.run_sweep`, with single-threaded BLAS)."""
    kind = cell["kind"]
    if kind == "logistic":
        return logi.logistic_cell(cell)
    if kind == "oracle":
        return logi.oracle_cell(cell)
    if kind == "mlp":
        return _mlp_cell(cell)
    fail("kind", "l1_vs_l2.run_cell", "one of 'logistic', 'oracle', 'mlp'", kind)


_LOGISTIC_KEYS = ("seed", "n_lambdas", "lambda_ratio")
_MLP_KEYS = ("seed", "hidden", "dropout_rate", "lr", "max_steps", "eval_every", "patience",
             "min_delta")  # fmt: skip


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
        for i in logi.oracle_indices(params["n_lambdas"], params["n_oracle"]):
            cells.append({"kind": "oracle", "penalty": pen, "index": i,
                          "oracle_max_iter": params["oracle_max_iter"], **lp})  # fmt: skip
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

    ``metrics`` is JSON-able (every number the verdict and the page use; per-seed paths under
    ``paths`` / ``none_runs`` for :mod:`dropout_study.chapters.l1_vs_l2.verdict`). Arrays:

    - ``logistic``: per penalty ``"l1"``/``"l2"`` a dict with ``lams`` ``(m,)``, ``coefs``
      ``(m, 30)``, ``intercepts``, ``objectives`` (nats), ``n_iter``, ``converged``,
      ``val_acc`` ``(m,)``; ``oracle``: per penalty a list of dicts (``index``, ``lam``,
      ``coef``, ``converged``, ``max_abs_diff``, ``zeros_match``, ``objective_gap`` = ours −
      theirs, …);
    - ``lambdas`` ``(L,)``; ``mlp``: per regulariser ``none``/``l1``/``l2``/``l1-sub``/
      ``dropout`` a dict of ``(S, K)`` arrays (K = L for l1/l2, else 1), one per name in
      :data:`MEASURES`, ``weights`` ``(S, K, n_weights)`` (all weight matrices,
      flattened in layer order) and ``log_balance`` (``[seed][run]``: ``ln(‖u_j‖/‖v_j‖)`` of
      each living hidden unit, :func:`~dropout_study.measures.sparsity.unit_balance`);
    - ``seconds``: wall-clock of the run and summed per-part times of the cells.
    """

    params: dict
    metrics: dict
    logistic: dict
    oracle: dict
    lambdas: np.ndarray
    mlp: dict
    seconds: dict = field(default_factory=dict)


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
        Worker processes (default: see :func:`~dropout_study.sweep.runner.run_sweep`).
    """
    params = check_params(params)
    t0 = time.perf_counter()
    cells = _cells(params)
    n_mlp = sum(c["kind"] == "mlp" for c in cells)
    sweep = run_sweep(
        run_cell,
        cells,
        key=f"{CHAPTER}/{_VERSION}",
        n_jobs=n_jobs,
        desc=CHAPTER,
        cache_dir=cache_dir,
        steps=n_mlp * min(params["max_steps"], 600),  # typical stopped length, not the cap
    )
    outs = sweep.results
    logistic, mlp_outs = {}, []
    oracle_outs: dict[str, list[dict]] = {"l1": [], "l2": []}
    for c, o in zip(cells, outs, strict=True):
        if c["kind"] == "logistic":
            logistic[c["penalty"]] = o
        elif c["kind"] == "oracle":
            oracle_outs[c["penalty"]].append({**o, "index": c["index"]})
        else:
            mlp_outs.append((c, o))
    oracle = logi.compare_oracle(logistic, oracle_outs)

    runs = _mlp_runs(params)
    S = params["n_seeds"]
    by_reg = {reg: [k for k, (r, _) in enumerate(runs) if r == reg] for reg in REGULARISERS}
    per_seed = [[o for (c, o) in mlp_outs if c["replicate"] == r] for r in range(S)]
    ref_none = [per_seed[s][by_reg["none"][0]] for s in range(S)]
    rel = params["near_zero_rel"]
    mlp: dict = {}
    for reg, idx in by_reg.items():
        outs_reg = [[per_seed[s][k] for k in idx] for s in range(S)]
        ref_path = [row[0] for row in outs_reg] if reg in ("l1", "l2") else None
        mlp[reg] = seed_measures(outs_reg, ref_none, ref_path, rel)
    metrics = logi.summarise(params, logistic, oracle)
    metrics.update(summarise(params, mlp, ref_none[0]["n_val"]))
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


def estimate(p: dict) -> tuple[float, float]:
    """(multiply-adds, bytes of the largest arrays) of one run with the resolved ``p``
    (:mod:`dropout_study.chapters.cost`), read before any kernel starts."""
    n, d, k = cost.data("breast_cancer")
    w = cost.weights(d, p.get("hidden", [16]), k)
    nets = cost.n(p, "n_seeds", 8) * (2 * cost.n(p, "lambdas", 7) + 2)
    train = 3 * nets * cost.stopped(p, cap=5000) * n * w
    path = cost.n(p, "n_lambdas", 20) * cost.n(p, "oracle_max_iter", 3000) * n * d * 0.2
    memory = max(
        cost.n(p, "n_lambdas", 20) * n * d * 8, cost.net_memory(n, w, p.get("hidden", [16]))
    )
    return train + path, memory
