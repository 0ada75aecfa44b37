"""Chapter 3 (``noisy-loss``): does dropout make the loss noisier, and training slower *because*
of it? (STUDY.md, chapter 3, version 3.)

Design
------
Data sets ``datasets`` (``make_moons`` with ``n_samples`` points and ``noise``, and
``load_breast_cancer``), split 60/20/20 and standardised with training statistics. Network
``MLP([d, *hidden, 1])``, ReLU, sigmoid head (mean binary cross-entropy, nats), inverted
dropout with rate ``p`` after every hidden layer. Training: **full-batch** gradient descent
with momentum (so that dropout's masks are the only noise that differs between arms) on a
**fixed budget** of ``max_steps`` steps without early stopping, the validation loss evaluated
every ``eval_every`` steps. The early-stopping rule (``patience``, ``min_delta``) is replayed on
the recorded curve to pick ``θ*`` for the slices and the best loss. Cells:
:mod:`dropout_study.chapters.noisy_loss.cells`.

Measures (per data set; ``S`` seeds, ``P`` rates):

- **noisier**: the loss spread across ``n_slice_masks`` fixed masks at ``θ*`` along a
  filter-normalised direction — at ``α = 0`` (primary) and averaged over the slice; the
  gradient variance across masks and the SNR ``(‖ḡ‖² − V/K)/V`` (can be negative, kept as it
  is) at the ``checkpoints`` shared by every ``p``. Trends: per-seed Spearman ρ over ``p > 0``.
- **slower**: the paired clock (:mod:`dropout_study.chapters.noisy_loss.clock`): per seed the
  target is ``target_fraction`` of the ``p = 0`` run's improvement within the budget; a seed
  whose ``p = 0`` run improves by less than ``min_improvement`` of its initial loss has no
  reference; per-seed ratios of restricted times ``p = control_rate / p = 0``; the clock's
  variants (``alt_fractions``, ``abs_offsets`` nats above the ``p = 0`` best, the budget
  halved, every 5th evaluation) and each ``p`` at its own best learning rate from ``lr_grid``.
- **converges higher**: the early-stopped and the final validation loss against ``p``.
- **because noisier**: at ``control_rate`` on ``control_datasets``, each step's gradient
  averaged over ``K`` in ``control_ks`` fresh masks, on the same clock: ratios ``K = 1 / K_max``
  and ``K_max / p = 0``. With ``surrogate``: the fixed-mask surrogate over ``surrogate_masks``
  masks on the first control data set, the fresh-mask ``E_m J`` tracked beside it.

The verdict (:mod:`dropout_study.chapters.noisy_loss.verdict`) reads the per-seed values in
the metrics and makes its findings with :mod:`dropout_study.chapters.findings`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dropout_study.chapters import cost
from dropout_study.chapters.noisy_loss.cells import run_kmask, run_main, run_surrogate
from dropout_study.chapters.noisy_loss.summary import summarise_control, summarise_dataset
from dropout_study.parameters import complete, follow_member, include_member
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

__all__ = ["CHAPTER", "estimate", "Result", "check_params", "run", "assemble"]

CHAPTER = "noisy-loss"
_VERSION = "v3"
DATASETS = ("moons", "breast_cancer")
MAX_BUDGET = 1_000_000
"""The largest fixed budget accepted: every run trains all of it (hours per run beyond)."""
# control_rate follows dropout_rates when the user did not set it (params.resolve applies it)
DEPENDENT_DEFAULTS = {
    "control_rate": follow_member("control_rate", "dropout_rates", lambda r: r > 0),
    "lr_grid": include_member("lr_grid", "lr"),
}


_TRAIN_KEYS = (
    "seed",
    "n_samples",
    "noise",
    "hidden",
    "momentum",
    "max_steps",
    "eval_every",
    "patience",
    "min_delta",
)
_MEASURE_KEYS = ("checkpoints", "n_grad_masks", "n_slice_masks", "alpha_max", "n_alphas")


def _fractions(values, name: str, o: str) -> list[float]:
    return check_float_list(values, name, o, low=0.0, high=1.0, low_open=True, min_len=1)


def check_params(params: dict) -> dict:
    """Check ranges and consistency; return a new dict with every parameter (defaults filled).

    Raises ``ValueError``/``TypeError`` with the project's template, naming the parameter.
    """
    o = CHAPTER
    p = complete(params, o)
    out: dict[str, Any] = {"seed": check_int(p["seed"], "seed", o, low=0)}
    out["n_seeds"] = check_int(p["n_seeds"], "n_seeds", o, low=2)
    allowed = "a non-empty list of distinct names from " + ", ".join(DATASETS)
    for name in ("datasets", "control_datasets"):
        v = p[name]
        ok = (
            isinstance(v, list)
            and bool(v)
            and all(isinstance(d, str) for d in v)
            and len(set(v)) == len(v)
            and all(d in DATASETS for d in v)
        )
        require(ok, name, o, allowed, v)
        out[name] = list(v)
    both = set(out["datasets"]) == set(DATASETS)  # the rule and the page need both
    require(both, "datasets", o, "a list holding both moons and breast_cancer", p["datasets"])
    what = "a list starting with moons (the primary control)"
    first = out["control_datasets"][0] == "moons"
    require(first, "control_datasets", o, what, p["control_datasets"])
    rates = check_float_list(
        p["dropout_rates"], "dropout_rates", o, low=0.0, high=1.0, high_open=True, min_len=3
    )
    ok = len(set(rates)) == len(rates) and 0.0 in rates and sum(r > 0 for r in rates) >= 2
    require(ok, "dropout_rates", o, "distinct, with 0 and at least two > 0", rates)
    out["dropout_rates"] = sorted(rates)
    out["hidden"] = check_int_list(
        p["hidden"], "hidden", o, low=1, order="any: layer widths, input to output"
    )
    out["n_samples"] = check_int(p["n_samples"], "n_samples", o, low=50)
    out["noise"] = check_float(p["noise"], "noise", o, low=0.0)
    out["lr"] = check_float(p["lr"], "lr", o, low=0.0, low_open=True)
    grid = check_float_list(p["lr_grid"], "lr_grid", o, low=0.0, low_open=True, min_len=2)
    ok = out["lr"] in grid and len(set(grid)) == len(grid)
    require(ok, "lr_grid", o, "distinct, including lr", grid, detail=f"lr = {out['lr']:g}")
    out["lr_grid"] = sorted(grid)
    out["momentum"] = check_float(p["momentum"], "momentum", o, low=0.0, high=1.0, high_open=True)
    # the fixed budget; every run keeps its whole history, so memory grows with it
    out["max_steps"] = check_int(p["max_steps"], "max_steps", o, low=2, high=MAX_BUDGET)
    out["eval_every"] = check_int(
        p["eval_every"], "eval_every", o, low=1, high=bound(out["max_steps"], "max_steps")
    )
    out["patience"] = check_int(p["patience"], "patience", o, low=1)
    out["min_delta"] = check_float(p["min_delta"], "min_delta", o, low=0.0)
    out["target_fraction"] = check_float(
        p["target_fraction"], "target_fraction", o, low=0.0, high=1.0, low_open=True
    )
    out["alt_fractions"] = _fractions(p["alt_fractions"], "alt_fractions", o)
    out["abs_offsets"] = check_float_list(
        p["abs_offsets"], "abs_offsets", o, low=0.0, low_open=True, min_len=1
    )
    out["min_improvement"] = check_float(
        p["min_improvement"], "min_improvement", o, low=0.0, high=1.0, high_open=True
    )
    ck = check_int_list(
        p["checkpoints"], "checkpoints", o, low=0, high=bound(out["max_steps"], "max_steps")
    )
    ok = len(set(ck)) == len(ck) and 0 in ck
    require(ok, "checkpoints", o, "distinct, including 0", ck)
    out["checkpoints"] = sorted(ck)
    out["n_grad_masks"] = check_int(p["n_grad_masks"], "n_grad_masks", o, low=2)
    out["n_slice_masks"] = check_int(p["n_slice_masks"], "n_slice_masks", o, low=2)
    out["alpha_max"] = check_float(p["alpha_max"], "alpha_max", o, low=0.0, low_open=True)
    out["n_alphas"] = check_int(p["n_alphas"], "n_alphas", o, low=3)
    what = "an odd int (so that alpha = 0 is on the grid)"
    require(out["n_alphas"] % 2 == 1, "n_alphas", o, what, p["n_alphas"])
    cr = check_float(
        p["control_rate"], "control_rate", o, low=0.0, high=1.0, low_open=True, high_open=True
    )
    require(cr in rates, "control_rate", o, "one of the dropout_rates", cr, detail=f"{rates}")
    out["control_rate"] = cr
    ks = check_int_list(p["control_ks"], "control_ks", o, low=1, min_len=2)
    ok = 1 in ks and len(set(ks)) == len(ks)
    require(ok, "control_ks", o, "distinct, including 1", ks)
    out["control_ks"] = sorted(ks)
    out["surrogate"] = check_bool(p["surrogate"], "surrogate", o)
    out["surrogate_masks"] = check_int(p["surrogate_masks"], "surrogate_masks", o, low=1)
    out["n_fresh_masks"] = check_int(p["n_fresh_masks"], "n_fresh_masks", o, low=1)
    return out


# ---------------------------------------------------------------------------------------------
# cells
# ---------------------------------------------------------------------------------------------
def _cells(params: dict) -> dict[str, list[dict]]:
    """The cells of each kind, each holding only what it depends on (so adding seeds, rates
    or learning rates reuses the cached cells). Order: data set, seed, then learning rate and
    rate (main), ``K`` (kmask)."""
    train = {k: params[k] for k in _TRAIN_KEYS}
    measure = {k: params[k] for k in _MEASURE_KEYS}
    main, kmask, sur = [], [], []
    for d in params["datasets"]:
        for r in range(params["n_seeds"]):
            base = {**train, "dataset": d, "replicate": r}
            for lr in params["lr_grid"]:
                for p in params["dropout_rates"]:
                    primary = lr == params["lr"]
                    extra = measure if primary else {}
                    main.append({**base, **extra, "p": p, "lr": lr, "measure": primary})
            if d not in params["control_datasets"]:
                continue
            for k in params["control_ks"]:
                if k > 1:
                    kmask.append({**base, "p": params["control_rate"], "lr": params["lr"], "k": k})
            if params["surrogate"] and d == params["control_datasets"][0]:
                sur.append(
                    {
                        **base,
                        "p": params["control_rate"],
                        "lr": params["lr"],
                        "k": params["surrogate_masks"],
                        "n_fresh_masks": params["n_fresh_masks"],
                    }
                )
    return {"main": main, "kmask": kmask, "surrogate": sur}


def _sweep(fn, cells, params, n_jobs, cache_dir):
    res = run_sweep(
        fn,
        cells,
        key=f"{CHAPTER}/{_VERSION}",
        n_jobs=n_jobs,
        desc=f"{CHAPTER} {fn.__name__}",
        cache_dir=cache_dir,
        steps=sum(params["max_steps"] * c.get("k", 1) for c in cells),
    )
    return res.results, res.n_computed, res.n_cached


@dataclass
class Result:
    """What :func:`run` returns: ``metrics`` (JSON-able; every number the verdict and the page
    use) and, per data set, the arrays the plots need (``runs[d]``: arrays indexed
    ``[seed, rate, ...]`` and the clocks; ``control[d]``: the controls' curves and times, with
    the fixed-mask surrogate's runs under ``"surrogate"`` when it ran), plus ``seconds``."""

    params: dict
    metrics: dict
    rates: np.ndarray
    runs: dict
    control: dict
    seconds: dict = field(default_factory=dict)


def run(params: dict, *, cache_dir="default", n_jobs: int | None = None) -> Result:
    """Run the chapter's experiment (see the module docstring); ``cache_dir`` and ``n_jobs``
    as in :func:`dropout_study.sweep.runner.run_sweep`."""
    params = check_params(params)
    t0 = time.perf_counter()
    cells = _cells(params)
    results, n_comp, n_cached = _sweep(_dispatch, _tagged(cells), params, n_jobs, cache_dir)
    result = assemble(params, results)
    result.seconds = {
        "wall": time.perf_counter() - t0,
        "cells_computed": n_comp,
        "cells_cached": n_cached,
        "train": float(sum(o["seconds"]["train"] for o in results)),
    }
    return result


def assemble(params: dict, results: list) -> Result:
    """The :class:`Result` of the cells' outputs ``results`` (in :func:`_tagged`'s order)."""
    cells = _cells(params)
    n_s, n_k = len(cells["surrogate"]), len(cells["kmask"])
    sout, kout, main = results[:n_s], results[n_s : n_s + n_k], results[n_s + n_k :]
    rates = np.asarray(params["dropout_rates"])
    S, P, G = params["n_seeds"], len(rates), len(params["lr_grid"])
    per_ds = S * G * P
    keys = (
        "datasets",
        "control_datasets",
        "dropout_rates",
        "n_seeds",
        "target_fraction",
        "alt_fractions",
        "abs_offsets",
        "min_improvement",
        "checkpoints",
        "control_rate",
        "control_ks",
        "lr",
        "lr_grid",
        "max_steps",
        "eval_every",
        "surrogate",
    )
    m: dict = {k: params[k] for k in keys}
    m.update(n_runs=len(results), by_dataset={}, control={})
    runs, control = {}, {}
    nk = len(params["control_ks"]) - 1
    ci = 0
    for di, d in enumerate(params["datasets"]):
        md, arrays = summarise_dataset(params, main[di * per_ds : (di + 1) * per_ds], rates)
        m["by_dataset"][d] = md
        runs[d] = arrays
        if d in params["control_datasets"]:
            ko = kout[ci * S * nk : (ci + 1) * S * nk]
            so = sout if ci == 0 else []  # the surrogate runs on the first control data set
            m["control"][d], control[d] = summarise_control(params, arrays, ko, so)
            ci += 1
    return Result(params, m, rates, runs, control)


def _tagged(cells: dict) -> list[dict]:
    """Every cell with its kind, in one list, the costliest first (the ``K``-mask and
    surrogate cells), so that the two workers finish together."""
    return [{"kind": k, **c} for k in ("surrogate", "kmask", "main") for c in cells[k]]


def _dispatch(cell: dict) -> dict:
    """Run one cell of any kind (module level, so the sweep's workers can pickle it)."""
    kind = cell["kind"]
    body = {k: v for k, v in cell.items() if k != "kind"}
    return {"main": run_main, "kmask": run_kmask, "surrogate": run_surrogate}[kind](body)


def estimate(p: dict) -> tuple[float, float]:
    """(multiply-adds, bytes of the largest arrays) of one run with the resolved ``p``
    (:mod:`dropout_study.chapters.cost`), read before any kernel starts. Every run trains the
    whole budget ``max_steps``; an evaluation (training and validation sets, forward only)
    every ``eval_every`` steps."""
    work, memory = 0.0, 0.0
    seeds, rates = cost.n(p, "n_seeds", 8), cost.n(p, "dropout_rates", 5)
    steps = cost.n(p, "max_steps", 600)
    evals = steps / max(cost.n(p, "eval_every", 1), 1.0)
    ks = p.get("control_ks", [1, 4, 16])
    k_extra = sum(int(k) for k in ks if int(k) > 1) if isinstance(ks, list) else 20
    hidden = p.get("hidden", [32, 32])
    for name in p.get("datasets", ["moons", "breast_cancer"]):
        n, d, k = cost.data(name, p.get("n_samples") if name == "moons" else None)
        w = cost.weights(d, hidden, k)
        one = 3 * steps * n * w + evals * (n + n / 3) * w  # a run: steps and evaluations
        grads = 3 * cost.n(p, "checkpoints", 5) * cost.n(p, "n_grad_masks", 32) * n * w
        slices = cost.n(p, "n_alphas", 21) * cost.n(p, "n_slice_masks", 8) * n * w
        work += seeds * rates * (one * cost.n(p, "lr_grid", 3) + grads + slices)
        if name in p.get("control_datasets", ["moons"]):
            work += seeds * k_extra * 3 * steps * n * w
            if p.get("surrogate") and name == p.get("control_datasets", ["moons"])[0]:
                work += seeds * cost.n(p, "surrogate_masks", 64) * 3 * steps * n * w
        history = 8 * (2 * steps + 8 * (evals + 1))  # one run's History arrays, float64
        memory = max(memory, history, (k_extra + 1) * n * max(d, 1) * 8)
        memory = max(memory, cost.net_memory(n, w, hidden))
        if p.get("surrogate"):
            memory = max(memory, cost.n(p, "surrogate_masks", 64) * n * sum(hidden) * 8)
    return work, memory
