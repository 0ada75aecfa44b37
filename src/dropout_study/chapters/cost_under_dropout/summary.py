"""Chapter 2's metrics: the per-replicate results of
:func:`dropout_study.chapters.cost_under_dropout.experiment.run_cell` summarised over seeds.

Every interval is :func:`dropout_study.measures.stats.seed_interval` (95 %, Student-t below 20
seeds,
BCa from 20, a constant sample flagged degenerate), as ``{"mean", "low", "high", "method",
"degenerate"}`` (:func:`dropout_study.measures.stats.mean_ci`). Ratios of a theory to the measured R
are per-seed ratios averaged over seeds.
"""

from __future__ import annotations

import numpy as np

from dropout_study.measures.stats import mean_ci

__all__ = ["summarise", "ratio_rows", "factor_text"]


def factor_text(r0: float, rp: float) -> str:
    """How R at θ*₀ compares with R at the primary minimiser, ``r0 / rp``: "x times smaller"
    only when the factor, as printed (one decimal), is above 1 (a factor of 1.02 would read
    "1.0 times smaller"), else "not smaller (y times the value)"; "not comparable" when
    ``rp`` is not positive."""
    if not rp > 0:
        return "not comparable (R at the primary minimiser is not positive)"
    factor = r0 / rp
    if round(factor, 1) > 1.0:
        return f"{factor:z.1f} times smaller"
    return f"not smaller ({factor:z.2f} times the value)"


def _cols(values) -> list[dict]:
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
    two theories, and the per-seed ratios theory / measured, each with its interval."""
    meas = _stack(outs, point, "measured")
    so = _stack(outs, point, "second_order")
    sl = _stack(outs, point, "slope")
    return {
        "measured": _cols(meas),
        "second_order": _cols(so),
        "slope": _cols(sl),
        "ratio_second_order": _cols(so / meas),
        "ratio_slope": _cols(sl / meas),
        "mc_rel_se": float(np.nanmax(_stack(outs, point, "se") / np.abs(meas))),
    }


def summarise(params: dict, outs: list[dict]) -> dict:
    """The chapter's JSON-able metrics (read by the page and by the verdict rule)."""
    rates = params["dropout_rates"]
    prim = params["primary_rate"]
    S = len(outs)
    own = _stack(outs, "own", "measured")
    capped = np.stack([o["capped"] for o in outs])
    m: dict = {
        "dataset": params["dataset"],
        "n_train": int(outs[0]["n_train"]),
        "hidden": params["hidden"],
        "n_seeds": S,
        "rates": rates,
        "primary_rate": prim,
        "margin": params["margin"],
        "alt_margins": [params["margin"] / 2, params["margin"] * 2],
        "lr": params["lr"],
        "cap": params["max_steps"],
        "patience": params["patience"],
        "min_delta": params["min_delta"],
        "curve_rates": [float(r) for r in outs[0]["curve_rates"]],
        "checkpoints": params["checkpoints"],
        # exact checks
        "p0_identical": all(o["p0_identical"] for o in outs),
        "eval_deterministic": all(o["eval_deterministic"] for o in outs),
        "contribution_diff": float(max(o["contribution_diff"] for o in outs)),
        "p0_eval_up_steps": int(sum(o["p0_eval_up_steps"] for o in outs)),
        "p0_steps_total": int(sum(o["p0_steps"] for o in outs)),
        # training
        "stopped_at": _cols(_stack(outs, "stopped_at")),
        "best_step": _cols(_stack(outs, "best_step")),
        "n_capped": [int(v) for v in capped.sum(axis=0)],
        "n_runs": int(capped.size),
        # R at θ*_p, own p
        "r_own": [mean_ci(own[:, i]) for i in range(len(rates))],
        "r_own_second_order": _cols(_stack(outs, "own", "second_order")),
        "r_own_slope": _cols(_stack(outs, "own", "slope")),
        # curves
        "at_theta0": ratio_rows(outs, "at_theta0"),
        "at_primary": ratio_rows(outs, "at_primary"),
        # along training, at the primary rate
        "along_p0": _cols(_stack(outs, "along_p0")),
        "along_primary": _cols(_stack(outs, "along_primary")),
        "along_reached": [int(v) for v in np.isfinite(_stack(outs, "along_primary")).sum(axis=0)],
        # the price at convergence
        "price": [mean_ci(c) for c in _stack(outs, "price").T],
        "price_val": [mean_ci(c) for c in _stack(outs, "price_val").T],
        # what the curves do
        "eval_up": [mean_ci(c) for c in _stack(outs, "eval_up").T],
        "train_up": [mean_ci(c) for c in _stack(outs, "train_up").T],
        "pitfall": {
            "lr": params["pitfall_lr"],
            "adam_lr": params["pitfall_adam_lr"],
            "steps": params["pitfall_steps"],
            "large_step_up": mean_ci([o["pitfall_up"]["large_step"] for o in outs]),
            "adam_up": mean_ci([o["pitfall_up"]["adam"] for o in outs]),
        },
    }
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
    # R at θ*_0 at each trained rate (for the robustness table)
    cr = m["curve_rates"]
    m["r_theta0"] = [None if p == 0 else m["at_theta0"]["measured"][cr.index(p)] for p in rates]
    return m
