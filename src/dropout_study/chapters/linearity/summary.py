"""Summaries of chapter 5 (``linearity``): from per-run tables to the metrics the page and the
verdict read.

Conventions: a *table* is ``(n_seeds, n_values)``; the penalty families get the shared
unregularised run (p = 0) in front as λ = 0. Intervals are :func:`dropout_study.measures.stats.
seed_interval` over seeds (Student-t below 20 seeds, BCa from 20, constant samples flagged
``degenerate``); trends are within-seed Spearman ρ averaged over seeds with the same interval
(:func:`dropout_study.measures.stats.spearman_ci`).

Comparison points of Z(dropout) − Z(L2) (paired by seed):

- **own best** (primary): in every seed, each family at the grid value with the lowest
  *validation* loss (:func:`own_best` reads validation losses only; the test split never
  enters the selection);
- **matched**: Z of L2 interpolated to the validation loss of dropout at ``match_rate``
  (:func:`match_loss`); seeds whose L2 path never reaches the target are counted and left
  out; at least :data:`~dropout_study.chapters.linearity.verdict.MIN_MATCHED` matched seeds are
  required;
- **matched, nearest-point fill** (sensitivity): unmatched seeds take the grid point whose
  validation loss is nearest the target.
"""

from __future__ import annotations

import numpy as np

from dropout_study.chapters.linearity.verdict import ABOVE, BELOW, MIN_MATCHED, side
from dropout_study.measures.stats import seed_interval, spearman_ci
from dropout_study.numfmt import general
from dropout_study.validation import fail

__all__ = [
    "match_loss",
    "own_best",
    "nearest",
    "summarise",
    "summarise_toy",
    "trend_word",
    "helped_word",
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


def _rho(x_grid, table) -> dict:
    """Within-seed Spearman ρ of ``table`` (n_seeds, n_grid) against ``x_grid``; NaN cells are
    left out and counted in ``n_undefined``."""
    table = np.asarray(table, dtype=float)
    x = np.broadcast_to(np.asarray(x_grid, dtype=float), table.shape)
    groups = np.broadcast_to(np.arange(table.shape[0])[:, None], table.shape)
    ok = np.isfinite(table)
    if ok.sum() < 2:
        nan = float("nan")
        return {"rho": nan, "low": nan, "high": nan, "n_groups": 0, "n_undefined": int((~ok).sum())}
    r = spearman_ci(x[ok], table[ok], groups=groups[ok])
    return {"rho": r.rho, "low": r.low, "high": r.high, "n_groups": r.n_groups,
            "n_undefined": int((~ok).sum()), "method": r.method,
            "degenerate": r.degenerate}  # fmt: skip


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


def _diff(zd, zp) -> dict:
    d = np.asarray(zd, dtype=float) - np.asarray(zp, dtype=float)
    out = _ci(d)
    out["n_dropout_lower"] = int(np.sum(d[np.isfinite(d)] < 0))
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
    out["l2"]["diff"] = _diff(zs["dropout"], zs["l2"])
    out["l1"]["diff"] = _diff(zs["dropout"], zs["l1"])
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


def helped_word(interval) -> str:
    """Words for a paired test-loss difference (dropout − unregularised), from :func:`side`."""
    s = side(interval)
    return {BELOW: "improved", ABOVE: "worsened"}.get(s, "did not clearly change")


def summarise(a: dict, params: dict) -> dict:
    """Every number of one data set that the page, figures and verdict use (JSON-able)."""
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
    # training: every distinct run once (the shared p = 0 run is in the dropout family)
    steps = np.concatenate([a[f"{f}/steps"].ravel() for f in ("dropout", "l2", "l1")])
    capped = np.concatenate([a[f"{f}/capped"].ravel() for f in ("dropout", "l2", "l1")])
    capped_b = np.concatenate([a[f"{f}/capped_budget"].ravel() for f in ("dropout", "l2", "l1")])
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
    helped = _ci(test_best - a["dropout/test_loss"][:, 0])
    out["dropout_helped"] = helped | {
        "word": helped_word(helped),
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
    return out


def _variant(rho: dict, diff: dict) -> dict:
    return {"rho": rho, "l2": diff}


def _variants(a: dict, params: dict, out: dict, zs: dict) -> dict:
    rates = params["dropout_rates"]
    idx = {f: np.asarray(out["own_best"][f]["index"]) for f in ("dropout", "l2")}
    v = {"primary": _variant(out["rho_z"], out["own_best"]["l2"]["diff"])}
    mm = out["matched"]["l2"]
    v["matched"] = _variant(out["rho_z"], mm["diff"])
    v["matched_fill"] = _variant(out["rho_z"], mm["diff_fill"])

    def at_same_choice(table_key: str, j: int | None = None) -> dict:
        zz = {}
        for f in ("dropout", "l2"):
            _, t = _table(a, f, table_key, params)
            t = t if j is None else t[..., j]
            zz[f] = _pick(t, idx[f])
        return _diff(zz["dropout"], zz["l2"])

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
    out["n_capped"] = int(sum(np.sum(x["capped"]) for x in toys))
    out["n_runs"] = int(sum(len(x["capped"]) for x in toys))
    return out


# ---------------------------------------------------------------------------------------------
# Words for the page, decided by the numbers (the rule's own comparison: verdicts.side)
# ---------------------------------------------------------------------------------------------
def trend_word(rho: dict | None) -> str:
    """``"falls"`` / ``"rises"`` if the interval of ρ lies below / above 0, else
    ``"shows no clear trend"`` (also for a missing or NaN interval)."""
    return {BELOW: "falls", ABOVE: "rises"}.get(side(rho), "shows no clear trend")


def _pct(first: float, last: float) -> str:
    change = 100.0 * (last / first - 1.0)
    return f"{'fell' if change < 0 else 'rose'} by {abs(change):z.0f} %"


def readings(metrics: dict) -> dict[str, str]:
    """One sentence per data set (``terms_<dataset>``) reading the numerator and the
    denominator of Z between the smallest and the largest dropout rate, trend words
    (``trend_<dataset>``, ``toy_trend``) and the toy's terms (``toy_terms``)."""
    out: dict[str, str] = {}
    for ds, m in metrics["datasets"].items():
        rates = m["rates"]
        d2 = [m["by_rate_d2"][0]["estimate"], m["by_rate_d2"][-1]["estimate"]]
        d1 = [m["by_rate_d1"][0]["estimate"], m["by_rate_d1"][-1]["estimate"]]
        out[f"terms_{ds}"] = _terms(rates[0], rates[-1], d2, d1)
        out[f"trend_{ds}"] = trend_word(m["rho_z"])
    toy = metrics["toy"]
    out["toy_trend"] = trend_word(toy.get("rho_z"))
    d2 = [toy["d2"][0]["estimate"], toy["d2"][-1]["estimate"]]
    d1 = [toy["d1"][0]["estimate"], toy["d1"][-1]["estimate"]]
    out["toy_terms"] = _terms(toy["rates"][0], toy["rates"][-1], d2, d1)
    return out


def _terms(p0: float, p1: float, d2: list, d1: list) -> str:
    head = (
        f"between p = {general(p0)} and p = {general(p1)}, mean|D2| {_pct(*d2)} and mean|D1| "
        f"{_pct(*d1)}"
    )
    r2, r1 = d2[1] / d2[0], d1[1] / d1[0]
    if not (np.isfinite(r2) and np.isfinite(r1)):
        return head + "; the ratio is undefined for some runs"
    if r2 < r1 and r2 >= 1:
        return head + (
            ": the curvature grew, but the slope grew more, so Z fell only because the "
            "logit got steeper"
        )
    if r2 < r1 and r1 > 1:
        return head + (
            ": the logit got steeper, so part of the fall of Z is steepening, not less curvature"
        )
    if r2 < r1:
        return head + (
            ": both fell, the curvature faster, so the function got flatter and, relative to "
            "its slope, less curved"
        )
    if r1 < 1 <= r2 or (r2 > r1 and r1 < 1):
        return head + ": the slope fell more than the curvature, so Z rose"
    return head + ": the curvature grew more than the slope, so Z rose"
