"""Tables of chapter 4 (``l1-vs-l2``) as MyST markdown for ``{glue:md}``: the networks the
verdict compares, side by side (no regulariser, L1 at λ*(L1), L2 at the matched λ, dropout),
and how well the primary finding was measured.

Each cell is a mean over seeds with its 95 % interval (:func:`dropout_study.measures.stats.
mean_ci`, Student-t below 20 seeds, BCa from 20); a measure undefined in some seeds is shown
over the seeds where it is defined, with their count.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from dropout_study.chapters.power import power
from dropout_study.measures.stats import mean_ci
from dropout_study.numfmt import bracket, general, plain

__all__ = ["ROWS", "side_by_side", "power_text"]

PCT = (1, False, 100.0, " %")
"""A share shown in %: one decimal."""

ROWS = (
    ("dead", "dead hidden units (of {width})", (1, False)),
    ("exact_zero", "weights exactly 0", PCT),
    ("living_exact_zero", "weights exactly 0 among living units", PCT),
    ("zeros_on_dead", "exact zeros that belong to dead units", PCT),
    ("near_zero", "weights with |w| < {rel}·max|w|", PCT),
    ("hoyer", "Hoyer index, living units", (3, False)),
    ("hoyer_all", "Hoyer index, all units", (3, False)),
    ("balance_median", "median ln(‖u_j‖/‖v_j‖), living units", (2, True)),
    ("norm_ratio", "weight norm / unregularised network's", (2, False)),
    ("val_acc", "validation accuracy", (3, False)),
)
"""(measure key, row label, (decimals, sign[, scale, unit]))."""


def _fmt(x: float, how: tuple, digits: int | None = None) -> str:
    decimals, sign, scale, unit = (*how, 1.0, "")[:4]
    return plain(scale * x, decimals if digits is None else digits, sign) + unit


def _cell(values, how: tuple) -> str:
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    if ok.sum() == 0:
        return "undefined"
    if ok.sum() == 1 or np.ptp(v[ok]) == 0:
        text = _fmt(float(v[ok][0]) if ok.sum() == 1 else float(v[ok].mean()), how)
    else:
        c = mean_ci(v[ok])
        text = bracket(c["mean"], c["low"], c["high"], how[0], lambda x, d: _fmt(x, how, d))
    if ok.sum() < v.size:
        text += f" ({ok.sum()} of {v.size} seeds)"
    return text


def side_by_side(result, e: dict) -> str:
    """The compared networks side by side (an :func:`~.analysis.evaluate` result ``e`` names
    L1's and L2's λ); one row per measure of :data:`ROWS`."""
    mlp = result.mlp
    cols = [("none", mlp["none"], 0)]
    if e.get("j1") is not None:
        cols += [
            (f"L1, λ = {general(e['lam_l1'])}", mlp["l1"], e["j1"]),
            (f"L2, λ = {general(e['lam_l2'])}", mlp["l2"], e["j2"]),
        ]
    cols.append((f"dropout, p = {general(result.params['dropout_rate'])}", mlp["dropout"], 0))
    width = sum(result.params["hidden"])
    rel = general(result.metrics["near_zero_rel"])
    lines = ["```{list-table}", ":header-rows: 1", "", "* - measure"]
    lines += [f"  - {name}" for name, _, _ in cols]
    for key, label, how in ROWS:
        lines.append(f"* - {label.format(width=width, rel=rel)}")
        lines += [f"  - {_cell(block[key][:, j], how)}" for _, block, j in cols]
    return "\n".join([*lines, "```", ""])


def power_text(e: dict) -> str:
    """How well the primary finding was measured: its half-width against the margin and,
    when it is undecided, roughly how many seeds a decision would need."""
    f = e.get("finding")
    if f is None:
        return "No finding was measured: no L1 λ > 0 stayed within the accuracy margin."
    values = np.asarray(e["values"], dtype=float)
    values = values[np.isfinite(values)]
    sd = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
    pw = power(f, sd)
    text = (
        f"The primary finding's interval has a half-width of {pw['half_width']:z.3f} against a "
        f"margin of {pw['margin']:g} ({f.n} seeds)"
    )
    if sd > 0 and f.n > 1:
        # P(low > m) when the true difference is 2m: Φ(m·√n / s − t), t the interval's multiplier
        t = float(sps.t.ppf(0.975, f.n - 1))
        pw2 = float(sps.norm.cdf(pw["margin"] * np.sqrt(f.n) / sd - t))
        text += (
            f"; with this spread over seeds ({sd:z.3f}), a true difference of twice the margin "
            f"would be shown with a probability of about {100 * pw2:z.0f} %"
        )
    if pw["seeds_needed"] is not None:
        text += f"; a decision would need roughly {pw['seeds_needed']} seeds"
    return text + "."
