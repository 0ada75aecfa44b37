"""Chapter 4's logistic-regression part (cells and summary), used by
:mod:`dropout_study.chapters.l1_vs_l2.experiment`.

Logistic regression (no hidden layer) on the training split of breast cancer; objective mean
log-loss (nats) + ``λ‖w‖₁`` or ``(λ/2)‖w‖²``, intercept unpenalised, solved by
:mod:`dropout_study.nn.logistic` (FISTA with soft-thresholding, stopping when the gradient mapping
is
``<= LOGISTIC_TOL``) over a log-spaced λ grid from ``λ_max = ‖Xᵀ(y − ȳ)‖∞ / n``, warm-started.
The oracle is scikit-learn's ``LogisticRegression`` at ``C = 1/(n·λ)`` (saga for L1, lbfgs for
L2, ``tol = ORACLE_TOL``). Coefficients are compared only where the oracle converged
(``n_iter_ < max_iter``), against the tolerance :data:`ORACLE_COEF_TOL`; elsewhere the two
objectives are compared, both computed by :func:`dropout_study.nn.logistic.logistic_objective`.

Along each path the Hoyer index of the coefficients (Hoyer 2004) and the norm ratio against
the path's smallest λ are recorded: the training split is separable, so there is no
unregularised optimum to compare with and the smallest λ is the reference point.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from dropout_study import data as datasets
from dropout_study import seeds
from dropout_study.measures.sparsity import hoyer
from dropout_study.nn.logistic import logistic_objective
from dropout_study.nn.logistic_path import lambda_grid, logistic_path, sklearn_logistic

__all__ = ["LOGISTIC_TOL", "ORACLE_TOL", "ORACLE_COEF_TOL", "oracle_indices", "logistic_cell",
           "oracle_cell", "compare_oracle", "summarise"]  # fmt: skip

LOGISTIC_TOL = 1e-9  # stopping tolerance of our logistic solver (gradient mapping, max-norm)
ORACLE_TOL = 1e-8  # scikit-learn's tol
ORACLE_COEF_TOL = 1e-4  # largest coefficient difference accepted where the oracle converged


def _data(seed: int) -> datasets.Dataset:
    return datasets.load("breast_cancer", rng=seeds.streams(seed).split)


def _grid(ds: datasets.Dataset, n_lambdas: int, ratio: float) -> np.ndarray:
    return lambda_grid(ds.X_train, ds.y_train, n_lambdas, ratio)


def oracle_indices(n_lambdas: int, n_oracle: int) -> list[int]:
    """``n_oracle`` grid indices spread evenly over ``1 .. n_lambdas - 1`` (λ_max excluded,
    where the zero pattern is a boundary case)."""
    return sorted({int(round(i)) for i in np.linspace(1, n_lambdas - 1, n_oracle)})


def logistic_cell(cell: dict) -> dict:
    """The whole path of one penalty (``cell["penalty"]``)."""
    ds = _data(cell["seed"])
    grid = _grid(ds, cell["n_lambdas"], cell["lambda_ratio"])
    t0 = time.perf_counter()
    path = logistic_path(ds.X_train, ds.y_train, grid, penalty=cell["penalty"], tol=LOGISTIC_TOL)
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


def oracle_cell(cell: dict) -> dict:
    """scikit-learn at grid point ``cell["index"]`` of one penalty."""
    ds = _data(cell["seed"])
    X, y = ds.X_train, ds.y_train
    lam = float(_grid(ds, cell["n_lambdas"], cell["lambda_ratio"])[cell["index"]])
    est = sklearn_logistic(
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
        "objective": logistic_objective(X, y, coef, intercept, penalty=cell["penalty"], lam=lam),
        "seconds": seconds,
    }


def compare_oracle(logistic: dict, oracle_outs: dict) -> dict:
    """Per penalty, the oracle rows with our solution's differences added."""
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


def _path_hoyer(coefs: np.ndarray) -> list:
    return [hoyer(c) if np.count_nonzero(c) else None for c in coefs]  # None: all zero


def summarise(params: dict, logistic: dict, oracle: dict) -> dict:
    """The logistic part's metrics (JSON-able)."""
    m: dict = {}
    l1, l2 = logistic["l1"], logistic["l2"]
    ref = {pen: np.linalg.norm(logistic[pen]["coefs"][-1]) for pen in ("l1", "l2")}
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
        "hoyer_l1": _path_hoyer(l1["coefs"]),
        "hoyer_l2": _path_hoyer(l2["coefs"]),
        "norm_ratio_ref_l1": (np.linalg.norm(l1["coefs"], axis=1) / ref["l1"]).tolist(),
        "norm_ratio_ref_l2": (np.linalg.norm(l2["coefs"], axis=1) / ref["l2"]).tolist(),
    }
    for pen, rows in oracle.items():
        conv = [r for r in rows if r["converged"]]
        unconv = [r for r in rows if not r["converged"]]
        m[f"oracle_{pen}"] = {
            "n": len(rows),
            "n_converged": len(conv),
            "coef_tol": ORACLE_COEF_TOL,
            "n_within_tol": sum(r["max_abs_diff"] <= ORACLE_COEF_TOL for r in conv),
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
    return m
