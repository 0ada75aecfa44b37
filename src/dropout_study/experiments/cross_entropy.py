"""Chapter 1 (``cross-entropy``): cross-entropy, and how to read its value.

Parts (all losses are means over samples; nats unless a base is named)
-----------------------------------------------------------------------
1. **Entropy** of the tutorial's three hampers of candies (3/7, 5/5, 10/0), in bits, with and
   without the minus sign the article leaves out.
2. **The worked example** ``q = ce_example`` with true class ``true_class``: the
   cross-entropy ``−log_b q_true`` in nats (``b = e``), bits (2) and base 10.
3. **Three names, one loss**: on the validation split of ``breast_cancer``, the predictions
   ``q`` of a scikit-learn logistic regression give the same number as binary CE of ``q``,
   categorical CE of ``[1 − q, q]`` with one-hot targets, sparse categorical CE with integer
   labels, and scikit-learn's ``log_loss``.
4. **CE is the negative log-likelihood**: for a constant predictor, the mean CE is
   ``NLL / n``; its minimiser over ``θ`` (Bernoulli, breast-cancer labels) is the sample mean,
   the maximum-likelihood estimate, and over the 10 digit classes it is the class frequencies,
   where it equals the entropy of the class prior.
5. **Convexity**: logistic regression on one standardised feature ``feature`` of
   ``breast_cancer``, ``q = σ(w x + b)``, on a ``n_grid × n_grid`` grid of ``(w, b)`` in
   ``[−grid_half_width, grid_half_width]²``: the cost with CE and with MSE of ``σ`` and, at
   every interior grid point, the smallest second difference along the four grid directions
   (``w``, ``b`` and both diagonals), :func:`directional_curvature`. A convex function has
   no negative second difference (for any step), so a negative value proves non-convexity.
   Then a network with one hidden layer of ``mlp_width`` tanh units, trained by full-batch
   gradient descent: swapping two hidden units gives parameters ``θ'`` with the same cost;
   along the segment ``θ + α (θ' − θ)``, ``α ∈ [−0.5, 1.5]``, a convex cost could not rise
   between the ends (``J(mid) ≤ J(θ)``) — the curvature along it is measured.
6. **Reading a CE value** on ``digits`` (a network ``[64, *digits_hidden, 10]``, ReLU, Adam,
   full batch, training split ``digits_train_fraction``): the baseline ``H(prior)`` of the
   class prior, perplexity ``exp(CE)``, bits per example ``CE / ln 2``, ``CE = H + KL`` for
   the constant prior predictor, and the validation CE and accuracy over training: from the
   step where validation CE is lowest to the end, CE and accuracy can move differently
   (over-confidence), shown by reliability diagrams (:func:`reliability`).

Replicates (``n_seeds``, paired by ``seeds.replicates``) repeat parts 5 (network) and 6;
parts 1–5 (logistic regression) use replicate 0's data split. Statistics over replicates:
means with 95 % intervals from :func:`dropout_study.stats.seed_interval` (Student-t below 20
seeds, BCa from 20); the reliability diagram pools every seed's validation predictions. The
verdict and its robustness table are :mod:`dropout_study.verdicts.cross_entropy`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import rel_entr
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from threadpoolctl import threadpool_limits

from dropout_study import data as datasets
from dropout_study import seeds
from dropout_study.experiments import with_defaults
from dropout_study.losses import (
    binary_cross_entropy,
    categorical_cross_entropy,
    entropy,
    log_sigmoid,
    softmax,
    sparse_categorical_cross_entropy,
)
from dropout_study.mlp import MLP
from dropout_study.numfmt import general
from dropout_study.optim import SGD, Adam
from dropout_study.stats import mean_ci
from dropout_study.sweep import run_sweep
from dropout_study.training import train
from dropout_study.validation import (
    bound,
    check_choice,
    check_float,
    check_float_list,
    check_int,
    check_int_list,
    fail,
    require,
)
from dropout_study.verdicts.cross_entropy import curves_down

__all__ = [
    "CHAPTER",
    "DEFAULTS",
    "HAMPERS",
    "FEATURES",
    "Result",
    "check_params",
    "run",
    "run_cell",
    "example_cross_entropy",
    "logistic_costs",
    "directional_curvature",
    "swap_hidden_units",
    "segment_costs",
    "reliability",
    "reliability_top",
    "CONVEXITY_ALTERNATIVES",
]

CHAPTER = "cross-entropy"
_VERSION = "v2"  # bump when a cell's meaning changes without a source change

HAMPERS = {"3/7": (3, 7), "5/5": (5, 5), "10/0": (10, 0)}
"""The tutorial's three hampers: counts of the two kinds of candy."""

FEATURES = tuple(str(f) for f in load_breast_cancer().feature_names)
"""Feature names of scikit-learn's breast-cancer data set (the columns of ``X``)."""

DEFAULTS: dict = {
    "seed": 0,
    "n_seeds": 8,
    "ce_example": [0.723, 0.240, 0.036],
    "true_class": 0,
    "feature": "mean radius",
    "grid_half_width": 8.0,
    "n_grid": 81,
    "mlp_width": 8,
    "mlp_steps": 500,
    "mlp_lr": 0.5,
    "n_alphas": 201,
    "digits_hidden": [128],
    "digits_steps": 400,
    "digits_lr": 0.01,
    "digits_eval_every": 4,
    "digits_train_fraction": 0.2,
    "n_bins": 10,
}
"""The book profile: the same values as the chapter's ``parameters`` cell."""


def check_params(params: dict) -> dict:
    """Check ranges and consistency; return a new dict with every parameter (defaults filled).

    Raises ``ValueError``/``TypeError`` with the project's template, e.g. "The 'true_class'
    parameter of cross-entropy must be ...; got ...", naming the first offending parameter.
    """
    o = CHAPTER
    p = with_defaults(o, params, DEFAULTS)
    out = {"seed": check_int(p["seed"], "seed", o, low=0)}
    out["n_seeds"] = check_int(p["n_seeds"], "n_seeds", o, low=2)
    q = check_float_list(p["ce_example"], "ce_example", o, low=0.0, high=1.0, min_len=2)
    what = "probabilities that sum to 1 (within 0.01 for rounding)"
    require(abs(sum(q) - 1.0) <= 0.01, "ce_example", o, what, q)
    out["ce_example"] = q
    high = bound(len(q) - 1, "len(ce_example) − 1")
    out["true_class"] = check_int(p["true_class"], "true_class", o, low=0, high=high)
    what = "a class with probability > 0 in ce_example"
    require(q[out["true_class"]] > 0, "true_class", o, what, p["true_class"])
    out["feature"] = check_choice(p["feature"], "feature", o, FEATURES)
    out["grid_half_width"] = check_float(
        p["grid_half_width"], "grid_half_width", o, low=0.0, high=50.0, low_open=True
    )
    out["n_grid"] = check_int(p["n_grid"], "n_grid", o, low=5, high=401)
    out["mlp_width"] = check_int(p["mlp_width"], "mlp_width", o, low=2)
    out["mlp_steps"] = check_int(p["mlp_steps"], "mlp_steps", o, low=1)
    out["mlp_lr"] = check_float(p["mlp_lr"], "mlp_lr", o, low=0.0, low_open=True)
    out["n_alphas"] = check_int(p["n_alphas"], "n_alphas", o, low=5)
    out["digits_hidden"] = check_int_list(p["digits_hidden"], "digits_hidden", o, low=1)
    out["digits_steps"] = check_int(p["digits_steps"], "digits_steps", o, low=2)
    out["digits_lr"] = check_float(p["digits_lr"], "digits_lr", o, low=0.0, low_open=True)
    out["digits_eval_every"] = check_int(
        p["digits_eval_every"],
        "digits_eval_every",
        o,
        low=1,
        high=bound(out["digits_steps"], "digits_steps"),
    )
    out["digits_train_fraction"] = check_float(
        p["digits_train_fraction"], "digits_train_fraction", o, low=0.05, high=0.7
    )
    out["n_bins"] = check_int(p["n_bins"], "n_bins", o, low=2, high=50)
    return out


# ---------------------------------------------------------------------------------------------
# Measures (pure functions; tested against closed forms and scikit-learn)
# ---------------------------------------------------------------------------------------------
def example_cross_entropy(q, true_class: int, base: float = math.e) -> float:
    """Cross-entropy of a one-hot target at ``true_class`` against probabilities ``q``:
    ``−log_base q[true_class]`` (only the true class's term is non-zero).

    ``q``: shape ``(k,)``; its other entries do not enter (so rounded article values whose
    sum is 0.999 give the article's number). Units: nats for ``e``, bits for 2.
    """
    q = np.asarray(q, dtype=float)
    if q.ndim != 1:
        fail("q", "example_cross_entropy", "a 1-D array of probabilities", f"shape {q.shape}")
    true_class = check_int(
        true_class, "true_class", "example_cross_entropy", low=0, high=q.size - 1
    )
    return binary_cross_entropy([1.0], [q[true_class]], base=base)


def logistic_costs(w, b, x, y) -> tuple[np.ndarray, np.ndarray]:
    """Mean costs of logistic regression ``q = σ(w x + b)`` on data ``(x, y)``.

    ``w``, ``b``: arrays of one shape ``S`` (e.g. a grid); ``x``: ``(n,)`` feature values;
    ``y``: ``(n,)`` labels in {0, 1}. Returns ``(ce, mse)``, each of shape ``S``:
    ``ce`` = mean binary cross-entropy (nats, from logits), ``mse`` = mean ``(σ(z) − y)²``.
    """
    w = np.asarray(w, dtype=float)
    b = np.asarray(b, dtype=float)
    if w.shape != b.shape:
        fail("b", "logistic_costs", f"an array of the shape of w {w.shape}", b.shape)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    z = w[..., None] * x + b[..., None]
    log_q = log_sigmoid(z)  # log σ(z); log σ(−z) = log σ(z) − z
    ce = -np.mean(log_q - (1.0 - y) * z, axis=-1)
    mse = np.mean((np.exp(log_q) - y) ** 2, axis=-1)
    return ce, mse


def directional_curvature(J, h: float) -> np.ndarray:
    """Smallest second difference of a grid function along the four grid directions.

    ``J``: ``(n1, n2)`` values on a square grid of spacing ``h``. At each interior point,
    ``(J(x + h v) − 2 J(x) + J(x − h v)) / (h |v|)²`` for ``v`` = (1, 0), (0, 1), (1, 1),
    (1, −1); returns the minimum, shape ``(n1 − 2, n2 − 2)``, in units of ``J`` per squared
    unit of the grid. A convex ``J`` gives no negative value (up to round-off) whatever ``h``.
    """
    J = np.asarray(J, dtype=float)
    if J.ndim != 2 or min(J.shape) < 3:
        fail("J", "directional_curvature", "a 2-D array of at least 3 × 3", f"shape {J.shape}")
    h = check_float(h, "h", "directional_curvature", low=0.0, low_open=True)
    c = J[1:-1, 1:-1]
    along_w = (J[2:, 1:-1] - 2 * c + J[:-2, 1:-1]) / h**2
    along_b = (J[1:-1, 2:] - 2 * c + J[1:-1, :-2]) / h**2
    diag = (J[2:, 2:] - 2 * c + J[:-2, :-2]) / (2 * h**2)
    anti = (J[2:, :-2] - 2 * c + J[:-2, 2:]) / (2 * h**2)
    return np.minimum(np.minimum(along_w, along_b), np.minimum(diag, anti))


def swap_hidden_units(model: MLP, i: int, j: int) -> np.ndarray:
    """Flat parameters of ``model`` with hidden units ``i`` and ``j`` of its (only) hidden
    layer swapped: columns of ``W1``, entries of ``b1``, rows of ``W2``. The network computes
    the same function, so the cost is unchanged. ``model`` itself is not modified."""
    owner = "swap_hidden_units"
    if len(model.layer_sizes) != 3:
        fail("model", owner, "an MLP with exactly one hidden layer", model)
    width = model.layer_sizes[1]
    i = check_int(i, "i", owner, low=0, high=width - 1)
    j = check_int(j, "j", owner, low=0, high=width - 1)
    W1, b1, W2, b2 = (p.copy() for p in model.params)
    perm = np.arange(width)
    perm[[i, j]] = [j, i]
    return np.concatenate([W1[:, perm].ravel(), b1[perm], W2[perm, :].ravel(), b2])


def segment_costs(model: MLP, theta_a, theta_b, alphas, X, y) -> np.ndarray:
    """Evaluation-mode mean cost ``J(θ_a + α (θ_b − θ_a))`` for each ``α`` (nats).

    ``alphas``: ``(A,)``; returns ``(A,)``. Uses a copy of ``model``; ``model`` is unchanged.
    """
    net = model.copy()
    ta = np.asarray(theta_a, dtype=float)
    d = np.asarray(theta_b, dtype=float) - ta
    out = np.empty(len(alphas))
    for k, a in enumerate(np.asarray(alphas, dtype=float)):
        net.set_params(ta + a * d)
        out[k] = net.loss(X, y)
    return out


def reliability(proba, labels, n_bins: int = 10) -> dict:
    """Top-label reliability diagram of class probabilities.

    ``proba``: ``(n, k)`` rows of probabilities; ``labels``: ``(n,)`` ints. The confidence of
    a prediction is its largest probability; bins are ``n_bins`` equal intervals of [0, 1],
    right-closed like ``sklearn.calibration.calibration_curve``. Returns a dict of arrays:
    ``edges`` ``(n_bins + 1,)``; ``count``, ``confidence`` (mean confidence), ``accuracy``
    ``(n_bins,)`` (NaN for empty bins); and floats ``ece`` (expected calibration error,
    ``Σ_b n_b / n · |accuracy_b − confidence_b|``), ``mean_confidence`` and
    ``accuracy_overall`` (over all ``n`` predictions).
    """
    owner = "reliability"
    P = np.asarray(proba, dtype=float)
    lab = np.asarray(labels)
    if P.ndim != 2:
        fail("proba", owner, "a 2-D array of shape (n, k)", f"shape {P.shape}")
    if lab.shape != (P.shape[0],):
        fail("labels", owner, f"an array of shape ({P.shape[0]},)", f"shape {lab.shape}")
    n_bins = check_int(n_bins, "n_bins", owner, low=1)
    return reliability_top(P.max(axis=1), (P.argmax(axis=1) == lab).astype(float), n_bins)


def reliability_top(confidence, correct, n_bins: int = 10) -> dict:
    """:func:`reliability` from the top-label ``confidence`` ``(n,)`` (floats in [0, 1]) and
    whether each top label was ``correct`` ``(n,)`` (0/1): pooling several seeds is
    concatenating their arrays. Returns the dict of :func:`reliability`."""
    owner = "reliability_top"
    conf = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    if conf.ndim != 1 or conf.size == 0 or correct.shape != conf.shape:
        fail("correct", owner, "a 1-D array as long as confidence", f"shape {correct.shape}")
    n_bins = check_int(n_bins, "n_bins", owner, low=1)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.searchsorted(edges[1:-1], conf, side="left")
    count = np.bincount(idx, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, conf, n_bins) / count
        acc = np.bincount(idx, correct, n_bins) / count
    nonempty = count > 0
    ece = float(np.sum(count[nonempty] * np.abs(acc[nonempty] - mean_conf[nonempty])) / conf.size)
    return {
        "edges": edges,
        "count": count,
        "confidence": np.where(nonempty, mean_conf, np.nan),
        "accuracy": np.where(nonempty, acc, np.nan),
        "ece": ece,
        "mean_confidence": float(conf.mean()),
        "accuracy_overall": float(correct.mean()),
    }


# ---------------------------------------------------------------------------------------------
# Parts computed once (replicate 0's data split)
# ---------------------------------------------------------------------------------------------
def _streams(params: dict, replicate: int) -> seeds.Streams:
    """Fresh streams of ``replicate`` (generators in the same state on every call)."""
    return seeds.streams(seeds.replicate(params["seed"], replicate))


def _entropy_and_example(params: dict) -> dict:
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


def _three_names(ds) -> dict:
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


def _maximum_likelihood(ds_bc, ds_digits) -> dict:
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
alternatives live in :mod:`dropout_study.verdicts.cross_entropy`."""


def _logistic_convexity(params: dict, ds, *, x=None, y=None, r=None, n=None) -> dict:
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


def _convexity_alternatives(params: dict, ds_bc, moons) -> list[dict]:
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
        lo = _logistic_convexity(params, None, x=x, y=y, r=r, n=n)
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


# ---------------------------------------------------------------------------------------------
# One cell: one replicate (the hidden-layer network and the digits run)
# ---------------------------------------------------------------------------------------------
def run_cell(cell: dict) -> dict:
    """The replicate-dependent parts (5: network; 6: digits); a dict of arrays and floats.

    ``cell`` holds the checked parameters (without ``n_seeds``) plus ``replicate``.
    Deterministic given the cell (run by :func:`~dropout_study.sweep.run_sweep`, with
    single-threaded BLAS).
    """
    c0 = time.process_time()
    t0 = time.perf_counter()
    out = {"hidden": _hidden_layer(cell), "digits": _digits(cell)}
    out["seconds"] = time.perf_counter() - t0
    out["cpu_seconds"] = time.process_time() - c0  # this process only (BLAS single-threaded)
    return out


def _hidden_layer(cell: dict) -> dict:
    st = _streams(cell, cell["replicate"])
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
    st = _streams(cell, cell["replicate"])
    ds = _load_digits(cell, st.split)
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


def _load_digits(params: dict, rng):
    train_fraction = params["digits_train_fraction"]
    return datasets.load("digits", rng=rng, val_fraction=0.8 - train_fraction, test_fraction=0.2)


# ---------------------------------------------------------------------------------------------
# The whole experiment
# ---------------------------------------------------------------------------------------------
@dataclass
class Result:
    """What :func:`run` returns.

    ``metrics`` is JSON-able (every number the verdict and the page use). The other fields
    hold the arrays the figures need:

    - ``entropy``: ``{"hampers": {name: {"p", "bits", "without_minus"}}, "example": {...}}``;
    - ``mle``: ``{"bernoulli": {"thetas", "ce", "theta_hat", "mean_y", ...},
      "categorical": {"freq", "q_hat", ...}}``;
    - ``logistic``: ``{"axis" (G,), "h", "ce", "mse" (G, G) indexed [w, b] (nats and squared
      probability), "ce_curvature", "mse_curvature" (G−2, G−2), and per cost its smallest
      value ("ce_min_curvature"), largest absolute value ("ce_scale") and the share of
      interior grid points where it curves down ("ce_down_share"; likewise "mse_…")}``;
    - ``hidden``: per replicate, the segment between a network and its unit-swapped twin:
      ``alphas`` (A,), ``cost`` (A,) nats, ``curvature`` (A−2,) nats per unit α²;
    - ``digits``: per replicate, the training record (``eval_step``, ``train_loss``,
      ``val_loss`` nats, ``train_acc``, ``val_acc``) and reliability diagrams at the step of
      lowest validation CE (``reliability_best``) and at the end (``reliability_end``);
    - ``pooled``: ``{"best", "end"}`` → the reliability diagram of every seed's validation
      predictions pooled (:func:`reliability_top`), the one the page shows.
    """

    params: dict
    metrics: dict
    entropy: dict
    mle: dict
    three_names: dict
    logistic: dict
    hidden: list
    digits: list
    pooled: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)


def _cells(params: dict) -> list[dict]:
    common = {k: v for k, v in params.items() if k != "n_seeds"}
    return [{**common, "replicate": r} for r in range(params["n_seeds"])]


def _overconfidence(rel: dict) -> float:
    """Mean top-label confidence minus accuracy (> 0: over-confident)."""
    return rel["mean_confidence"] - rel["accuracy_overall"]


def _summarise(params, ent, three, mle, logi, hidden, digits) -> dict:
    d_best = [d["val_loss"][d["best"]] for d in digits]
    d_end = [d["val_loss"][-1] for d in digits]
    a_best = [d["val_acc"][d["best"]] for d in digits]
    a_end = [d["val_acc"][-1] for d in digits]
    bern, cat = mle["bernoulli"], mle["categorical"]
    return {
        "hampers_bits": {k: v["bits"] for k, v in ent["hampers"].items()},
        "example": ent["example"],
        "three_names": three,
        "mle": {
            "bernoulli_theta_hat": bern["theta_hat"],
            "bernoulli_mean_y": bern["mean_y"],
            "bernoulli_ce_at_mean": bern["ce_at_mean"],
            "bernoulli_nll_over_n": bern["nll_at_mean"] / bern["n"],
            "categorical_max_abs_difference": cat["max_abs_difference"],
            "categorical_ce_min": cat["ce_min"],
            "categorical_entropy_of_freq": cat["entropy_of_freq"],
        },
        "convexity": {
            "feature": params["feature"],
            "grid_half_width": params["grid_half_width"],
            "n_grid": params["n_grid"],
            "logreg_ce_min_curvature": logi["ce_min_curvature"],
            "logreg_ce_scale": logi["ce_scale"],
            "logreg_mse_min_curvature": logi["mse_min_curvature"],
            "logreg_mse_scale": logi["mse_scale"],
            "mlp_width": params["mlp_width"],
            "mlp_min_curvature": [h["min_curvature"] for h in hidden],
            "mlp_scale": [h["scale"] for h in hidden],
            "mlp_midpoint_excess": [h["midpoint_excess"] for h in hidden],
            "mlp_endpoint_difference": [abs(h["cost_b"] - h["cost_a"]) for h in hidden],
        },
        "digits": {
            "n_train": digits[0]["n_train"],
            "n_val": digits[0]["n_val"],
            "prior_entropy_train": digits[0]["prior_entropy_train"],
            "prior_entropy_val": digits[0]["prior_entropy_val"],
            "constant_predictor_ce": digits[0]["constant_predictor_ce"],
            "kl_val_train_prior": digits[0]["kl_val_train_prior"],
            "best_step": mean_ci([d["best_step"] for d in digits]),
            "val_ce_best": mean_ci(d_best),
            "val_ce_end": mean_ci(d_end),
            "val_ce_rise": mean_ci(np.subtract(d_end, d_best)),
            "val_acc_best": mean_ci(a_best),
            "val_acc_end": mean_ci(a_end),
            "val_acc_change": mean_ci(np.subtract(a_end, a_best)),
            "n_acc_not_lower": int(np.sum(np.asarray(a_end) >= np.asarray(a_best))),
            "train_ce_end": mean_ci([d["train_loss"][-1] for d in digits]),
            "overconfidence_best": mean_ci(
                [_overconfidence(d["reliability_best"]) for d in digits]
            ),
            "overconfidence_end": mean_ci([_overconfidence(d["reliability_end"]) for d in digits]),
            "overconfidence_change": mean_ci(
                [
                    _overconfidence(d["reliability_end"]) - _overconfidence(d["reliability_best"])
                    for d in digits
                ]
            ),
            "ece_best": mean_ci([d["reliability_best"]["ece"] for d in digits]),
            "ece_end": mean_ci([d["reliability_end"]["ece"] for d in digits]),
            "confidence_end": mean_ci([d["reliability_end"]["mean_confidence"] for d in digits]),
            "perplexity_end": mean_ci(np.exp(d_end)),
            "bits_end": mean_ci(np.asarray(d_end) / math.log(2)),
        },
        "n_seeds": params["n_seeds"],
    }


def run(params: dict, *, cache_dir="default", n_jobs: int | None = None) -> Result:
    """Run the chapter's experiment (see the module docstring).

    Parameters
    ----------
    params : dict
        The chapter's parameters (missing ones take :data:`DEFAULTS`); checked first.
    cache_dir : path, None or "default"
        Where :func:`dropout_study.sweep.run_sweep` keeps finished cells (``"default"``:
        ``DROPOUT_STUDY_SWEEP_CACHE`` or ``.cache/sweeps``); ``None`` keeps none.
    n_jobs : int, optional
        Worker processes (default: ``DROPOUT_STUDY_JOBS`` or the number of CPUs).
    """
    params = check_params(params)
    t0 = time.perf_counter()
    sweep = run_sweep(
        run_cell,
        _cells(params),
        key=f"{CHAPTER}/{_VERSION}",
        n_jobs=n_jobs,
        desc=CHAPTER,
        cache_dir=cache_dir,
    )
    hidden = [o["hidden"] for o in sweep.results]
    digits = [o["digits"] for o in sweep.results]
    with threadpool_limits(limits=1, user_api="blas"):
        ds_bc = datasets.load("breast_cancer", rng=_streams(params, 0).split)
        ds_digits = _load_digits(params, _streams(params, 0).split)
        ent = _entropy_and_example(params)
        three = _three_names(ds_bc)
        mle = _maximum_likelihood(ds_bc, ds_digits)
        logi = _logistic_convexity(params, ds_bc)
        moons = datasets.load("moons", rng=_streams(params, 0).split)
        alternatives = _convexity_alternatives(params, ds_bc, moons)
    metrics = _summarise(params, ent, three, mle, logi, hidden, digits)
    metrics["convexity"]["alternatives"] = alternatives
    pooled = {
        name: reliability_top(
            np.concatenate([d["top"][name][0] for d in digits]),
            np.concatenate([d["top"][name][1] for d in digits]),
            params["n_bins"],
        )
        for name in ("best", "end")
    }
    metrics["digits"]["pooled_ece_best"] = pooled["best"]["ece"]
    metrics["digits"]["pooled_ece_end"] = pooled["end"]["ece"]
    metrics["digits"]["pooled_n"] = int(pooled["end"]["count"].sum())
    seconds = {
        "wall": time.perf_counter() - t0,
        "cells": float(sum(o["seconds"] for o in sweep.results)),
        "cells_cpu": float(sum(o.get("cpu_seconds", 0.0) for o in sweep.results)),
        "cells_computed": sweep.n_computed,
        "cells_cached": sweep.n_cached,
    }
    return Result(
        params=params,
        metrics=metrics,
        entropy=ent,
        mle=mle,
        three_names=three,
        logistic=logi,
        hidden=hidden,
        digits=digits,
        pooled=pooled,
        seconds=seconds,
    )
