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
:mod:`dropout_study.experiments.noisy_loss_cells`.

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

Intervals over seeds: :func:`dropout_study.stats.seed_interval` (Student-t below 20 seeds);
ρ: :func:`dropout_study.stats.spearman_ci` within seeds. The verdict reads the metrics
described in :mod:`dropout_study.verdicts.noisy_loss`.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dropout_study import paths
from dropout_study.experiments import with_defaults
from dropout_study.experiments.noisy_loss_cells import run_kmask, run_main, run_surrogate
from dropout_study.measures.landscape import across_mask_spread
from dropout_study.measures.time_to_target import (
    censored_median,
    censored_values,
    first_reach,
    steps_to_own_fraction,
)
from dropout_study.params import follow_member, include_member
from dropout_study.stats import mean_ci_columns, seed_interval, spearman_ci
from dropout_study.sweep import cell_path, run_sweep
from dropout_study.validation import (
    bound,
    check_bool,
    check_float,
    check_float_list,
    check_int,
    check_int_list,
    require,
)

__all__ = ["CHAPTER", "DEFAULTS", "Result", "check_params", "run", "cached_run", "trend_words"]

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

DEFAULTS: dict = {
    "seed": 0,
    "n_seeds": 8,
    "datasets": ["moons", "breast_cancer"],
    "dropout_rates": [0.0, 0.1, 0.2, 0.3, 0.5],
    "hidden": [32, 32],
    "n_samples": 500,
    "noise": 0.25,
    "lr": 0.1,
    "lr_grid": [0.1, 0.3],
    "momentum": 0.9,
    "max_steps": 3000,
    "eval_every": 1,
    "patience": 30,
    "min_delta": 1e-3,
    "target_fraction": 0.9,
    "alt_fractions": [0.5, 0.8],
    "n_abs_targets": 4,
    "checkpoints": [0, 10, 30],
    "n_grad_masks": 32,
    "n_slice_masks": 8,
    "alpha_max": 1.0,
    "n_alphas": 21,
    "control_rate": 0.5,
    "control_ks": [1, 2, 4, 8, 16],
    "control_datasets": ["moons"],
    "surrogate": False,
    "surrogate_masks": 64,
    "n_fresh_masks": 16,
}
"""The book profile: the same values as the chapter's ``parameters`` cell."""

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
    p = with_defaults(o, params, DEFAULTS)
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
    out["hidden"] = check_int_list(p["hidden"], "hidden", o, low=1)
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


def _summarise_dataset(params, outs, rates) -> tuple[dict, dict]:
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


def _summarise_control(params, k1_times, kouts, sur_outs) -> tuple[dict, dict]:
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


def run(params: dict, *, cache_dir="default", n_jobs: int | None = None) -> Result:
    """Run the chapter's experiment (see the module docstring); ``cache_dir`` and ``n_jobs``
    as in :func:`dropout_study.sweep.run_sweep`."""
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
        md, arrays = _summarise_dataset(params, main[di * per_ds : (di + 1) * per_ds], rates)
        m["by_dataset"][d] = md
        runs[d] = arrays
        if d in params["control_datasets"]:
            j = list(rates).index(params["control_rate"])
            k1 = {"steps": arrays["times"]["primary"][:, j], "best": arrays["best"][:, j]}
            ko = kout[ci * S * nk : (ci + 1) * S * nk]
            so = sout[ci * S * ns : (ci + 1) * S * ns]
            m["control"][d], control[d] = _summarise_control(params, k1, ko, so)
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


def cached_run(profile: str, *, cache_dir="default") -> Result | None:
    """The chapter's result at ``profile`` (its front-matter parameters) if every cell of it
    is in the sweep cache (same package source), else ``None`` — so the book page can show a
    ``full`` run that exists without starting one. ``cache_dir`` as in :func:`run`."""
    from dropout_study import chapters
    from dropout_study.params import resolve

    params = check_params(resolve(chapters.load(CHAPTER), profile))
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


def trend_words(iv: dict, up: str = "rises with p", down: str = "falls with p") -> str:
    """Direction words for a ρ interval ``{"low", "high"}``: ``up`` if it lies above 0,
    ``down`` if below, else "shows no clear trend in p" (glued into the page's prose)."""
    if iv["low"] > 0:
        return up
    if iv["high"] < 0:
        return down
    return "shows no clear trend in p"


def _dispatch(cell: dict) -> dict:
    """Run one cell of any kind (module level, so the sweep's workers can pickle it)."""
    kind = cell["kind"]
    body = {k: v for k, v in cell.items() if k != "kind"}
    return {"main": run_main, "kmask": run_kmask, "surrogate": run_surrogate}[kind](body)
