"""One cell of the linearity sweep: a network trained to its stopping rule under one regulariser
(dropout rate, L2 or L1 λ) on one data set and replicate, with Z and its terms measured at the
restored parameters (and along training for the trajectory rate); the 1-D toy's cells.
"""

from __future__ import annotations

import numpy as np

from dropout_study import data, seeds
from dropout_study.measures.linearity import (
    Probes,
    affine_misfit,
    hidden_function,
    linearity_terms,
    logit_function,
    random_directions,
)
from dropout_study.nn.mlp import MLP
from dropout_study.nn.optim import Adam
from dropout_study.nn.penalties import L1, L2
from dropout_study.nn.training import EarlyStopping, train
from dropout_study.validation import (
    check_choice,
)

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


def load_dataset(name: str, rng) -> data.Dataset:
    """The data set ``name`` of :data:`DATASETS` split with the ``split`` stream ``rng``."""
    check_choice(name, "name", "load_dataset", DATASETS)
    source, kwargs = _SPECS[name]
    return data.load(source, rng=rng, **kwargs)


def _stop(cell: dict) -> EarlyStopping:
    return EarlyStopping(patience=cell["patience"], min_delta=cell["min_delta"], monitor="val")


def _best_until(hist, budget: int, min_delta: float) -> int:
    """The evaluated step the stopping rule would have restored with the cap ``budget``:
    the same update rule as :func:`~dropout_study.nn.training.train` over evaluations <= budget."""
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
    """Train one network under the stopping rule and measure it (see the module docstring).

    A *light* cell (``cell["light"]``: a retrained robustness alternative) measures Z of the
    logit at the main step only; the affine misfit, the hidden layers and the budget's Z are
    NaN there (the training and the losses are the same as in a full cell)."""
    light = bool(cell.get("light"))
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
        "misfit": np.nan if light else affine_misfit(f, X),
        "z_hidden": np.nan if light else probes.z(hidden_function(model, -1), h).z,
        "z_first": np.nan if light else probes.z(hidden_function(model, 0), h).z,
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
    row["z_budget"] = np.nan if light else probes.z(f, h).z
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
    the chapter's parameters. Returns a dict of lists (one entry per value) under :data:`ROW_KEYS`.
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
