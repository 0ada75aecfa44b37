"""Assemble the ``dropout-paper`` sweep's per-cell outputs into per-seed metrics.

Metrics keep **per-seed values** (lists, seeds first), so the verdict rule
(:mod:`dropout_study.chapters.dropout_paper.verdict`) computes every interval itself, and its
robustness alternatives (subsets of seeds, another k, another width or training split) are
re-decided from the same run. All errors are fractions (0–1) of the test set; activations are
the ReLU outputs of the hidden layer on the test inputs (evaluation mode).
"""

from __future__ import annotations

import math

import numpy as np

from dropout_study.numfmt import general, sci

__all__ = ["summarise", "readings", "agreement_text", "GROUPS"]

GROUPS = ("main", "width_alt", "split_alt")
"""Network groups with a no-dropout and an ``mc_rate`` network per replicate."""


def _by(net_out, group, p=None):
    """Results of ``group`` (and rate ``p``), ordered by replicate."""
    rows = [(c, r) for c, r in net_out if c["group"] == group and (p is None or c["p"] == p)]
    return [r for c, r in sorted(rows, key=lambda cr: cr[0]["rep"])]


def _pair_group(net_out, group, mc_rate) -> dict:
    src = "fixed" if group == "main" else group
    none, drop = _by(net_out, src, 0.0), _by(net_out, src, mc_rate)
    return {
        "err_none": [r["test_err"] for r in none],
        "err_ws": [r["test_err"] for r in drop],
        "mc_err": [np.asarray(r["mc_err"]).tolist() for r in drop],
        "mean_act": [[a["mean_act"], b["mean_act"]] for a, b in zip(none, drop, strict=True)],
        "frac_active": [
            [a["frac_active"], b["frac_active"]] for a, b in zip(none, drop, strict=True)
        ],
        "n_train": int(none[0]["n_train"]),
        "n_test": int(none[0]["n_test"]),
    }


def summarise(params: dict, net_out, th_out, ridge: dict) -> tuple[dict, dict]:
    """``(metrics, arrays)`` from the sweep (see module doc)."""
    n = params["n_seeds"]
    rates, pn_rates = params["dropout_rates"], params["pn_rates"]
    fixed = [[None] * len(rates) for _ in range(n)]
    fixed_train = [[None] * len(rates) for _ in range(n)]
    pn = [[None] * len(pn_rates) for _ in range(n)]
    for c, r in net_out:
        if c["group"] == "fixed":
            fixed[c["rep"]][rates.index(c["p"])] = r["test_err"]
            fixed_train[c["rep"]][rates.index(c["p"])] = r["train_err"]
        elif c["group"] == "pn":
            pn[c["rep"]][pn_rates.index(c["p"])] = r["test_err"]
    steps = [r["steps"] for _, r in net_out]
    digits = {
        "rates": rates,
        "pn_rates": pn_rates,
        "pn_units": params["pn_units"],
        "pn_widths": [int(round(params["pn_units"] / (1 - p))) for p in pn_rates],
        "ks": params["mc_ks"],
        "mc_rate": params["mc_rate"],
        "width": params["width"],
        "width_alt": params["width_alt"],
        "n_seeds": n,
        "err_fixed": fixed,
        "train_err_fixed": fixed_train,
        "err_pn": pn,
        "groups": {g: _pair_group(net_out, g, params["mc_rate"]) for g in GROUPS},
        "n_nets": len(net_out),
        "n_capped": int(sum(r["capped"] for _, r in net_out)),
        "max_steps": params["max_steps"],
        "steps_median": float(np.median(steps)),
        "steps_max": int(max(steps)),
    }
    main = [(c, r) for c, r in net_out if c["group"] == "fixed"]
    arrays = {"act_hist": {}, "unit_mean_hist": {}}
    for p in (0.0, params["mc_rate"]):
        rs = [r for c, r in main if c["p"] == p]
        arrays["act_hist"][p] = np.sum([r["act_hist"] for r in rs], axis=0)
        arrays["unit_mean_hist"][p] = np.sum([r["unit_mean_hist"] for r in rs], axis=0)

    def theory(kind):
        return [r for c, r in sorted(th_out, key=lambda cr: cr[0]["rep"]) if c["kind"] == kind]

    baldi_r = theory("baldi")
    baldi = {
        "units": params["baldi_units"],
        "rate": params["baldi_rate"],
        "nwgm_err": [r["nwgm_err"] for r in baldi_r],
        "mean_s_err": [r["mean_s_err"] for r in baldi_r],
        "mean_abs_gap": [float(np.mean(np.abs(r["gap"]))) for r in baldi_r],
        "max_abs_gap": [float(np.max(np.abs(r["gap"]))) for r in baldi_r],
        "mean_sd_sigma": [float(np.mean(r["sd_sigma"])) for r in baldi_r],
        "decision_agree": [r["decision_agree"] for r in baldi_r],
        "err_ws": [r["err_ws"] for r in baldi_r],
        "err_ens": [r["err_ens"] for r in baldi_r],
        "n_capped": int(sum(r["capped"] for r in baldi_r)),
    }
    arrays["baldi"] = {"gap": baldi_r[0]["gap"], "sigma_mean": baldi_r[0]["sigma_mean"]}
    sgd_r = theory("sgd")
    ridge = dict(ridge)
    ridge["sgd"] = {
        "rate": params["sgd_rate"],
        "steps": params["sgd_steps"],
        "excess": [r["excess"] for r in sgd_r],
        "excess_last": [r["excess_last"] for r in sgd_r],
        "wdist": [r["wdist"] for r in sgd_r],
    }
    arrays["sgd_trace"] = np.asarray([r["trace"] for r in sgd_r])
    wager_r = theory("wager")
    wager = {"rates": params["wager_rates"]}
    for k in ("ratio", "slope_ratio", "wdist", "err_mc", "err_quad", "r_mc", "r_se"):
        wager[k] = [r[k] for r in wager_r]
    metrics = {"digits": digits, "baldi": baldi, "ridge": ridge, "wager": wager}
    return metrics, arrays


def _ci_text(values, scale=1.0, fmt="z.2f") -> str:
    from dropout_study.measures.stats import seed_interval

    i = seed_interval(np.asarray(values, dtype=float) * scale)
    return f"{i.estimate:{fmt}} [{i.low:{fmt}}, {i.high:{fmt}}]"


def agreement_text(fractions) -> str:
    """How far two classifications agree, from the per-replicate fractions of test images
    on which they agree: "agrees on every test image in every replicate" when the smallest
    fraction is 1, "disagrees on every test image in at least one replicate" when it is 0,
    else "agrees on at least x % of test images in every replicate" with x rounded *down*
    (so a bound never reads 100.0 % while some image disagrees)."""
    low = float(min(fractions))
    if low >= 1.0:
        return "agrees on every test image in every replicate"
    if low <= 0.0:
        return "disagrees on every test image in at least one replicate"
    pct = math.floor(1000.0 * low) / 10.0
    return f"agrees on at least {pct:z.1f} % of test images in every replicate"


def _direction(values, low_word: str, high_word: str, same_word: str) -> str:
    """A direction word decided by the interval of the mean of ``values`` against 0."""
    from dropout_study.measures.stats import seed_interval

    i = seed_interval(np.asarray(values, dtype=float))
    return high_word if i.low > 0 else low_word if i.high < 0 else same_word


def readings(metrics: dict) -> dict[str, str]:
    """Strings the page glues (numbers with intervals, direction words), all from the
    metrics, so the prose follows the run."""
    dg, bd, rd, wg = metrics["digits"], metrics["baldi"], metrics["ridge"], metrics["wager"]
    g = dg["groups"]["main"]
    rates = dg["rates"]
    fixed, train = np.asarray(dg["err_fixed"]), np.asarray(dg["train_err_fixed"])
    mc = np.asarray(g["mc_err"])
    ws = np.asarray(g["err_ws"])
    act, frac = np.asarray(g["mean_act"]), np.asarray(g["frac_active"])
    ratio = np.asarray(wg["ratio"])
    slope = np.asarray(wg["slope_ratio"])
    wd = np.asarray(wg["wdist"])
    derr = np.asarray(wg["err_quad"]) - np.asarray(wg["err_mc"])
    gm = np.asarray(rd["gamma"])
    out = {
        "test_err_none": _ci_text(fixed[:, 0], 100),
        "train_err_none": _ci_text(train[:, 0], 100),
        "ws_err": _ci_text(ws, 100),
        "mc_k1": _ci_text(mc[:, 0] - ws, 100, "+z.2f"),
        "mc_kmax": _ci_text(mc[:, -1] - ws, 100, "+z.2f"),
        "k_max": str(dg["ks"][-1]),
        "mc_kmax_dir": _direction(
            mc[:, -1] - ws, "lower than", "higher than", "not distinguishable from"
        ),
        "nwgm_max": sci(max(bd["nwgm_err"])),
        "mean_s_max": sci(max(bd["mean_s_err"])),
        "baldi_gap": _ci_text(bd["mean_abs_gap"], 1, "z.4f"),
        "baldi_gap_max": f"{max(bd['max_abs_gap']):z.3f}",
        "baldi_sd": _ci_text(bd["mean_sd_sigma"], 1, "z.3f"),
        "baldi_agree": agreement_text(bd["decision_agree"]),
        "baldi_err": _ci_text(np.asarray(bd["err_ens"]) - np.asarray(bd["err_ws"]), 100, "+z.2f"),
        "gamma_ratio": f"{gm.max() / gm.min():z.0f}",
        "z_inverted": ", ".join(f"{z:+z.2f}" for z in rd["inverted"]["z"]),
        "z_retention": ", ".join(f"{z:+z.2f}" for z in rd["retention"]["z"]),
        "z_wrong": ", ".join(f"{z:+z.0f}" for z in rd["inverted"]["z_wrong"]),
        "q1_gap": sci(rd["q1_gap"]),
        "ridge_rates": ", ".join(f"{general(p)}" for p in rd["rates"]),
        "sgd_excess": _ci_text(rd["sgd"]["excess"], 100, "z.3f"),
        "sgd_excess_last": _ci_text(rd["sgd"]["excess_last"], 100, "z.3f"),
        "sgd_wdist": _ci_text(rd["sgd"]["wdist"], 100, "z.1f"),
        "wager_ratio": "; ".join(
            f"p = {general(p)}: {_ci_text(ratio[:, j])}" for j, p in enumerate(wg["rates"])
        ),
        "wager_slope": "; ".join(
            f"p = {general(p)}: {_ci_text(slope[:, j])}" for j, p in enumerate(wg["rates"])
        ),
        "wager_wdist": "; ".join(
            f"p = {general(p)}: {_ci_text(wd[:, j], 100, 'z.0f')} %"
            for j, p in enumerate(wg["rates"])
        ),
        "wager_err": "; ".join(
            f"p = {general(p)}: {_ci_text(derr[:, j], 100, '+z.2f')}"
            for j, p in enumerate(wg["rates"])
        ),
        "fixed_diffs": "; ".join(
            f"p = {general(p)}: {_ci_text(fixed[:, 0] - fixed[:, j], 100, '+z.2f')}"
            for j, p in enumerate(rates)
            if p > 0
        ),
        "fixed_best": f"{general(rates[int(np.argmin(fixed.mean(axis=0)))])}",
        "act_none": _ci_text(act[:, 0], 1, "z.3f"),
        "act_drop": _ci_text(act[:, 1], 1, "z.3f"),
        "frac_none": _ci_text(frac[:, 0], 100, "z.1f"),
        "frac_drop": _ci_text(frac[:, 1], 100, "z.1f"),
        "act_dir": _direction(act[:, 1] - act[:, 0], "lower", "higher", "not clearly different"),
        "frac_dir": _direction(frac[:, 1] - frac[:, 0], "lower", "higher", "not clearly different"),
        "n_capped": f"{dg['n_capped']} of {dg['n_nets']}",
        "n_test": str(g["n_test"]),
        "steps_median": f"{dg['steps_median']:z.0f}",
    }
    return out
