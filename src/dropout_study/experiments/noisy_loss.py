"""Chapter 3 (``noisy-loss``): does dropout make the loss surface noisier and training slower?

Design
------
Data: ``make_moons`` (``n_samples`` points, Gaussian ``noise`` in raw units), split 60/20/20
into train / validation / test and standardised with training statistics. Moons needs a hidden
layer (its boundary is curved), so dropout in the hidden layers matters; it is small enough for
``n_seeds`` × ``len(dropout_rates)`` trainings in seconds.

Model and training: ``MLP([2, *hidden, 1])``, ReLU, sigmoid head (mean binary cross-entropy in
nats), inverted dropout with rate ``p`` after every hidden layer; SGD with momentum on
minibatches of ``batch_size``, ``n_steps`` updates; validation loss and accuracy every
``eval_every`` steps.

Pairing (common random numbers): replicate ``r`` uses ``seeds.replicate(seed, r)``
and :func:`dropout_study.seeds.streams` of it for every rate, so runs that differ only in ``p``
share data split, initial weights, minibatch order, the seed of the mask stream and the
Gaussian draws behind the random directions.

One *cell* = one (replicate, p). Its measures:

- **slices** at the trained ``θ*``: ``L(θ* + α d)`` on the training set for ``n_alphas`` values
  of ``α`` in ``[-alpha_max, alpha_max]`` along one filter-normalised direction ``d``, in
  evaluation mode and under ``n_slice_masks`` fixed masks; the **loss spread** is
  :func:`~dropout_study.measures.landscape.across_mask_spread` of the fixed-mask curves (nats);
  also the share of slice points where a masked curve lies above the evaluation-mode curve,
  and the *rise ratio*: the mean over ``α`` of ``J(α) - J(0)`` for the masked curves divided
  by the same for the evaluation-mode curve (> 1: the masked surface is steeper around
  ``θ*``; NaN for a seed whose evaluation-mode curve does not rise on average);
- **gradient noise** at each step in ``checkpoints`` of its own trajectory (step 0 is the
  shared initialisation): the variance across ``n_grad_masks`` masks of the full-batch
  gradient and the SNR ``||E g||² / E||g - E g||²``
  (:mod:`dropout_study.measures.noise`);
- **steps to target**: the first evaluated step whose validation loss is ``<= target_loss``
  (and whose validation accuracy is ``>= target_acc``). A run that never gets there in
  ``n_steps`` is **censored**: counted, given the rank above every run that got there (its
  value is set to ``n_steps + eval_every`` for ranking) and never dropped; medians that fall on
  a censored run are reported as "not reached" (``None``);
- the final validation loss and accuracy, whichever way they go.

The cell of replicate 0 at ``contour_rate`` also computes a 2-D slice (``n_contour``² points)
in evaluation mode and under one fixed mask.

Statistics: per rate, means with 95 % bootstrap intervals over seeds; trends as Spearman ρ of
(p, measure) within each seed, averaged over seeds, with a bootstrap interval over seeds
(:func:`dropout_study.stats.spearman_ci`). The verdict reads ``rho_spread*`` and
``rho_steps*`` (see :func:`dropout_study.verdicts.noisy_loss`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from dropout_study import data as datasets
from dropout_study import seeds
from dropout_study.experiments import with_defaults
from dropout_study.measures.landscape import (
    across_mask_spread,
    filter_normalized_direction,
    slice_1d,
    slice_2d,
)
from dropout_study.measures.noise import mask_gradient_noise
from dropout_study.mlp import MLP
from dropout_study.optim import SGD
from dropout_study.params import follow_member
from dropout_study.stats import mean_ci_columns, spearman_ci
from dropout_study.sweep import run_sweep
from dropout_study.training import train
from dropout_study.validation import (
    check_float,
    check_float_list,
    check_int,
    check_int_list,
    fail,
)

__all__ = ["CHAPTER", "DEFAULTS", "Result", "check_params", "run", "run_cell", "steps_to_target"]

CHAPTER = "noisy-loss"

# contour_rate follows dropout_rates when the user did not set it (params.resolve applies it)
# the SNR without dropout is infinite (no mask noise): report.finish lets it through as null
NONFINITE_METRICS = ("snr_median",)
DEPENDENT_DEFAULTS = {
    "contour_rate": follow_member("contour_rate", "dropout_rates", lambda r: r > 0)
}
_VERSION = "v1"  # bump when a cell's meaning changes without a source change

DEFAULTS: dict = {
    "seed": 0,
    "n_seeds": 8,
    "dropout_rates": [0.0, 0.1, 0.2, 0.3, 0.5],
    "hidden": [32, 32],
    "n_samples": 1000,
    "noise": 0.25,
    "lr": 0.05,
    "momentum": 0.9,
    "batch_size": 32,
    "n_steps": 600,
    "eval_every": 10,
    "target_loss": 0.25,
    "target_acc": 0.9,
    "checkpoints": [0, 50, 200, 600],
    "n_grad_masks": 32,
    "n_slice_masks": 8,
    "alpha_max": 1.0,
    "n_alphas": 25,
    "contour_rate": 0.5,
    "n_contour": 25,
}
"""The book profile: the same values as the chapter's ``parameters`` cell."""


def check_params(params: dict) -> dict:
    """Check ranges and consistency; return a new dict with every parameter (defaults filled).

    Raises ``ValueError``/``TypeError`` with the project's template, e.g. "The 'dropout_rates'
    parameter of noisy-loss must be ...; got ...", naming the first offending parameter.
    """
    o = CHAPTER
    p = with_defaults(o, params, DEFAULTS)
    out = {"seed": check_int(p["seed"], "seed", o, low=0)}
    out["n_seeds"] = check_int(p["n_seeds"], "n_seeds", o, low=2)
    rates = check_float_list(
        p["dropout_rates"], "dropout_rates", o, low=0.0, high=1.0, high_open=True, min_len=2
    )
    if len(set(rates)) != len(rates):
        fail("dropout_rates", o, "a list of distinct floats in [0, 1)", p["dropout_rates"])
    out["dropout_rates"] = rates
    out["hidden"] = check_int_list(p["hidden"], "hidden", o, low=1)
    out["n_samples"] = check_int(p["n_samples"], "n_samples", o, low=50)
    out["noise"] = check_float(p["noise"], "noise", o, low=0.0)
    out["lr"] = check_float(p["lr"], "lr", o, low=0.0, low_open=True)
    out["momentum"] = check_float(p["momentum"], "momentum", o, low=0.0, high=1.0, high_open=True)
    out["batch_size"] = check_int(p["batch_size"], "batch_size", o, low=1)
    out["n_steps"] = check_int(p["n_steps"], "n_steps", o, low=1)
    out["eval_every"] = check_int(p["eval_every"], "eval_every", o, low=1, high=out["n_steps"])
    out["target_loss"] = check_float(p["target_loss"], "target_loss", o, low=0.0, low_open=True)
    out["target_acc"] = check_float(
        p["target_acc"], "target_acc", o, low=0.0, high=1.0, low_open=True
    )
    ckpts = check_int_list(p["checkpoints"], "checkpoints", o, low=0)
    if any(c > out["n_steps"] for c in ckpts) or len(set(ckpts)) != len(ckpts):
        fail(
            "checkpoints",
            o,
            f"a list of distinct ints in [0, n_steps={out['n_steps']}]",
            p["checkpoints"],
        )
    out["checkpoints"] = sorted(ckpts)
    out["n_grad_masks"] = check_int(p["n_grad_masks"], "n_grad_masks", o, low=2)
    out["n_slice_masks"] = check_int(p["n_slice_masks"], "n_slice_masks", o, low=2)
    out["alpha_max"] = check_float(p["alpha_max"], "alpha_max", o, low=0.0, low_open=True)
    out["n_alphas"] = check_int(p["n_alphas"], "n_alphas", o, low=3)
    if out["n_alphas"] % 2 == 0:
        fail("n_alphas", o, "an odd int >= 3 (so that alpha = 0 is on the grid)", p["n_alphas"])
    cr = check_float(p["contour_rate"], "contour_rate", o, low=0.0, high=1.0, low_open=True)
    if cr not in rates:
        fail("contour_rate", o, f"one of the dropout_rates {rates} and > 0", p["contour_rate"])
    out["contour_rate"] = cr
    out["n_contour"] = check_int(p["n_contour"], "n_contour", o, low=3)
    return out


# ---------------------------------------------------------------------------------------------
# One cell: one replicate at one dropout rate
# ---------------------------------------------------------------------------------------------
def steps_to_target(eval_steps, values, target: float, *, below: bool = True) -> float:
    """First step in ``eval_steps`` whose value reaches ``target``; NaN if none (censored).

    ``below=True`` means ``value <= target`` (a loss); ``below=False`` means
    ``value >= target`` (an accuracy). ``eval_steps`` and ``values`` have shape ``(n_evals,)``.
    """
    steps = np.asarray(eval_steps)
    vals = np.asarray(values, dtype=float)
    if steps.shape != vals.shape or steps.ndim != 1:
        fail("values", "steps_to_target", f"an array of shape {steps.shape}", vals.shape)
    hit = vals <= target if below else vals >= target
    return float(steps[np.argmax(hit)]) if hit.any() else float("nan")


def _setup(cell: dict):
    rep = cell["replicate"]
    ss = seeds.replicate(cell["seed"], rep)
    st = seeds.streams(ss)
    ds = datasets.load("moons", rng=st.split, n_samples=cell["n_samples"], noise=cell["noise"])
    model = MLP([ds.n_features, *cell["hidden"], 1], dropout=cell["p"], rng=st.init)
    dir_rng, slice_rng, grad_rng = st.measure.spawn(3)
    return st, ds, model, dir_rng, slice_rng, grad_rng


def run_cell(cell: dict) -> dict:
    """Train one network and measure it (see the module docstring); a dict of arrays.

    ``cell`` holds the checked parameters plus ``replicate`` (int), ``p`` (float) and
    ``contour`` (bool). Deterministic given the cell (run by
    :func:`~dropout_study.sweep.run_sweep`, with single-threaded BLAS).
    """
    st, ds, model, dir_rng, slice_rng, grad_rng = _setup(cell)
    opt = SGD(cell["lr"], momentum=cell["momentum"])
    t0 = time.perf_counter()
    hist = train(
        model,
        ds.X_train,
        ds.y_train,
        optimizer=opt,
        n_steps=cell["n_steps"],
        batch_size=cell["batch_size"],
        X_val=ds.X_val,
        y_val=ds.y_val,
        eval_every=cell["eval_every"],
        mask_rng=st.masks,
        batch_rng=st.batches,
        checkpoints=cell["checkpoints"],
    )
    t_train = time.perf_counter() - t0

    t0 = time.perf_counter()
    n_ck = len(cell["checkpoints"])
    snr = np.empty(n_ck)
    variance = np.empty(n_ck)
    for i, (c, rng) in enumerate(zip(cell["checkpoints"], grad_rng.spawn(n_ck), strict=True)):
        gn = mask_gradient_noise(
            model, ds.X_train, ds.y_train, cell["n_grad_masks"], rng, theta=hist.checkpoints[c]
        )
        snr[i], variance[i] = gn.snr, gn.variance
    t_noise = time.perf_counter() - t0

    t0 = time.perf_counter()
    d1 = filter_normalized_direction(model, dir_rng)
    d2 = filter_normalized_direction(model, dir_rng)
    alphas = np.linspace(-cell["alpha_max"], cell["alpha_max"], cell["n_alphas"])
    n = ds.X_train.shape[0]
    eval_curve = slice_1d(model, ds.X_train, ds.y_train, d1, alphas)
    masks = [model.draw_masks(n, slice_rng) for _ in range(cell["n_slice_masks"])]
    mask_curves = np.stack(
        [slice_1d(model, ds.X_train, ds.y_train, d1, alphas, masks=m) for m in masks]
    )
    out = {
        "replicate": cell["replicate"],
        "p": cell["p"],
        "n_train": int(ds.X_train.shape[0]),
        "eval_step": hist.eval_step,
        "val_loss": hist.val_loss,
        "val_acc": hist.val_acc,
        "steps_loss": steps_to_target(hist.eval_step, hist.val_loss, cell["target_loss"]),
        "steps_acc": steps_to_target(hist.eval_step, hist.val_acc, cell["target_acc"], below=False),
        "final_val_loss": float(hist.val_loss[-1]),
        "final_val_acc": float(hist.val_acc[-1]),
        "train_loss_star": float(hist.train_loss[-1]),
        "snr": snr,
        "grad_variance": variance,
        "alphas": alphas,
        "slice_eval": eval_curve,
        "slice_masks": mask_curves,
        "spread": across_mask_spread(mask_curves),
    }
    if cell["contour"]:
        grid = np.linspace(-cell["alpha_max"], cell["alpha_max"], cell["n_contour"])
        out["contour"] = {
            "alphas": grid,
            "betas": grid,
            "eval": slice_2d(model, ds.X_train, ds.y_train, d1, d2, grid, grid),
            "masked": slice_2d(model, ds.X_train, ds.y_train, d1, d2, grid, grid, masks=masks[0]),
        }
    out["seconds"] = {
        "train": t_train,
        "noise": t_noise,
        "slices": time.perf_counter() - t0,
    }
    return out


# ---------------------------------------------------------------------------------------------
# The whole experiment
# ---------------------------------------------------------------------------------------------
@dataclass
class Result:
    """What :func:`run` returns.

    ``metrics`` is JSON-able (every number the verdict and the page use). The arrays are
    indexed ``[seed, rate, ...]`` with rates in the order of ``params["dropout_rates"]``:

    - ``spread`` ``(S, P)``: loss spread across masks (nats);
    - ``steps_loss``, ``steps_acc`` ``(S, P)``: steps to target, NaN if censored;
    - ``final_val_loss`` (nats), ``final_val_acc`` ``(S, P)``;
    - ``train_loss_star`` ``(S, P)``: evaluation-mode training loss at ``θ*`` (nats);
    - ``eval_step`` ``(E,)``; ``val_loss``, ``val_acc`` ``(S, P, E)``;
    - ``snr``, ``grad_variance`` ``(S, P, C)`` at ``params["checkpoints"]``;
    - ``alphas`` ``(A,)``; ``slice_eval`` ``(S, P, A)``; ``slice_masks`` ``(S, P, K, A)``;
    - ``contour``: ``{"p", "alphas", "betas", "eval", "masked"}`` (``(N, N)`` arrays indexed
      ``[alpha, beta]``), replicate 0 at ``contour_rate``;
    - ``n_train``: training points of each replicate's split;
    - ``seconds``: wall-clock of the whole run and summed per-part times of the cells.
    """

    params: dict
    metrics: dict
    rates: np.ndarray
    spread: np.ndarray
    steps_loss: np.ndarray
    steps_acc: np.ndarray
    final_val_loss: np.ndarray
    final_val_acc: np.ndarray
    train_loss_star: np.ndarray
    eval_step: np.ndarray
    val_loss: np.ndarray
    val_acc: np.ndarray
    snr: np.ndarray
    grad_variance: np.ndarray
    alphas: np.ndarray
    slice_eval: np.ndarray
    slice_masks: np.ndarray
    contour: dict
    n_train: int
    seconds: dict = field(default_factory=dict)


_SWEPT = ("n_seeds", "dropout_rates", "contour_rate")


def _cells(params: dict) -> list[dict]:
    """One cell per (replicate, rate), holding only what the cell depends on (so that adding
    seeds or rates reuses the cached cells)."""
    common = {k: v for k, v in params.items() if k not in _SWEPT}
    cells = []
    for r in range(params["n_seeds"]):
        for p in params["dropout_rates"]:
            contour = r == 0 and p == params["contour_rate"]
            cells.append({**common, "replicate": r, "p": p, "contour": contour})
    return cells


def _censored_median(values: np.ndarray) -> float | None:
    """Median with NaN (censored, i.e. larger than every observed value) ranked last;
    ``None`` if the median falls on a censored run."""
    v = np.where(np.isnan(values), np.inf, values)
    m = float(np.median(v))
    return None if not np.isfinite(m) else m


def _rho(x, y, groups) -> dict:
    r = spearman_ci(x, y, groups=groups)
    return {"rho": r.rho, "low": r.low, "high": r.high}


def _summarise(params: dict, res: dict) -> dict:
    rates = np.asarray(params["dropout_rates"])
    S, P = res["spread"].shape
    x = np.tile(rates, S)
    groups = np.repeat(np.arange(S), P)
    cap = params["n_steps"] + params["eval_every"]

    m: dict = {
        "dataset": "moons",
        "dropout_rates": rates.tolist(),
        "n_seeds": int(S),
        "n_runs": int(S * P),
        "target_loss": params["target_loss"],
        "target_acc": params["target_acc"],
        "n_steps": params["n_steps"],
        "checkpoints": list(params["checkpoints"]),
    }
    m["spread"] = mean_ci_columns(res["spread"])
    m["train_loss_star"] = mean_ci_columns(res["train_loss_star"])
    # shape of the fixed-mask slices against the evaluation-mode slice, per rate:
    # the share of (seed, mask, alpha) points where the masked loss is higher, and how far the
    # curves rise from their value at alpha = 0 (the middle of the grid), masked / eval
    ev, mk = res["slice_eval"], res["slice_masks"]
    mid = ev.shape[-1] // 2
    m["slice_above_eval"] = np.mean(mk > ev[:, :, None, :], axis=(0, 2, 3)).tolist()
    rise_eval = np.mean(ev - ev[:, :, mid : mid + 1], axis=-1)  # (S, P)
    rise_mask = np.mean(mk - mk[:, :, :, mid : mid + 1], axis=(-2, -1))  # (S, P)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(rise_eval > 0, rise_mask / rise_eval, np.nan)
    m["slice_rise_ratio"] = np.mean(ratio, axis=0).tolist()
    rs = _rho(x, res["spread"].ravel(), groups)
    m["rho_spread"], m["rho_spread_low"], m["rho_spread_high"] = rs["rho"], rs["low"], rs["high"]
    for name in ("loss", "acc"):
        steps = res[f"steps_{name}"]
        censored = np.isnan(steps)
        m[f"steps_{name}_median"] = [_censored_median(steps[:, j]) for j in range(P)]
        m[f"steps_{name}_censored"] = censored.sum(axis=0).astype(int).tolist()
        r = _rho(x, np.where(censored, cap, steps).ravel(), groups)
        m[f"rho_steps_{name}"] = r["rho"]
        m[f"rho_steps_{name}_low"], m[f"rho_steps_{name}_high"] = r["low"], r["high"]
    m["steps_censored_total"] = int(np.isnan(res["steps_loss"]).sum())
    m["steps_cap"] = cap
    # the verdict's names for the loss target
    m["rho_steps"], m["rho_steps_low"], m["rho_steps_high"] = (
        m["rho_steps_loss"],
        m["rho_steps_loss_low"],
        m["rho_steps_loss_high"],
    )
    m["final_val_loss"] = mean_ci_columns(res["final_val_loss"])
    m["final_val_acc"] = mean_ci_columns(res["final_val_acc"])
    r = _rho(x, res["final_val_loss"].ravel(), groups)
    m["rho_final_loss"], m["rho_final_loss_low"], m["rho_final_loss_high"] = (
        r["rho"],
        r["low"],
        r["high"],
    )
    # gradient noise: medians over seeds per (checkpoint, rate); trends over p > 0 only
    # (at p = 0 the variance is exactly 0 and the SNR infinite)
    pos = rates > 0
    m["snr_median"] = np.median(res["snr"], axis=0).T.tolist()  # [checkpoint][rate]
    m["grad_variance_median"] = np.median(res["grad_variance"], axis=0).T.tolist()
    m["rho_snr"], m["rho_snr_low"], m["rho_snr_high"] = [], [], []
    for c in range(res["snr"].shape[2]):
        vals = res["snr"][:, pos, c]
        if pos.sum() >= 2 and np.all(np.isfinite(vals)):
            r = _rho(np.tile(rates[pos], S), vals.ravel(), np.repeat(np.arange(S), pos.sum()))
        else:
            r = {"rho": float("nan"), "low": float("nan"), "high": float("nan")}
        m["rho_snr"].append(r["rho"])
        m["rho_snr_low"].append(r["low"])
        m["rho_snr_high"].append(r["high"])
    m["snr_nonpositive"] = int(np.sum(res["snr"][:, pos, :] <= 0))
    # is the median SNR strictly falling in p (over p > 0) at each checkpoint?
    med = np.median(res["snr"][:, pos, :], axis=0)  # (rates > 0, checkpoints)
    m["snr_monotone"] = [bool(np.all(np.diff(med[:, c]) < 0)) for c in range(med.shape[1])]
    return m


def run(params: dict, *, cache_dir="default", n_jobs: int | None = None) -> Result:
    """Run the chapter's experiment (see the module docstring).

    Parameters
    ----------
    params : dict
        The chapter's parameters (missing ones take :data:`DEFAULTS`); checked first.
    cache_dir : path, None or "default"
        Where :func:`dropout_study.sweep.run_sweep` keeps finished cells; ``None`` keeps none;
        ``"default"`` is ``DROPOUT_STUDY_SWEEP_CACHE`` if set (a path, or ``off``), else
        ``.cache/sweeps``.
    n_jobs : int, optional
        Worker processes (default: see :func:`~dropout_study.sweep.run_sweep`; one for a
        sweep as small as the smoke profile's).
    """
    params = check_params(params)
    t0 = time.perf_counter()
    cells = _cells(params)
    sweep = run_sweep(
        run_cell,
        cells,
        key=f"{CHAPTER}/{_VERSION}",
        n_jobs=n_jobs,
        desc=CHAPTER,
        cache_dir=cache_dir,
        steps=len(cells) * params["n_steps"],
    )
    S, P = params["n_seeds"], len(params["dropout_rates"])
    outs = sweep.results

    def stack(name: str) -> np.ndarray:
        return np.asarray([o[name] for o in outs]).reshape(S, P, *np.shape(outs[0][name]))

    res = {
        name: stack(name)
        for name in (
            "spread",
            "steps_loss",
            "steps_acc",
            "final_val_loss",
            "final_val_acc",
            "train_loss_star",
            "val_loss",
            "val_acc",
            "snr",
            "grad_variance",
            "slice_eval",
            "slice_masks",
        )
    }
    contour = {**next(o for o in outs if "contour" in o)["contour"], "p": params["contour_rate"]}
    metrics = _summarise(params, res)
    seconds = {
        part: float(sum(o["seconds"][part] for o in outs)) for part in ("train", "noise", "slices")
    }
    seconds["wall"] = time.perf_counter() - t0
    seconds["cells_computed"] = sweep.n_computed
    seconds["cells_cached"] = sweep.n_cached
    return Result(
        params=params,
        metrics=metrics,
        rates=np.asarray(params["dropout_rates"]),
        eval_step=np.asarray(outs[0]["eval_step"]),
        alphas=np.asarray(outs[0]["alphas"]),
        contour=contour,
        n_train=outs[0]["n_train"],
        seconds=seconds,
        **res,
    )
