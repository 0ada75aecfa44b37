"""Chapter 3 (``noisy-loss``): does dropout make the loss noisier, and training slower *because*
of it? (STUDY.md, chapter 3.)

Design
------
Data sets ``datasets`` (``make_moons`` with ``n_samples`` points and ``noise``, and
``load_breast_cancer``), split 60/20/20 and standardised with training statistics. Network
``MLP([d, *hidden, 1])``, ReLU, sigmoid head (mean binary cross-entropy, nats), inverted
dropout with rate ``p`` after every hidden layer. Training: **full-batch** gradient descent
with momentum (so that dropout's masks are the only noise that differs between arms), early
stopping on the validation loss (``patience`` evaluations every ``eval_every`` steps,
``min_delta`` nats, cap ``max_steps``, best parameters restored). The cells are in
:mod:`dropout_study.chapters.noisy_loss.cells`.

Measures (per data set; ``S`` seeds, ``P`` rates):

- **noisier**: the loss spread across ``n_slice_masks`` fixed masks at ``θ*`` along a
  filter-normalised direction — at ``α = 0`` (primary) and averaged over the slice; the
  gradient variance across masks and the SNR ``(‖ḡ‖² − V/K)/V`` (can be negative, kept as it
  is) at the shared ``checkpoints``. Trends: Spearman ρ over ``p > 0`` only.
- **slower**: steps until the validation loss first reaches ``target_fraction`` of the run's
  own improvement (primary), ``alt_fractions`` of it, and ``n_abs_targets`` absolute targets
  ``L0 − q (L0 − b0)``, ``q = 1/n … 1`` (``L0``: mean initial validation loss, ``b0``: mean
  best validation loss at ``p = 0``), censoring per
  :mod:`dropout_study.measures.time_to_target`; the same at each ``p``'s own best learning rate
  from ``lr_grid`` (chosen on the mean best validation loss).
- **converges higher**: best and final validation loss against ``p``.
- **because noisier**: at ``control_rate`` on ``control_datasets``, each step's gradient
  averaged over ``K`` in ``control_ks`` fresh masks; per seed, primary steps are fitted as
  ``a + b/K`` and ``a`` (``K → ∞``) is compared with ``K = 1`` (paired difference; margin
  10 % of the mean ``K = 1`` steps). With ``surrogate``: the fixed-mask surrogate over
  ``surrogate_masks`` masks, the fresh-mask ``E_m J`` tracked beside it.

Intervals over seeds: :func:`dropout_study.measures.stats.seed_interval` (Student-t below 20 seeds);
ρ: :func:`dropout_study.measures.stats.spearman_ci` within seeds. The verdict reads the metrics
described in :mod:`dropout_study.chapters.noisy_loss.verdict`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dropout_study import paths
from dropout_study.chapters import cost
from dropout_study.chapters.noisy_loss.cells import run_kmask, run_main, run_surrogate
from dropout_study.chapters.noisy_loss.summary import (
    summarise_control,
    summarise_dataset,
    trend_words,
)
from dropout_study.parameters import complete, follow_member, include_member
from dropout_study.sweep.runner import cell_path, run_sweep
from dropout_study.validation import (
    bound,
    check_bool,
    check_float,
    check_float_list,
    check_int,
    check_int_list,
    require,
)

__all__ = ["CHAPTER", "estimate", "Result", "check_params", "run", "cached_run", "trend_words"]

CHAPTER = "noisy-loss"
_VERSION = "v2"
DATASETS = ("moons", "breast_cancer")
# the SNR without dropout is infinite (no mask noise): report.finish lets it through as null
NONFINITE_METRICS = ("snr_median",)
# control_rate follows dropout_rates when the user did not set it (params.resolve applies it)
DEPENDENT_DEFAULTS = {
    "control_rate": follow_member("control_rate", "dropout_rates", lambda r: r > 0),
    "lr_grid": include_member("lr_grid", "lr"),
}


_TRAIN_KEYS = (
    "seed", "n_samples", "noise", "hidden", "momentum", "max_steps", "eval_every",
    "patience", "min_delta",
)  # fmt: skip
_MEASURE_KEYS = ("checkpoints", "n_grad_masks", "n_slice_masks", "alpha_max", "n_alphas")


def _fractions(values, name: str, o: str) -> list[float]:
    return check_float_list(values, name, o, low=0.0, high=1.0, low_open=True, min_len=1)


def check_params(params: dict) -> dict:
    """Check ranges and consistency; return a new dict with every parameter (defaults filled).

    Raises ``ValueError``/``TypeError`` with the project's template, naming the parameter.
    """
    o = CHAPTER
    p = complete(params, o)
    out = {"seed": check_int(p["seed"], "seed", o, low=0)}
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
    out["max_steps"] = check_int(p["max_steps"], "max_steps", o, low=2)
    out["eval_every"] = check_int(
        p["eval_every"], "eval_every", o, low=1, high=bound(out["max_steps"], "max_steps")
    )
    out["patience"] = check_int(p["patience"], "patience", o, low=1)
    out["min_delta"] = check_float(p["min_delta"], "min_delta", o, low=0.0)
    out["target_fraction"] = check_float(
        p["target_fraction"], "target_fraction", o, low=0.0, high=1.0, low_open=True
    )
    out["alt_fractions"] = _fractions(p["alt_fractions"], "alt_fractions", o)
    out["n_abs_targets"] = check_int(p["n_abs_targets"], "n_abs_targets", o, low=1)
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
    ks = check_int_list(p["control_ks"], "control_ks", o, low=1, min_len=3)
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
    or learning rates reuses the cached cells)."""
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
            if params["surrogate"]:
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
        steps=len(cells) * params["max_steps"] // 4,
    )
    return res.results, res.n_computed, res.n_cached


@dataclass
class Result:
    """What :func:`run` returns: ``metrics`` (JSON-able; every number the verdict and the page
    use) and, per data set, the arrays the plots need (``runs[d]``: dicts of arrays indexed
    ``[seed, rate, ...]``; ``control[d]`` with the fixed-mask surrogate's runs under
    ``"surrogate"`` when it ran), plus ``seconds``."""

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
    all_cells = cells["main"] + cells["kmask"] + cells["surrogate"]
    tagged = _tagged(cells)
    results, n_comp, n_cached = _sweep(_dispatch, tagged, params, n_jobs, cache_dir)
    n_main, n_k = len(cells["main"]), len(cells["kmask"])
    main, kout, sout = results[:n_main], results[n_main : n_main + n_k], results[n_main + n_k :]
    rates = np.asarray(params["dropout_rates"])
    S, P, G = params["n_seeds"], len(rates), len(params["lr_grid"])
    per_ds = S * G * P
    m: dict = {
        "datasets": params["datasets"],
        "control_datasets": params["control_datasets"],
        "dropout_rates": rates.tolist(),
        "n_seeds": S,
        "n_runs": len(all_cells),
        "target_fraction": params["target_fraction"],
        "checkpoints": params["checkpoints"],
        "control_rate": params["control_rate"],
        "lr": params["lr"],
        "lr_grid": params["lr_grid"],
        "max_steps": params["max_steps"],
        "by_dataset": {},
        "control": {},
    }
    runs, control = {}, {}
    nk, ns = len(params["control_ks"]) - 1, 1 if params["surrogate"] else 0
    ci = 0
    for di, d in enumerate(params["datasets"]):
        md, arrays = summarise_dataset(params, main[di * per_ds : (di + 1) * per_ds], rates)
        m["by_dataset"][d] = md
        runs[d] = arrays
        if d in params["control_datasets"]:
            j = list(rates).index(params["control_rate"])
            k1 = {"steps": arrays["times"]["primary"][:, j], "best": arrays["best"][:, j]}
            ko = kout[ci * S * nk : (ci + 1) * S * nk]
            so = sout[ci * S * ns : (ci + 1) * S * ns]
            m["control"][d], control[d] = summarise_control(params, k1, ko, so)
            ci += 1
    seconds = {
        "wall": time.perf_counter() - t0,
        "cells_computed": n_comp,
        "cells_cached": n_cached,
        "train": float(sum(o["seconds"]["train"] for o in results)),
    }
    return Result(params, m, rates, runs, control, seconds)


def _tagged(cells: dict) -> list[dict]:
    """Every cell with its kind, in one list: one sweep keeps the workers busy across kinds."""
    return [{"kind": k, **c} for k in ("main", "kmask", "surrogate") for c in cells[k]]


def cached_run(params: dict, *, cache_dir="default") -> Result | None:
    """The chapter's result for ``params`` (e.g. the ``full`` profile's, resolved by the book)
    if every cell of it is in the sweep cache (same code), else ``None`` — so the book page can
    show a ``full`` run that exists without starting one. ``cache_dir`` as in :func:`run`."""
    params = check_params(params)
    if isinstance(cache_dir, str) and cache_dir == "default":
        env = os.environ.get("DROPOUT_STUDY_SWEEP_CACHE")
        cache_dir = None if env == "off" else (env or paths.SWEEP_CACHE)
    if cache_dir is None:
        return None
    key = f"{CHAPTER}/{_VERSION}"
    for cell in _tagged(_cells(params)):
        if not cell_path(_dispatch, cell, key, Path(cache_dir)).exists():
            return None
    return run(params, cache_dir=cache_dir, n_jobs=1)


def _dispatch(cell: dict) -> dict:
    """Run one cell of any kind (module level, so the sweep's workers can pickle it)."""
    kind = cell["kind"]
    body = {k: v for k, v in cell.items() if k != "kind"}
    return {"main": run_main, "kmask": run_kmask, "surrogate": run_surrogate}[kind](body)


def estimate(p: dict) -> tuple[float, float]:
    """(multiply-adds, bytes of the largest arrays) of one run with the resolved ``p``
    (:mod:`dropout_study.chapters.cost`), read before any kernel starts."""
    work, memory = 0.0, 0.0
    seeds, rates = cost.n(p, "n_seeds", 8), cost.n(p, "dropout_rates", 5)
    ks = p.get("control_ks", [1, 2, 4, 8, 16])
    k_total = sum(int(k) for k in ks) if isinstance(ks, list) else 31
    for name in p.get("datasets", ["moons", "breast_cancer"]):
        n, d, k = cost.data(name, p.get("n_samples") if name == "moons" else None)
        w = cost.weights(d, p.get("hidden", [32, 32]), k)
        train = 3 * cost.stopped(p) * n * w  # full batch
        lrs = cost.n(p, "lr_grid", 2)
        grads = 3 * cost.n(p, "checkpoints", 3) * cost.n(p, "n_grad_masks", 32) * n * w
        slices = cost.n(p, "n_alphas", 21) * cost.n(p, "n_slice_masks", 8) * n * w
        work += seeds * rates * (train * (1 + lrs) + grads + slices)
        if name in p.get("control_datasets", ["moons"]):
            work += seeds * k_total * train
        memory = max(memory, cost.n(p, "n_grad_masks", 32) * w * 8, k_total * n * d * 8)
        memory = max(memory, cost.net_memory(n, w, p.get("hidden", [32, 32])))
    if p.get("surrogate"):
        work += seeds * cost.n(p, "surrogate_masks", 64) * 3 * cost.stopped(p) * 600 * 1200
    return work, memory
