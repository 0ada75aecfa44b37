"""Summaries of chapter 5 (``linearity``): from per-run tables to the metrics the page and the
verdict read.

Conventions: a *table* is ``(n_seeds, n_values)``; the penalty families get the shared
unregularised run (p = 0) in front as λ = 0. Intervals are :func:`dropout_study.measures.stats.
seed_interval` over seeds (Student-t below 20 seeds, BCa from 20, constant samples flagged
``degenerate``); trends are within-seed Spearman ρ (:func:`per_seed_rho`, undefined for a seed
whose values are constant) averaged over the seeds where they are defined, with the same
interval clipped to [−1, 1]. Every block the verdict reads keeps its per-seed values
(``per_seed``, ``None`` where undefined) and, for a paired difference, the seeds where the two
sides are the same network (``ties``), so that the findings are built from them
(:mod:`dropout_study.chapters.linearity.verdict`).

Comparison points of Z(dropout) − Z(L2) (paired by seed):

- **own best** (primary): in every seed, each family at the grid value with the lowest
  *validation* loss (:func:`own_best` reads validation losses only; the test split never
  enters the selection);
- **matched**: Z of L2 interpolated to the validation loss of dropout at ``match_rate``
  (:func:`match_loss`); seeds whose L2 path never reaches the target are counted and left
  out; at least :data:`MIN_MATCHED` matched seeds are
  required;
- **matched, nearest-point fill** (sensitivity): unmatched seeds take the grid point whose
  validation loss is nearest the target.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from dropout_study.measures.stats import seed_interval
from dropout_study.numfmt import general
from dropout_study.validation import fail

MIN_MATCHED = 5
"""Seeds with a matched fit needed before a matched comparison can decide (STUDY.md)."""

__all__ = [
    "MIN_MATCHED",
    "match_loss",
    "own_best",
    "nearest",
    "per_seed_rho",
    "summarise",
    "summarise_toy",
    "readings",
]


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


def own_best(val_loss) -> np.ndarray:
    """Per seed (row of ``val_loss``, shape ``(n_seeds, n_values)``), the index of the lowest
    validation loss (NaN ignored; ``-1`` for a row without a finite value). Only validation
    losses go in: nothing measured on the test split can steer the choice."""
    v = np.asarray(val_loss, dtype=float)
    if v.ndim != 2 or v.shape[1] < 1:
        fail("val_loss", "own_best", "a 2-D array (seeds, grid values)", v.shape)
    filled = np.where(np.isfinite(v), v, np.inf)
    idx = np.argmin(filled, axis=1)
    return np.where(np.isfinite(v).any(axis=1), idx, -1)


def nearest(val_loss, values, target: float) -> float:
    """``values`` at the grid point whose validation loss is nearest ``target``."""
    v = np.asarray(val_loss, dtype=float)
    return float(np.asarray(values, dtype=float)[int(np.nanargmin(np.abs(v - target)))])


def _ci(values) -> dict:
    """Mean and 95 % seed interval of the finite values (``n`` counts them)."""
    v = np.asarray(values, dtype=float).ravel()
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        nan = float("nan")
        return {"estimate": nan, "low": nan, "high": nan, "n": 0, "method": "none",
                "degenerate": True}  # fmt: skip
    iv = seed_interval(finite)
    return {"estimate": iv.estimate, "low": iv.low, "high": iv.high, "n": iv.n,
            "method": iv.method, "degenerate": iv.degenerate}  # fmt: skip


def per_seed_rho(x_grid, table) -> np.ndarray:
    """Spearman ρ of each row of ``table`` ``(n_seeds, n_grid)`` against ``x_grid``
    (``scipy.stats.spearmanr``), ``(n_seeds,)`` float64; NaN for a row with fewer than 2
    finite values or constant values (no monotone association is defined). With two grid
    values ρ is ±1."""
    table = np.asarray(table, dtype=float)
    x = np.asarray(x_grid, dtype=float)
    out = np.full(table.shape[0], np.nan)
    for i, row in enumerate(table):
        ok = np.isfinite(row)
        if ok.sum() >= 2 and np.ptp(row[ok]) > 0:
            out[i] = float(sps.spearmanr(x[ok], row[ok]).statistic)
    return out


def _listed(a) -> list:
    """A 1-D array as a list with ``None`` for undefined values (how metrics.json stores NaN)."""
    a = np.asarray(a, dtype=float)
    return [None if not np.isfinite(v) else float(v) for v in a]


def _rho(x_grid, table) -> dict:
    """Within-seed ρ of ``table`` against ``x_grid``: the mean over the seeds where it is
    defined, its interval (clipped to [−1, 1]), and every seed's value (``per_seed``)."""
    r = per_seed_rho(x_grid, table)
    ok = np.isfinite(r)
    out = {"per_seed": _listed(r), "n_groups": int(ok.sum()), "n_undefined": int((~ok).sum())}
    if ok.sum() < 2:
        nan = float("nan")
        return out | {"rho": nan, "low": nan, "high": nan, "method": "none", "degenerate": True}
    iv = seed_interval(r[ok])
    return out | {"rho": iv.estimate, "low": max(iv.low, -1.0), "high": min(iv.high, 1.0),
                  "method": iv.method, "degenerate": iv.degenerate}  # fmt: skip


def _table(a: dict, fam: str, key: str, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """A family's grid and ``(n_seeds, n_grid)`` table; penalties get λ = 0 (p = 0) in front."""
    if fam == "dropout":
        return np.asarray(params["dropout_rates"], dtype=float), a[f"dropout/{key}"]
    lams = np.concatenate([[0.0], params[f"{fam}_lambdas"]])
    return lams, np.concatenate([a[f"dropout/{key}"][:, :1], a[f"{fam}/{key}"]], axis=1)


def _pick(table, idx) -> np.ndarray:
    t = np.asarray(table, dtype=float)
    rows = np.arange(t.shape[0])
    return np.where(idx >= 0, t[rows, np.maximum(idx, 0)], np.nan)


def _diff(zd, zp, ties=None) -> dict:
    """The paired difference ``zd − zp`` per seed: mean and interval over the defined seeds,
    the per-seed values and, given, the seeds where both sides are the same network."""
    d = np.asarray(zd, dtype=float) - np.asarray(zp, dtype=float)
    out = _ci(d)
    out["n_dropout_lower"] = int(np.sum(d[np.isfinite(d)] < 0))
    out["per_seed"] = _listed(d)
    if ties is not None:
        out["ties"] = [bool(t) for t in ties]
    return out


def _own_best_point(a, params, zkey: str, vkey: str) -> dict:
    """Per family, the own-best choice by ``vkey`` (a validation loss) and Z from ``zkey``."""
    out: dict = {}
    zs = {}
    for fam in ("dropout", "l2", "l1"):
        grid, val = _table(a, fam, vkey, params)
        _, z = _table(a, fam, zkey, params)
        idx = own_best(val)
        zs[fam] = _pick(z, idx)
        out[fam] = {"chosen": [float(grid[i]) if i >= 0 else None for i in idx],
                    "index": [int(i) for i in idx], "z": _ci(zs[fam]),
                    "val_loss": _ci(_pick(val, idx))}  # fmt: skip
    same = {f: np.asarray(out[f]["index"]) == 0 for f in ("dropout", "l2", "l1")}
    out["l2"]["diff"] = _diff(zs["dropout"], zs["l2"], same["dropout"] & same["l2"])
    out["l1"]["diff"] = _diff(zs["dropout"], zs["l1"], same["dropout"] & same["l1"])
    out["_z"] = zs
    return out


def _matched(a: dict, params: dict) -> dict:
    j = params["dropout_rates"].index(params["match_rate"])
    target = a["dropout/val_loss"][:, j]
    z_drop = a["dropout/z"][:, j]
    out: dict = {"target_val_loss": _ci(target), "z_dropout": _ci(z_drop)}
    for fam in ("l2", "l1"):
        lams, loss = _table(a, fam, "val_loss", params)
        _, z = _table(a, fam, "z", params)
        zm, lm, zfill = (np.full(target.shape, np.nan) for _ in range(3))
        status = []
        for s in range(target.shape[0]):
            zm[s], lm[s], st = match_loss(lams, loss[s], z[s], target[s])
            zfill[s] = zm[s] if st == "matched" else nearest(loss[s], z[s], target[s])
            status.append(st)
        a[f"matched/{fam}/z"], a[f"matched/{fam}/lambda"] = zm, lm
        ok = np.isfinite(zm)
        diff = _diff(z_drop[ok], zm[ok])
        diff["n_required"] = MIN_MATCHED
        fill = _diff(z_drop, zfill)
        out[fam] = {
            "n_matched": int(ok.sum()),
            "n_seeds": int(target.shape[0]),
            "n_never_reached": status.count("above"),
            "n_always_below": status.count("below"),
            "z_penalty": _ci(zm[ok]),
            "diff": diff,
            "diff_fill": fill,
            "lambda_median": float(np.median(lm[ok])) if ok.any() else float("nan"),
        }
    return out


def summarise(a: dict, params: dict, alternatives=()) -> dict:
    """Every number of one data set that the page, figures and verdict use (JSON-able).

    ``alternatives``: tags of retrained alternatives whose tables are in ``a`` under
    ``"<tag>/dropout/<key>"`` and ``"<tag>/l2/<key>"`` (each becomes a variant)."""
    rates = params["dropout_rates"]
    out: dict = {"rates": rates}
    for key in ("z", "d2", "d1", "misfit", "z_hidden", "z_first", "test_acc", "test_loss",
                "val_loss", "steps"):  # fmt: skip
        out[f"rho_{key}"] = _rho(rates, a[f"dropout/{key}"])
        out[f"by_rate_{key}"] = [_ci(col) for col in a[f"dropout/{key}"].T]
    for fam in ("l2", "l1"):
        lams, z = _table(a, fam, "z", params)
        out[f"rho_z_{fam}"] = _rho(lams, z)
        out[f"{fam}_lambdas"] = [float(v) for v in lams]
        for key in ("z", "test_acc", "test_loss", "val_loss"):
            _, t = _table(a, fam, key, params)
            out[f"by_lambda_{fam}_{key}"] = [_ci(col) for col in t.T]
    # training: every distinct run once (the shared p = 0 run is in the dropout family), the
    # retrained alternatives' runs included
    fams = [k.removesuffix("/steps") for k in a if k.endswith("/steps")]  # retrained ones too
    steps = np.concatenate([a[f"{f}/steps"].ravel() for f in fams])
    capped = np.concatenate([a[f"{f}/capped"].ravel() for f in fams])
    capped_b = np.concatenate([a[f"{f}/capped_budget"].ravel() for f in fams])
    out["training"] = {"n_runs": int(steps.size), "n_capped": int(capped.sum()),
                       "n_capped_budget": int(capped_b.sum()), "steps_total": int(steps.sum()),
                       "steps_median": float(np.median(steps)), "steps_max": int(steps.max()),
                       "steps_min": int(steps.min())}  # fmt: skip
    best = _own_best_point(a, params, "z", "val_loss")
    zs = best.pop("_z")
    out["own_best"] = best
    # did dropout help? test loss at dropout's own best p versus the unregularised network
    i_d = np.asarray(best["dropout"]["index"])
    test_best = _pick(a["dropout/test_loss"], i_d)
    helped = _diff(test_best, a["dropout/test_loss"][:, 0], ties=i_d == 0)
    out["dropout_helped"] = helped | {
        "n_chose_dropout": int(np.sum(i_d > 0)),
        "test_loss_p0": _ci(a["dropout/test_loss"][:, 0]),
        "test_loss_best": _ci(test_best),
    }
    out["overfit"] = {
        "train_loss_p0": _ci(a["dropout/train_loss"][:, 0]),
        "test_loss_p0": _ci(a["dropout/test_loss"][:, 0]),
        "gap_p0": _ci(a["dropout/test_loss"][:, 0] - a["dropout/train_loss"][:, 0]),
        "val_rise_p0": _ci(a["dropout/val_rise"][:, 0]),
        "best_step_p0": _ci(a["dropout/best_step"][:, 0]),
    }
    out["matched"] = _matched(a, params)
    out["variants"] = _variants(a, params, out, zs)
    for tag in alternatives:
        out["variants"][tag] = _retrained(a, params, tag)
    return out


def _retrained(a: dict, params: dict, tag: str) -> dict:
    """The variant of a retrained alternative: ρ(p, Z) and the own-best Z(dropout) − Z(L2)
    from its own dropout and L2 runs (the L2 path starts at its own p = 0 run)."""
    sub = {f"{fam}/{k}": a[f"{tag}/{fam}/{k}"] for fam in ("dropout", "l2")
           for k in ("z", "val_loss")}  # fmt: skip
    i_d = own_best(sub["dropout/val_loss"])
    _, val2 = _table(sub, "l2", "val_loss", params)
    _, z2 = _table(sub, "l2", "z", params)
    i_2 = own_best(val2)
    diff = _diff(_pick(sub["dropout/z"], i_d), _pick(z2, i_2), (i_d == 0) & (i_2 == 0))
    return _variant(_rho(params["dropout_rates"], sub["dropout/z"]), diff)


def _variant(rho: dict, diff: dict) -> dict:
    return {"rho": rho, "l2": diff}


def _variants(a: dict, params: dict, out: dict, zs: dict) -> dict:
    rates = params["dropout_rates"]
    idx = {f: np.asarray(out["own_best"][f]["index"]) for f in ("dropout", "l2")}
    v = {"primary": _variant(out["rho_z"], out["own_best"]["l2"]["diff"])}
    mm = out["matched"]["l2"]
    v["matched"] = _variant(out["rho_z"], mm["diff"])
    v["matched_fill"] = _variant(out["rho_z"], mm["diff_fill"])

    ties = np.asarray(out["own_best"]["l2"]["diff"]["ties"])

    def at_same_choice(table_key: str, j: int | None = None) -> dict:
        zz = {}
        for f in ("dropout", "l2"):
            _, t = _table(a, f, table_key, params)
            t = t if j is None else t[..., j]
            zz[f] = _pick(t, idx[f])
        return _diff(zz["dropout"], zz["l2"], ties)

    for j, h in enumerate(params["robustness_steps"]):
        table = a["dropout/z_steps"][:, :, j]
        v[f"h={h:g}"] = _variant(_rho(rates, table), at_same_choice("z_steps", j))
    v["hidden_last"] = _variant(out["rho_z_hidden"], at_same_choice("z_hidden"))
    v["hidden_first"] = _variant(out["rho_z_first"], at_same_choice("z_first"))
    budget = _own_best_point(a, params, "z_budget", "val_budget")
    budget.pop("_z")
    v["budget"] = _variant(_rho(rates, a["dropout/z_budget"]), budget["l2"]["diff"])
    return v


def summarise_toy(toys: list, params: dict) -> dict:
    """Z, mean|D2|, mean|D1| of the toy per rate (seed intervals) and their ρ with p."""
    rates = params["toy_rates"]
    out: dict = {"rates": rates}
    for key in ("z", "d2", "d1", "steps"):
        t = np.asarray([x[key] for x in toys], dtype=float)
        out[key] = [_ci(t[:, j]) for j in range(t.shape[1])]
        out[f"rho_{key}"] = _rho(rates, t)
        # the paired change from p = 0 (first rate) to the largest rate, per seed
        out[f"change_{key}"] = _diff(t[:, -1], t[:, 0])
    out["n_capped"] = int(sum(np.sum(x["capped"]) for x in toys))
    out["n_runs"] = int(sum(len(x["capped"]) for x in toys))
    return out


# ---------------------------------------------------------------------------------------------
# Numbers for the page (no direction words: those come from the findings)
# ---------------------------------------------------------------------------------------------
def readings(metrics: dict) -> dict[str, str]:
    """One phrase per data set (``terms_<dataset>``) and for the toy (``toy_terms``): the
    factors by which mean|D2| and mean|D1| change between the smallest and the largest dropout
    rate (ratios of means over seeds) — numbers only; whether Z, D2 or D1 trend with p is read
    from the trend findings."""
    out: dict[str, str] = {}
    for ds, m in metrics["datasets"].items():
        rates = m["rates"]
        d2 = [m["by_rate_d2"][0]["estimate"], m["by_rate_d2"][-1]["estimate"]]
        d1 = [m["by_rate_d1"][0]["estimate"], m["by_rate_d1"][-1]["estimate"]]
        out[f"terms_{ds}"] = _terms(rates[0], rates[-1], d2, d1)
    toy = metrics["toy"]
    d2 = [toy["d2"][0]["estimate"], toy["d2"][-1]["estimate"]]
    d1 = [toy["d1"][0]["estimate"], toy["d1"][-1]["estimate"]]
    out["toy_terms"] = _terms(toy["rates"][0], toy["rates"][-1], d2, d1)
    return out


def _terms(p0: float, p1: float, d2: list, d1: list) -> str:
    r2, r1 = d2[1] / d2[0], d1[1] / d1[0]
    if not (np.isfinite(r2) and np.isfinite(r1)):
        return f"between p = {general(p0)} and p = {general(p1)} the ratio is undefined"
    return (
        f"from p = {general(p0)} to p = {general(p1)}, mean|D2| changes by a factor of "
        f"{r2:z.2f} and mean|D1| by a factor of {r1:z.2f} (their ratio by {r2 / r1:z.2f})"
    )
