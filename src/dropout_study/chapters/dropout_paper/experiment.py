"""Chapter 6 (``dropout-paper``): what Srivastava et al. (2014) found, tested at laptop scale.

Convention: the study's ``p`` is the **drop** probability (inverted dropout); Srivastava's
``p`` is the **retention** probability ``q = 1 − p``. Every rate in the parameters is a drop
probability.

``run(params)`` evaluates, through :func:`dropout_study.sweep.runner.run_sweep` (parallel, cached):

1. **Digits networks** (shared by Fig. 11, 9 and 8 analogues): ``load_digits``, standardised
   with training statistics, a training split of ``n_train`` examples, 20 % validation, the
   rest test; one ReLU hidden layer, dropout after it, softmax head, trained under a protocol of
   :mod:`~dropout_study.chapters.dropout_paper.protocol` (primary: ``"laptop"``, Adam with
   early stopping). Per replicate: every rate of ``dropout_rates`` at width ``width``
   (Fig. 9a); every rate of ``pn_rates`` at width ``round(pn_units/(1 − p))`` (Fig. 9b). Each
   *group* of alternatives trains rates 0 and ``mc_rate`` again: ``stop_fixed`` (no early stopping,
   ``max_steps`` steps; when ``stopping_alt``), ``paper`` (the paper's protocol, also every
   ``pn_rates`` network; when ``paper_protocol``), ``width_alt`` and ``split_alt`` (when
   ``retrain_alt``). The networks at ``mc_rate`` give the Monte-Carlo error curve over
   ``mc_ks`` (averaged over ``mc_repeats`` sequences) against the weight-scaled error; the pair
   (0, ``mc_rate``) gives the activation statistics of the hidden layer on the test inputs
   (Fig. 8).
2. **Baldi & Sadowski** (``n_theory_seeds`` replicates): a ``64 → n → 1`` network per width
   ``n`` of ``baldi_widths`` (odd versus even digit, sigmoid head, dropout ``baldi_rate`` on the
   hidden layer, the laptop protocol); the ensemble's mean output over the hidden layer's masks
   on the test inputs, exact over all ``2^n`` masks for ``n ≤ 16``, Monte Carlo over
   ``baldi_masks`` masks above (:mod:`dropout_study.measures.nwgm`).
3. **§9.1** on ``load_diabetes(scaled=False)``, raw units: the identity (closed form versus
   Monte Carlo over ``ridge_masks`` masks, both forms, every rate of ``ridge_rates``; once,
   it does not depend on a seed) and SGD with input dropout at ``sgd_rate`` (per replicate).
4. **Wager et al.** on breast cancer (standardised), per replicate and rate of ``wager_rates``:
   the minimisers of the dropout objective (``wager_masks`` fixed masks) and of the quadratic
   one; the quadratic penalty over its Monte-Carlo value at the dropout minimiser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sklearn.datasets import load_diabetes

from dropout_study import seeds
from dropout_study.chapters import cost
from dropout_study.chapters.dropout_paper.cells import ACT_BINS, UNIT_BINS, cell
from dropout_study.chapters.dropout_paper.summary import summarise
from dropout_study.measures import input_dropout as inp
from dropout_study.parameters import complete
from dropout_study.sweep.runner import run_sweep
from dropout_study.validation import (
    bound,
    check_bool,
    check_float,
    check_float_list,
    check_int,
    check_int_list,
    require,
)

__all__ = [
    "estimate",
    "CHAPTER",
    "ACT_BINS",
    "UNIT_BINS",
    "Result",
    "check_params",
    "run",
    "cell",
    "pn_width",
]

CHAPTER = "dropout-paper"
_KEY = "dropout-paper-v4"
GROUPS = ("stop_fixed", "paper", "width_alt", "split_alt")
"""Groups of alternative digits networks (rates 0 and ``mc_rate``; ``paper`` also the Fig. 9b
networks), each trained only when its switch is on (module doc)."""


def check_params(params: dict) -> dict:
    """Range and consistency checks (the project's message template); returns a new dict."""
    p = complete(params, CHAPTER)
    out: dict[str, Any] = {"seed": check_int(p["seed"], "seed", CHAPTER, low=0)}
    out["n_seeds"] = check_int(p["n_seeds"], "n_seeds", CHAPTER, low=2, high=200)
    out["n_theory_seeds"] = check_int(
        p["n_theory_seeds"], "n_theory_seeds", CHAPTER, low=2, high=500
    )
    for name in ("n_train", "n_train_alt"):
        out[name] = check_int(p[name], name, CHAPTER, low=50, high=1000)
    for name in ("width", "width_alt"):
        out[name] = check_int(p[name], name, CHAPTER, low=1, high=2048)
    out["dropout_rates"] = check_float_list(
        p["dropout_rates"], "dropout_rates", CHAPTER, low=0.0, high=0.95, min_len=2
    )
    what = "a list starting at 0 (the network without dropout)"
    require(out["dropout_rates"][0] == 0.0, "dropout_rates", CHAPTER, what, p["dropout_rates"])
    out["pn_units"] = check_int(p["pn_units"], "pn_units", CHAPTER, low=1, high=256)
    out["pn_rates"] = check_float_list(
        p["pn_rates"], "pn_rates", CHAPTER, low=0.0, high=0.95, min_len=3
    )
    out["mc_rate"] = check_float(
        p["mc_rate"], "mc_rate", CHAPTER, low=0.0, high=0.95, low_open=True
    )
    rates = out["dropout_rates"]
    ok = out["mc_rate"] in rates
    require(ok, "mc_rate", CHAPTER, "one of dropout_rates", p["mc_rate"], detail=f"{rates}")
    out["pn_interior"] = check_float(p["pn_interior"], "pn_interior", CHAPTER, low=0.0, high=0.95)
    inner = out["pn_rates"][1:-1]
    require(
        out["pn_interior"] in inner,
        "pn_interior",
        CHAPTER,
        "an interior member of pn_rates (neither the first nor the last)",
        p["pn_interior"],
        detail=f"{inner}",
    )
    out["mc_ks"] = check_int_list(p["mc_ks"], "mc_ks", CHAPTER, low=1, min_len=3)
    require(out["mc_ks"][0] == 1, "mc_ks", CHAPTER, "a list starting at 1", p["mc_ks"])
    out["mc_repeats"] = check_int(p["mc_repeats"], "mc_repeats", CHAPTER, low=1, high=100)
    out["max_steps"] = check_int(p["max_steps"], "max_steps", CHAPTER, low=10)
    out["patience"] = check_int(p["patience"], "patience", CHAPTER, low=1)
    out["eval_every"] = check_int(
        p["eval_every"], "eval_every", CHAPTER, low=1, high=bound(out["max_steps"], "max_steps")
    )
    out["batch_size"] = check_int(p["batch_size"], "batch_size", CHAPTER, low=1)
    out["learning_rate"] = check_float(
        p["learning_rate"], "learning_rate", CHAPTER, low=0.0, high=1.0, low_open=True
    )
    for name in ("stopping_alt", "paper_protocol", "retrain_alt"):
        out[name] = check_bool(p[name], name, CHAPTER)
    out["paper_lr"] = check_float(
        p["paper_lr"], "paper_lr", CHAPTER, low=0.0, high=1.0, low_open=True
    )
    out["paper_momentum"] = check_float(
        p["paper_momentum"], "paper_momentum", CHAPTER, low=0.0, high=1.0, high_open=True
    )
    out["paper_max_norm"] = check_float(
        p["paper_max_norm"], "paper_max_norm", CHAPTER, low=0.0, low_open=True
    )
    out["paper_steps"] = check_int(p["paper_steps"], "paper_steps", CHAPTER, low=10)
    out["baldi_widths"] = check_int_list(
        p["baldi_widths"], "baldi_widths", CHAPTER, low=1, high=1024, min_len=1
    )
    require(
        out["baldi_widths"][0] <= 16,
        "baldi_widths",
        CHAPTER,
        "a list whose first width is at most 16 (enumerated exactly)",
        p["baldi_widths"],
    )
    out["baldi_masks"] = check_int(p["baldi_masks"], "baldi_masks", CHAPTER, low=10)
    out["baldi_rate"] = check_float(
        p["baldi_rate"], "baldi_rate", CHAPTER, low=0.0, high=0.95, low_open=True
    )
    out["ridge_rates"] = check_float_list(
        p["ridge_rates"], "ridge_rates", CHAPTER, low=0.0, high=0.95, low_open=True
    )
    out["ridge_masks"] = check_int(p["ridge_masks"], "ridge_masks", CHAPTER, low=10)
    out["sgd_rate"] = check_float(
        p["sgd_rate"], "sgd_rate", CHAPTER, low=0.0, high=0.95, low_open=True
    )
    out["sgd_steps"] = check_int(p["sgd_steps"], "sgd_steps", CHAPTER, low=100)
    out["wager_rates"] = check_float_list(
        p["wager_rates"], "wager_rates", CHAPTER, low=0.0, high=0.9, low_open=True
    )
    out["wager_masks"] = check_int(p["wager_masks"], "wager_masks", CHAPTER, low=1, high=1000)
    out["wager_eval_masks"] = check_int(p["wager_eval_masks"], "wager_eval_masks", CHAPTER, low=10)
    return out


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
        "kind": "net",
        "seed": params["seed"],
        "ks": params["mc_ks"],
        "mc_repeats": params["mc_repeats"],
        "lr": params["learning_rate"],
        **{k: params[k] for k in ("max_steps", "batch_size", "eval_every", "patience")},
    }
    paper = {k: params[k] for k in ("paper_lr", "paper_momentum", "paper_max_norm", "paper_steps")}
    pair = (0.0, params["mc_rate"])
    groups = [("fixed", "laptop", params["width"], params["n_train"], params["dropout_rates"])]
    groups.append(("pn", "laptop", None, params["n_train"], params["pn_rates"]))
    if params["stopping_alt"]:
        groups.append(("stop_fixed", "fixed", params["width"], params["n_train"], pair))
    if params["paper_protocol"]:
        groups.append(("paper", "paper", params["width"], params["n_train"], pair))
        groups.append(("paper_pn", "paper", None, params["n_train"], params["pn_rates"]))
    if params["retrain_alt"]:
        groups.append(("width_alt", "laptop", params["width_alt"], params["n_train"], pair))
        groups.append(("split_alt", "laptop", params["width"], params["n_train_alt"], pair))
    cells = []
    for rep in range(params["n_seeds"]):
        for group, protocol, width, n_train, rates in groups:
            for p in rates:
                w = pn_width(params["pn_units"], p) if width is None else width
                extra = paper if protocol == "paper" else {}
                mc = width is not None and p == params["mc_rate"]
                cells.append(
                    {**base, **extra, "rep": rep, "group": group, "protocol": protocol, "p": p,
                     "width": w, "n_train": n_train, "mc": mc}
                )  # fmt: skip
    return cells


def _ridge_identity(params: dict) -> dict:
    """The §9.1 identity at the closed-form minimiser of each rate, both mask forms, and the
    check against the *other* form's formula (the wrong one)."""
    X, y = load_diabetes(return_X_y=True, scaled=False)
    rng = seeds.streams(params["seed"]).measure
    out: dict[str, Any] = {
        "rates": params["ridge_rates"],
        "gamma": inp.gamma(X).tolist(),
        "n": X.shape[0],
    }
    for form in inp.FORMS:
        rows: dict[str, list[float]] = {k: [] for k in ("closed", "mc", "se", "z", "z_wrong")}
        for p in params["ridge_rates"]:
            r = 1.0 - p if form == "retention" else p
            w, b = inp.solve_closed(X, y, r, form)
            closed = inp.objective_closed(X, y, w, b, r, form)
            mc, se = inp.objective_mc(X, y, w, b, r, form, n_masks=params["ridge_masks"], rng=rng)
            other = "inverted" if form == "retention" else "retention"
            wrong = inp.objective_closed(X, y, w, b, 1.0 - r, other)  # same keep probability
            for k, v in (
                ("closed", closed),
                ("mc", mc),
                ("se", se),
                ("z", (mc - closed) / se),
                ("z_wrong", (mc - wrong) / se),
            ):
                rows[k].append(float(v))
        out[form] = rows
    w0, b0 = inp.solve_closed(X, y, 1.0, "retention")
    out["q1_gap"] = abs(
        inp.objective_mc(X, y, w0, b0, 1.0, "retention", n_masks=2, rng=rng)[0]
        - inp.objective_closed(X, y, w0, b0, 1.0, "retention")
    )
    w5, b5 = inp.solve_closed(X, y, params["sgd_rate"], "inverted")
    best = inp.objective_closed(X, y, w5, b5, params["sgd_rate"], "inverted")
    # what §9.1's margin can tell apart: the closed-form ridge of a *wrong* rate, scored by
    # the expected objective at sgd_rate (relative excess, as SGD's finding)
    out["wrong_rate_excess"] = {
        f"{p:g}": float(
            (
                inp.objective_closed(
                    X, y, *inp.solve_closed(X, y, p, "inverted"), params["sgd_rate"], "inverted"
                )
                - best
            )
            / best
        )
        for p in params["ridge_rates"]
        if p != params["sgd_rate"]
    }
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
        for units in params["baldi_widths"]:
            theory_cells.append(
                {
                    **common,
                    "kind": "baldi",
                    "protocol": "laptop",
                    "n_train": params["n_train"],
                    "units": units,
                    "masks": params["baldi_masks"],
                    "p": params["baldi_rate"],
                    "lr": params["learning_rate"],
                    **{k: params[k] for k in ("max_steps", "batch_size", "eval_every", "patience")},
                }
            )
        theory_cells.append(
            {**common, "kind": "sgd", "p": params["sgd_rate"], "steps": params["sgd_steps"]}
        )
        theory_cells.append(
            {
                **common,
                "kind": "wager",
                "rates": params["wager_rates"],
                "masks": params["wager_masks"],
                "eval_masks": params["wager_eval_masks"],
            }
        )
    cells = nets + theory_cells
    res = run_sweep(
        cell,
        cells,
        key=_KEY,
        n_jobs=n_jobs,
        cache_dir=cache_dir,
        desc=CHAPTER,
        steps=len(nets) * params["max_steps"] // 4,
    )
    out = dict(zip(range(len(cells)), res.results, strict=True))
    net_out = [(c, out[i]) for i, c in enumerate(nets)]
    th_out = [(c, out[len(nets) + i]) for i, c in enumerate(theory_cells)]
    metrics, arrays = summarise(params, net_out, th_out, _ridge_identity(params))
    return Result(params, metrics, arrays)


def estimate(p: dict) -> tuple[float, float]:
    """Multiply-adds: the digits networks (early stopping: about 5 patience windows, at most
    the cap; the alternatives' fixed budgets in full), the Monte-Carlo averages, the Baldi
    networks and their masks, SGD, the Wager fits and the ridge check; memory: the largest
    arrays (the Monte-Carlo probabilities and one block of masks)."""
    n_dig = 1797
    n_train = cost.n(p, "n_train", 200)
    n_test = n_dig * 0.8 - n_train
    cap = cost.n(p, "max_steps", 3000)
    stopped = min(cap, 5 * cost.n(p, "patience", 10) * cost.n(p, "eval_every", 10))
    batch = cost.n(p, "batch_size", 32)
    width, units = cost.n(p, "width", 256), cost.n(p, "pn_units", 32)
    pn_widths = [units / (1 - r) for r in p.get("pn_rates", [0.0, 0.2, 0.4, 0.6, 0.8])]

    def net(steps, w, evals=True):  # forward + backward of minibatches, validation passes
        val = steps / cost.n(p, "eval_every", 10) * 0.2 * n_dig if evals else 0.2 * n_dig
        return (3 * steps * batch + val) * 75 * w

    train = sum(net(stopped, width) for _ in range(int(cost.n(p, "dropout_rates", 6))))
    train += sum(net(stopped, w) for w in pn_widths)
    n_mc = 1
    if p.get("stopping_alt", True):
        train += 2 * net(cap, width, evals=False)
        n_mc += 1
    if p.get("paper_protocol", False):
        paper = cost.n(p, "paper_steps", 3000)
        train += 2 * net(paper, width, False) + sum(net(paper, w, False) for w in pn_widths)
        n_mc += 1
    if p.get("retrain_alt", False):
        train += 2 * net(stopped, cost.n(p, "width_alt", 128)) + 2 * net(stopped, width)
        n_mc += 2
    mc = n_mc * 3 * cost.n(p, "mc_repeats", 2) * max(p.get("mc_ks", [128]) or [128])
    mc *= n_test * width * 10
    seeds = cost.n(p, "n_seeds", 16)
    theory = cost.n(p, "n_theory_seeds", 12)
    baldi = 0.0
    for w in p.get("baldi_widths", [12, 64, 256]):
        masks = 2**w if w <= 16 else cost.n(p, "baldi_masks", 4000)
        baldi += net(stopped, w) / 10 + masks * n_test * (w + 6)
    sgd = cost.n(p, "sgd_steps", 8000) * 16 * 11 * 4
    wn = 569 * cost.TRAIN
    wager = (
        cost.n(p, "wager_rates", 3)
        * wn
        * 31
        * (200 * cost.n(p, "wager_masks", 16) * 2 + cost.n(p, "wager_eval_masks", 1000))
    )
    ridge = 2 * cost.n(p, "ridge_rates", 4) * cost.n(p, "ridge_masks", 2000) * 442 * 10 * 2
    k_max = max(p.get("mc_ks", [128]) or [128])
    memory = max(n_test * k_max * 10 * 8 * 2, 2**21 * 8 * 4)
    return seeds * (train + mc) + theory * (baldi + sgd + wager) + ridge, memory
