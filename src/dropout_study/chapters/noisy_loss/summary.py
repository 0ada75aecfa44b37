"""The noisy-loss chapter's metrics from its cells: times to target, the trends in p, the
control's comparison, per data set.
"""

from __future__ import annotations

import warnings

import numpy as np

from dropout_study.measures.landscape import across_mask_spread
from dropout_study.measures.stats import mean_ci_columns, seed_interval, spearman_ci
from dropout_study.measures.time_to_target import (
    censored_median,
    censored_values,
    first_reach,
    steps_to_own_fraction,
)


def _times(curves, fraction=None, target=None) -> np.ndarray:
    if fraction is not None:
        return np.array(
            [steps_to_own_fraction(c["eval_step"], c["val_loss"], fraction) for c in curves]
        )
    return np.array([first_reach(c["eval_step"], c["val_loss"], target) for c in curves])


def _rho(x, y, groups, *, positive_only=None) -> dict:
    x, y, g = np.asarray(x, float), np.asarray(y, float), np.asarray(groups)
    keep = np.ones(x.shape, bool) if positive_only is None else x > 0
    keep &= np.isfinite(y)
    if keep.sum() < 3 or np.unique(x[keep]).size < 2:
        return {"rho": float("nan"), "low": float("nan"), "high": float("nan")}
    r = spearman_ci(x[keep], y[keep], groups=g[keep])
    return {"rho": r.rho, "low": r.low, "high": r.high, "degenerate": r.degenerate}


def _steps_rho(times: np.ndarray, rates, cap: float) -> dict:
    """ρ(p, steps) within seeds, censored runs ranked last (``times`` ``(S, P)``)."""
    S, P = times.shape
    r = _rho(np.tile(rates, S), censored_values(times, cap).ravel(), np.repeat(np.arange(S), P))
    r["censored"] = int(np.isnan(times).sum())
    r["median"] = [censored_median(times[:, j]) for j in range(P)]
    return r


def _nanmedian(a: np.ndarray) -> np.ndarray:
    """Median over seeds (axis 0) ignoring NaN (missing checkpoints, p = 0's SNR); NaN where
    every seed is missing."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(a, axis=0)


def _fit_inf(ks, steps) -> float:
    """Intercept ``a`` of the least-squares fit ``steps ≈ a + b/K`` (the ``K → ∞`` value)."""
    return float(np.polyfit(1.0 / np.asarray(ks, float), steps, 1)[1])


def _because(k1: np.ndarray, other: np.ndarray) -> dict:
    d = other - k1
    iv = seed_interval(d)
    return {
        "estimate": iv.estimate,
        "low": iv.low,
        "high": iv.high,
        "margin": 0.1 * float(np.mean(k1)),
        "k1_mean": float(np.mean(k1)),
        "other_mean": float(np.mean(other)),
        "method": iv.method,
    }


def summarise_dataset(params, outs, rates) -> tuple[dict, dict]:
    S, P, G = params["n_seeds"], len(rates), len(params["lr_grid"])
    grid = params["lr_grid"]
    # outs: [seed][lr][rate]
    cube = [[outs[(s * G + g) * P : (s * G + g + 1) * P] for g in range(G)] for s in range(S)]
    gi = grid.index(params["lr"])
    prim = [cube[s][gi] for s in range(S)]  # [seed][rate]
    flat = [c for row in prim for c in row]
    cap = params["max_steps"] + params["eval_every"]
    x, groups = np.tile(rates, S), np.repeat(np.arange(S), P)

    def arr(name):
        return np.array([[c[name] for c in row] for row in prim])

    best = np.array([[np.min(c["val_loss"]) for c in row] for row in prim])
    final = np.array([[c["val_loss"][-1] for c in row] for row in prim])
    init = np.array([row[0]["val_loss"][0] for row in prim])
    slices = arr("slice_masks")  # (S, P, K, A)
    mid = slices.shape[-1] // 2
    spread0 = np.std(slices[..., mid], axis=-1, ddof=1)
    spread_avg = np.array([[across_mask_spread(slices[s, j]) for j in range(P)] for s in range(S)])
    m = {
        "n_train": int(prim[0][0]["n_train"]),
        "initial_val_loss": seed_interval(init).as_dict(),
        "spread0": mean_ci_columns(spread0),
        "spread_avg": mean_ci_columns(spread_avg),
        "rho_spread0": _rho(x, spread0.ravel(), groups, positive_only=True),
        "rho_spread_avg": _rho(x, spread_avg.ravel(), groups, positive_only=True),
        "best_val_loss": mean_ci_columns(best),
        "final_val_loss": mean_ci_columns(final),
        "rho_best": _rho(x, best.ravel(), groups),
        "rho_final": _rho(x, final.ravel(), groups),
        "capped": int(arr("capped").sum()),
        "stopped_at_median": np.median(arr("stopped_at"), axis=0).tolist(),
    }
    snr, var = arr("snr"), arr("grad_variance")  # (S, P, C)
    m["snr_median"] = _nanmedian(snr).T.tolist()  # [checkpoint][rate]
    m["grad_variance_median"] = _nanmedian(var).T.tolist()
    m["snr_nonpositive"] = int(np.sum(snr[:, rates > 0] <= 0))
    m["checkpoint_missing"] = np.isnan(var).sum(axis=(0, 1)).astype(int).tolist()
    m["rho_snr"] = [
        _rho(x, snr[:, :, c].ravel(), groups, positive_only=True) for c in range(snr.shape[2])
    ]
    m["rho_variance"] = [
        _rho(x, var[:, :, c].ravel(), groups, positive_only=True) for c in range(var.shape[2])
    ]
    # time to target
    times = {}
    times["primary"] = _times(flat, fraction=params["target_fraction"]).reshape(S, P)
    for f in params["alt_fractions"]:
        times[f"own {f:g}"] = _times(flat, fraction=f).reshape(S, P)
    L0, b0 = float(np.mean(init)), float(np.mean(best[:, list(rates).index(0.0)]))
    n = params["n_abs_targets"]
    abs_targets = [L0 - (i / n) * (L0 - b0) for i in range(1, n + 1)]
    for i, c in enumerate(abs_targets, 1):
        times[f"abs {i}"] = _times(flat, target=c).reshape(S, P)
    m["abs_targets"] = abs_targets
    m["steps"] = {k: _steps_rho(v, rates, cap) for k, v in times.items()}
    m["steps_mean_reached"] = {
        k: [float(np.nanmean(v[:, j])) if np.isfinite(v[:, j]).any() else None for j in range(P)]
        for k, v in times.items()
    }
    # per-p best learning rate, chosen on the mean best validation loss over seeds
    best_g = np.array(
        [
            [[np.min(cube[s][g][j]["val_loss"]) for j in range(P)] for g in range(G)]
            for s in range(S)
        ]
    )  # (S, G, P)
    pick = np.argmin(best_g.mean(axis=0), axis=0)  # (P,)
    m["best_lr"] = [grid[g] for g in pick]
    lr_curves = [cube[s][pick[j]][j] for s in range(S) for j in range(P)]
    lr_times = _times(lr_curves, fraction=params["target_fraction"]).reshape(S, P)
    m["steps_best_lr"] = _steps_rho(lr_times, rates, cap)
    arrays = {
        "spread0": spread0,
        "spread_avg": spread_avg,
        "best": best,
        "final": final,
        "snr": snr,
        "grad_variance": var,
        "times": times,
        "eval_curves": [[(c["eval_step"], c["val_loss"]) for c in row] for row in prim],
        "alphas": prim[0][0]["alphas"],
        "slice_eval": arr("slice_eval"),
        "slice_masks": slices,
    }
    return m, arrays


def summarise_control(params, k1_times, kouts, sur_outs) -> tuple[dict, dict]:
    S, ks = params["n_seeds"], params["control_ks"]
    others = [k for k in ks if k > 1]
    cap = params["max_steps"] + params["eval_every"]
    steps = np.empty((S, len(ks)))
    best = np.empty((S, len(ks)))
    steps[:, 0] = censored_values(k1_times["steps"], cap)
    best[:, 0] = k1_times["best"]
    for s in range(S):
        for i, _k in enumerate(others, 1):
            c = kouts[s * len(others) + i - 1]
            t = steps_to_own_fraction(c["eval_step"], c["val_loss"], params["target_fraction"])
            steps[s, i] = cap if np.isnan(t) else t
            best[s, i] = np.min(c["val_loss"])
    inf = np.array([_fit_inf(ks, steps[s]) for s in range(S)])
    m = {
        "ks": list(ks),
        "steps": mean_ci_columns(steps),
        "best_val_loss": mean_ci_columns(best),
        "steps_inf": seed_interval(inf).as_dict(),
        "extrapolated": _because(steps[:, 0], inf),
        "k_max": _because(steps[:, 0], steps[:, -1]),
    }
    arrays = {"steps": steps, "inf": inf, "best": best}
    if sur_outs:
        st = np.array(
            [
                steps_to_own_fraction(c["eval_step"], c["val_loss"], params["target_fraction"])
                for c in sur_outs
            ]
        )
        m["surrogate"] = _because(steps[:, 0], censored_values(st, cap))
        m["surrogate"]["best_val_loss"] = seed_interval(
            [np.min(c["val_loss"]) for c in sur_outs]
        ).as_dict()
        arrays["surrogate"] = sur_outs
    return m, arrays


def trend_words(iv: dict, up: str = "rises with p", down: str = "falls with p") -> str:
    """Direction words for a ρ interval ``{"low", "high"}``: ``up`` if it lies above 0,
    ``down`` if below, else "shows no clear trend in p" (glued into the page's prose)."""
    if iv["low"] > 0:
        return up
    if iv["high"] < 0:
        return down
    return "shows no clear trend in p"
