"""The cells of chapter 3's sweep (``noisy-loss``): one trained network and its measures each.

Three kinds of cell, each a module-level function of a JSON-able dict (so that
:func:`dropout_study.sweep.runner.run_sweep` can run them in parallel and cache them):

- :func:`run_main` — one (data set, replicate, dropout rate ``p``, learning rate) network,
  trained by full-batch gradient descent with momentum to the stopping rule (early stopping
  on the validation loss, ``patience`` evaluations, ``min_delta`` nats, at most ``max_steps``
  steps; the best parameters restored). At the primary learning rate it also measures, at the
  trained ``θ*``, the 1-D slices (evaluation mode and ``n_slice_masks`` fixed masks) and, at
  each step in ``checkpoints``, the gradient noise across ``n_grad_masks`` masks
  (:mod:`dropout_study.measures.noise`; NaN where the run stopped before that step);
- :func:`run_kmask` — the same network at ``control_rate`` with each step's gradient
  averaged over ``K`` fresh masks (:func:`dropout_study.nn.mask_control.train_mask_averaged`);
- :func:`run_surrogate` — gradient descent on the fixed-mask surrogate over
  ``surrogate_masks`` masks drawn once (:class:`dropout_study.nn.mask_control.FixedMaskSurrogate`),
  with the fresh-mask objective ``E_m J`` estimated from ``n_fresh_masks`` masks at every
  evaluation.

Pairing: replicate ``r`` of data set ``d`` uses ``seeds.streams(seeds.replicate(seed, r))``
for every ``p``, learning rate and ``K``, so the runs of one replicate share the data split,
the initial weights, the seed of the mask stream and the slice directions. Full-batch steps
leave dropout's masks as the only noise that differs between arms.
"""

from __future__ import annotations

import time

import numpy as np

from dropout_study import data as datasets
from dropout_study import seeds
from dropout_study.measures.landscape import filter_normalized_direction, slice_1d
from dropout_study.measures.noise import mask_gradient_noise
from dropout_study.nn.mask_control import FixedMaskSurrogate, fresh_mask_loss, train_mask_averaged
from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import SGD
from dropout_study.nn.training import EarlyStopping, train

__all__ = ["run_main", "run_kmask", "run_surrogate"]


def _setup(cell: dict, p: float):
    st = seeds.streams(seeds.replicate(cell["seed"], cell["replicate"]))
    kw = (
        {"n_samples": cell["n_samples"], "noise": cell["noise"]}
        if cell["dataset"] == "moons"
        else {}
    )
    ds = datasets.load(cell["dataset"], rng=st.split, **kw)
    model = MLP([ds.n_features, *cell["hidden"], 1], dropout=p, rng=st.init)
    return st, ds, model


def _train_kwargs(cell: dict, ds, st, lr: float) -> dict:
    return {
        "optimizer": SGD(lr, momentum=cell["momentum"]),
        "n_steps": cell["max_steps"],
        "X_val": ds.X_val,
        "y_val": ds.y_val,
        "eval_every": cell["eval_every"],
        "mask_rng": st.masks,
        "stop": EarlyStopping(patience=cell["patience"], min_delta=cell["min_delta"]),
    }


def _curve(hist) -> dict:
    return {
        "eval_step": np.asarray(hist.eval_step),
        "val_loss": np.asarray(hist.val_loss),
        "stopped_at": int(hist.stopped_at),
        "best_step": int(hist.best_step),
        "capped": bool(hist.capped),
    }


def run_main(cell: dict) -> dict:
    """Train one (data set, replicate, p, lr) network; measure it if ``cell["measure"]``."""
    st, ds, model = _setup(cell, cell["p"])
    measure_rng = st.measure
    dir_rng, slice_rng, grad_rng = measure_rng.spawn(3)
    ckpts = [c for c in cell["checkpoints"] if c <= cell["max_steps"]] if cell["measure"] else []
    t0 = time.perf_counter()
    hist = train(
        model,
        ds.X_train,
        ds.y_train,
        checkpoints=ckpts,
        **_train_kwargs(cell, ds, st, cell["lr"]),
    )
    out = {**_curve(hist), "n_train": int(ds.X_train.shape[0]), "seconds": {}}
    out["seconds"]["train"] = time.perf_counter() - t0
    if not cell["measure"]:
        return out

    t0 = time.perf_counter()
    n_ck = len(cell["checkpoints"])
    snr, variance = np.full(n_ck, np.nan), np.full(n_ck, np.nan)
    if cell["p"] > 0:
        for i, (c, rng) in enumerate(zip(cell["checkpoints"], grad_rng.spawn(n_ck), strict=True)):
            if c in hist.checkpoints:
                gn = mask_gradient_noise(
                    model,
                    ds.X_train,
                    ds.y_train,
                    cell["n_grad_masks"],
                    rng,
                    theta=hist.checkpoints[c],
                )
                snr[i], variance[i] = gn.snr, gn.variance
    else:  # no mask noise at p = 0: variance exactly 0 where the checkpoint exists
        for i, c in enumerate(cell["checkpoints"]):
            if c in hist.checkpoints:
                variance[i] = 0.0
    out["snr"], out["grad_variance"] = snr, variance
    out["seconds"]["noise"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    d = filter_normalized_direction(model, dir_rng)
    alphas = np.linspace(-cell["alpha_max"], cell["alpha_max"], cell["n_alphas"])
    n = ds.X_train.shape[0]
    out["alphas"] = alphas
    out["slice_eval"] = slice_1d(model, ds.X_train, ds.y_train, d, alphas)
    out["slice_masks"] = np.stack(
        [
            slice_1d(model, ds.X_train, ds.y_train, d, alphas, masks=model.draw_masks(n, slice_rng))
            for _ in range(cell["n_slice_masks"])
        ]
    )
    out["seconds"]["slices"] = time.perf_counter() - t0
    return out


def run_kmask(cell: dict) -> dict:
    """Train at ``cell["p"]`` with each step's gradient averaged over ``cell["k"]`` masks."""
    st, ds, model = _setup(cell, cell["p"])
    t0 = time.perf_counter()
    hist = train_mask_averaged(
        model, ds.X_train, ds.y_train, cell["k"], **_train_kwargs(cell, ds, st, cell["lr"])
    )
    return {**_curve(hist), "seconds": {"train": time.perf_counter() - t0}}


def run_surrogate(cell: dict) -> dict:
    """Gradient descent on the fixed-mask surrogate (``cell["k"]`` masks drawn once), with
    the surrogate ``J_K``, the fresh-mask ``E_m J`` and the evaluation-mode training loss at
    every evaluation."""
    st, ds, model = _setup(cell, cell["p"])
    mask_rng, fresh_rng = st.masks.spawn(2)
    t0 = time.perf_counter()
    sur = FixedMaskSurrogate(model, ds.X_train, ds.y_train, cell["k"], mask_rng)
    kw = _train_kwargs(cell, ds, st, cell["lr"])
    kw.pop("mask_rng")
    steps = sorted(set(range(0, cell["max_steps"], cell["eval_every"])) | {cell["max_steps"]})
    hist = sur.train(model, checkpoints=steps, **kw)
    evaluated = [t for t in hist.eval_step if t in hist.checkpoints]
    probe = model.copy()
    surrogate, fresh = [], []
    for t, rng in zip(evaluated, fresh_rng.spawn(len(evaluated)), strict=True):
        th = hist.checkpoints[t]
        # J_K(θ_t) is the loss step t computed before its update (same masks, same rows);
        # only θ after the last step needs a pass of its own.
        surrogate.append(
            float(hist.step_loss[t]) if t < len(hist.step_loss) else sur.loss(probe, th)
        )
        fresh.append(
            fresh_mask_loss(probe, ds.X_train, ds.y_train, cell["n_fresh_masks"], rng, theta=th)
        )
    out = _curve(hist)
    out["train_loss"] = np.asarray(hist.train_loss)
    out["surrogate_loss"] = np.asarray(surrogate)
    out["fresh_loss"] = np.asarray(fresh)
    out["seconds"] = {"train": time.perf_counter() - t0}
    return out
