"""The l1-vs-l2 chapter's metrics from its cells: per regulariser and λ, the measures over
seeds (sparsity, norms, accuracy), the steps each run took, and the summary the verdict reads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dropout_study.chapters.l1_vs_l2 import analysis as rule
from dropout_study.measures.sparsity import (
    dead_units,
    exact_zero_fraction,
    hoyer_network,
    hoyer_per_layer,
    living_weights,
    near_zero_fraction,
    norm_ratio,
    unit_balance,
    zeros_on_dead_units,
)
from dropout_study.measures.stats import mean_ci, mean_ci_columns

REGULARISERS = ("none", "l1", "l2", "l1-sub", "dropout")


MEASURES = ("val_acc", "val_loss", "test_acc", "exact_zero", "near_zero", "norm_ratio",
            "norm_ratio_ref", "hoyer", "hoyer_first", "hoyer_unweighted", "hoyer_all", "dead",
            "living_exact_zero", "zeros_on_dead", "balance_median", "living_last", "steps",
            "capped")  # fmt: skip
"""Per run: ``hoyer`` over living units (layers weighted by living weights), ``hoyer_first``
(first layer), ``hoyer_unweighted`` (plain mean over layers; NaN when a layer keeps fewer than
2 living weights), ``hoyer_all`` (every unit, dead ones included); ``dead`` hidden units;
``living_exact_zero`` (share of the living units' weights exactly 0); ``zeros_on_dead`` (share
of the exactly-zero weights that enter or leave a dead unit; NaN without zeros);
``balance_median`` (median over living units of ``log(‖u_j‖/‖v_j‖)``,
:func:`~dropout_study.measures.sparsity.unit_balance`); ``living_last`` (living weights of the
output layer: below 2, its Hoyer index is undefined)."""


def _log_balance(weights, dead) -> np.ndarray:
    """``log(‖u_j‖/‖v_j‖)`` of every living hidden unit with a defined ratio, pooled over
    hidden layers."""
    out = []
    for ratio, d in zip(unit_balance(weights), dead, strict=True):
        keep = ~np.asarray(d, bool) & np.isfinite(ratio)
        out.append(np.log(ratio[keep]))
    return np.concatenate(out) if out else np.empty(0)


def seed_measures(outs: list, ref_none: list, ref_path: list | None, rel: float) -> dict:
    """The measures of one regulariser: ``outs[s][k]`` is the cell output of seed ``s``, run
    ``k``; ``ref_none[s]`` the unregularised output; ``ref_path[s]`` the path's smallest λ."""
    S, K = len(outs), len(outs[0])
    res: dict[str, Any] = {name: np.full((S, K), np.nan) for name in MEASURES}
    balance: list[list[np.ndarray | None]] = [[None] * K for _ in range(S)]
    for s in range(S):
        for k, o in enumerate(outs[s]):
            w = o["weights"]
            acts = [a.astype(float)[None, :] for a in o["active"]]
            dead = dead_units(w, acts, rel)
            per_layer = hoyer_per_layer(w, dead)
            res["hoyer"][s, k] = hoyer_network(w, dead)
            res["hoyer_unweighted"][s, k] = per_layer.mean()  # NaN if a layer has < 2 living
            res["hoyer_first"][s, k] = per_layer[0]
            res["hoyer_all"][s, k] = hoyer_network(w, [np.zeros_like(d) for d in dead])
            res["dead"][s, k] = sum(int(d.sum()) for d in dead)
            kept = living_weights(w, dead)
            res["living_last"][s, k] = kept[-1].size
            living = np.concatenate([x.ravel() for x in kept])
            res["living_exact_zero"][s, k] = np.mean(living == 0) if living.size else np.nan
            res["zeros_on_dead"][s, k] = zeros_on_dead_units(w, dead)
            balance[s][k] = b = _log_balance(w, dead)
            if b.size:
                res["balance_median"][s, k] = np.median(b)
            res["exact_zero"][s, k] = exact_zero_fraction(w)
            res["near_zero"][s, k] = near_zero_fraction(w, rel)
            res["norm_ratio"][s, k] = norm_ratio(w, ref_none[s]["weights"])
            if ref_path is not None:
                res["norm_ratio_ref"][s, k] = norm_ratio(w, ref_path[s]["weights"])
            for name in ("val_acc", "val_loss", "test_acc", "steps", "capped"):
                res[name][s, k] = float(o[name])
    res["weights"] = np.array(
        [[np.concatenate([x.ravel() for x in o["weights"]]) for o in row] for row in outs]
    )
    res["log_balance"] = balance  # [seed][run] -> (living units,) log(‖u_j‖/‖v_j‖)
    return res


def _steps_summary(params: dict, mlp: dict) -> dict:
    steps = {reg: mlp[reg]["steps"] for reg in REGULARISERS}
    every = np.concatenate([v.ravel() for v in steps.values()])
    capped = {reg: int(mlp[reg]["capped"].sum()) for reg in REGULARISERS}
    return {
        "cap": params["max_steps"],
        "n_runs": int(every.size),
        "n_capped": int(sum(capped.values())),
        "capped_by_reg": capped,
        "total": int(every.sum()),
        "median": float(np.median(every)),
        "min": int(every.min()),
        "max": int(every.max()),
        "mean_by_reg": {reg: float(v.mean()) for reg, v in steps.items()},
        "max_by_reg": {reg: int(v.max()) for reg, v in steps.items()},
    }


def _listed(a: np.ndarray) -> list:
    """Nested lists with ``None`` for undefined (NaN) values, as ``metrics.json`` stores them
    (so metrics compare equal across runs; ``np.asarray(x, float)`` turns None back into NaN)."""
    none = np.array(None, dtype=object)  # what np.where makes of None (numpy's stubs refuse it)
    return np.where(np.isfinite(a), a, none).tolist()


def summarise(params: dict, mlp: dict, n_val: int) -> dict:
    lams = np.asarray(params["lambdas"])
    m: dict = {
        "dataset": "breast_cancer",
        "n_seeds": params["n_seeds"],
        "hidden_units": int(sum(params["hidden"])),
        "lambdas": lams.tolist(),
        "acc_margin": params["acc_margin"],
        "hoyer_delta": params["hoyer_delta"],
        "near_zero_rel": params["near_zero_rel"],
        "lr": params["lr"],
        "n_val": n_val,
        "steps": _steps_summary(params, mlp),
    }
    keep = [k for k in MEASURES if k not in ("steps", "capped")]
    m["paths"] = {pen: {k: _listed(mlp[pen][k]) for k in keep} for pen in ("l1", "l2")}
    m["none_runs"] = {k: _listed(mlp["none"][k][:, 0]) for k in keep if k != "norm_ratio_ref"}
    m["dropout_runs"] = {k: _listed(mlp["dropout"][k][:, 0]) for k in keep if k != "norm_ratio_ref"}
    acc_none = mlp["none"]["val_acc"][:, 0]
    m["acc_none"] = float(acc_none.mean())
    m["acc_none_ci"] = mean_ci(acc_none)
    for pen in ("l1", "l2"):
        for name in keep:
            vals = mlp[pen][name]
            if np.all(np.isfinite(vals)):
                m[f"{pen}_{name}"] = mean_ci_columns(vals)
    for reg in ("none", "l1-sub", "dropout"):
        m[reg.replace("-", "_")] = {
            name: mean_ci(mlp[reg][name][:, 0])
            for name in ("val_acc", "test_acc", "exact_zero", "near_zero", "norm_ratio", "dead")
        }
    # λ* of each penalty at every margin of the robustness table, and how close to collapse
    for mg in sorted({*rule.MARGINS, params["acc_margin"]}):
        for pen in ("l1", "l2"):
            j = rule.strongest_within_margin(lams, mlp[pen]["val_acc"], acc_none, mg)
            m.setdefault("lambda_star", {}).setdefault(f"{mg:g}", {})[pen] = (
                None if j is None else float(lams[j])
            )
            m.setdefault("collapse", {}).setdefault(f"{mg:g}", {})[pen] = rule.collapse(
                lams, mlp[pen]["val_acc"], j, acc_none, mg, n_val
            )
    j_pit = int(np.flatnonzero(lams == params["pitfall_lambda"])[0])
    m["pitfall_lambda"] = params["pitfall_lambda"]
    m["pitfall_prox_exact_zero"] = mean_ci(mlp["l1"]["exact_zero"][:, j_pit])
    m["pitfall_prox_near_zero"] = mean_ci(mlp["l1"]["near_zero"][:, j_pit])
    m["pitfall_sub_exact_zero"] = m["l1_sub"]["exact_zero"]
    m["pitfall_sub_near_zero"] = m["l1_sub"]["near_zero"]
    sub_w = np.abs(mlp["l1-sub"]["weights"][:, 0, :])
    prox_w = mlp["l1"]["weights"][:, j_pit, :]
    hover = [np.median(sub_w[s][prox_w[s] == 0]) if np.any(prox_w[s] == 0) else np.nan
             for s in range(sub_w.shape[0])]  # fmt: skip
    m["pitfall_sub_median_abs_where_prox_zero"] = (
        mean_ci(hover) if np.all(np.isfinite(hover)) else None
    )
    m["pitfall_threshold"] = params["lr"] * params["pitfall_lambda"]
    return m
