"""Chapter 5 (``linearity``): does dropout make the learned function more linear?

``run(params)`` trains small ReLU networks and measures how curved their logit is with
:mod:`dropout_study.measures.linearity` (``Z = mean|D2| / mean|D1|``, the raw terms, and
``1 - R²`` of the best affine fit), on the test inputs:

1. **Toy** — the 1-D regression toy (``data.load("toy1d")``), fitted with each rate of
   ``toy_rates``: the fitted curves (first replicate), Z, mean|D2| and mean|D1| (every
   replicate).
2. **Dropout sweep** — every data set of ``datasets`` × ``dropout_rates`` × ``n_seeds``
   replicates: Z at ``step`` and at every ``robustness_steps``, mean|D2|, mean|D1|,
   ``1 - R²``, Z of the first and last hidden layer, test and validation loss, steps trained.
3. **Penalty sweeps** — the same for L2 over ``l2_lambdas`` and L1 over ``l1_lambdas`` (no
   dropout). The unregularised run (p = 0, λ = 0) is shared by all three families.

**Stopping rule.** Every network (toy included) is trained by minibatch Adam with early
stopping on validation loss (:class:`~dropout_study.training.EarlyStopping`: evaluate every
``eval_every`` steps, stop after ``patience`` evaluations without an improvement larger than
``min_delta`` nats, restore the best evaluated parameters) and a cap of ``max_steps`` steps;
the steps trained and the runs that hit the cap are recorded. The *budget* alternative of the
robustness table is the same rule with the cap ``budget``: training is identical up to that
step, so its network is the best evaluated checkpoint at or before ``budget`` (recovered from
checkpoints, not retrained). For ``p = 0`` and ``p = trajectory_rate`` Z is also measured at
the steps ``z_checkpoints`` (until the run stopped).

L1 enters as its sub-gradient (``lam · sign(w)``) under Adam — proximal L1 under Adam has no
well-defined threshold (chapter 4), and exact zeros are not the point here.

Data sets: ``moons`` and ``breast_cancer`` (the narrated pair), ``circles``, ``digits``, and
two on which the unregularised network overfits, trained with ``wide_hidden_sizes``:
``noisy_moons`` (moons with noise 0.4 and 250 points: 100 for training, 75 validation,
75 test) and ``digits_small`` (digits with 20 % of the data for training).

Replicates are paired (``seeds.replicate`` → ``seeds.streams``): runs that differ only in p
or λ share data split, initial weights, minibatch order, the uniforms behind the dropout
masks and the measure's random directions. Summaries (own-best comparison, matched fit,
intervals, robustness variants) are in :mod:`dropout_study.experiments.linearity_summary`.
Cells run through :func:`dropout_study.sweep.run_sweep` (parallel, resumable cache).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dropout_study import data, seeds
from dropout_study.experiments import with_defaults
from dropout_study.experiments.linearity_summary import (
    match_loss,
    own_best,
    readings,
    summarise,
    summarise_toy,
    trend_word,
)
from dropout_study.measures.linearity import (
    Probes,
    affine_misfit,
    hidden_function,
    linearity_terms,
    logit_function,
    random_directions,
)
from dropout_study.mlp import MLP
from dropout_study.optim import Adam
from dropout_study.params import follow_member
from dropout_study.penalties import L1, L2
from dropout_study.sweep import run_sweep
from dropout_study.training import EarlyStopping, train
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
from dropout_study.verdicts.linearity import MIN_MATCHED

__all__ = [
    "CHAPTER",
    "DATASETS",
    "OVERFIT",
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
    "own_best",
    "trend_word",
    "readings",
]

CHAPTER = "linearity"
# name -> (source data set, keyword arguments of data.load)
_SPECS: dict[str, tuple[str, dict]] = {
    "moons": ("moons", {}),
    "circles": ("circles", {}),
    "breast_cancer": ("breast_cancer", {}),
    "digits": ("digits", {}),
    "noisy_moons": (
        "moons",
        {"n_samples": 250, "noise": 0.4, "val_fraction": 0.3, "test_fraction": 0.3},
    ),
    "digits_small": ("digits", {"val_fraction": 0.2, "test_fraction": 0.6}),
}
DATASETS = tuple(_SPECS)
OVERFIT = ("noisy_moons", "digits_small")
"""Data sets chosen so that the unregularised network overfits; trained with the wide net."""
FAMILIES = ("dropout", "l2", "l1")
NARRATED = ("moons", "breast_cancer")
"""The data sets every profile must include (the page's figures and verdict rest on them)."""
_KEY = "linearity-v2"

# match_rate and trajectory_rate follow dropout_rates when the user did not set them
# (params.resolve applies it)
DEPENDENT_DEFAULTS = {
    name: follow_member(name, "dropout_rates", lambda r: r > 0)
    for name in ("match_rate", "trajectory_rate")
}

# The book profile (the notebook's parameters cell repeats these values).
DEFAULTS: dict = {
    "seed": 0,
    "n_seeds": 8,
    "datasets": ["moons", "breast_cancer", "noisy_moons"],
    "dropout_rates": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
    "l2_lambdas": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
    "l1_lambdas": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
    "match_rate": 0.5,
    "trajectory_rate": 0.5,
    "hidden_sizes": [32, 32],
    "wide_hidden_sizes": [128, 128],
    "max_steps": 3000,
    "eval_every": 10,
    "patience": 10,
    "min_delta": 1e-4,
    "budget": 200,
    "batch_size": 64,
    "learning_rate": 0.01,
    "step": 0.5,
    "robustness_steps": [0.25, 1.0],
    "n_directions": 16,
    "z_max_inputs": 256,
    "z_checkpoints": [10, 20, 50, 100, 200, 400, 800, 1600],
    "toy_rates": [0.0, 0.2, 0.5],
    "toy_hidden_sizes": [64, 64],
    "toy_steps": 3000,
    "coverage_sims": 1000,  # simulated samples of the page's interval-coverage check
}


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------
def _distinct_sorted(values: list, name: str) -> list:
    ok = len(set(values)) == len(values) and sorted(values) == values
    require(ok, name, CHAPTER, "increasing and without repeats", values)
    return values


def check_params(params: dict) -> dict:
    """Range and consistency checks; returns a new dict (defaults filled in for missing keys).

    Raises ``ValueError``/``TypeError`` with the project's message template, e.g.
    ``The 'dropout_rates' parameter of linearity must be a list of at least 2 floats, each in
    [0, 0.95]; got [1.5].``
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
    require(len(set(ds)) == len(ds), "datasets", CHAPTER, "a list without repeats", ds)
    narrated = "a list that includes " + " and ".join(NARRATED)
    require(set(NARRATED) <= set(ds), "datasets", CHAPTER, narrated, ds)
    out["datasets"] = list(ds)
    out["dropout_rates"] = _distinct_sorted(
        check_float_list(
            p["dropout_rates"], "dropout_rates", CHAPTER, low=0.0, high=0.95, min_len=2
        ),
        "dropout_rates",
    )
    # the unregularised run (p = 0) is the shared start of all three families
    rates = out["dropout_rates"]
    require(
        rates[0] == 0.0, "dropout_rates", CHAPTER, "a list that starts with 0.0", p["dropout_rates"]
    )
    for name in ("l2_lambdas", "l1_lambdas"):
        out[name] = _distinct_sorted(
            check_float_list(p[name], name, CHAPTER, low=0.0, high=10.0, low_open=True), name
        )
    for name in ("match_rate", "trajectory_rate"):
        out[name] = check_float(p[name], name, CHAPTER, low=0.0, high=0.95, low_open=True)
        require(
            out[name] in rates,
            name,
            CHAPTER,
            "one of dropout_rates",
            p[name],
            detail=f"dropout_rates = {rates}",
        )
    for name in ("hidden_sizes", "wide_hidden_sizes", "toy_hidden_sizes"):
        out[name] = check_int_list(p[name], name, CHAPTER, low=1, high=1024)
    out["max_steps"] = check_int(p["max_steps"], "max_steps", CHAPTER, low=1, high=100_000)
    out["eval_every"] = check_int(p["eval_every"], "eval_every", CHAPTER, low=1, high=1000)
    out["patience"] = check_int(p["patience"], "patience", CHAPTER, low=1, high=1000)
    out["min_delta"] = check_float(p["min_delta"], "min_delta", CHAPTER, low=0.0, high=1.0)
    out["budget"] = check_int(
        p["budget"], "budget", CHAPTER, low=1, high=bound(out["max_steps"], "max_steps")
    )
    multiple = out["budget"] % out["eval_every"] == 0
    require(
        multiple,
        "budget",
        CHAPTER,
        "a multiple of eval_every",
        p["budget"],
        detail=f"eval_every = {out['eval_every']}",
    )
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
    )
    other = out["step"] not in out["robustness_steps"]
    what = "a list that does not contain step"
    step = f"step = {out['step']:g}"
    require(other, "robustness_steps", CHAPTER, what, p["robustness_steps"], detail=step)
    out["n_directions"] = check_int(p["n_directions"], "n_directions", CHAPTER, low=1, high=1000)
    out["z_max_inputs"] = check_int(p["z_max_inputs"], "z_max_inputs", CHAPTER, low=10)
    out["z_checkpoints"] = _distinct_sorted(
        check_int_list(
            p["z_checkpoints"],
            "z_checkpoints",
            CHAPTER,
            low=0,
            high=bound(out["max_steps"], "max_steps"),
        ),
        "z_checkpoints",
    )
    out["toy_rates"] = _distinct_sorted(
        check_float_list(p["toy_rates"], "toy_rates", CHAPTER, low=0.0, high=0.95, min_len=2),
        "toy_rates",
    )
    out["toy_steps"] = check_int(p["toy_steps"], "toy_steps", CHAPTER, low=1, high=100_000)
    out["coverage_sims"] = check_int(
        p["coverage_sims"], "coverage_sims", CHAPTER, low=10, high=100_000
    )
    return out


# ---------------------------------------------------------------------------------------------
# Training and measuring one network
# ---------------------------------------------------------------------------------------------
def load_dataset(name: str, rng) -> data.Dataset:
    """The data set ``name`` of :data:`DATASETS` split with the ``split`` stream ``rng``."""
    check_choice(name, "name", "load_dataset", DATASETS)
    source, kwargs = _SPECS[name]
    return data.load(source, rng=rng, **kwargs)


def _stop(cell: dict) -> EarlyStopping:
    return EarlyStopping(patience=cell["patience"], min_delta=cell["min_delta"], monitor="val")


def _best_until(hist, budget: int, min_delta: float) -> int:
    """The evaluated step the stopping rule would have restored with the cap ``budget``:
    the same update rule as :func:`~dropout_study.training.train` over evaluations <= budget."""
    best_loss, best_step = np.inf, -1
    for t, loss in zip(hist.eval_step, hist.val_loss, strict=True):
        if t > budget:
            break
        if best_step < 0 or loss < best_loss - min_delta:
            best_loss, best_step = min(loss, best_loss), int(t)
    return best_step


def _z(f, X, ss, h, n_directions):
    t = linearity_terms(f, X, step=h, n_directions=n_directions, rng=seeds.streams(ss).measure)
    return t


def probe_inputs(X, ss, max_inputs: int | None = None) -> np.ndarray:
    """The test inputs Z is probed at: all rows of ``X``, or — when there are more than
    ``max_inputs`` — ``max_inputs`` of them drawn without replacement (kept in their order)
    by a child of the replicate's ``measure`` stream, which leaves the directions' draw
    untouched. The cap bounds the cost of Z on large test sets (digits_small: 1079 inputs):
    Z is a mean over inputs × directions, and its Monte-Carlo error is already far below the
    spread over seeds at a few thousand probes."""
    if max_inputs is None or X.shape[0] <= max_inputs:
        return X
    child = seeds.streams(ss).measure.spawn(1)[0]
    return X[np.sort(child.choice(X.shape[0], max_inputs, replace=False))]


class _CellProbes:
    """Z at the test inputs ``X`` of one cell (:func:`probe_inputs`): the directions
    :func:`_z` would draw (the first draw of the replicate's fresh ``measure`` stream, the
    same for every network of the cell) and the stacked probe points of each step ``h``,
    built once and reused by every network, layer and checkpoint the cell measures — the
    same numbers as :func:`_z` at those inputs."""

    def __init__(self, X, ss, n_directions: int, max_inputs: int | None = None) -> None:
        self.X, self.ss, self.k = probe_inputs(X, ss, max_inputs), ss, n_directions
        self._U = None
        self._by_h: dict = {}

    def z(self, f, h):
        if h not in self._by_h:
            if self._U is None:
                n, d = self.X.shape
                self._U = random_directions(self.k, n, d, seeds.streams(self.ss).measure)
            self._by_h[h] = Probes(self.X, self._U, h)
        return self._by_h[h].terms(f)


def _fit_and_measure(ds, ss, cell, *, p, penalty, hidden, trajectory: bool, probes) -> dict:
    """Train one network under the stopping rule and measure it (see the module docstring)."""
    st = seeds.streams(ss)
    model = MLP([ds.n_features, *hidden, ds.n_outputs], head=ds.head, dropout=p, rng=st.init)
    budget, every = cell["budget"], cell["eval_every"]
    ckpts = set(range(0, budget + 1, every))
    if trajectory:
        ckpts |= set(cell["z_checkpoints"])
    hist = train(
        model,
        ds.X_train,
        ds.y_train,
        optimizer=Adam(cell["learning_rate"]),
        n_steps=cell["max_steps"],
        batch_size=cell["batch_size"],
        penalty=penalty,
        X_val=ds.X_val,
        y_val=ds.y_val,
        eval_every=every,
        mask_rng=st.masks,
        batch_rng=st.batches,
        checkpoints=sorted(c for c in ckpts if c <= cell["max_steps"]),
        stop=_stop(cell),
    )
    X, h = ds.X_test, cell["step"]
    f = logit_function(model)
    main = probes.z(f, h)
    row = {
        "z": main.z,
        "d2": main.mean_abs_d2,
        "d1": main.mean_abs_d1,
        "z_steps": [probes.z(f, hh).z for hh in cell["robustness_steps"]],
        "misfit": affine_misfit(f, X),
        "z_hidden": probes.z(hidden_function(model, -1), h).z,
        "z_first": probes.z(hidden_function(model, 0), h).z,
        "test_acc": model.accuracy(X, ds.y_test),
        "test_loss": model.loss(X, ds.y_test),
        "val_loss": model.loss(ds.X_val, ds.y_val),
        "train_loss": model.loss(ds.X_train, ds.y_train),
        "val_rise": float(hist.val_loss[-1] - np.min(hist.val_loss)),
        "steps": float(hist.stopped_at),
        "best_step": float(hist.best_step),
        "capped": float(hist.capped),
    }
    final = model.get_params()
    # the budget alternative: same rule, cap = budget
    b = _best_until(hist, budget, cell["min_delta"])
    model.set_params(hist.checkpoints[b])
    row["z_budget"] = probes.z(f, h).z
    row["val_budget"] = model.loss(ds.X_val, ds.y_val)
    # capped at the budget: the rule had not fired by then
    row["capped_budget"] = float(
        hist.stopped_at > budget or (hist.stopped_at == budget and hist.capped)
    )
    traj = []
    for c in cell["z_checkpoints"]:
        if trajectory and c in hist.checkpoints:
            model.set_params(hist.checkpoints[c])
            traj.append(probes.z(f, h).z)
        else:
            traj.append(float("nan"))
    row["z_trajectory"] = traj
    model.set_params(final)
    return row


def _replicate(cell: dict) -> np.random.SeedSequence:
    return seeds.replicate(cell["seed"], cell["replicate"])


ROW_KEYS = (
    "z", "d2", "d1", "z_steps", "misfit", "z_hidden", "z_first", "test_acc", "test_loss",
    "val_loss", "train_loss", "val_rise", "steps", "best_step", "capped", "z_budget",
    "val_budget", "capped_budget", "z_trajectory",
)  # fmt: skip


def sweep_cell(cell: dict) -> dict:
    """Train and measure every setting of one ``(dataset, replicate, family)`` cell.

    ``cell`` keys: ``dataset``, ``seed``, ``replicate``, ``family`` (``"dropout"``, ``"l2"``,
    ``"l1"``), ``values`` (rates or λ), ``hidden_sizes`` (already the wide one for the
    overfitting sets), ``trajectory_rates`` and the training/measure settings of
    :data:`DEFAULTS`. Returns a dict of lists (one entry per value) under :data:`ROW_KEYS`.
    """
    ss = _replicate(cell)
    ds = load_dataset(cell["dataset"], seeds.streams(ss).split)
    rows: dict[str, list] = {k: [] for k in ROW_KEYS}
    probes = _CellProbes(ds.X_test, ss, cell["n_directions"], cell.get("z_max_inputs"))
    family = cell["family"]
    for v in cell["values"]:
        p = v if family == "dropout" else 0.0
        penalty = L2(v) if family == "l2" else (L1(v, "subgradient") if family == "l1" else None)
        traj = family == "dropout" and v in cell["trajectory_rates"]
        row = _fit_and_measure(
            ds,
            ss,
            cell,
            p=p,
            penalty=penalty,
            hidden=cell["hidden_sizes"],
            trajectory=traj,
            probes=probes,
        )
        for k in ROW_KEYS:
            rows[k].append(row[k])
    return rows


def toy_cell(cell: dict) -> dict:
    """The 1-D toy for one replicate: curves on a grid, Z and its terms for every rate."""
    ss = _replicate(cell)
    st0 = seeds.streams(ss)
    ds = data.load("toy1d", rng=st0.split)
    x_all = np.concatenate([ds.X_train, ds.X_val, ds.X_test])[:, 0]
    grid = np.linspace(x_all.min(), x_all.max(), 201).reshape(-1, 1)
    out: dict = {k: [] for k in ("curves", "z", "d2", "d1", "val_loss", "steps", "capped")}
    for p in cell["rates"]:
        st = seeds.streams(ss)
        model = MLP([1, *cell["hidden_sizes"], 1], head=ds.head, dropout=p, rng=st.init)
        hist = train(
            model,
            ds.X_train,
            ds.y_train,
            optimizer=Adam(cell["learning_rate"]),
            n_steps=cell["max_steps"],
            X_val=ds.X_val,
            y_val=ds.y_val,
            eval_every=cell["eval_every"],
            mask_rng=st.masks,
            stop=_stop(cell),
        )
        out["curves"].append(model.forward(grid)[:, 0])
        t = _z(logit_function(model), grid, ss, cell["step"], cell["n_directions"])
        out["z"].append(t.z)
        out["d2"].append(t.mean_abs_d2)
        out["d1"].append(t.mean_abs_d1)
        out["val_loss"].append(model.loss(ds.X_val, ds.y_val))
        out["steps"].append(float(hist.stopped_at))
        out["capped"].append(float(hist.capped))
    raw = lambda a: np.asarray(a) * ds.scale_[0] + ds.mean_[0]  # noqa: E731
    out["curves"] = np.asarray(out["curves"])
    out["grid_raw"] = raw(grid[:, 0])
    out["x_train_raw"] = raw(ds.X_train[:, 0])
    out["y_train"] = np.asarray(ds.y_train, dtype=float)
    return out


# ---------------------------------------------------------------------------------------------
# The whole chapter
# ---------------------------------------------------------------------------------------------
@dataclass
class Result:
    """What :func:`run` returns.

    ``metrics`` is JSON-able (every number the verdict and the page use; see
    :func:`~dropout_study.experiments.linearity_summary.summarise`). ``arrays`` holds, per data
    set, ``(n_seeds, n_values)`` float arrays per family and measure — keys like
    ``"dropout/z"``, ``"l2/val_loss"``, ``"dropout/z_steps"`` (``(n_seeds, n_rates,
    n_robustness_steps)``), ``"dropout/z_trajectory"`` (``(n_seeds, n_rates,
    n_checkpoints)``, NaN after the stop and for rates without a trajectory),
    ``"matched/l2/z"`` (``(n_seeds,)``, NaN where unmatched) — and ``toy`` the toy's curves
    (first replicate) and Z, mean|D2|, mean|D1| per ``(replicate, rate)``.
    """

    params: dict
    metrics: dict
    arrays: dict = field(default_factory=dict)
    toy: dict = field(default_factory=dict)


_SETTINGS = (
    "max_steps", "eval_every", "patience", "min_delta", "budget", "batch_size",
    "learning_rate", "step", "robustness_steps", "n_directions", "z_max_inputs", "z_checkpoints",
)  # fmt: skip


def run(params: dict, *, cache_dir="default", n_jobs: int | None = None) -> Result:
    """Run the chapter's experiments (see the module docstring); validates ``params`` first.

    ``cache_dir`` and ``n_jobs`` go to :func:`~dropout_study.sweep.run_sweep`.
    """
    params = check_params(params)
    n = params["n_seeds"]
    grids = {"dropout": params["dropout_rates"], "l2": params["l2_lambdas"]}
    grids["l1"] = params["l1_lambdas"]
    settings = {k: params[k] for k in _SETTINGS}
    traj_rates = [0.0, params["trajectory_rate"]]
    cells = [
        {
            "dataset": ds,
            "seed": params["seed"],
            "replicate": r,
            "family": fam,
            "values": grids[fam],
            "hidden_sizes": params["wide_hidden_sizes" if ds in OVERFIT else "hidden_sizes"],
            "trajectory_rates": traj_rates,
        }
        | settings
        for ds in params["datasets"]
        for r in range(n)
        for fam in FAMILIES
    ]
    toy_cells = [
        {
            "seed": params["seed"],
            "replicate": r,
            "rates": params["toy_rates"],
            "hidden_sizes": params["toy_hidden_sizes"],
            "max_steps": params["toy_steps"],
            "eval_every": params["eval_every"],
            "patience": params["patience"],
            "min_delta": params["min_delta"],
            "learning_rate": params["learning_rate"],
            "step": params["step"],
            "n_directions": params["n_directions"],
        }
        for r in range(n)
    ]
    # a rough size (steps at the cap would overstate it: early stopping ends most runs early)
    steps = sum(len(c["values"]) for c in cells) * min(params["max_steps"], 500)
    common = dict(key=_KEY, n_jobs=n_jobs, cache_dir=cache_dir)
    swept = run_sweep(sweep_cell, cells, desc="linearity sweep", steps=steps, **common).results
    toys = run_sweep(
        toy_cell, toy_cells, desc="linearity toy", steps=n * len(params["toy_rates"]) * 500,
        **common,
    ).results  # fmt: skip

    arrays: dict = {}
    metrics: dict = {
        "n_seeds": n,
        "match_rate": params["match_rate"],
        "trajectory_rate": params["trajectory_rate"],
        "min_matched": MIN_MATCHED,
        "step": params["step"],
        "max_steps": params["max_steps"],
        "budget": params["budget"],
        "datasets": {},
    }
    it = iter(swept)
    by_ds: dict = {ds: {fam: [] for fam in FAMILIES} for ds in params["datasets"]}
    for c in cells:
        by_ds[c["dataset"]][c["family"]].append(next(it))
    for ds in params["datasets"]:
        a: dict = {}
        for fam in FAMILIES:
            res = by_ds[ds][fam]
            for k in ROW_KEYS:
                a[f"{fam}/{k}"] = np.asarray([r[k] for r in res], dtype=float)
        metrics["datasets"][ds] = summarise(a, params)
        arrays[ds] = a
    metrics["toy"] = summarise_toy(toys, params)
    toy = {
        "rates": params["toy_rates"],
        "grid_raw": toys[0]["grid_raw"],
        "curves": toys[0]["curves"],
        "x_train_raw": toys[0]["x_train_raw"],
        "y_train": toys[0]["y_train"],
    }
    for k in ("z", "d2", "d1", "steps", "capped"):
        toy[k] = np.asarray([t[k] for t in toys], dtype=float)
    return Result(params=params, metrics=metrics, arrays=arrays, toy=toy)
