"""Chapter 2's metrics: the per-replicate results of
:func:`dropout_study.chapters.cost_under_dropout.cells.run_cell` summarised over seeds.

Two kinds of entries: intervals for the page, ``{"mean", "low", "high", "method",
"degenerate"}`` (:func:`dropout_study.measures.stats.mean_ci`: 95 %, Student-t below 20 seeds,
BCa from 20); and, under ``per_seed``, the per-replicate values the findings are decided from
(:mod:`dropout_study.chapters.cost_under_dropout.evidence`), as lists (one entry per seed, NaN
where a seed has no value). Ratios of a theory to the measured R are per-seed ratios; their
intervals are geometric means with t intervals on the logarithms (:func:`log_ci`).

The K-mask control (:mod:`dropout_study.chapters.cost_under_dropout.control`) is summarised
per ``K`` over three windows of each seed's curves ``J(θ_t)``: ``best`` (the steps before the
primary run's restored best step θ*, the primary window), ``stop`` (up to where early stopping
ended the run) and ``half`` (the first half of the primary window).
"""

from __future__ import annotations

import math

import numpy as np

from dropout_study.chapters.cost_under_dropout.control import summed_rises
from dropout_study.measures.stats import mean_ci, seed_interval

__all__ = ["summarise", "ratio_rows", "log_ci", "control_summary", "WINDOWS"]

WINDOWS = {
    "best": "the steps before θ* of the run",
    "stop": "up to the step where early stopping ended the run",
    "half": "the first half of the steps before θ*",
}
"""The windows of the K-mask control (``best`` is the primary one)."""


def log_ci(values) -> dict | None:
    """Geometric mean of positive per-seed ratios with the 95 % interval of their logarithms
    (:func:`dropout_study.measures.stats.seed_interval`), as ``{"mean", "low", "high"}``;
    ``None`` when no value is finite and positive."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return None
    if v.size == 1:
        return {"mean": float(v[0]), "low": float(v[0]), "high": float(v[0])}
    iv = seed_interval(np.log(v))
    return {"mean": math.exp(iv.estimate), "low": math.exp(iv.low), "high": math.exp(iv.high)}


def _cols(values) -> list[dict | None]:
    """``mean_ci`` of each column of a ``(seeds, k)`` array (NaN rows dropped per column)."""
    arr = np.asarray(values, dtype=float)
    out = []
    for j in range(arr.shape[1]):
        col = arr[:, j]
        col = col[np.isfinite(col)]
        out.append(mean_ci(col) if col.size else None)
    return out


def _stack(outs, *keys) -> np.ndarray:
    vals = []
    for o in outs:
        v = o
        for k in keys:
            v = v[k]
        vals.append(np.asarray(v, dtype=float))
    return np.stack(vals)


def ratio_rows(outs, point: str) -> dict:
    """Per curve rate at ``point`` (``"at_theta0"`` or ``"at_primary"``): the measured R, the
    two theories, ``S = R/p`` and the per-seed ratios theory / measured (geometric means);
    ``per_seed`` keeps the measured R and the two ratios, ``(seeds, rates)``."""
    meas = _stack(outs, point, "measured")
    so = _stack(outs, point, "second_order")
    sl = _stack(outs, point, "slope")
    rates = np.asarray(outs[0]["curve_rates"], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r_so, r_sl = so / meas, sl / meas
    return {
        "measured": _cols(meas),
        "S": _cols(meas / rates),
        "second_order": _cols(so),
        "slope": _cols(sl),
        "ratio_second_order": [log_ci(r_so[:, j]) for j in range(rates.size)],
        "ratio_slope": [log_ci(r_sl[:, j]) for j in range(rates.size)],
        "mc_rel_se": float(np.nanmax(_stack(outs, point, "se") / np.abs(meas))),
        "per_seed": {
            "measured": meas.tolist(),
            "ratio_second_order": r_so.tolist(),
            "ratio_slope": r_sl.tolist(),
        },
    }


def control_summary(outs, ks) -> dict:
    """The K-mask control per ``K`` (``ks``) and window (:data:`WINDOWS`): per-seed summed
    rises (nats), rising steps (count) and share, and ``J`` at the window's end, with the
    intervals over seeds of the ``best`` window for the page."""
    per: dict = {}
    for name in WINDOWS:
        rises, ups, share, j_end, length = [], [], [], [], []
        for o in outs:
            w = int(o["control_window"])
            n = {"best": w, "stop": len(o["control_curves"][0]) - 1, "half": w // 2}[name]
            curves = [np.asarray(c)[: n + 1] for c in o["control_curves"]]
            rises.append([summed_rises(c) for c in curves])
            ups.append([int(np.sum(np.diff(c) > 0)) for c in curves])
            share.append([float(np.mean(np.diff(c) > 0)) if n > 0 else np.nan for c in curves])
            j_end.append([float(c[-1]) for c in curves])
            length.append(n)
        per[name] = {
            "rises": rises,
            "up_steps": ups,
            "share_up": share,
            "j_end": j_end,
            "steps": length,
        }
    best = per["best"]
    return {
        "ks": list(ks),
        "windows": WINDOWS,
        "per_seed": per,
        "rises": _cols(best["rises"]),
        "share_up": _cols(best["share_up"]),
        "j_end": _cols(best["j_end"]),
        "steps": mean_ci(best["steps"]),
        "k1_difference": float(np.nanmax([o["control_k1_difference"] for o in outs])),
        "alt_rises": [o["control_alt_rises"].tolist() for o in outs],
    }


def summarise(params: dict, outs: list[dict]) -> dict:
    """The chapter's JSON-able metrics (read by the page and by the findings)."""
    rates = params["dropout_rates"]
    prim = params["primary_rate"]
    S = len(outs)
    own = _stack(outs, "own", "measured")
    capped = np.stack([o["capped"] for o in outs])
    j_star = _stack(outs, "j_star")
    price = _stack(outs, "price")
    m: dict = {
        "dataset": params["dataset"],
        "n_train": int(outs[0]["n_train"]),
        "hidden": params["hidden"],
        "n_seeds": S,
        "rates": rates,
        "primary_rate": prim,
        "margin": params["margin"],
        "abs_margin": params["abs_margin"],
        "control_margin": params["control_margin"],
        "lr": params["lr"],
        "cap": params["max_steps"],
        "patience": params["patience"],
        "min_delta": params["min_delta"],
        "curve_rates": [float(r) for r in outs[0]["curve_rates"]],
        "checkpoints": params["checkpoints"],
        # exact checks: counts of values that differ (0 = bit-identical)
        "p0_differences": int(sum(o["p0_differences"] for o in outs)),
        "eval_differences": int(sum(o["eval_differences"] for o in outs)),
        "contribution_diff": float(max(o["contribution_diff"] for o in outs)),
        "p0_eval_up_steps": int(sum(o["p0_eval_up_steps"] for o in outs)),
        "p0_steps_total": int(sum(o["p0_steps"] for o in outs)),
        # training
        "stopped_at": _cols(_stack(outs, "stopped_at")),
        "best_step": _cols(_stack(outs, "best_step")),
        "n_capped": [int(v) for v in capped.sum(axis=0)],
        "n_runs": int(capped.size),
        # R, J and R / J at θ*_p, own p
        "r_own": [mean_ci(own[:, i]) for i in range(len(rates))],
        "s_own": [None] + [mean_ci(own[:, i] / rates[i]) for i in range(1, len(rates))],
        "j_star": [mean_ci(j_star[:, i]) for i in range(len(rates))],
        "r_over_j": [mean_ci(own[:, i] / j_star[:, i]) for i in range(len(rates))],
        # curves
        "at_theta0": ratio_rows(outs, "at_theta0"),
        "at_primary": ratio_rows(outs, "at_primary"),
        # along training, at the primary rate
        "along_p0": _cols(_stack(outs, "along_p0")),
        "along_primary": _cols(_stack(outs, "along_primary")),
        "along_reached": [int(v) for v in np.isfinite(_stack(outs, "along_primary")).sum(axis=0)],
        # the price at convergence
        "price": [mean_ci(c) for c in price.T],
        "price_val": [mean_ci(c) for c in _stack(outs, "price_val").T],
        # what the curves do
        "eval_up": [mean_ci(c) for c in _stack(outs, "eval_up").T],
        "train_up": [mean_ci(c) for c in _stack(outs, "train_up").T],
        "control": control_summary(outs, params["control_ks"]),
        "pitfall": {
            "lr": params["pitfall_lr"],
            "adam_lr": params["pitfall_adam_lr"],
            "steps": params["pitfall_steps"],
            "large_step_up": mean_ci([o["pitfall_up"]["large_step"] for o in outs]),
            "adam_up": mean_ci([o["pitfall_up"]["adam"] for o in outs]),
        },
    }
    cr = m["curve_rates"]
    theta0 = _stack(outs, "at_theta0", "measured")
    j0 = j_star[:, 0]
    m["per_seed"] = {
        "r_own": own.tolist(),
        "j_star": j_star.tolist(),
        "price": price.tolist(),
        "r_theta0": [
            [np.nan if p == 0 else float(theta0[s, cr.index(p)]) for p in rates] for s in range(S)
        ],
        "j_theta0": j0.tolist(),
        "along_r": _stack(outs, "along_primary").tolist(),
        "along_j": _stack(outs, "j_along_primary").tolist(),
        "alt_r": [o["alt_r"].tolist() for o in outs],
        "alt_j": [o["alt_j"].tolist() for o in outs],
    }
    m["alt_settings"] = [
        f"data set: {name.replace('_', ' ')}" for name in params["alt_datasets"]
    ] + [
        f"hidden widths {' × '.join([str(w)] * len(params['hidden']))}"
        for w in params["alt_widths"]
    ]
    m["control"]["alt_datasets"] = [
        name.replace("_", " ")
        for name in params["alt_datasets"]
        if name in params["control_alt_datasets"]
    ]
    h = outs[0]["hist"]
    s = np.asarray(h["samples"])
    m["hist"] = {
        "rate": prim,
        "n_masks": int(s.size),
        "eval": float(h["eval"]),
        "mean": float(s.mean()),
        "sd": float(s.std(ddof=1)),
        "share_above_eval": float(np.mean(s > h["eval"])),
    }
    return m
