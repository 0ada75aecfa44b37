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
4. **Retrained alternatives** — the dropout and L2 families again at each learning rate of
   ``alt_learning_rates`` and each batch size of ``alt_batch_sizes`` (Z and losses only), for
   the robustness table (:func:`alternative_settings`).

**Stopping rule.** Every network (toy included) is trained by minibatch Adam with early
stopping on validation loss (:class:`~dropout_study.nn.training.EarlyStopping`: evaluate every
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
intervals, robustness variants) are in :mod:`dropout_study.chapters.linearity.summary`.
Cells run through :func:`dropout_study.sweep.runner.run_sweep` (parallel, resumable cache).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dropout_study.chapters import cost
from dropout_study.chapters.linearity.cells import (
    DATASETS,
    OVERFIT,
    ROW_KEYS,
    sweep_cell,
    toy_cell,
)
from dropout_study.chapters.linearity.summary import (
    MIN_MATCHED,
    match_loss,
    own_best,
    readings,
    summarise,
    summarise_toy,
)
from dropout_study.parameters import complete, follow_member
from dropout_study.sweep.runner import run_sweep
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

__all__ = [
    "estimate",
    "CHAPTER",
    "DATASETS",
    "OVERFIT",
    "FAMILIES",
    "MIN_MATCHED",
    "NARRATED",
    "Result",
    "check_params",
    "run",
    "sweep_cell",
    "toy_cell",
    "match_loss",
    "own_best",
    "readings",
]

CHAPTER = "linearity"
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


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------
def check_params(params: dict) -> dict:
    """Range and consistency checks; returns a new dict.

    Raises ``ValueError``/``TypeError`` with the project's message template, e.g.
    ``The 'dropout_rates' parameter of linearity must be a list of at least 2 floats, each in
    [0, 0.95]; got [1.5].``
    """
    p = complete(params, CHAPTER)
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
    out["dropout_rates"] = check_float_list(
        p["dropout_rates"], "dropout_rates", CHAPTER, low=0.0, high=0.95, min_len=2
    )
    # the unregularised run (p = 0) is the shared start of all three families
    rates = out["dropout_rates"]
    require(
        rates[0] == 0.0, "dropout_rates", CHAPTER, "a list that starts with 0.0", p["dropout_rates"]
    )
    for name in ("l2_lambdas", "l1_lambdas"):
        out[name] = check_float_list(p[name], name, CHAPTER, low=0.0, high=10.0, low_open=True)
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
        out[name] = check_int_list(
            p[name], name, CHAPTER, low=1, high=1024, order="any: layer widths, input to output"
        )
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
    out["alt_learning_rates"] = check_float_list(
        p["alt_learning_rates"], "alt_learning_rates", CHAPTER, low=0.0, high=1.0,
        low_open=True, min_len=0,
    )  # fmt: skip
    out["alt_batch_sizes"] = check_int_list(
        p["alt_batch_sizes"], "alt_batch_sizes", CHAPTER, low=1, min_len=0
    )
    for name, main in (("alt_learning_rates", "learning_rate"), ("alt_batch_sizes", "batch_size")):
        what = f"a list that does not contain {main}"
        detail = f"{main} = {out[main]:g}"
        require(out[main] not in out[name], name, CHAPTER, what, p[name], detail=detail)
    out["step"] = check_float(p["step"], "step", CHAPTER, low=0.0, high=10.0, low_open=True)
    out["robustness_steps"] = check_float_list(
        p["robustness_steps"], "robustness_steps", CHAPTER, low=0.0, high=10.0, low_open=True
    )
    other = out["step"] not in out["robustness_steps"]
    what = "a list that does not contain step"
    step = f"step = {out['step']:g}"
    require(other, "robustness_steps", CHAPTER, what, p["robustness_steps"], detail=step)
    out["n_directions"] = check_int(p["n_directions"], "n_directions", CHAPTER, low=1, high=1000)
    out["z_max_inputs"] = check_int(p["z_max_inputs"], "z_max_inputs", CHAPTER, low=10)
    out["z_checkpoints"] = check_int_list(
        p["z_checkpoints"],
        "z_checkpoints",
        CHAPTER,
        low=0,
        high=bound(out["max_steps"], "max_steps"),
    )
    out["toy_rates"] = check_float_list(
        p["toy_rates"], "toy_rates", CHAPTER, low=0.0, high=0.95, min_len=2
    )
    # the toy's finding is the paired change of Z from p = 0 to the largest rate
    require(
        out["toy_rates"][0] == 0.0, "toy_rates", CHAPTER, "a list that starts with 0.0",
        p["toy_rates"],
    )  # fmt: skip
    out["toy_steps"] = check_int(p["toy_steps"], "toy_steps", CHAPTER, low=1, high=100_000)
    out["coverage_sims"] = check_int(
        p["coverage_sims"], "coverage_sims", CHAPTER, low=10, high=100_000
    )
    return out


# ---------------------------------------------------------------------------------------------
# Training and measuring one network
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# The whole chapter
# ---------------------------------------------------------------------------------------------
@dataclass
class Result:
    """What :func:`run` returns.

    ``metrics`` is JSON-able (every number the verdict and the page use; see
    :func:`~dropout_study.chapters.linearity.summary.summarise`). ``arrays`` holds, per data
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


ALT_FAMILIES = ("dropout", "l2")
"""The families a retrained alternative needs: the trend (dropout) and the analogy (L2)."""


def alternative_settings(params: dict) -> list[tuple[str, dict]]:
    """``(tag, overrides)`` of every retrained alternative: each learning rate of
    ``alt_learning_rates`` (tag ``"lr=<value>"``) and each batch size of ``alt_batch_sizes``
    (``"batch=<value>"``); each retrains the dropout and L2 families on every data set."""
    out = [(f"lr={v:g}", {"learning_rate": v}) for v in params["alt_learning_rates"]]
    out += [(f"batch={v}", {"batch_size": v}) for v in params["alt_batch_sizes"]]
    return out


def run(params: dict, *, cache_dir="default", n_jobs: int | None = None) -> Result:
    """Run the chapter's experiments (see the module docstring); validates ``params`` first.

    ``cache_dir`` and ``n_jobs`` go to :func:`~dropout_study.sweep.runner.run_sweep`.
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
    alt_cells = [
        {**c, **over, "tag": tag, "light": True, "robustness_steps": [], "z_checkpoints": [],
         "trajectory_rates": []}
        for tag, over in alternative_settings(params)
        for c in cells
        if c["family"] in ALT_FAMILIES
    ]  # fmt: skip
    cells = cells + alt_cells
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
        "learning_rate": params["learning_rate"],
        "batch_size": params["batch_size"],
        "datasets": {},
    }
    tags = [tag for tag, _ in alternative_settings(params)]
    it = iter(swept)
    by_ds: dict = {ds: {} for ds in params["datasets"]}
    for c in cells:
        prefix = f"{c['tag']}/" if "tag" in c else ""
        by_ds[c["dataset"]].setdefault(prefix + c["family"], []).append(next(it))
    for ds in params["datasets"]:
        a: dict = {}
        for fam, res in by_ds[ds].items():
            for k in ROW_KEYS:
                if k == "z_trajectory" and "/" in fam:
                    continue  # not measured in the retrained alternatives
                a[f"{fam}/{k}"] = np.asarray([r[k] for r in res], dtype=float)
        metrics["datasets"][ds] = summarise(a, params, alternatives=tags)
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


def estimate(p: dict) -> tuple[float, float]:
    """(multiply-adds, bytes of the largest arrays) of one run with the resolved ``p``
    (:mod:`dropout_study.chapters.cost`), read before any kernel starts."""
    work, memory = 0.0, 0.0
    models = cost.n(p, "dropout_rates", 8) + cost.n(p, "l2_lambdas", 6) + cost.n(p, "l1_lambdas", 5)
    n_alt = cost.n(p, "alt_learning_rates", 0) + cost.n(p, "alt_batch_sizes", 0)
    light = n_alt * (cost.n(p, "dropout_rates", 8) + cost.n(p, "l2_lambdas", 6))  # retrained
    for name in p.get("datasets", ["moons", "breast_cancer", "noisy_moons"]):
        wide = name in ("noisy_moons", "digits_small")
        n, d, k = cost.data({"noisy_moons": "moons", "digits_small": "digits"}.get(name, name))
        if wide:
            n = 100
        hidden = p.get("wide_hidden_sizes" if wide else "hidden_sizes", [32, 32])
        w = cost.weights(d, hidden, k)
        train = 3 * cost.stopped(p) * min(cost.n(p, "batch_size", 64), n) * w
        n_probe = min(n, cost.n(p, "z_max_inputs", 256))
        probes = (
            cost.n(p, "n_directions", 16) * n_probe * w * (2 + 2 * cost.n(p, "robustness_steps", 2))
        )
        probes *= 1 + cost.n(p, "z_checkpoints", 8) / models
        light_probes = cost.n(p, "n_directions", 16) * n_probe * w * 2  # the main step only
        work += cost.n(p, "n_seeds", 8) * (
            models * (train + probes) + light * (train + light_probes)
        )
        memory = max(memory, cost.n(p, "n_directions", 16) * n * d * 8 * 2)
        for key in ("hidden_sizes", "wide_hidden_sizes"):
            hidden = p.get(key, [32, 32])
            memory = max(memory, cost.net_memory(n, cost.weights(d, hidden, k), hidden))
    w_toy = cost.weights(1, p.get("toy_hidden_sizes", [64, 64]), 1)
    work += 3 * cost.n(p, "toy_rates", 3) * cost.stopped(p, "toy_steps") * 40 * w_toy
    return work, memory
