"""The cells of chapter 3's sweep (``noisy-loss``): one trained network and its measures each.

Every network trains on the same **fixed budget** of ``max_steps`` full-batch gradient-descent
steps with momentum, with no early stopping, and its validation loss is recorded every
``eval_every`` steps: the clock of :mod:`dropout_study.measures.time_to_target` times these
curves. The early-stopping rule (``patience`` evaluations without an improvement of more than
``min_delta`` nats, :func:`early_stopping_point`) is *replayed* on the recorded curve; it picks
``θ*`` — the best evaluated parameters before the rule fires — for the other analyses only
(slices, "converges higher"); it is recovered by repeating the run for that many steps, and
since ``train`` draws the same masks step by step whether or not a stopping rule is given, it
is the very network an early-stopped run would have kept.

Three kinds of cell, each a module-level function of a JSON-able dict (so that
:func:`dropout_study.sweep.runner.run_sweep` can run them in parallel and cache them):

- :func:`run_main` — one (data set, replicate, dropout rate ``p``, learning rate) network. At
  the primary learning rate (``cell["measure"]``) it also measures, at ``θ*``, the 1-D slices
  (evaluation mode and ``n_slice_masks`` fixed masks) and, at each step in ``checkpoints``
  (shared by every ``p``), the gradient noise across ``n_grad_masks`` masks
  (:mod:`dropout_study.measures.noise`);
- :func:`run_kmask` — the same network at ``p`` with each step's gradient averaged over ``K``
  fresh masks (:func:`dropout_study.nn.mask_control.train_mask_averaged`);
- :func:`run_surrogate` — gradient descent on the fixed-mask surrogate over ``K`` masks
  drawn once (:class:`dropout_study.nn.mask_control.FixedMaskSurrogate`), with the fresh-mask
  objective ``E_m J`` from ``n_fresh_masks`` masks at up to 61 evaluated steps.

A run whose loss diverges (:class:`dropout_study.nn.training.TrainingDiverged`) returns
``diverged=True`` and a curve of NaN: it never reaches a target (censored) and its measures
are NaN. Pairing: replicate ``r`` of data set ``d`` uses
``seeds.streams(seeds.replicate(seed, r))`` for every ``p``, learning rate and ``K``, so the
runs of one replicate share the data split, the initial weights, the seed of the mask stream
and the slice directions.
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
from dropout_study.nn.training import TrainingDiverged, train

__all__ = ["KEEP_BYTES", "early_stopping_point", "run_main", "run_kmask", "run_surrogate"]

KEEP_BYTES = 32 * 2**20
"""A measured run keeps its parameters at every evaluation when they take at most this many
bytes (float64), so that ``θ*`` is at hand; otherwise it repeats the run up to ``θ*``."""


def early_stopping_point(val_loss, patience: int, min_delta: float) -> tuple[int, int | None]:
    """Replay the stopping rule of :class:`dropout_study.nn.training.EarlyStopping` on a
    recorded validation-loss curve (shape ``(E,)``, nats, one value per evaluation).

    Evaluation ``j`` improves when its loss is below the best so far minus ``min_delta``
    (the first always does); the rule fires at the first evaluation that ends ``patience``
    evaluations in a row without improving. Returns ``(best, stop)``: the index of the best
    evaluation before the rule fired (the ``θ*`` the rule keeps) and the index at which it
    fired, ``None`` if it never did within the curve (the run reached its budget first)."""
    best, since, best_j = np.inf, 0, -1
    for j, loss in enumerate(np.asarray(val_loss, dtype=float)):
        if best_j < 0 or loss < best - min_delta:
            best, best_j, since = min(loss, best), j, 0
            continue
        since += 1
        if since >= patience:
            return best_j, j
    return best_j, None


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


def _train_kwargs(cell: dict, ds, st) -> dict:
    return {
        "optimizer": SGD(cell["lr"], momentum=cell["momentum"]),
        "n_steps": cell["max_steps"],
        "X_val": ds.X_val,
        "y_val": ds.y_val,
        "eval_every": cell["eval_every"],
        "mask_rng": st.masks,
    }


def _eval_steps(cell: dict) -> np.ndarray:
    """The evaluated steps of a run over the whole budget (``train``'s schedule)."""
    return np.unique(np.r_[np.arange(0, cell["max_steps"], cell["eval_every"]), cell["max_steps"]])


def _curve(hist, cell: dict) -> dict:
    best, stop = early_stopping_point(hist.val_loss, cell["patience"], cell["min_delta"])
    return {
        "eval_step": np.asarray(hist.eval_step),
        "val_loss": np.asarray(hist.val_loss),
        "best_step": int(hist.eval_step[best]),
        "stop_step": -1 if stop is None else int(hist.eval_step[stop]),
        "capped": stop is None,
        "diverged": False,
    }


def _diverged(cell: dict) -> dict:
    steps = _eval_steps(cell)
    return {
        "eval_step": steps,
        "val_loss": np.full(steps.shape, np.nan),
        "best_step": -1,
        "stop_step": -1,
        "capped": False,
        "diverged": True,
    }


def _theta_star(cell: dict, best: int, hist) -> np.ndarray:
    """``θ*``, the parameters after ``best`` steps: a kept checkpoint, or else the same run
    repeated for ``best`` steps (the same seed draws the same masks step by step, so it is
    the very network)."""
    if best in hist.checkpoints:
        return hist.checkpoints[best]
    st, ds, model = _setup(cell, cell["p"])
    kw = {**_train_kwargs(cell, ds, st), "n_steps": best}
    train(model, ds.X_train, ds.y_train, **kw)
    return model.get_params()


def run_main(cell: dict) -> dict:
    """Train one (data set, replicate, p, lr) network on the fixed budget; measure it at
    ``θ*`` and at the shared checkpoints if ``cell["measure"]`` (module docstring)."""
    st, ds, model = _setup(cell, cell["p"])
    dir_rng, slice_rng, grad_rng = st.measure.spawn(3)
    measure = cell["measure"]
    ckpts = set(cell["checkpoints"]) if measure else set()
    if measure and _eval_steps(cell).size * model.n_params * 8 <= KEEP_BYTES:
        ckpts |= set(_eval_steps(cell).tolist())  # θ* among them: no second run needed
    t0 = time.perf_counter()
    try:
        kw = _train_kwargs(cell, ds, st)
        hist = train(model, ds.X_train, ds.y_train, checkpoints=ckpts, **kw)
    except TrainingDiverged:
        hist = None
    out = _curve(hist, cell) if hist is not None else _diverged(cell)
    out["n_train"] = int(ds.X_train.shape[0])
    out["seconds"] = {"train": time.perf_counter() - t0}
    if not measure:
        return out

    t0 = time.perf_counter()
    n_ck = len(cell["checkpoints"])
    snr, variance = np.full(n_ck, np.nan), np.full(n_ck, np.nan)
    for i, (c, rng) in enumerate(zip(cell["checkpoints"], grad_rng.spawn(n_ck), strict=True)):
        if hist is None:
            continue
        if cell["p"] == 0:  # no mask noise: the variance is exactly 0, the SNR undefined
            variance[i] = 0.0
            continue
        gn = mask_gradient_noise(
            model, ds.X_train, ds.y_train, cell["n_grad_masks"], rng, theta=hist.checkpoints[c]
        )
        snr[i], variance[i] = gn.snr, gn.variance
    out["snr"], out["grad_variance"] = snr, variance
    out["seconds"]["noise"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    alphas = np.linspace(-cell["alpha_max"], cell["alpha_max"], cell["n_alphas"])
    out["alphas"] = alphas
    K, A = cell["n_slice_masks"], alphas.shape[0]
    if hist is None:
        out["slice_eval"], out["slice_masks"] = np.full(A, np.nan), np.full((K, A), np.nan)
        out["spread_end"] = out["spread_patience2"] = np.nan
        return out
    n = ds.X_train.shape[0]
    masks = [model.draw_masks(n, slice_rng) for _ in range(K)]
    # the spread at α = 0 at two other points (the stopping-rule and comparison-point knobs):
    # the end of the budget, and θ* of the same rule with twice the patience
    out["spread_end"] = _spread(model, ds, masks, model.get_params())
    best2, _ = early_stopping_point(out["val_loss"], 2 * cell["patience"], cell["min_delta"])
    out["best_step_patience2"] = int(out["eval_step"][best2])
    theta2 = _theta_star(cell, out["best_step_patience2"], hist)
    out["spread_patience2"] = _spread(model, ds, masks, theta2)
    model.set_params(_theta_star(cell, out["best_step"], hist))
    d = filter_normalized_direction(model, dir_rng)
    out["slice_eval"] = slice_1d(model, ds.X_train, ds.y_train, d, alphas)
    if _identity(masks):  # p = 0: J(θ + αd, m) is the evaluation-mode loss, bit for bit
        out["slice_masks"] = np.tile(out["slice_eval"], (K, 1))
    else:
        out["slice_masks"] = np.stack(
            [slice_1d(model, ds.X_train, ds.y_train, d, alphas, masks=m) for m in masks]
        )
    out["seconds"]["slices"] = time.perf_counter() - t0
    return out


def _spread(model, ds, masks, theta) -> float:
    """Standard deviation (``ddof = 1``, nats) of the training loss ``J(θ, m_k)`` across the
    mask sets ``masks`` at ``theta``; exactly 0 when every mask is the identity (``p = 0``)."""
    work = model.copy()
    work.set_params(theta)
    if _identity(masks):  # every set gives the same loss: one pass, the same array
        one = work.loss(ds.X_train, ds.y_train, training=True, masks=masks[0])
        losses = np.full(len(masks), one)
    else:
        losses = np.array(
            [work.loss(ds.X_train, ds.y_train, training=True, masks=m) for m in masks]
        )
    return float(np.std(losses - losses[0], ddof=1))


def _identity(masks) -> bool:
    """Whether every mask set of ``masks`` keeps every unit (``p = 0``: ``draw_masks`` gives
    ``None`` for each layer), so that ``J(θ, m)`` is the evaluation-mode loss for each of them
    (a dropout layer at ``p = 0`` passes its input through in training mode too) and one pass
    stands for all of them, bit for bit."""
    return all(m is None for mask_set in masks for m in mask_set)


def run_kmask(cell: dict) -> dict:
    """Train at ``cell["p"]`` on the fixed budget with each step's gradient averaged over
    ``cell["k"]`` fresh masks; the validation curve (``k = 1`` is :func:`run_main`'s run)."""
    st, ds, model = _setup(cell, cell["p"])
    t0 = time.perf_counter()
    try:
        hist = train_mask_averaged(
            model, ds.X_train, ds.y_train, cell["k"], **_train_kwargs(cell, ds, st)
        )
        out = _curve(hist, cell)
    except TrainingDiverged:
        out = _diverged(cell)
    return {**out, "seconds": {"train": time.perf_counter() - t0}}


def run_surrogate(cell: dict) -> dict:
    """Gradient descent on the fixed-mask surrogate (``cell["k"]`` masks drawn once) on the
    fixed budget, with the surrogate ``J_K``, the fresh-mask ``E_m J`` and the
    evaluation-mode training loss at up to 61 evaluated steps (``tracked_step``)."""
    st, ds, model = _setup(cell, cell["p"])
    mask_rng, fresh_rng = st.masks.spawn(2)
    t0 = time.perf_counter()
    sur = FixedMaskSurrogate(model, ds.X_train, ds.y_train, cell["k"], mask_rng)
    steps = _eval_steps(cell)
    tracked = steps[np.unique(np.linspace(0, steps.shape[0] - 1, 61).round().astype(int))]
    kw = _train_kwargs(cell, ds, st)
    kw.pop("mask_rng")
    try:
        hist = sur.train(model, checkpoints=tracked.tolist(), **kw)
    except TrainingDiverged:
        return {**_diverged(cell), "seconds": {"train": time.perf_counter() - t0}}
    probe = model.copy()
    surrogate, fresh, train_loss = [], [], []
    at = {int(t): j for j, t in enumerate(hist.eval_step)}
    for t, rng in zip(tracked, fresh_rng.spawn(len(tracked)), strict=True):
        th = hist.checkpoints[int(t)]
        # J_K(θ_t) is the loss step t computed before its update (same masks, same rows);
        # only θ after the last step needs a pass of its own.
        surrogate.append(
            float(hist.step_loss[t]) if t < len(hist.step_loss) else sur.loss(probe, th)
        )
        fresh.append(
            fresh_mask_loss(probe, ds.X_train, ds.y_train, cell["n_fresh_masks"], rng, theta=th)
        )
        train_loss.append(float(hist.train_loss[at[int(t)]]))
    out = _curve(hist, cell)
    out["tracked_step"] = tracked
    out["train_loss"] = np.asarray(train_loss)
    out["surrogate_loss"] = np.asarray(surrogate)
    out["fresh_loss"] = np.asarray(fresh)
    out["seconds"] = {"train": time.perf_counter() - t0}
    return out
