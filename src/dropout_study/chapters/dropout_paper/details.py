"""Details of the ``dropout-paper`` chapter's answer and robustness rows, each built from
findings or from the run's numbers (STUDY.md v3, chapter 6): Fig. 9a at the other rates,
whether Fig. 9b's grid shows an interior optimum, and what §9.1's margin can tell apart."""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from dropout_study.chapters.dropout_paper import paper_findings as pf
from dropout_study.chapters.findings import INCONCLUSIVE, NO, REVERSED, YES, from_seeds

__all__ = ["rate_text", "pn_trend", "pn_text", "wrong_rate_text"]


_GROUP = {YES: "reproduced", NO: "contradicted in this protocol",
          REVERSED: "contradicted in this protocol", INCONCLUSIVE: "undecided"}  # fmt: skip


def _span(rates: list, chosen: list) -> str:
    """``"0.2–0.4"`` for a run of neighbours on the grid ``rates``, else ``"0.2, 0.6"``."""
    idx = [rates.index(r) for r in chosen]
    if len(chosen) > 1 and idx == list(range(idx[0], idx[0] + len(idx))):
        return f"{chosen[0]:g}–{chosen[-1]:g}"
    return ", ".join(f"{r:g}" for r in chosen)


def rate_text(metrics) -> str:
    """Fig. 9a at the other rates of the robustness table (0.2 ≤ p ≤ 0.6), from their
    findings' outcomes: ``""`` when every rate gives the primary's outcome, else e.g.
    ``"Fig. 9a is contradicted in this protocol at p = 0.2–0.4 (undecided at p = 0.5)."``."""
    dg = metrics["digits"]
    rates = [r for r in dg["rates"] if 0.2 <= r <= 0.6 or r == dg["mc_rate"]]
    by: dict[str, list] = {}
    for r in rates:
        f = pf.paper_findings(metrics, rate_9a=r)["fig9a"][0]
        by.setdefault(_GROUP[f.counted], []).append(r)
    main = next(k for k, v in by.items() if dg["mc_rate"] in v)
    other = [f"{k} at p = {_span(rates, v)}" for k, v in by.items() if k != main]
    if not other:
        return ""
    return f"Fig. 9a is {'; '.join(other)} ({main} at p = {dg['mc_rate']:g})."


def pn_trend(metrics):
    """Fig. 9b's shape on the grid: the within-seed Spearman ρ of the test error with p at
    fixed (1 − p)·n (a trend finding, direction −1: error falls as p grows; margin 0.2),
    exploratory."""
    dg = metrics["digits"]
    err = np.asarray(dg["err_pn"], dtype=float)
    rho = [spearmanr(dg["pn_rates"], row).statistic for row in err]
    return from_seeds(
        f"Fig. 9b, shape: ρ(p, test error) at (1 − p)·n = {dg['pn_units']}",
        "trend",
        np.asarray(rho, dtype=float),
        direction=-1,
        role="exploratory",
    )


def pn_text(metrics) -> str:
    """Whether an interior optimum appears on Fig. 9b's grid (the rate with the least mean
    error, and the trend finding :func:`pn_trend`), without numbers."""
    dg = metrics["digits"]
    mean = np.asarray(dg["err_pn"], dtype=float).mean(axis=0)
    j = int(np.argmin(mean))
    where = (
        "inside the grid"
        if 0 < j < len(mean) - 1
        else ("at the grid's largest rate" if j == len(mean) - 1 else "at the grid's smallest rate")
    )
    t = pn_trend(metrics)
    text = f"With (1 − p)·n fixed, the least mean error was {where}"
    if t.counted == YES:
        text += ", and the error fell as p grew across the grid"
    elif t.counted == REVERSED:
        text += ", and the error rose as p grew across the grid"
    return text + "."


def wrong_rate_text(metrics, margin: float) -> str:
    """What §9.1's margin (%) can tell apart: which closed-form ridge solutions of a *wrong*
    rate it would also accept (their relative excess objective at the SGD rate is below the
    margin; ``ridge.wrong_rate_excess``, computed in the experiment)."""
    wrong = metrics["ridge"].get("wrong_rate_excess") or {}
    if not wrong:
        return "no wrong-rate solution was scored in this run"
    pct = {r: 100.0 * v for r, v in wrong.items()}
    ok = [r for r, v in pct.items() if v < margin]
    if ok:
        return "this margin would also accept Γ-ridge at the wrong rate " + ", ".join(
            f"p = {r} ({pct[r]:.3g} % excess)" for r in ok
        )
    r = min(pct, key=lambda k: pct[k])
    return (
        f"this margin rejects Γ-ridge at every wrong rate of the grid (the closest, p = {r}, "
        f"has {pct[r]:.3g} % excess)"
    )


def k_zero_text(metrics) -> str:
    """The smallest k of the grid at which the interval of MC − weight-scaled (points, over
    replicates, :func:`dropout_study.measures.stats.seed_interval`) includes 0, i.e. where the
    difference stops being distinguishable from none."""
    from dropout_study.measures.stats import seed_interval

    dg = metrics["digits"]
    g = dg["groups"]["main"]
    ws, mc = np.asarray(g["err_ws"], dtype=float), np.asarray(g["mc_err"], dtype=float)
    for j, k in enumerate(dg["ks"]):
        iv = seed_interval(100.0 * (mc[:, j] - ws))
        if iv.low <= 0.0 <= iv.high:
            return f"The interval of the difference first includes 0 at k = {k} on this grid"
    return (
        f"The interval of the difference excludes 0 at every k of the grid, up to "
        f"k = {dg['ks'][-1]}"
    )


def fig8_text(metrics) -> str:
    """Fig. 8 in words from its finding: how much lower the mean activation was with
    dropout (≈ %, from the geometric-mean ratio) against the margin's drop, or why the finding
    cannot tell (its control)."""
    f = pf.paper_findings(metrics)["fig8"][0]
    drop = 100.0 * (1.0 - 1.0 / f.estimate)
    need = 100.0 * (1.0 - 1.0 / f.stated_margin)
    if f.estimate >= 1.0:
        head = f"With dropout the mean activation was ≈{drop:z.0f} % lower"
    else:
        head = f"With dropout the mean activation was ≈{-drop:z.0f} % higher"
    if not f.applicable:
        return f"{head}; the finding is not applicable: {f.reason}."
    if f.outcome == YES:
        return f"{head}: sparser beyond the margin's {need:z.0f} % drop."
    if f.outcome == NO:
        return f"{head}: within the margin either way, short of its {need:z.0f} % drop."
    if f.outcome == REVERSED:
        return f"{head}: denser, beyond the margin's {need:z.0f} % the other way."
    return f"{head}; whether the drop reaches the margin's {need:z.0f} % is undecided."
