"""The parts of the cross-entropy chapter computed once per run (not per replicate): the
hampers' entropies and the worked example, the three names of one quantity, maximum
likelihood, and the convexity of logistic regression's costs with its alternatives.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from dropout_study.chapters.cross_entropy.quantities import (
    FEATURES,
    HAMPERS,
    directional_curvature,
    example_cross_entropy,
    logistic_costs,
)
from dropout_study.chapters.cross_entropy.verdict import curves_down
from dropout_study.nn.losses import (
    binary_cross_entropy,
    categorical_cross_entropy,
    entropy,
    softmax,
    sparse_categorical_cross_entropy,
)
from dropout_study.numfmt import general


def entropy_and_example(params: dict) -> dict:
    hampers = {}
    for name, (a, b) in HAMPERS.items():
        p = np.array([a, b], dtype=float) / (a + b)
        h = entropy(p, base=2)
        hampers[name] = {"p": p.tolist(), "bits": h, "without_minus": -h}
    q, k = params["ce_example"], params["true_class"]
    example = {
        "q_true": q[k],
        "sum_q": float(sum(q)),
        "nats": example_cross_entropy(q, k, math.e),
        "bits": example_cross_entropy(q, k, 2),
        "base10": example_cross_entropy(q, k, 10),
    }
    return {"hampers": hampers, "example": example}


def three_names(ds) -> dict:
    clf = LogisticRegression(max_iter=1000).fit(ds.X_train, ds.y_train)
    q = clf.predict_proba(ds.X_val)[:, 1]
    y = ds.y_val
    two = np.column_stack([1.0 - q, q])
    onehot = np.eye(2)[y]
    values = {
        "binary": binary_cross_entropy(y, q),
        "categorical": categorical_cross_entropy(onehot, two),
        "sparse": sparse_categorical_cross_entropy(y, two),
        "sklearn_log_loss": float(log_loss(y, q, labels=[0, 1])),
    }
    v = np.array(list(values.values()))
    values["max_abs_difference"] = float(v.max() - v.min())
    values["n"] = int(y.size)
    return values


def maximum_likelihood(ds_bc, ds_digits) -> dict:
    y = ds_bc.y_train.astype(float)
    n = y.size
    thetas = np.linspace(0.005, 0.995, 199)
    curve = np.array([binary_cross_entropy(y, np.full(n, t)) for t in thetas])
    opt = minimize_scalar(
        lambda t: binary_cross_entropy(y, np.full(n, t)),
        bounds=(1e-6, 1 - 1e-6),
        method="bounded",
        options={"xatol": 1e-10},
    )
    ybar = float(y.mean())
    nll = float(-np.sum(y * np.log(ybar) + (1 - y) * np.log1p(-ybar)))
    # categorical: the constant softmax predictor on the digit labels
    lab = ds_digits.y_train
    k = int(lab.max() + 1)
    freq = np.bincount(lab, minlength=k) / lab.size
    res = minimize(
        lambda v: sparse_categorical_cross_entropy(
            lab, np.broadcast_to(v, (lab.size, k)), from_logits=True
        ),
        np.zeros(k),
        method="BFGS",
        options={"gtol": 1e-9},
    )
    q_hat = softmax(res.x)
    return {
        "bernoulli": {
            "thetas": thetas,
            "ce": curve,
            "theta_hat": float(opt.x),
            "mean_y": ybar,
            "n": int(n),
            "ce_at_mean": binary_cross_entropy(y, np.full(n, ybar)),
            "nll_at_mean": nll,
        },
        "categorical": {
            "freq": freq,
            "q_hat": q_hat,
            "max_abs_difference": float(np.max(np.abs(q_hat - freq))),
            "ce_min": float(res.fun),
            "entropy_of_freq": entropy(freq, base=math.e),
        },
    }


CONVEXITY_ALTERNATIVES = (
    ("grid half-width ×½", {"grid_half_width": 0.5}),
    ("grid half-width ×2", {"grid_half_width": 2.0}),
    ("grid resolution ×½", {"n_grid": 0.5}),
    ("grid resolution ×2", {"n_grid": 2.0}),
    ("feature: mean texture", {"feature": "mean texture"}),
    ("feature: worst concave points", {"feature": "worst concave points"}),
    ("data set: moons, first feature", {"dataset": "moons"}),
)
"""Alternative analysis choices of the logistic-regression convexity check (robustness
table): grid extent and resolution scale the parameters; the curvature tolerance
alternatives live in :mod:`dropout_study.chapters.cross_entropy.verdict`."""


def logistic_convexity(params: dict, ds, *, x=None, y=None, r=None, n=None) -> dict:
    if x is None:
        x = ds.X_train[:, FEATURES.index(params["feature"])]
        y = ds.y_train
    r = params["grid_half_width"] if r is None else r
    n = params["n_grid"] if n is None else n
    axis = np.linspace(-r, r, n)
    h = float(axis[1] - axis[0])
    W, B = np.meshgrid(axis, axis, indexing="ij")
    ce, mse = logistic_costs(W, B, x, y)
    out = {"axis": axis, "h": h, "ce": ce, "mse": mse}
    for name, J in (("ce", ce), ("mse", mse)):
        c = directional_curvature(J, h)
        out[f"{name}_curvature"] = c
        out[f"{name}_min_curvature"] = float(c.min())
        out[f"{name}_scale"] = float(np.max(np.abs(c)))
        out[f"{name}_down_share"] = float(np.mean(curves_down(c, out[f"{name}_scale"])))
    return out


def convexity_alternatives(params: dict, ds_bc, moons) -> list[dict]:
    """The convexity numbers under each of :data:`CONVEXITY_ALTERNATIVES` (same data)."""
    rows = []
    for choice, change in CONVEXITY_ALTERNATIVES:
        r, n = params["grid_half_width"], params["n_grid"]
        x, y = ds_bc.X_train[:, FEATURES.index(params["feature"])], ds_bc.y_train
        if "grid_half_width" in change:
            r = r * change["grid_half_width"]
        if "n_grid" in change:
            n = max(5, int(round((n - 1) * change["n_grid"])) + 1)
        if "feature" in change:
            x = ds_bc.X_train[:, FEATURES.index(change["feature"])]
        if "dataset" in change:
            x, y = moons.X_train[:, 0], moons.y_train
        lo = logistic_convexity(params, None, x=x, y=y, r=r, n=n)
        rows.append(
            {
                "choice": f"{choice} ({n} × {n} grid on [−{general(r)}, {general(r)}]²)",
                "logreg_ce_min_curvature": lo["ce_min_curvature"],
                "logreg_ce_scale": lo["ce_scale"],
                "logreg_mse_min_curvature": lo["mse_min_curvature"],
                "logreg_mse_scale": lo["mse_scale"],
            }
        )
    return rows
