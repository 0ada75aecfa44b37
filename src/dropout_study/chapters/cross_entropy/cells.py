"""One cell of the cross-entropy sweep (a replicate): the hidden-layer network's unit-swap
segment and the digits network's calibration, before and after temperature scaling.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from scipy.special import rel_entr

from dropout_study import data as datasets
from dropout_study import seeds
from dropout_study.chapters.cross_entropy.quantities import (
    fit_temperature,
    reliability,
    scaled_cross_entropy,
    segment_costs,
    swap_hidden_units,
)
from dropout_study.nn.losses import (
    entropy,
    sparse_categorical_cross_entropy,
)
from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import SGD, Adam
from dropout_study.nn.training import train


def replicate_streams(params: dict, replicate: int) -> seeds.Streams:
    """Fresh streams of ``replicate`` (generators in the same state on every call)."""
    return seeds.streams(seeds.replicate(params["seed"], replicate))


def run_cell(cell: dict) -> dict:
    """The replicate-dependent parts (5: network; 6: digits); a dict of arrays and floats.

    ``cell`` holds the checked parameters (without ``n_seeds``) plus ``replicate``.
    Deterministic given the cell (run by :func:`~dropout_study.sweep.runner.run_sweep`, with
    single-threaded BLAS).
    """
    c0 = time.process_time()
    t0 = time.perf_counter()
    out: dict[str, Any] = {"hidden": _hidden_layer(cell), "digits": _digits(cell)}
    out["digits_alternatives"] = [
        {"label": label, **_held_summary(_digits({**cell, **change}))}
        for label, change in digits_alternatives(cell)
    ]
    out["seconds"] = time.perf_counter() - t0
    out["cpu_seconds"] = time.process_time() - c0  # this process only (BLAS single-threaded)
    return out


def _hidden_layer(cell: dict) -> dict:
    st = replicate_streams(cell, cell["replicate"])
    ds = datasets.load("breast_cancer", rng=st.split)
    X, y = ds.X_train, ds.y_train
    model = MLP([ds.n_features, cell["mlp_width"], 1], activation="tanh", dropout=None, rng=st.init)
    train(model, X, y, optimizer=SGD(cell["mlp_lr"]), n_steps=cell["mlp_steps"], eval_every=50)
    # the most different pair of hidden units (incoming weights, bias, outgoing weights)
    W1, b1, W2, _ = model.params
    units = np.column_stack([W1.T, b1, W2[:, 0]])
    dist = np.linalg.norm(units[:, None, :] - units[None, :, :], axis=-1)
    i, j = np.unravel_index(np.argmax(dist), dist.shape)
    theta = model.get_params()
    swapped = swap_hidden_units(model, int(i), int(j))
    alphas = np.linspace(-0.5, 1.5, cell["n_alphas"])
    J = segment_costs(model, theta, swapped, alphas, X, y)
    da = float(alphas[1] - alphas[0])
    curv = (J[2:] - 2 * J[1:-1] + J[:-2]) / da**2
    j_a = model.loss(X, y)
    net = model.copy()
    net.set_params(swapped)
    j_b = net.loss(X, y)
    net.set_params(0.5 * (theta + swapped))
    return {
        "alphas": alphas,
        "cost": J,
        "curvature": curv,
        "min_curvature": float(curv.min()),
        "scale": float(np.max(np.abs(curv))),
        "cost_a": float(j_a),
        "cost_b": float(j_b),
        "midpoint_excess": float(net.loss(X, y) - 0.5 * (j_a + j_b)),
        "units": (int(i), int(j)),
        "distance": float(np.linalg.norm(swapped - theta)),
    }


def _digits(cell: dict) -> dict:
    """The digits network: trained with half A of the validation split as its validation
    data (the curves, the step of lowest validation CE, fitting the temperatures); half B is
    held out and scores both checkpoints (lowest validation CE on A, and the end) before and
    after temperature scaling."""
    st = replicate_streams(cell, cell["replicate"])
    ds = load_digits_split(cell, st.split)
    half_a, half_b = validation_halves(ds.y_val.size, st.measure)
    Xa, ya, Xb, yb = ds.X_val[half_a], ds.y_val[half_a], ds.X_val[half_b], ds.y_val[half_b]
    sizes = [ds.n_features, *cell["digits_hidden"], ds.n_classes]
    model = MLP(sizes, head="softmax", dropout=None, rng=st.init)
    steps, every = cell["digits_steps"], cell["digits_eval_every"]
    ckpts = sorted(set(range(0, steps, every)) | {steps})
    hist = train(
        model,
        ds.X_train,
        ds.y_train,
        optimizer=Adam(cell["digits_lr"]),
        n_steps=steps,
        X_val=Xa,
        y_val=ya,
        eval_every=every,
        checkpoints=ckpts,
    )
    best = int(np.argmin(hist.val_loss))
    best_step = int(hist.eval_step[best])
    net = model.copy()
    net.set_params(hist.checkpoints[best_step])
    held: dict = {}
    top = {}
    for name, m in (("best", net), ("end", model)):
        za, zb = m.forward(Xa), m.forward(Xb)
        t = fit_temperature(za, ya)
        P = m.predict_proba(Xb)
        rel = reliability(P, yb, cell["n_bins"])
        held[name] = {
            "ce": scaled_cross_entropy(zb, yb),
            "ce_scaled": scaled_cross_entropy(zb, yb, t),
            "temperature": t,
            "accuracy": float(np.mean(P.argmax(axis=1) == yb)),
            "ece": rel["ece"],
            "overconfidence": rel["mean_confidence"] - rel["accuracy_overall"],
            "reliability": rel,
        }
        top[name] = (P.max(axis=1), (P.argmax(axis=1) == yb).astype(float))
    k = ds.n_classes
    prior_train = np.bincount(ds.y_train, minlength=k) / ds.y_train.size
    prior_b = np.bincount(yb, minlength=k) / yb.size
    const = np.broadcast_to(prior_train, (yb.size, k))
    return {
        "n_train": int(ds.y_train.size),
        "n_val": int(ya.size),
        "n_held": int(yb.size),
        "eval_step": hist.eval_step,
        "train_loss": hist.train_loss,
        "val_loss": hist.val_loss,
        "train_acc": hist.train_acc,
        "val_acc": hist.val_acc,
        "best": best,
        "best_step": best_step,
        "held": held,
        "top": top,
        "prior_entropy_train": entropy(prior_train, base=math.e),
        "prior_entropy_held": entropy(prior_b, base=math.e),
        "constant_predictor_ce": sparse_categorical_cross_entropy(yb, const),
        "kl_held_train_prior": float(np.sum(rel_entr(prior_b, prior_train))),
    }


def digits_alternatives(params: dict) -> list[tuple[str, dict]]:
    """``(label, parameter changes)`` of the digits network retrained for the alternatives of
    the measured findings: each step size of ``digits_alt_lr``, each width of
    ``digits_alt_hidden`` (one hidden layer) and each training share of
    ``digits_alt_train_fraction``."""
    out = [(f"step size {v:g}", {"digits_lr": v}) for v in params["digits_alt_lr"]]
    out += [
        (f"one hidden layer of {w}", {"digits_hidden": [w]}) for w in params["digits_alt_hidden"]
    ]
    out += [
        (f"training share {v:g}", {"digits_train_fraction": v})
        for v in params["digits_alt_train_fraction"]
    ]
    return out


def _held_summary(d: dict) -> dict:
    """The held-out numbers the measured findings read, per checkpoint."""
    keys = ("ce", "ce_scaled", "ece")
    return {f"{k}_{pt}": float(d["held"][pt][k]) for k in keys for pt in ("best", "end")}


def validation_halves(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """A random split of ``n`` validation rows into half A (``n // 2`` rows: validation data,
    temperature fits) and half B (the rest: held out), as sorted index arrays."""
    order = rng.permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2 :])


def load_digits_split(params: dict, rng):
    """The digits data split as the chapter uses it: ``digits_train_fraction`` for training,
    20 % test, the rest validation."""
    train_fraction = params["digits_train_fraction"]
    return datasets.load("digits", rng=rng, val_fraction=0.8 - train_fraction, test_fraction=0.2)
