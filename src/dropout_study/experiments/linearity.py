"""Chapter 5 (``linearity``): does dropout make the learned function more linear?

``run(params)`` trains small ReLU networks and measures how curved their logit is with
:mod:`dropout_study.measures.linearity` (``Z = mean|D2| / mean|D1|``, the raw terms, and
``1 - R²`` of the best affine fit), on the test inputs:

1. **Toy** — the 1-D regression toy (``data.load("toy1d")``), fitted with each rate of
   ``toy_rates``: the fitted curves (first replicate) and their Z (every replicate).
2. **Dropout sweep** — every data set of ``datasets`` × ``dropout_rates`` × ``n_seeds``
   replicates: Z (at ``step`` and at every ``robustness_steps``), mean|D2|, mean|D1|,
   ``1 - R²``, Z of the last hidden layer, test accuracy and the validation loss.
3. **Penalty sweeps** — the same for L2 over ``l2_lambdas`` and L1 over ``l1_lambdas`` (no
   dropout). The unregularised run (p = 0, λ = 0) is shared by all three families.
4. **Matched fit** — per data set and replicate, the validation loss of dropout at
   ``match_rate`` is the target; each penalty family is interpolated (linearly between
   neighbouring grid points, Z against validation loss) to the point where its validation
   loss equals the target. If several λ reach it, the largest λ is used (the most regularised
   match: the comparison then favours the penalty). A replicate whose penalty sweep never
   reaches the target has no match and is counted, with the side it missed on.

Replicates are paired: runs that differ only in p or λ share data split, initial weights,
minibatch order, the uniforms behind the dropout masks and the measure's random directions
(``seeds.replicates`` → ``seeds.streams``). Training is minibatch Adam on the mean
cross-entropy (nats) plus the penalty; L1 enters as its sub-gradient (``lam · sign(w)``) —
proximal L1 under Adam has no well-defined threshold (chapter 4), and exact zeros are not
the point here.

Trends are Spearman ρ within replicates, averaged, with a bootstrap interval over replicates
(:func:`dropout_study.stats.spearman_ci`); means carry bootstrap intervals over replicates.
Cells run through :func:`dropout_study.sweep.run_sweep` (parallel, resumable cache).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dropout_study import data, seeds
from dropout_study.experiments import with_defaults
from dropout_study.measures.linearity import (
    affine_misfit,
    hidden_function,
    linearity_terms,
    logit_function,
)
from dropout_study.mlp import MLP
from dropout_study.optim import Adam
from dropout_study.penalties import L1, L2
from dropout_study.stats import bootstrap_ci, spearman_ci
from dropout_study.sweep import run_sweep
from dropout_study.training import train
from dropout_study.validation import (
    check_choice,
    check_float,
    check_float_list,
    check_int,
    check_int_list,
    fail,
)

__all__ = [
    "CHAPTER",
    "DATASETS",
    "FAMILIES",
    "MIN_MATCHED",
    "NARRATED",
    "DEFAULTS",
    "Result",
    "check_params",
    "run",
    "sweep_cell",
    "toy_cell",
    "match_loss",
    "trend_word",
    "readings",
]

CHAPTER = "linearity"
DATASETS = ("moons", "circles", "breast_cancer", "digits")
FAMILIES = ("dropout", "l2", "l1")
MIN_MATCHED = 3  # replicates with a matched fit needed before Z at matched fit is compared
_KEY = "linearity-v1"

# The book profile (the notebook's parameters cell repeats these values).
DEFAULTS: dict = {
    "seed": 0,
    "n_seeds": 8,
    "datasets": ["moons", "breast_cancer"],
    "dropout_rates": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
    "l2_lambdas": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
    "l1_lambdas": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
    "match_rate": 0.5,
    "hidden_sizes": [32, 32],
    "n_steps": 200,
    "batch_size": 64,
    "learning_rate": 0.01,
    "step": 0.5,
    "robustness_steps": [0.1, 0.25, 1.0],
    "n_directions": 16,
    "toy_rates": [0.0, 0.2, 0.5],
    "toy_hidden_sizes": [64, 64],
    "toy_steps": 1000,
}


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------
def _distinct_sorted(values: list[float], name: str, what: str) -> list[float]:
    if len(set(values)) != len(values) or sorted(values) != values:
        fail(name, CHAPTER, f"{what}, increasing and without repeats", values)
    return values


NARRATED = ("moons", "breast_cancer")
"""The data sets the chapter's page narrates; others may be added to ``datasets``."""


def check_params(params: dict) -> dict:
    """Range and consistency checks; returns a new dict (defaults filled in for missing keys).

    Raises ``ValueError``/``TypeError`` with the project's message template, e.g.
    ``The 'dropout_rates' parameter of linearity must be a list of at least 2 floats, each in
    [0, 1); got [1.5].``
    """
    p = with_defaults(CHAPTER, params, DEFAULTS)
    out: dict = {}
    out["seed"] = check_int(p["seed"], "seed", CHAPTER, low=0)
    out["n_seeds"] = check_int(p["n_seeds"], "n_seeds", CHAPTER, low=2, high=200)
    ds = p["datasets"]
    if isinstance(ds, str) or not isinstance(ds, list | tuple) or not ds:
        fail("datasets", CHAPTER, "a non-empty list of " + ", ".join(DATASETS), ds, TypeError)
    for name in ds:
        check_choice(name, "datasets", CHAPTER, DATASETS)
    if len(set(ds)) != len(ds):
        fail("datasets", CHAPTER, "a list without repeats", ds)
    if not set(NARRATED) <= set(ds):
        # the page and the verdict's "both data sets" are written about these two
        fail("datasets", CHAPTER, "a list that includes " + " and ".join(NARRATED), ds)
    out["datasets"] = list(ds)
    out["dropout_rates"] = _distinct_sorted(
        check_float_list(
            p["dropout_rates"], "dropout_rates", CHAPTER, low=0.0, high=0.95, min_len=2
        ),
        "dropout_rates",
        "at least 2 rates in [0, 0.95]",
    )
    for name in ("l2_lambdas", "l1_lambdas"):
        out[name] = _distinct_sorted(
            check_float_list(p[name], name, CHAPTER, low=0.0, high=10.0, low_open=True),
            name,
            "a list of λ in (0, 10]",
        )
    out["match_rate"] = check_float(p["match_rate"], "match_rate", CHAPTER, low=0.0, high=0.95)
    if out["match_rate"] not in out["dropout_rates"]:
        fail("match_rate", CHAPTER, f"one of dropout_rates {out['dropout_rates']}", p["match_rate"])
    for name in ("hidden_sizes", "toy_hidden_sizes"):
        sizes = check_int_list(p[name], name, CHAPTER, low=1)
        if max(sizes) > 1024:
            fail(name, CHAPTER, "a list of ints in [1, 1024]", sizes)
        out[name] = sizes
    out["n_steps"] = check_int(p["n_steps"], "n_steps", CHAPTER, low=1, high=100_000)
    out["batch_size"] = check_int(p["batch_size"], "batch_size", CHAPTER, low=1)
    out["learning_rate"] = check_float(
        p["learning_rate"], "learning_rate", CHAPTER, low=0.0, high=1.0, low_open=True
    )
    out["step"] = check_float(p["step"], "step", CHAPTER, low=0.0, high=10.0, low_open=True)
    out["robustness_steps"] = _distinct_sorted(
        check_float_list(
            p["robustness_steps"], "robustness_steps", CHAPTER, low=0.0, high=10.0, low_open=True
        ),
        "robustness_steps",
        "a list of steps in (0, 10]",
    )
    if out["step"] in out["robustness_steps"]:
        fail(
            "robustness_steps",
            CHAPTER,
            f"steps other than step={out['step']:g}",
            p["robustness_steps"],
        )
    out["n_directions"] = check_int(p["n_directions"], "n_directions", CHAPTER, low=1, high=1000)
    out["toy_rates"] = _distinct_sorted(
        check_float_list(p["toy_rates"], "toy_rates", CHAPTER, low=0.0, high=0.95),
        "toy_rates",
        "a list of rates in [0, 0.95]",
    )
    out["toy_steps"] = check_int(p["toy_steps"], "toy_steps", CHAPTER, low=1, high=100_000)
    return out


# ---------------------------------------------------------------------------------------------
# One cell of the sweep: a data set, a replicate, a family and its grid of settings
# ---------------------------------------------------------------------------------------------
def _replicate(cell: dict) -> np.random.SeedSequence:
    return seeds.replicate(cell["seed"], cell["replicate"])


def _fit(ds, ss, hidden, *, p, penalty, n_steps, batch_size, lr):
    """Train one network; every call with the same ``ss`` gets fresh, identical streams."""
    st = seeds.streams(ss)
    model = MLP([ds.n_features, *hidden, ds.n_outputs], head=ds.head, dropout=p, rng=st.init)
    train(
        model,
        ds.X_train,
        ds.y_train,
        optimizer=Adam(lr),
        n_steps=n_steps,
        batch_size=batch_size,
        penalty=penalty,
        eval_every=n_steps,
        mask_rng=st.masks,
        batch_rng=st.batches,
    )
    return model


def _measure(model, X, ss, steps, n_directions) -> dict:
    """Z and its terms at each step (same directions for every step and every model)."""
    out: dict = {}
    f = logit_function(model)
    for h in steps:
        t = linearity_terms(f, X, step=h, n_directions=n_directions, rng=seeds.streams(ss).measure)
        out[h] = (t.z, t.mean_abs_d2, t.mean_abs_d1)
    return out


def sweep_cell(cell: dict) -> dict:
    """Train and measure every setting of one ``(dataset, replicate, family)`` cell.

    ``cell`` keys: ``dataset``, ``seed``, ``replicate``, ``family`` (``"dropout"``, ``"l2"``,
    ``"l1"``), ``values`` (rates or λ), and the training/measure settings ``hidden_sizes``,
    ``n_steps``, ``batch_size``, ``learning_rate``, ``step``, ``robustness_steps``,
    ``n_directions``. Returns a dict of float lists, one entry per value.

    Run by :func:`~dropout_study.sweep.run_sweep`, with single-threaded BLAS.
    """
    ss = _replicate(cell)
    ds = data.load(cell["dataset"], rng=seeds.streams(ss).split)
    steps = [cell["step"], *cell["robustness_steps"]]
    keys = ("z", "d2", "d1", "misfit", "z_hidden", "test_acc", "test_loss", "val_loss")
    rows: dict[str, list] = {k: [] for k in keys}
    rows["z_steps"] = []
    for v in cell["values"]:
        family = cell["family"]
        p = v if family == "dropout" else 0.0
        penalty = L2(v) if family == "l2" else (L1(v, "subgradient") if family == "l1" else None)
        model = _fit(
            ds,
            ss,
            cell["hidden_sizes"],
            p=p,
            penalty=penalty,
            n_steps=cell["n_steps"],
            batch_size=cell["batch_size"],
            lr=cell["learning_rate"],
        )
        m = _measure(model, ds.X_test, ss, steps, cell["n_directions"])
        z, d2, d1 = m[cell["step"]]
        rows["z"].append(z)
        rows["d2"].append(d2)
        rows["d1"].append(d1)
        rows["z_steps"].append([m[h][0] for h in cell["robustness_steps"]])
        rows["misfit"].append(affine_misfit(logit_function(model), ds.X_test))
        hid = linearity_terms(
            hidden_function(model, -1),
            ds.X_test,
            step=cell["step"],
            n_directions=cell["n_directions"],
            rng=seeds.streams(ss).measure,
        )
        rows["z_hidden"].append(hid.z)
        rows["test_acc"].append(model.accuracy(ds.X_test, ds.y_test))
        rows["test_loss"].append(model.loss(ds.X_test, ds.y_test))
        rows["val_loss"].append(model.loss(ds.X_val, ds.y_val))
    return rows


def toy_cell(cell: dict) -> dict:
    """The 1-D toy for one replicate: curves on ``grid`` and Z for every rate of ``rates``."""
    ss = _replicate(cell)
    ds = data.load("toy1d", rng=seeds.streams(ss).split)
    x_all = np.concatenate([ds.X_train, ds.X_val, ds.X_test])[:, 0]
    grid = np.linspace(x_all.min(), x_all.max(), 201).reshape(-1, 1)
    curves, zs, d2s, d1s, val = [], [], [], [], []
    for p in cell["rates"]:
        model = _fit(
            ds,
            ss,
            cell["hidden_sizes"],
            p=p,
            penalty=None,
            n_steps=cell["n_steps"],
            batch_size=None,
            lr=cell["learning_rate"],
        )
        curves.append(model.forward(grid)[:, 0])
        t = linearity_terms(
            logit_function(model),
            grid,
            step=cell["step"],
            n_directions=cell["n_directions"],
            rng=seeds.streams(ss).measure,
        )
        zs.append(t.z)
        d2s.append(t.mean_abs_d2)
        d1s.append(t.mean_abs_d1)
        val.append(model.loss(ds.X_val, ds.y_val))
    raw = lambda a: np.asarray(a) * ds.scale_[0] + ds.mean_[0]  # noqa: E731
    return {
        "grid_raw": raw(grid[:, 0]),
        "curves": np.asarray(curves),
        "x_train_raw": raw(ds.X_train[:, 0]),
        "y_train": np.asarray(ds.y_train, dtype=float),
        "z": zs,
        "d2": d2s,
        "d1": d1s,
        "val_loss": val,
    }


# ---------------------------------------------------------------------------------------------
# Matching the validation loss
# ---------------------------------------------------------------------------------------------
def match_loss(lams, val_loss, values, target: float) -> tuple[float, float, str]:
    """Interpolate ``values`` at the point where ``val_loss`` crosses ``target``.

    ``lams`` (increasing), ``val_loss`` and ``values`` are 1-D of one length. Between
    neighbouring grid points ``i, i+1`` whose losses bracket ``target``, ``values`` is
    interpolated linearly in the loss; if several pairs bracket it, the one with the
    largest λ is used. Returns ``(value, λ, "matched")`` — λ interpolated on a log scale when
    both ends are > 0 — or ``(nan, nan, "above")`` if every loss is above the target
    (the family never fits that well), ``(nan, nan, "below")`` if every loss is below it.
    """
    lams = np.asarray(lams, dtype=float)
    loss = np.asarray(val_loss, dtype=float)
    vals = np.asarray(values, dtype=float)
    if not (lams.ndim == 1 and lams.shape == loss.shape == vals.shape and lams.size >= 1):
        fail("val_loss", "match_loss", f"1-D arrays of the shape of lams {lams.shape}", loss.shape)
    gap = loss - target
    for i in range(lams.size - 1, -1, -1):
        if gap[i] == 0:
            return float(vals[i]), float(lams[i]), "matched"
        if i > 0 and gap[i - 1] * gap[i] < 0:
            w = (target - loss[i - 1]) / (loss[i] - loss[i - 1])
            value = vals[i - 1] + w * (vals[i] - vals[i - 1])
            a, b = lams[i - 1], lams[i]
            lam = np.exp(np.log(a) + w * (np.log(b) - np.log(a))) if a > 0 else a + w * (b - a)
            return float(value), float(lam), "matched"
    return float("nan"), float("nan"), "above" if np.all(gap > 0) else "below"


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------
def _ci(values) -> dict:
    """Mean and 95 % bootstrap interval over replicates of the finite values; counts NaN."""
    v = np.asarray(values, dtype=float)
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return {"estimate": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}
    iv = bootstrap_ci(finite)
    return {"estimate": iv.estimate, "low": iv.low, "high": iv.high, "n": iv.n}


def _rho(x_grid, table) -> dict:
    """Within-replicate Spearman ρ of ``table`` (n_seeds, n_grid) against ``x_grid``.

    Undefined cells (NaN) are left out and counted in ``n_undefined``.
    """
    table = np.asarray(table, dtype=float)
    x = np.broadcast_to(np.asarray(x_grid, dtype=float), table.shape)
    groups = np.broadcast_to(np.arange(table.shape[0])[:, None], table.shape)
    ok = np.isfinite(table)
    r = spearman_ci(x[ok], table[ok], groups=groups[ok])
    return {
        "rho": r.rho,
        "low": r.low,
        "high": r.high,
        "n_groups": r.n_groups,
        "n_undefined": int((~ok).sum()),
    }


@dataclass
class Result:
    """What :func:`run` returns.

    ``metrics`` is JSON-able (every number the verdict and the page use). ``arrays`` holds,
    per data set, ``(n_seeds, n_values)`` float arrays per family and measure — keys like
    ``"dropout/z"``, ``"l2/val_loss"``, ``"dropout/z_steps"`` (``(n_seeds, n_rates,
    n_robustness_steps)``), ``"matched/l2/z"`` (``(n_seeds,)``, NaN where unmatched) —
    and ``toy`` the toy's curves (first replicate) and Z per ``(replicate, rate)``.
    """

    params: dict
    metrics: dict
    arrays: dict = field(default_factory=dict)
    toy: dict = field(default_factory=dict)


def _train_settings(params: dict) -> dict:
    keys = (
        "hidden_sizes",
        "n_steps",
        "batch_size",
        "learning_rate",
        "step",
        "robustness_steps",
        "n_directions",
    )
    return {k: params[k] for k in keys}


def run(params: dict, *, cache_dir="default", n_jobs: int | None = None) -> Result:
    """Run the chapter's experiments (see the module docstring); validates ``params`` first.

    ``cache_dir`` and ``n_jobs`` go to :func:`~dropout_study.sweep.run_sweep` (defaults: its
    own; one process for a sweep as small as the smoke profile's).
    """
    params = check_params(params)
    n = params["n_seeds"]
    rates = params["dropout_rates"]
    grids = {"dropout": rates, "l2": params["l2_lambdas"], "l1": params["l1_lambdas"]}
    settings = _train_settings(params)
    cells = [
        {"dataset": ds, "seed": params["seed"], "replicate": r, "family": fam, "values": grids[fam]}
        | settings
        for ds in params["datasets"]
        for fam in FAMILIES
        for r in range(n)
    ]
    toy_cells = [
        {
            "seed": params["seed"],
            "replicate": r,
            "rates": params["toy_rates"],
            "hidden_sizes": params["toy_hidden_sizes"],
            "n_steps": params["toy_steps"],
            "learning_rate": params["learning_rate"],
            "step": params["step"],
            "n_directions": params["n_directions"],
        }
        for r in range(n)
    ]
    steps = sum(len(c["values"]) for c in cells) * params["n_steps"]
    steps += n * len(params["toy_rates"]) * params["toy_steps"]
    common = dict(key=_KEY, n_jobs=n_jobs, cache_dir=cache_dir, steps=steps)
    swept = run_sweep(sweep_cell, cells, desc="linearity sweep", **common).results
    toys = run_sweep(toy_cell, toy_cells, desc="linearity toy", **common).results

    arrays: dict = {}
    metrics: dict = {
        "n_seeds": n,
        "match_rate": params["match_rate"],
        "min_matched": MIN_MATCHED,
        "step": params["step"],
        "datasets": {},
    }
    it = iter(swept)
    for ds in params["datasets"]:
        a: dict = {}
        for fam in FAMILIES:
            res = [next(it) for _ in range(n)]
            for k in res[0]:
                a[f"{fam}/{k}"] = np.asarray([r[k] for r in res], dtype=float)
        arrays[ds] = a
        metrics["datasets"][ds] = _summarise(a, params)
    metrics["toy"] = _summarise_toy(toys, params)
    toy = {
        "rates": params["toy_rates"],
        "grid_raw": toys[0]["grid_raw"],
        "curves": toys[0]["curves"],
        "x_train_raw": toys[0]["x_train_raw"],
        "y_train": toys[0]["y_train"],
        "z": np.asarray([t["z"] for t in toys]),
        "d2": np.asarray([t["d2"] for t in toys]),
        "d1": np.asarray([t["d1"] for t in toys]),
    }
    return Result(params=params, metrics=metrics, arrays=arrays, toy=toy)


def _with_baseline(a: dict, fam: str, key: str, params: dict):
    """A penalty family's grid and table, with the shared λ = 0 run in front when p = 0 ran."""
    lams = np.asarray(params[f"{fam}_lambdas"])
    table = a[f"{fam}/{key}"]
    if 0.0 in params["dropout_rates"]:
        i0 = params["dropout_rates"].index(0.0)
        lams = np.concatenate([[0.0], lams])
        table = np.concatenate([a[f"dropout/{key}"][:, i0 : i0 + 1], table], axis=1)
    return lams, table


def _summarise(a: dict, params: dict) -> dict:
    rates = params["dropout_rates"]
    out: dict = {"rates": rates}
    for key in ("z", "d2", "d1", "misfit", "z_hidden", "test_acc", "val_loss"):
        out[f"rho_{key}"] = _rho(rates, a[f"dropout/{key}"])
        out[f"by_rate_{key}"] = [_ci(a[f"dropout/{key}"][:, j]) for j in range(len(rates))]
    out["rho_z_steps"] = {
        f"{h:g}": _rho(rates, a["dropout/z_steps"][:, :, j])
        for j, h in enumerate(params["robustness_steps"])
    }
    for fam in ("l2", "l1"):
        lams, z = _with_baseline(a, fam, "z", params)
        out[f"rho_z_{fam}"] = _rho(lams, z)
        out[f"{fam}_lambdas"] = [float(v) for v in lams]
        for key in ("z", "d2", "d1", "test_acc", "val_loss"):
            _, t = _with_baseline(a, fam, key, params)
            out[f"by_lambda_{fam}_{key}"] = [_ci(t[:, j]) for j in range(t.shape[1])]
    out["matched"] = _matched(a, params)
    return out


def _matched(a: dict, params: dict) -> dict:
    j = params["dropout_rates"].index(params["match_rate"])
    target = a["dropout/val_loss"][:, j]
    z_drop = a["dropout/z"][:, j]
    out: dict = {"target_val_loss": _ci(target), "z_dropout": _ci(z_drop)}
    for fam in ("l2", "l1"):
        lams, loss = _with_baseline(a, fam, "val_loss", params)
        _, z = _with_baseline(a, fam, "z", params)
        zm = np.full(target.shape, np.nan)
        lm = np.full(target.shape, np.nan)
        status = []
        for s in range(target.shape[0]):
            zm[s], lm[s], st = match_loss(lams, loss[s], z[s], target[s])
            status.append(st)
        a[f"matched/{fam}/z"] = zm
        a[f"matched/{fam}/lambda"] = lm
        ok = np.isfinite(zm) & np.isfinite(z_drop)
        diff = z_drop[ok] - zm[ok]
        out[fam] = {
            "n_matched": int(ok.sum()),
            "n_seeds": int(target.shape[0]),
            "n_never_reached": status.count("above"),
            "n_always_below": status.count("below"),
            "z_dropout": _ci(z_drop[ok]),
            "z_penalty": _ci(zm[ok]),
            "diff": _ci(diff),
            "n_dropout_lower": int(np.sum(diff < 0)),
            "lambda_median": float(np.median(lm[ok])) if ok.any() else float("nan"),
        }
    return out


def _summarise_toy(toys: list, params: dict) -> dict:
    z = np.asarray([t["z"] for t in toys])
    return {
        "rates": params["toy_rates"],
        "z": [_ci(z[:, j]) for j in range(z.shape[1])],
        "rho_z": _rho(params["toy_rates"], z) if len(params["toy_rates"]) > 1 else None,
    }


# ---------------------------------------------------------------------------------------------
# Words for the page, decided by the numbers
# ---------------------------------------------------------------------------------------------
def trend_word(rho: dict | None) -> str:
    """``"falls"`` / ``"rises"`` if the interval of ρ lies below / above 0, else
    ``"shows no clear trend"`` (also for a missing or NaN interval)."""
    if not rho:
        return "shows no clear trend"
    low = float("nan") if rho.get("low") is None else rho["low"]
    high = float("nan") if rho.get("high") is None else rho["high"]
    if high < 0:
        return "falls"
    if low > 0:
        return "rises"
    return "shows no clear trend"


def _pct(first: float, last: float) -> str:
    change = 100.0 * (last / first - 1.0)
    return f"{'fell' if change < 0 else 'rose'} by {abs(change):.0f} %"


def readings(metrics: dict) -> dict[str, str]:
    """One sentence per data set (key ``terms_<dataset>``) reading the numerator and the
    denominator of Z between the smallest and the largest dropout rate, and trend words
    (``trend_<dataset>``, ``toy_trend``) — so the page's words follow the run's numbers."""
    out: dict[str, str] = {}
    for ds, m in metrics["datasets"].items():
        rates = m["rates"]
        d2 = [m["by_rate_d2"][0]["estimate"], m["by_rate_d2"][-1]["estimate"]]
        d1 = [m["by_rate_d1"][0]["estimate"], m["by_rate_d1"][-1]["estimate"]]
        head = (
            f"between p = {rates[0]:g} and p = {rates[-1]:g}, mean|D2| {_pct(*d2)} and "
            f"mean|D1| {_pct(*d1)}"
        )
        r2, r1 = d2[1] / d2[0], d1[1] / d1[0]
        if not (np.isfinite(r2) and np.isfinite(r1)):
            tail = "; the ratio is undefined for some runs"
        elif r2 < r1 and r2 >= 1:
            tail = (
                ": the curvature grew, but the slope grew more, so Z fell only because the "
                "logit got steeper"
            )
        elif r2 < r1 and r1 > 1:
            tail = (
                ": the logit got steeper, so part of the fall of Z is steepening, not less "
                "curvature"
            )
        elif r2 < r1:
            tail = (
                ": both fell, the curvature faster, so the logit got flatter and, relative to "
                "its slope, less curved"
            )
        else:
            tail = ": the curvature did not fall relative to the slope, so Z did not fall"
        out[f"terms_{ds}"] = head + tail
        out[f"trend_{ds}"] = trend_word(m["rho_z"])
    out["toy_trend"] = trend_word(metrics["toy"].get("rho_z"))
    return out
