"""The noisy-loss chapter's metrics from its cells, per data set: the noise measures, where
training levels off, and the paired clock under each of its variants, for the rates, the
learning rates and the controls (:mod:`dropout_study.chapters.noisy_loss.clock`).

Everything the verdict reads is a list of per-seed values (the findings kit makes the
intervals): per-seed Spearman ρ for trends, per-seed ratios of restricted times for the clock.
Tables and figures read the arrays beside them.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from dropout_study.chapters.noisy_loss import clock
from dropout_study.measures.landscape import across_mask_spread
from dropout_study.measures.stats import seed_interval

__all__ = ["clock_variants", "summarise_dataset", "summarise_control"]


def clock_variants(params) -> dict[str, tuple]:
    """The clocks ``{key: (kind, value, budget)}``: the primary first, then the alternatives
    (other fractions of the reference's improvement, absolute targets set per seed, the
    budget halved, evaluations only every 5th step: ``"coarse"``)."""
    B, f = params["max_steps"], params["target_fraction"]
    out = {"primary": ("fraction", f, B)}
    for a in params["alt_fractions"]:
        out[f"fraction {a:g}"] = ("fraction", a, B)
    for o in params["abs_offsets"]:
        out[f"offset {o:g}"] = ("offset", o, B)
    out["budget halved"] = ("fraction", f, B // 2)
    out["coarse"] = ("fraction", f, B)
    return out


def _thin(steps, curves, key: str, every: int):
    """Every ``every``-th evaluation (and the last) for the ``"coarse"`` clock."""
    if key != "coarse":
        return steps, curves
    keep = np.zeros(len(steps), bool)
    keep[::every] = True
    keep[-1] = True
    return steps[keep], curves[..., keep]


def _columns(values) -> dict:
    """Mean with its seed interval per column of ``values`` ``(S, k)`` over the finite
    entries; NaN where fewer than 2 are finite."""
    out: dict[str, list[float]] = {"mean": [], "low": [], "high": []}
    for col in np.asarray(values, dtype=float).T:
        col = col[np.isfinite(col)]
        if col.size < 2:
            out["mean"].append(float(np.mean(col)) if col.size else float("nan"))
            out["low"].append(float("nan"))
            out["high"].append(float("nan"))
            continue
        iv = seed_interval(col)
        out["mean"].append(iv.estimate)
        out["low"].append(iv.low)
        out["high"].append(iv.high)
    return out


def _nanmedian(a, axis=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(a, axis=axis)


def _level(c: dict, which: str) -> float:
    if c["diverged"]:
        return float("nan")
    if which == "final":
        return float(c["val_loss"][-1])
    return float(c["val_loss"][list(c["eval_step"]).index(c["best_step"])])


def summarise_dataset(params, outs, rates) -> tuple[dict, dict]:
    """Metrics and arrays of one data set from its main cells ``outs`` (order: seed, learning
    rate, dropout rate, as :func:`~dropout_study.chapters.noisy_loss.experiment` makes them)."""
    S, P, G = params["n_seeds"], len(rates), len(params["lr_grid"])
    grid = params["lr_grid"]
    cube = [[outs[(s * G + g) * P : (s * G + g + 1) * P] for g in range(G)] for s in range(S)]
    prim = [cube[s][grid.index(params["lr"])] for s in range(S)]  # [seed][rate]
    steps = np.asarray(prim[0][0]["eval_step"])
    val = np.array([[c["val_loss"] for c in row] for row in prim])  # (S, P, E)
    pos = rates > 0

    def arr(name):
        return np.array([[c[name] for c in row] for row in prim])

    slices = arr("slice_masks")  # (S, P, K, A)
    mid = slices.shape[-1] // 2
    spread0 = np.std(slices[..., mid], axis=-1, ddof=1)
    spread_avg = np.array(
        [
            [
                across_mask_spread(slices[s, j]) if np.all(np.isfinite(slices[s, j])) else np.nan
                for j in range(P)
            ]
            for s in range(S)
        ]
    )
    snr, var = arr("snr"), arr("grad_variance")  # (S, P, C)
    best = np.array([[_level(c, "best") for c in row] for row in prim])
    final = np.array([[_level(c, "final") for c in row] for row in prim])
    ps = clock.per_seed_spearman
    m = {
        "n_train": int(prim[0][0]["n_train"]),
        "noise": {
            "spread0": ps(rates[pos], spread0[:, pos]),
            "spread_avg": ps(rates[pos], spread_avg[:, pos]),
            "spread0_end": ps(rates[pos], arr("spread_end")[:, pos]),
            "spread0_patience2": ps(rates[pos], arr("spread_patience2")[:, pos]),
            "variance_init": ps(rates[pos], var[:, pos, 0]),
            "variance_last": ps(rates[pos], var[:, pos, -1]),
            "snr_last": ps(rates[pos], snr[:, pos, -1]),
            "spread0_mean": _columns(spread0),
            "snr_median": _nanmedian(snr).T.tolist(),  # [checkpoint][rate]; NaN at p = 0
            "variance_median": _nanmedian(var).T.tolist(),
            "snr_nonpositive": int(np.sum(snr[:, pos] <= 0)),
            "snr_count": int(np.sum(np.isfinite(snr[:, pos]))),
        },
        "levels": {
            "best": ps(rates, best),
            "final": ps(rates, final),
            "best_mean": _columns(best),
            "final_mean": _columns(final),
        },
        "capped": int(arr("capped").sum()),
        "diverged": {
            f"{lr:g}": int(sum(c["diverged"] for s in range(S) for c in cube[s][g]))
            for g, lr in enumerate(grid)
        },
    }
    j0, jc = int(np.flatnonzero(rates == 0)[0]), list(rates).index(params["control_rate"])
    mi = params["min_improvement"]
    variants, clocks = {}, {}
    for key, ck in clock_variants(params).items():
        st, v = _thin(steps, val, key, 5)
        tgt = clock.targets(st, v[:, j0], ck, mi)
        has = np.isfinite(tgt)
        T = clock.times(st, v, tgt, ck[2])  # (S, P)
        b = ck[2]
        rec = {
            "budget": b,
            "n_reference": int(has.sum()),
            "targets": tgt.tolist(),
            "p0_median": clock.censored_median(T[has, j0]) if has.any() else None,
            "slower": clock.ratio_record(T[:, jc], T[:, j0], has, b),
            "by_rate": {
                f"{p:g}": clock.ratio_record(T[:, j], T[:, j0], has, b)
                for j, p in enumerate(rates)
                if p > 0
            },
            "trend": ps(rates, np.where(np.isnan(T[has]), b, np.minimum(T[has], b))),
            "times": T.tolist(),
            **clock.arm_table(T, has, b),
        }
        variants[key] = rec
        clocks[key] = {"steps": st, "target": tgt, "has": has, "times": T, "budget": b}
    m["clock"] = variants
    m["best_lr"], m["clock_best_lr"] = _best_lr(params, cube, rates, steps, j0, jc)
    arrays = {
        "steps": steps,
        "val": val,
        "best": best,
        "final": final,
        "spread0": spread0,
        "spread_avg": spread_avg,
        "snr": snr,
        "grad_variance": var,
        "alphas": prim[0][0]["alphas"],
        "slice_eval": arr("slice_eval"),
        "slice_masks": slices,
        "clocks": clocks,
    }
    return m, arrays


def _best_lr(params, cube, rates, steps, j0: int, jc: int):
    """Each ``p`` at its own best learning rate: the rate of ``lr_grid`` with the lowest mean
    (over seeds) early-stopped validation loss among those where no seed diverged at that
    ``p`` (the primary rate if every rate diverged somewhere); then the primary clock with
    the reference at ``p = 0``'s chosen rate (its budget and ``p = 0`` median time beside it,
    for the 10× rule)."""
    S, P, grid = len(cube), len(rates), params["lr_grid"]
    G = len(grid)
    best = np.array(
        [[[_level(cube[s][g][j], "best") for j in range(P)] for g in range(G)] for s in range(S)]
    )
    pick = []
    for j in range(P):
        ok = [g for g in range(G) if np.all(np.isfinite(best[:, g, j]))]
        pick.append(min(ok, key=lambda g: best[:, g, j].mean()) if ok else grid.index(params["lr"]))
    val = np.array([[cube[s][pick[j]][j]["val_loss"] for j in range(P)] for s in range(S)])
    ck = ("fraction", params["target_fraction"], params["max_steps"])
    tgt = clock.targets(steps, val[:, j0], ck, params["min_improvement"])
    has = np.isfinite(tgt)
    T = clock.times(steps, val, tgt, ck[2])
    rec = {
        "slower": clock.ratio_record(T[:, jc], T[:, j0], has, ck[2]),
        "n_reference": int(has.sum()),
        "budget": ck[2],
        "p0_median": clock.censored_median(T[has, j0]) if has.any() else None,
        "lr_p0": grid[pick[j0]],
        "lr_arm": grid[pick[jc]],
    }
    return [grid[g] for g in pick], rec


def summarise_control(params, arrays, k_outs, sur_outs) -> tuple[dict, dict]:
    """The controls at ``control_rate`` on one data set under every clock variant: restricted
    times per ``K`` (``K = 1`` is the main run at that rate), the ratios ``K = 1 / K_max``
    (noise), ``K_max / p = 0`` (what is left), ``K = 1 / K_2nd`` (the next-largest ``K``),
    the fixed-mask surrogate's (when it ran) and, on the primary clock only, the exploratory
    extrapolation ``K → ∞``. ``k_outs``: the ``K > 1`` cells, order seed then ``K``."""
    S, ks = params["n_seeds"], params["control_ks"]
    others = [k for k in ks if k > 1]
    rates = np.asarray(params["dropout_rates"])
    j0, jc = int(np.flatnonzero(rates == 0)[0]), list(rates).index(params["control_rate"])
    val_k = np.empty((S, len(ks), arrays["val"].shape[-1]))
    for s in range(S):
        val_k[s, 0] = arrays["val"][s, jc]
        for i in range(len(others)):
            val_k[s, i + 1] = k_outs[s * len(others) + i]["val_loss"]
    val_sur = np.array([o["val_loss"] for o in sur_outs]) if sur_outs else None
    out: dict[str, Any] = {"ks": list(ks), "variants": {}}
    for key, ck in arrays["clocks"].items():
        b, has, tgt = ck["budget"], ck["has"], ck["target"]
        st, vk = _thin(arrays["steps"], val_k, key, 5)
        Tk = clock.times(st, vk, tgt, b)
        Tref = ck["times"][:, j0]
        rec = {
            "noise": clock.ratio_record(Tk[:, 0], Tk[:, -1], has, b),
            "left": clock.ratio_record(Tk[:, -1], Tref, has, b),
            "times": Tk.tolist(),
            **clock.arm_table(Tk, has, b),
        }
        if len(ks) >= 3:
            rec["noise_2nd"] = clock.ratio_record(Tk[:, 0], Tk[:, -2], has, b)
            rec["left_2nd"] = clock.ratio_record(Tk[:, -2], Tref, has, b)
        if val_sur is not None:
            _, vs = _thin(arrays["steps"], val_sur, key, 5)
            Ts = clock.times(st, vs, tgt, b)
            rec["surrogate_noise"] = clock.ratio_record(Tk[:, 0], Ts, has, b)
            rec["surrogate_left"] = clock.ratio_record(Ts, Tref, has, b)
            rec["surrogate_times"] = Ts.tolist()
        if key == "primary":
            rec["extrapolated"] = clock.extrapolated_ratio(ks, Tk, has, b)
        out["variants"][key] = rec
    best = np.array(
        [
            [_level(o, "best") for o in k_outs[s * len(others) : (s + 1) * len(others)]]
            for s in range(S)
        ]
    )
    out["best_mean"] = _columns(np.c_[arrays["best"][:, jc], best])
    ctl_arrays = {"val": val_k, "times": np.asarray(out["variants"]["primary"]["times"])}
    if sur_outs:
        ctl_arrays["surrogate"] = sur_outs
    return out, ctl_arrays
