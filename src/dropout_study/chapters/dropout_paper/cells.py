"""Sweep cells of the ``dropout-paper`` chapter (one replicate each; module-level, picklable).

See :mod:`dropout_study.chapters.dropout_paper.experiment` for what each section measures.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_diabetes

from dropout_study import data, seeds
from dropout_study.chapters.dropout_paper.protocol import fit
from dropout_study.measures import dropout_theory as theory
from dropout_study.measures import ensemble, nwgm
from dropout_study.measures import input_dropout as inp
from dropout_study.nn.mlp import MLP

__all__ = ["ACT_BINS", "UNIT_BINS", "N_DIGITS", "MID", "cell"]

N_DIGITS = 1797
MID = (0.02, 0.98)
"""Weight-scaled outputs counted as unsaturated (Baldi & Sadowski's estimate, an alternative)."""
ACT_BINS = np.linspace(0.0, 6.0, 31)
"""Histogram bins of hidden activations (the last bin also counts larger values)."""
UNIT_BINS = np.linspace(0.0, 2.0, 41)
"""Histogram bins of each unit's mean activation (the last bin also counts larger values)."""


# ---------------------------------------------------------------------------------------------
# Cells (module level, picklable; one replicate each)
# ---------------------------------------------------------------------------------------------
def _streams(c: dict) -> seeds.Streams:
    return seeds.streams(seeds.replicate(c["seed"], c["rep"]))


def _digits(c: dict, n_train: int):
    test = 0.8 - n_train / N_DIGITS
    return data.load("digits", rng=_streams(c).split, val_fraction=0.2, test_fraction=test)


def _net_cell(c: dict) -> dict:
    ds = _digits(c, c["n_train"])
    st = _streams(c)
    model, hist = fit(c, ds, [64, c["width"], 10], c["p"], "softmax", ds.y_train, ds.y_val, st)
    h = model.hidden(ds.X_test, -1)
    out = {
        "test_err": 1.0 - model.accuracy(ds.X_test, ds.y_test),
        "train_err": 1.0 - model.accuracy(ds.X_train, ds.y_train),
        "steps": hist.stopped_at,
        "capped": bool(hist.capped),
        "n_train": ds.X_train.shape[0],
        "n_test": ds.X_test.shape[0],
        "mean_act": float(h.mean()),
        "frac_active": float((h > 0).mean()),
        "act_hist": np.histogram(np.minimum(h, ACT_BINS[-1]), ACT_BINS)[0],
        "unit_mean_hist": np.histogram(np.minimum(h.mean(axis=0), UNIT_BINS[-1]), UNIT_BINS)[0],
    }
    if c["p"] == 0.0:
        # the same network at initialisation (a fresh copy of the replicate's init stream
        # gives the parameters fit started from): the control of Fig. 8's statistic, needed
        # for the network without dropout only
        init = MLP([64, c["width"], 10], head="softmax", dropout=0.0, rng=_streams(c).init)
        h0 = init.hidden(ds.X_test, -1)
        out["mean_act_init"] = float(h0.mean())
        out["frac_active_init"] = float((h0 > 0).mean())
    if c["mc"]:
        out["mc_err"] = ensemble.mc_error_curve(
            model, ds.X_test, ds.y_test, c["ks"], st.measure, n_repeats=c["mc_repeats"]
        )
    return out


def _baldi_cell(c: dict) -> dict:
    """One 64 → units → 1 sigmoid network (odd versus even digit, dropout on its hidden layer,
    the laptop protocol) and the ensemble's mean output against the weight-scaled one on the
    test inputs: exact over all masks for ``units <= 16``, else Monte Carlo over ``masks``."""
    ds = _digits(c, c["n_train"])
    yb = [np.asarray(y % 2, dtype=float) for y in (ds.y_train, ds.y_val, ds.y_test)]
    st = _streams(c)
    model, hist = fit(c, ds, [64, c["units"], 1], c["p"], "sigmoid", yb[0], yb[1], st)
    a, b = theory.last_layer_contributions(model, ds.X_test)
    if c["units"] <= ensemble.MAX_ENUMERATED_UNITS:
        mom = nwgm.moments_exact(a, b, c["p"])
        nwgm_err = float(np.max(np.abs(mom["nwgm"] - mom["sigma_mean"])))
        mean_s_err = float(np.max(np.abs(mom["mean_s"] - (a.sum(axis=1) + b))))
        mc_se = 0.0
    else:
        mom = nwgm.moments_mc(a, b, c["p"], n_masks=c["masks"], rng=st.measure)
        nwgm_err = mean_s_err = float("nan")
        mc_se = float(np.sqrt(np.sum(mom["se_mean"] ** 2)) / len(mom["se_mean"]))
    E, ws = mom["mean_sigma"], mom["sigma_mean"]
    gap = E - ws
    first = nwgm.first_order_estimate(E, mom["var_sigma"])
    delta = nwgm.delta_estimate(a, b, c["p"])
    mid = (ws > MID[0]) & (ws < MID[1])  # unsaturated images: 1/(2E(1 − E)) stays moderate
    return {
        "exact": c["units"] <= ensemble.MAX_ENUMERATED_UNITS,
        "nwgm_err": nwgm_err,
        "mean_s_err": mean_s_err,
        "ratio_first": nwgm.aligned_ratio(gap, first),
        "ratio_delta": nwgm.aligned_ratio(gap, delta),
        "ratio_first_mid": nwgm.aligned_ratio(gap[mid], first[mid]) if mid.any() else np.nan,
        "share_mid": float(mid.mean()),
        "wrong_sign": 1.0 - nwgm.sign_agreement(gap, E),
        "disagree": float(np.mean((E > 0.5) != (ws > 0.5))),
        "mean_abs_gap": float(np.mean(np.abs(gap))),
        "mc_se_mean_gap": mc_se,
        "sd_sigma": float(np.mean(np.sqrt(mom["var_sigma"]))),
        "err_ws": float(np.mean((ws > 0.5) != yb[2])),
        "err_ens": float(np.mean((E > 0.5) != yb[2])),
        "gap": gap,
        "first": first,
        "delta": delta,
        "sigma_mean": ws,
        "steps": hist.stopped_at,
        "capped": bool(hist.capped),
    }


def _sgd_cell(c: dict) -> dict:
    X, y = load_diabetes(return_X_y=True, scaled=False)
    w, b = inp.solve_closed(X, y, c["p"], "inverted")
    best = inp.objective_closed(X, y, w, b, c["p"], "inverted")
    r = inp.sgd_input_dropout(X, y, c["p"], n_steps=c["steps"], rng=_streams(c).batches)
    avg = inp.objective_closed(X, y, r["w_avg"], r["b_avg"], c["p"], "inverted")
    last = inp.objective_closed(X, y, r["w_last"], r["b_last"], c["p"], "inverted")
    g = inp.gamma(X)  # compare weights in the penalty's own scale, Γw
    return {
        "excess": (avg - best) / best,
        "excess_last": (last - best) / best,
        "wdist": float(np.linalg.norm(g * (r["w_avg"] - w)) / np.linalg.norm(g * w)),
        "trace": (r["objective_trace"] - best) / best,
    }


def _wager_cell(c: dict) -> dict:
    st = _streams(c)
    ds = data.load("breast_cancer", rng=st.split)
    X, y = ds.X_train, ds.y_train.astype(float)
    d = X.shape[1]
    keys: tuple[str, ...] = ("ratio", "slope_ratio", "wdist", "err_mc", "err_quad", "r_mc", "r_se")
    keys += ("norm_mc", "norm_quad", "flat_quad", "flat_mc", "train_err_quad")
    out: dict[str, list[float]] = {k: [] for k in keys}
    for p in c["rates"]:
        th_mc = inp.fit_logistic(X, y, p, kind="mc", n_masks=c["masks"], rng=st.masks)
        th_q = inp.fit_logistic(X, y, p, kind="quadratic")
        a = th_mc[:d] * X
        r_mc, r_se = theory.regulariser_mc(
            a, th_mc[d], y, p, n_masks=c["eval_masks"], rng=st.measure
        )
        r_q = theory.regulariser_second_order(a, th_mc[d], y, p)
        slope = theory.single_drop_slope(a, th_mc[d], y)
        # share of training examples whose curvature σ(1 − σ) is below 0.01 at each
        # minimiser: where it vanishes, the quadratic penalty no longer restrains the weights
        s_q = 1.0 / (1.0 + np.exp(-(X @ th_q[:d] + th_q[d])))
        s_m = 1.0 / (1.0 + np.exp(-(X @ th_mc[:d] + th_mc[d])))
        for k, v in (
            ("ratio", r_q / r_mc),
            ("slope_ratio", p * slope / r_mc),
            ("r_mc", r_mc),
            ("r_se", r_se),
            ("wdist", np.linalg.norm(th_q[:d] - th_mc[:d]) / np.linalg.norm(th_mc[:d])),
            ("err_mc", np.mean(((ds.X_test @ th_mc[:d] + th_mc[d]) > 0) != ds.y_test)),
            ("err_quad", np.mean(((ds.X_test @ th_q[:d] + th_q[d]) > 0) != ds.y_test)),
            ("norm_mc", np.linalg.norm(th_mc[:d])),
            ("norm_quad", np.linalg.norm(th_q[:d])),
            ("flat_quad", np.mean(s_q * (1.0 - s_q) < 0.01)),
            ("flat_mc", np.mean(s_m * (1.0 - s_m) < 0.01)),
            ("train_err_quad", np.mean(((X @ th_q[:d] + th_q[d]) > 0) != y)),
        ):
            out[k].append(float(v))
    return out


_CELLS = {"net": _net_cell, "baldi": _baldi_cell, "sgd": _sgd_cell, "wager": _wager_cell}


def cell(c: dict) -> dict:
    """Evaluate one sweep cell (``c["kind"]`` is ``net``, ``baldi``, ``sgd`` or ``wager``)."""
    return _CELLS[c["kind"]](c)
