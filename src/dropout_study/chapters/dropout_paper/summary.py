"""Assemble the ``dropout-paper`` sweep's per-cell outputs into per-seed metrics.

Metrics keep **per-seed values** (lists, seeds first), so the verdict rule
(:mod:`dropout_study.chapters.dropout_paper.verdict`) computes every interval itself, and its
robustness alternatives (subsets of seeds, another k, another width or training split) are
re-decided from the same run. All errors are fractions (0–1) of the test set; activations are
the ReLU outputs of the hidden layer on the test inputs (evaluation mode).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["summarise", "GROUPS", "BALDI_KEYS"]

GROUPS = ("main", "stop_fixed", "paper", "width_alt", "split_alt")
"""Network groups with a no-dropout and an ``mc_rate`` network per replicate (``main`` is the
fixed-width grid of Fig. 9a; the others are trained only when their switch is on)."""

BALDI_KEYS = (
    "ratio_first",
    "ratio_delta",
    "ratio_first_mid",
    "share_mid",
    "wrong_sign",
    "disagree",
    "mean_abs_gap",
    "mc_se_mean_gap",
    "sd_sigma",
    "err_ws",
    "err_ens",
    "nwgm_err",
    "mean_s_err",
)


def _by(net_out, group, p=None):
    """Results of ``group`` (and rate ``p``), ordered by replicate."""
    rows = [(c, r) for c, r in net_out if c["group"] == group and (p is None or c["p"] == p)]
    return [r for c, r in sorted(rows, key=lambda cr: cr[0]["rep"])]


def _pair_group(net_out, group, mc_rate) -> dict | None:
    src = "fixed" if group == "main" else group
    none, drop = _by(net_out, src, 0.0), _by(net_out, src, mc_rate)
    if not none:
        return None
    return {
        "err_none": [r["test_err"] for r in none],
        "err_ws": [r["test_err"] for r in drop],
        "train_err_none": [r["train_err"] for r in none],
        "train_err_ws": [r["train_err"] for r in drop],
        "mc_err": [np.asarray(r["mc_err"]).tolist() for r in drop],
        "mean_act": [[a["mean_act"], b["mean_act"]] for a, b in zip(none, drop, strict=True)],
        "frac_active": [
            [a["frac_active"], b["frac_active"]] for a, b in zip(none, drop, strict=True)
        ],
        **{
            f"{k}_init": [a[f"{k}_init"] for a in none]
            for k in ("mean_act", "frac_active")
            if all(f"{k}_init" in a for a in none)
        },
        "n_train": int(none[0]["n_train"]),
        "n_test": int(none[0]["n_test"]),
    }


def _table(net_out, group, rates, n):
    """``(n, len(rates))`` test and training errors of ``group``, or ``None`` if not run."""
    test = [[None] * len(rates) for _ in range(n)]
    train = [[None] * len(rates) for _ in range(n)]
    seen = False
    for c, r in net_out:
        if c["group"] == group:
            seen = True
            test[c["rep"]][rates.index(c["p"])] = r["test_err"]
            train[c["rep"]][rates.index(c["p"])] = r["train_err"]
    return (test, train) if seen else (None, None)


def summarise(params: dict, net_out, th_out, ridge: dict) -> tuple[dict, dict]:
    """``(metrics, arrays)`` from the sweep (see module doc)."""
    n = params["n_seeds"]
    rates, pn_rates = params["dropout_rates"], params["pn_rates"]
    fixed, fixed_train = _table(net_out, "fixed", rates, n)
    pn, _ = _table(net_out, "pn", pn_rates, n)
    paper_pn, _ = _table(net_out, "paper_pn", pn_rates, n)
    laptop = [r for c, r in net_out if c["protocol"] == "laptop"]
    steps = [r["steps"] for r in laptop]
    groups = {g: _pair_group(net_out, g, params["mc_rate"]) for g in GROUPS}
    if groups["paper"] is not None:
        groups["paper"]["err_pn"] = paper_pn
    digits = {
        "rates": rates,
        "pn_rates": pn_rates,
        "pn_units": params["pn_units"],
        "pn_interior": params["pn_interior"],
        "pn_widths": [int(round(params["pn_units"] / (1 - p))) for p in pn_rates],
        "ks": params["mc_ks"],
        "mc_rate": params["mc_rate"],
        "width": params["width"],
        "width_alt": params["width_alt"],
        "n_seeds": n,
        "err_fixed": fixed,
        "train_err_fixed": fixed_train,
        "err_pn": pn,
        "groups": {g: v for g, v in groups.items() if v is not None},
        "n_nets": len(laptop),
        "n_capped": int(sum(r["capped"] for r in laptop)),
        "max_steps": params["max_steps"],
        "paper_steps": params["paper_steps"],
        "steps_median": float(np.median(steps)),
        "steps_max": int(max(steps)),
    }
    main = [(c, r) for c, r in net_out if c["group"] == "fixed"]
    arrays: dict[str, Any] = {"act_hist": {}, "unit_mean_hist": {}}
    for p in (0.0, params["mc_rate"]):
        rs = [r for c, r in main if c["p"] == p]
        arrays["act_hist"][p] = np.sum([r["act_hist"] for r in rs], axis=0)
        arrays["unit_mean_hist"][p] = np.sum([r["unit_mean_hist"] for r in rs], axis=0)

    def theory(kind):
        return [(c, r) for c, r in sorted(th_out, key=lambda cr: cr[0]["rep"]) if c["kind"] == kind]

    baldi: dict[str, Any] = {
        "widths": params["baldi_widths"],
        "rate": params["baldi_rate"],
        "by_width": {},
    }
    arrays["baldi"] = {}
    for w in params["baldi_widths"]:
        rs = [r for c, r in theory("baldi") if c["units"] == w]
        row: dict[str, Any] = {k: [float(r[k]) for r in rs] for k in BALDI_KEYS}
        row["exact"] = bool(rs[0]["exact"])
        row["n_capped"] = int(sum(r["capped"] for r in rs))
        baldi["by_width"][str(w)] = row
        arrays["baldi"][w] = {k: rs[0][k] for k in ("gap", "first", "delta", "sigma_mean")}
    baldi["masks"] = params["baldi_masks"]
    sgd_r = [r for _, r in theory("sgd")]
    ridge = dict(ridge)
    ridge["sgd"] = {
        "rate": params["sgd_rate"],
        "steps": params["sgd_steps"],
        "excess": [r["excess"] for r in sgd_r],
        "excess_last": [r["excess_last"] for r in sgd_r],
        "wdist": [r["wdist"] for r in sgd_r],
    }
    arrays["sgd_trace"] = np.asarray([r["trace"] for r in sgd_r])
    wager_r = [r for _, r in theory("wager")]
    wager: dict[str, Any] = {"rates": params["wager_rates"]}
    for k in wager_r[0]:
        wager[k] = [r[k] for r in wager_r]
    metrics = {"digits": digits, "baldi": baldi, "ridge": ridge, "wager": wager}
    return metrics, arrays
