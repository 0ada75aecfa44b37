"""Chapter 6 (``dropout-paper``): what Srivastava et al. (2014) found, tested at laptop scale.

Convention: the study's ``p`` is the **drop** probability (inverted dropout); Srivastava's
``p`` is the **retention** probability ``q = 1 − p``. Every rate in the parameters is a drop
probability.

``run(params)`` evaluates, through :func:`dropout_study.sweep.run_sweep` (parallel, cached):

1. **Digits networks** (shared by Fig. 11, 9 and 8 analogues): ``load_digits``, standardised
   with training statistics, a training split of ``n_train`` examples, 20 % validation, the
   rest test; one ReLU hidden layer, dropout after it, softmax head; minibatch Adam with early
   stopping on validation loss (``patience`` evaluations every ``eval_every`` steps, cap
   ``max_steps``, best parameters restored). Per replicate: every rate of ``dropout_rates`` at
   width ``width`` (Fig. 9a); every rate of ``pn_rates`` at width ``round(pn_units/(1 − p))``
   (Fig. 9b); rates 0 and ``mc_rate`` at ``width_alt`` and at ``n_train_alt`` (robustness).
   The networks at ``mc_rate`` give the Monte-Carlo error curve over ``mc_ks`` (averaged over
   ``mc_repeats`` sequences) against the weight-scaled error; the pair (0, ``mc_rate``) gives
   the activation statistics of the hidden layer on the test inputs (Fig. 8).
2. **Baldi & Sadowski** (``n_theory_seeds`` replicates): a ``64 → baldi_units → 1`` network
   (odd versus even digit, sigmoid head, dropout ``baldi_rate`` on the hidden layer), all
   ``2^baldi_units`` masks enumerated on the test inputs (:func:`measures.ensemble.sigmoid_moments`).
3. **§9.1** on ``load_diabetes(scaled=False)``, raw units: the identity (closed form versus
   Monte Carlo over ``ridge_masks`` masks, both forms, every rate of ``ridge_rates``; once,
   it does not depend on a seed) and SGD with input dropout at ``sgd_rate`` (per replicate).
4. **Wager et al.** on breast cancer (standardised), per replicate and rate of ``wager_rates``:
   the minimisers of the dropout objective (``wager_masks`` fixed masks) and of the quadratic
   one; the quadratic penalty over its Monte-Carlo value at the dropout minimiser.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.datasets import load_diabetes

from dropout_study import data, seeds
from dropout_study.experiments import with_defaults
from dropout_study.experiments.dropout_paper_summary import summarise
from dropout_study.measures import dropout_theory as theory
from dropout_study.measures import ensemble
from dropout_study.measures import input_dropout as inp
from dropout_study.mlp import MLP
from dropout_study.optim import Adam
from dropout_study.sweep import run_sweep
from dropout_study.training import EarlyStopping, train
from dropout_study.validation import check_float, check_float_list, check_int, check_int_list, fail

__all__ = ["CHAPTER", "DEFAULTS", "ACT_BINS", "Result", "check_params", "run", "cell"]

CHAPTER = "dropout-paper"
_KEY = "dropout-paper-v1"
N_DIGITS = 1797
ACT_BINS = np.linspace(0.0, 6.0, 31)
"""Histogram bins of hidden activations (the last bin also counts larger values)."""

DEFAULTS: dict = {
    "seed": 0,
    "n_seeds": 4,
    "n_theory_seeds": 8,
    "n_train": 200,
    "n_train_alt": 400,
    "width": 256,
    "width_alt": 128,
    "dropout_rates": [0.0, 0.2, 0.4, 0.5, 0.6, 0.8],
    "pn_units": 32,
    "pn_rates": [0.0, 0.2, 0.5, 0.6, 0.8],
    "mc_rate": 0.5,
    "mc_ks": [1, 2, 4, 8, 16, 32, 64, 128],
    "mc_repeats": 2,
    "max_steps": 3000,
    "patience": 10,
    "eval_every": 10,
    "batch_size": 32,
    "learning_rate": 0.003,
    "baldi_units": 12,
    "baldi_rate": 0.5,
    "ridge_rates": [0.1, 0.3, 0.5, 0.7],
    "ridge_masks": 2000,
    "sgd_rate": 0.5,
    "sgd_steps": 8000,
    "wager_rates": [0.1, 0.3, 0.5],
    "wager_masks": 16,
    "wager_eval_masks": 1000,
}


def _increasing(values, name, what):
    if len(set(values)) != len(values) or sorted(values) != list(values):
        fail(name, CHAPTER, f"{what}, increasing and without repeats", values)
    return list(values)


def check_params(params: dict) -> dict:
    """Range and consistency checks (the project's message template); returns a new dict."""
    p = with_defaults(CHAPTER, params, DEFAULTS)
    out = {"seed": check_int(p["seed"], "seed", CHAPTER, low=0)}
    out["n_seeds"] = check_int(p["n_seeds"], "n_seeds", CHAPTER, low=2, high=200)
    out["n_theory_seeds"] = check_int(p["n_theory_seeds"], "n_theory_seeds", CHAPTER, low=2, high=500)
    for name in ("n_train", "n_train_alt"):
        out[name] = check_int(p[name], name, CHAPTER, low=50, high=1000)
    for name in ("width", "width_alt"):
        out[name] = check_int(p[name], name, CHAPTER, low=1, high=2048)
    out["dropout_rates"] = _increasing(
        check_float_list(p["dropout_rates"], "dropout_rates", CHAPTER, low=0.0, high=0.95, min_len=2),
        "dropout_rates", "a list of at least 2 rates in [0, 0.95] starting at 0",
    )
    if out["dropout_rates"][0] != 0.0:
        fail("dropout_rates", CHAPTER, "a list starting at 0 (the network without dropout)", p["dropout_rates"])
    out["pn_units"] = check_int(p["pn_units"], "pn_units", CHAPTER, low=1, high=256)
    out["pn_rates"] = _increasing(
        check_float_list(p["pn_rates"], "pn_rates", CHAPTER, low=0.0, high=0.95, min_len=3),
        "pn_rates", "a list of at least 3 rates in [0, 0.95]",
    )
    out["mc_rate"] = check_float(p["mc_rate"], "mc_rate", CHAPTER, low=0.0, high=0.95, low_open=True)
    if out["mc_rate"] not in out["dropout_rates"]:
        fail("mc_rate", CHAPTER, f"one of dropout_rates {out['dropout_rates']}", p["mc_rate"])
    out["mc_ks"] = _increasing(
        check_int_list(p["mc_ks"], "mc_ks", CHAPTER, low=1),
        "mc_ks", "a list of k >= 1 starting at 1",
    )
    if out["mc_ks"][0] != 1 or len(out["mc_ks"]) < 3:
        fail("mc_ks", CHAPTER, "a list of at least 3 increasing k starting at 1", p["mc_ks"])
    out["mc_repeats"] = check_int(p["mc_repeats"], "mc_repeats", CHAPTER, low=1, high=100)
    out["max_steps"] = check_int(p["max_steps"], "max_steps", CHAPTER, low=10)
    out["patience"] = check_int(p["patience"], "patience", CHAPTER, low=1)
    out["eval_every"] = check_int(p["eval_every"], "eval_every", CHAPTER, low=1)
    out["batch_size"] = check_int(p["batch_size"], "batch_size", CHAPTER, low=1)
    out["learning_rate"] = check_float(p["learning_rate"], "learning_rate", CHAPTER, low=0.0, high=1.0, low_open=True)
    out["baldi_units"] = check_int(p["baldi_units"], "baldi_units", CHAPTER, low=1, high=16)
    out["baldi_rate"] = check_float(p["baldi_rate"], "baldi_rate", CHAPTER, low=0.0, high=0.95, low_open=True)
    out["ridge_rates"] = _increasing(
        check_float_list(p["ridge_rates"], "ridge_rates", CHAPTER, low=0.0, high=0.95, low_open=True),
        "ridge_rates", "a list of drop rates in (0, 0.95]",
    )
    out["ridge_masks"] = check_int(p["ridge_masks"], "ridge_masks", CHAPTER, low=10)
    out["sgd_rate"] = check_float(p["sgd_rate"], "sgd_rate", CHAPTER, low=0.0, high=0.95, low_open=True)
    out["sgd_steps"] = check_int(p["sgd_steps"], "sgd_steps", CHAPTER, low=100)
    out["wager_rates"] = _increasing(
        check_float_list(p["wager_rates"], "wager_rates", CHAPTER, low=0.0, high=0.9, low_open=True),
        "wager_rates", "a list of drop rates in (0, 0.9]",
    )
    out["wager_masks"] = check_int(p["wager_masks"], "wager_masks", CHAPTER, low=1, high=1000)
    out["wager_eval_masks"] = check_int(p["wager_eval_masks"], "wager_eval_masks", CHAPTER, low=10)
    return out


# ---------------------------------------------------------------------------------------------
# Cells (module level, picklable; one replicate each)
# ---------------------------------------------------------------------------------------------
def _streams(c: dict) -> seeds.Streams:
    return seeds.streams(seeds.replicate(c["seed"], c["rep"]))


def _digits(c: dict, n_train: int):
    test = 0.8 - n_train / N_DIGITS
    return data.load("digits", rng=_streams(c).split, val_fraction=0.2, test_fraction=test)


def _fit(c, ds, sizes, p, head, y_train, y_val):
    st = _streams(c)
    model = MLP(sizes, head=head, dropout=p, rng=st.init)
    hist = train(
        model, ds.X_train, y_train, optimizer=Adam(c["lr"]), n_steps=c["max_steps"],
        batch_size=c["batch_size"], X_val=ds.X_val, y_val=y_val, eval_every=c["eval_every"],
        mask_rng=st.masks, batch_rng=st.batches,
        stop=EarlyStopping(patience=c["patience"], min_delta=1e-4, monitor="val"),
    )
    return model, hist, st


def _net_cell(c: dict) -> dict:
    ds = _digits(c, c["n_train"])
    model, hist, st = _fit(c, ds, [64, c["width"], 10], c["p"], "softmax", ds.y_train, ds.y_val)
    h = model.hidden(ds.X_test, -1)
    out = {
        "test_err": 1.0 - model.accuracy(ds.X_test, ds.y_test),
        "train_err": 1.0 - model.accuracy(ds.X_train, ds.y_train),
        "steps": hist.stopped_at, "capped": bool(hist.capped), "n_train": ds.X_train.shape[0],
        "mean_act": float(h.mean()), "frac_active": float((h > 0).mean()),
        "act_hist": np.histogram(np.minimum(h, ACT_BINS[-1]), ACT_BINS)[0],
        "unit_mean_hist": np.histogram(np.minimum(h.mean(axis=0), ACT_BINS[-1]), ACT_BINS)[0],
    }
    if c["mc"]:
        out["mc_err"] = ensemble.mc_error_curve(
            model, ds.X_test, ds.y_test, c["ks"], st.measure, n_repeats=c["mc_repeats"]
        )
    return out


def _baldi_cell(c: dict) -> dict:
    ds = _digits(c, c["n_train"])
    yb = [np.asarray(y % 2, dtype=float) for y in (ds.y_train, ds.y_val, ds.y_test)]
    model, hist, _ = _fit(c, ds, [64, c["units"], 1], c["p"], "sigmoid", yb[0], yb[1])
    a, b = ensemble.last_layer_contributions(model, ds.X_test)
    mom = ensemble.sigmoid_moments(a, b, c["p"])
    gap = mom["mean_sigma"] - mom["sigma_mean"]
    return {
        "nwgm_err": float(np.max(np.abs(mom["nwgm"] - mom["sigma_mean"]))),
        "mean_s_err": float(np.max(np.abs(mom["mean_s"] - (a.sum(axis=1) + b)))),
        "gap": gap, "sigma_mean": mom["sigma_mean"], "sd_sigma": mom["sd_sigma"],
        "decision_agree": float(np.mean((mom["mean_sigma"] > 0.5) == (mom["sigma_mean"] > 0.5))),
        "err_ws": float(np.mean((mom["sigma_mean"] > 0.5) != yb[2])),
        "err_ens": float(np.mean((mom["mean_sigma"] > 0.5) != yb[2])),
        "steps": hist.stopped_at, "capped": bool(hist.capped),
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
        "excess": (avg - best) / best, "excess_last": (last - best) / best,
        "wdist": float(np.linalg.norm(g * (r["w_avg"] - w)) / np.linalg.norm(g * w)),
        "trace": (r["objective_trace"] - best) / best,
    }


def _wager_cell(c: dict) -> dict:
    st = _streams(c)
    ds = data.load("breast_cancer", rng=st.split)
    X, y = ds.X_train, ds.y_train.astype(float)
    d = X.shape[1]
    out = {k: [] for k in ("ratio", "slope_ratio", "wdist", "err_mc", "err_quad", "r_mc", "r_se")}
    for p in c["rates"]:
        th_mc = inp.fit_logistic(X, y, p, kind="mc", n_masks=c["masks"], rng=st.masks)
        th_q = inp.fit_logistic(X, y, p, kind="quadratic")
        a = th_mc[:d] * X
        r_mc, r_se = theory.regulariser_mc(a, th_mc[d], y, p, n_masks=c["eval_masks"], rng=st.measure)
        r_q = theory.regulariser_second_order(a, th_mc[d], y, p)
        slope = theory.single_drop_slope(a, th_mc[d], y)
        for k, v in (
            ("ratio", r_q / r_mc), ("slope_ratio", p * slope / r_mc), ("r_mc", r_mc), ("r_se", r_se),
            ("wdist", np.linalg.norm(th_q[:d] - th_mc[:d]) / np.linalg.norm(th_mc[:d])),
            ("err_mc", np.mean(((ds.X_test @ th_mc[:d] + th_mc[d]) > 0) != ds.y_test)),
            ("err_quad", np.mean(((ds.X_test @ th_q[:d] + th_q[d]) > 0) != ds.y_test)),
        ):
            out[k].append(float(v))
    return out


_CELLS = {"net": _net_cell, "baldi": _baldi_cell, "sgd": _sgd_cell, "wager": _wager_cell}


def cell(c: dict) -> dict:
    """Evaluate one sweep cell (``c["kind"]`` is ``net``, ``baldi``, ``sgd`` or ``wager``)."""
    return _CELLS[c["kind"]](c)


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------
@dataclass
class Result:
    """``metrics`` (JSON-able; what the verdict reads) and the arrays the plots need."""

    params: dict
    metrics: dict
    arrays: dict = field(default_factory=dict)


def pn_width(units: int, p: float) -> int:
    """Hidden width that keeps ``units`` units on average at drop rate ``p``:
    ``round(units / (1 − p))`` (Srivastava's ``pn`` with retention ``q = 1 − p``)."""
    return int(round(units / (1.0 - p)))


def _net_cells(params: dict) -> list[dict]:
    base = {
        "kind": "net", "seed": params["seed"], "ks": params["mc_ks"],
        "mc_repeats": params["mc_repeats"], "lr": params["learning_rate"],
        **{k: params[k] for k in ("max_steps", "batch_size", "eval_every", "patience")},
    }
    cells = []
    for rep in range(params["n_seeds"]):
        for p in params["dropout_rates"]:
            cells.append({**base, "rep": rep, "group": "fixed", "p": p, "width": params["width"],
                          "n_train": params["n_train"], "mc": p == params["mc_rate"]})
        for p in params["pn_rates"]:
            cells.append({**base, "rep": rep, "group": "pn", "p": p, "mc": False,
                          "width": pn_width(params["pn_units"], p), "n_train": params["n_train"]})
        for group, width, n_train in (
            ("width_alt", params["width_alt"], params["n_train"]),
            ("split_alt", params["width"], params["n_train_alt"]),
        ):
            for p in (0.0, params["mc_rate"]):
                cells.append({**base, "rep": rep, "group": group, "p": p, "width": width,
                              "n_train": n_train, "mc": p > 0})
    return cells


def _ridge_identity(params: dict) -> dict:
    """The §9.1 identity at the closed-form minimiser of each rate, both mask forms, and the
    check against the *other* form's formula (the wrong one)."""
    X, y = load_diabetes(return_X_y=True, scaled=False)
    rng = seeds.streams(params["seed"]).measure
    out = {"rates": params["ridge_rates"], "gamma": inp.gamma(X).tolist(), "n": X.shape[0]}
    for form in inp.FORMS:
        rows = {k: [] for k in ("closed", "mc", "se", "z", "z_wrong")}
        for p in params["ridge_rates"]:
            r = 1.0 - p if form == "retention" else p
            w, b = inp.solve_closed(X, y, r, form)
            closed = inp.objective_closed(X, y, w, b, r, form)
            mc, se = inp.objective_mc(X, y, w, b, r, form, n_masks=params["ridge_masks"], rng=rng)
            other = "inverted" if form == "retention" else "retention"
            wrong = inp.objective_closed(X, y, w, b, 1.0 - r, other)  # same keep probability
            for k, v in (("closed", closed), ("mc", mc), ("se", se), ("z", (mc - closed) / se),
                         ("z_wrong", (mc - wrong) / se)):
                rows[k].append(float(v))
        out[form] = rows
    w0, b0 = inp.solve_closed(X, y, 1.0, "retention")
    out["q1_gap"] = abs(
        inp.objective_mc(X, y, w0, b0, 1.0, "retention", n_masks=2, rng=rng)[0]
        - inp.objective_closed(X, y, w0, b0, 1.0, "retention")
    )
    w5, _ = inp.solve_closed(X, y, params["sgd_rate"], "inverted")
    w5r, _ = inp.solve_closed(X, y, 1.0 - params["sgd_rate"], "retention")
    ols = inp.solve_closed(X, y, 1e-12, "inverted")[0]
    out["w_inverted"], out["w_retention"], out["w_ols"] = w5.tolist(), w5r.tolist(), ols.tolist()
    return out


def run(params: dict, *, cache_dir="default", n_jobs: int | None = None) -> Result:
    """Run every section (see module doc) and return the :class:`Result`."""
    params = check_params(params)
    nets = _net_cells(params)
    theory_cells = []
    for rep in range(params["n_theory_seeds"]):
        common = {"seed": params["seed"], "rep": rep}
        theory_cells.append({**common, "kind": "baldi", "n_train": params["n_train"],
                             "units": params["baldi_units"], "p": params["baldi_rate"],
                             "lr": params["learning_rate"],
                             **{k: params[k] for k in ("max_steps", "batch_size", "eval_every", "patience")}})
        theory_cells.append({**common, "kind": "sgd", "p": params["sgd_rate"], "steps": params["sgd_steps"]})
        theory_cells.append({**common, "kind": "wager", "rates": params["wager_rates"],
                             "masks": params["wager_masks"], "eval_masks": params["wager_eval_masks"]})
    cells = nets + theory_cells
    res = run_sweep(cell, cells, key=_KEY, n_jobs=n_jobs, cache_dir=cache_dir, desc=CHAPTER,
                    steps=len(nets) * params["max_steps"] // 4)
    out = dict(zip(range(len(cells)), res.results, strict=True))
    net_out = [(c, out[i]) for i, c in enumerate(nets)]
    th_out = [(c, out[len(nets) + i]) for i, c in enumerate(theory_cells)]
    metrics, arrays = summarise(params, net_out, th_out, _ridge_identity(params))
    return Result(params, metrics, arrays)
