"""One cell of the cross-entropy sweep (a replicate): the hidden-layer network's unit-swap
segment and the digits network's calibration.
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy.special import rel_entr

from dropout_study import data as datasets
from dropout_study import seeds
from dropout_study.chapters.cross_entropy.quantities import (
    reliability,
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
    out = {"hidden": _hidden_layer(cell), "digits": _digits(cell)}
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
    st = replicate_streams(cell, cell["replicate"])
    ds = load_digits_split(cell, st.split)
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
        X_val=ds.X_val,
        y_val=ds.y_val,
        eval_every=every,
        checkpoints=ckpts,
    )
    best = int(np.argmin(hist.val_loss))
    best_step = int(hist.eval_step[best])
    P_end = model.predict_proba(ds.X_val)
    rel_end = reliability(P_end, ds.y_val, cell["n_bins"])
    net = model.copy()
    net.set_params(hist.checkpoints[best_step])
    P_best = net.predict_proba(ds.X_val)
    rel_best = reliability(P_best, ds.y_val, cell["n_bins"])
    top = {
        name: (P.max(axis=1), (P.argmax(axis=1) == ds.y_val).astype(float))
        for name, P in (("best", P_best), ("end", P_end))
    }
    k = ds.n_classes
    prior_train = np.bincount(ds.y_train, minlength=k) / ds.y_train.size
    prior_val = np.bincount(ds.y_val, minlength=k) / ds.y_val.size
    const = np.broadcast_to(prior_train, (ds.y_val.size, k))
    return {
        "n_train": int(ds.y_train.size),
        "n_val": int(ds.y_val.size),
        "eval_step": hist.eval_step,
        "train_loss": hist.train_loss,
        "val_loss": hist.val_loss,
        "train_acc": hist.train_acc,
        "val_acc": hist.val_acc,
        "best": best,
        "best_step": best_step,
        "reliability_best": rel_best,
        "reliability_end": rel_end,
        "top": top,
        "prior_entropy_train": entropy(prior_train, base=math.e),
        "prior_entropy_val": entropy(prior_val, base=math.e),
        "constant_predictor_ce": sparse_categorical_cross_entropy(ds.y_val, const),
        "kl_val_train_prior": float(np.sum(rel_entr(prior_val, prior_train))),
    }


def load_digits_split(params: dict, rng):
    train_fraction = params["digits_train_fraction"]
    return datasets.load("digits", rng=rng, val_fraction=0.8 - train_fraction, test_fraction=0.2)
