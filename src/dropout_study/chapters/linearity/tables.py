"""Markdown tables of chapter 5 (``linearity``), one row per data set (the page glues them
with ``{glue:md}``), built from the metrics of
:func:`dropout_study.chapters.linearity.summary.summarise` and, for every word that reads an
interval ("a trend in the predicted direction", "not shown", ...), from the findings of
:mod:`dropout_study.chapters.linearity.rule_findings` — never from a comparison made here.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from dropout_study.chapters.findings import INCONCLUSIVE, REVERSED, YES, Finding
from dropout_study.chapters.linearity.rule_findings import (
    ANALOGY_WORDS,
    exploratory,
    label,
    parts_of,
)
from dropout_study.chapters.power import power
from dropout_study.chapters.wording import interval_text, outcome_words
from dropout_study.numfmt import bracket, general, plain

__all__ = ["tables", "HELPED_WORDS", "grid_top", "edge_text"]

HELPED_WORDS = {YES: "lowered", INCONCLUSIVE: "not shown", REVERSED: "raised"}
"""Words for dropout's effect on test loss (a sign finding, direction −1)."""


def _iv(c: dict, decimals: int = 3, sign: bool = False) -> str:
    """A ρ or estimate with its interval by :func:`~dropout_study.numfmt.bracket`."""
    est = c.get("rho", c.get("estimate"))
    if est is None or not math.isfinite(est):
        return "—"
    return bracket(est, c["low"], c["high"], decimals, lambda x, d: plain(x, d, sign))


def _table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def _median(values) -> str:
    v = sorted(x for x in values if x is not None)
    if not v:
        return "—"
    mid = v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])
    return f"{general(mid)}"


def _factor(by_rate: list) -> str:
    """The ratio of the means over seeds at the last and the first rate."""
    first, last = by_rate[0]["estimate"], by_rate[-1]["estimate"]
    return f"{last / first:z.2f}" if first and math.isfinite(last / first) else "—"


def _cell(f: Finding, words: dict | None = None) -> str:
    """Interval and outcome words of a finding (not applicable: with its reason)."""
    if not f.applicable:
        return f"{interval_text(f)}; not applicable ({f.reason})"
    return f"{interval_text(f)}; {words[f.outcome] if words else outcome_words(f)}"


def _power_row(f: Finding, per_seed) -> list[str]:
    v = np.asarray([x for x in per_seed if x is not None], dtype=float)
    sd = float(np.std(v, ddof=1)) if v.size > 1 else 0.0
    if not math.isfinite(f.estimate):
        return [f.name, "—", "—", "—", "—", f"— (not applicable: {f.reason})"]
    pw = power(f, sd)
    twice = "—"
    if f.kind == "trend" and sd > 0 and f.n > 1:
        t = float(sps.t.ppf(0.975, f.n - 1))
        twice = f"{100 * float(sps.norm.cdf(pw['margin'] * math.sqrt(f.n) / sd - t)):z.0f} %"
    need = "—" if pw["seeds_needed"] is None else str(pw["seeds_needed"])
    if not f.applicable:
        need = f"— (not applicable: {f.reason})"
    margin = "0 (sign)" if f.kind == "sign" else general(pw["margin"])
    return [f.name, f"{pw['half_width']:z.3f}", margin, f"{sd:z.3f}", twice, need]


_FAMS = ("dropout", "l2", "l1")
_FAM_WORDS = {"dropout": "dropout's own-best rate", "l2": "L2's own-best λ",
              "l1": "L1's own-best λ"}  # fmt: skip


def grid_top(m: dict, fam: str) -> tuple[int, int]:
    """``(seeds whose own-best setting of fam is its grid's largest value, seeds)``: there a
    larger value might have done better, so the comparison sits at the grid's edge."""
    grid = m["rates"] if fam == "dropout" else m[f"{fam}_lambdas"]
    chosen = np.asarray(m["own_best"][fam]["chosen"], dtype=float)
    return int(np.sum(np.isclose(chosen, max(grid)))), int(chosen.size)


def edge_text(metrics: dict) -> str:
    """The family and data set whose own-best setting sits at the top of its grid most often
    (from :func:`grid_top`), or that none does."""
    ds = metrics["datasets"]
    counts = [(grid_top(m, f), n, f) for n, m in ds.items() for f in _FAMS]
    (k, t), n, f = max(counts, key=lambda c: c[0][0])
    if k == 0:
        return "No family's own-best setting sits at the top of its grid in any seed"
    return (
        f"Most often at the top of its grid: {_FAM_WORDS[f]} on {label(n)}, in {k} of {t} "
        "seeds (a larger value might have done better there; every count is in the table's "
        "last column)"
    )


def _matched_cell(f: dict) -> str:
    """The matched difference, flagged when fewer seeds matched than a decision needs."""
    if not f["n_matched"]:
        return "—"
    text = _iv(f["diff"], 3, sign=True)
    need = f["diff"].get("n_required", 0)
    if f["n_matched"] < need:
        text += f" (not applicable: {f['n_matched']} matched seeds, {need} required)"
    return text


def tables(metrics: dict) -> dict[str, str]:
    """``{"trend", "terms", "training", "helped", "own_best", "own_best_diff", "matched",
    "power", "toy"}`` → Markdown tables."""
    ds = metrics["datasets"]
    parts = parts_of(metrics)
    ex = exploratory(metrics)
    cap, budget = metrics["max_steps"], metrics["budget"]
    out: dict[str, str] = {}
    out["trend"] = _table(
        ["data set", "ρ(p, Z): dropout", "ρ(λ, Z): L2", "ρ(λ, Z): L1"],
        [[label(n), _cell(parts[n]["trend"]), _cell(ex["l2"][n]), _cell(ex["l1"][n])] for n in ds],
    )
    p_last = next(iter(ds.values()))["rates"][-1]
    out["terms"] = _table(
        ["data set", f"mean\\|D2\\|: p = {general(p_last)} / p = 0",
         f"mean\\|D1\\|: p = {general(p_last)} / p = 0", "ρ(p, mean\\|D2\\|)",
         "ρ(p, mean\\|D1\\|)", "ρ(p, 1 − R²)"],
        [
            [label(n), _factor(m["by_rate_d2"]), _factor(m["by_rate_d1"]),
             *(_iv(m[k], 2, sign=True) for k in ("rho_d2", "rho_d1", "rho_misfit"))]
            for n, m in ds.items()
        ],
    )  # fmt: skip
    rows = []
    for n, m in ds.items():
        t = m["training"]
        rows.append([
            label(n), t["n_runs"], f"{t['n_capped']} of {t['n_runs']}",
            f"{general(t['steps_median'])} [{t['steps_min']}–{t['steps_max']}]", t["steps_total"],
            f"{t['n_capped_budget']} of {t['n_runs']}",
        ])  # fmt: skip
    out["training"] = _table(
        ["data set", "networks", f"capped at {cap} steps", "steps trained: median [range]",
         "steps in total", f"capped at the {budget}-step budget"],
        rows,
    )  # fmt: skip
    rows = []
    for n, m in ds.items():
        o, h = m["overfit"], m["dropout_helped"]
        rows.append([
            label(n), _iv(o["train_loss_p0"]), _iv(o["test_loss_p0"]), _iv(o["gap_p0"]),
            _iv(o["val_rise_p0"]), f"{h['n_chose_dropout']} of {len(h['per_seed'])}",
            _cell(ex["helped"][n], HELPED_WORDS),
        ])  # fmt: skip
    out["helped"] = _table(
        ["data set", "p = 0: training loss", "p = 0: test loss", "p = 0: test − training",
         "p = 0: validation-loss rise after its best step", "seeds whose own-best p > 0",
         "test loss: own-best dropout − p = 0 (sign)"],
        rows,
    )  # fmt: skip
    out["own_best"] = _table(
        ["data set", "p (median)", "L2 λ (median)", "L1 λ (median)", "Z dropout", "Z L2",
         "Z L1", "at the top of its grid: p; L2 λ; L1 λ"],
        [
            [label(n), _median(b["dropout"]["chosen"]), _median(b["l2"]["chosen"]),
             _median(b["l1"]["chosen"]), _iv(b["dropout"]["z"], 2), _iv(b["l2"]["z"], 2),
             _iv(b["l1"]["z"], 2),
             "; ".join(f"{k} of {t}" for k, t in (grid_top(ds[n], f) for f in _FAMS))]
            for n, b in ((n, m["own_best"]) for n, m in ds.items())
        ],
    )  # fmt: skip
    out["own_best_diff"] = _table(
        ["data set", "Z(dropout) − Z(L2) (sign)", "dropout lower in", "Z(dropout) − Z(L1)"],
        [
            [label(n), _cell(parts[n]["sign"], ANALOGY_WORDS),
             f"{b['l2']['diff']['n_dropout_lower']} of {b['l2']['diff']['n']}",
             _iv(b["l1"]["diff"], 3, sign=True)]
            for n, b in ((n, m["own_best"]) for n, m in ds.items())
        ],
    )  # fmt: skip
    rows = []
    for n, m in ds.items():
        mm = m["matched"]
        row = [label(n), _iv(mm["target_val_loss"])]
        for fam in ("l2", "l1"):
            f = mm[fam]
            row += [
                f"{f['n_matched']} of {f['n_seeds']} ({f['n_never_reached']} never reached, "
                f"{f['n_always_below']} always below)",
                _matched_cell(f),
                _iv(f["diff_fill"], 3, sign=True),
            ]
        rows.append(row)
    out["matched"] = _table(
        ["data set", "target validation loss", "L2 matched", "Z(dropout) − Z(L2)",
         "with nearest-point fill", "L1 matched", "Z(dropout) − Z(L1)",
         "with nearest-point fill"],
        rows,
    )  # fmt: skip
    rows = []
    for n, m in ds.items():
        v = m["variants"]["primary"]
        rows.append(_power_row(parts[n]["trend"], v["rho"]["per_seed"]))
        rows.append(_power_row(parts[n]["sign"], v["l2"]["per_seed"]))
    out["power"] = _table(
        ["finding", "half-width", "margin", "spread over seeds (SD)",
         "chance to decide at twice the margin", "seeds a decision would need"],
        rows,
    )  # fmt: skip
    toy = metrics["toy"]
    rows = [
        [f"p = {general(p)}", _iv(toy["z"][j], 2), _iv(toy["d2"][j], 3),
         _iv(toy["d1"][j], 3)]
        for j, p in enumerate(toy["rates"])
    ]  # fmt: skip
    rows.append([
        f"p = {general(toy['rates'][-1])} minus p = {general(toy['rates'][0])}, paired",
        _iv(toy["change_z"], 2, sign=True), _iv(toy["change_d2"], 3, sign=True),
        _iv(toy["change_d1"], 3, sign=True),
    ])  # fmt: skip
    out["toy"] = _table(["dropout rate", "Z", "mean\\|D2\\|", "mean\\|D1\\|"], rows)
    return out
