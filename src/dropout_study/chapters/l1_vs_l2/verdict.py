"""The verdict rule of the ``l1-vs-l2`` chapter: :func:`decide` and :func:`robustness`.

The claim has two halves, "L1 makes weights sparse" and "L2 shrinks them" — read, as people
use it, as *L2 shrinks without selecting*. Each half is a test that can fail (STUDY.md,
chapter 4).

**Selection (validation data only).** For each penalty, λ* is the largest λ of the grid whose
mean validation accuracy over seeds is at least the unregularised network's minus the margin
(:func:`strongest_within_margin`). The primary anchor is λ*(L1); L2 is compared at the λ of
its path whose mean validation *loss* is nearest to L1's there (:func:`matched_index`: matched
validation loss). Nothing here reads test data.

**Measures at the matched pair** (per seed, paired): the Hoyer index
``H(w) = (√n − ‖w‖₁/‖w‖₂)/(√n − 1)`` (Hoyer 2004), per layer over living units, averaged over
layers weighted by their numbers of living weights; the share of L2 weights exactly 0; the
L2 norm ratio ``‖w_λ*‖/‖w_ref‖`` at L2's own λ* against the smallest λ of its path (the
reference point).

**Rule** (margins: ``hoyer_delta`` δ from the metrics, :data:`MIN_SEEDS`):

1. *L1 selects more than L2*: the 95 % interval (:func:`stats.seed_interval`) of the paired
   difference ``H(L1) − H(L2)`` lies above δ → holds; below δ → fails; contains δ → undecided.
2. *L2 selects no weights*: no weight exactly 0 under L2 at the matched λ, in every seed.
3. *L2 shrinks*: the interval of the L2 norm ratio lies below 1 → holds; at or above 1 → fails;
   contains 1 → undecided.

**inconclusive** if fewer than :data:`MIN_SEEDS` seeds (or fewer than half of them) have a
defined Hoyer index under both penalties, or part 1 is undecided, or parts 1–2 hold and part 3
is undecided; **not supported** if no L1 λ > 0 is within the margin or part 1 fails;
**supported** if all three hold; otherwise (part 1 holds, 2 or 3 fails) **partly supported**.
Dead hidden units are counted and reported apart (:func:`unit_selection`); only the robustness
alternative "dead units count as selection" lets them change the word.

The robustness table re-decides the rule at the other accuracy margins of
:data:`MARGINS`, at δ/2 and 2δ, anchored at λ*(L2), at each penalty's own λ*, on the first
layer only, on the unweighted mean over layers, on the Hoyer change from each path's
smallest λ, on the v1 near-zero share, and with dead units counted as selection.
"""

from __future__ import annotations

import math

import numpy as np

from dropout_study.chapters.verdicts import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    PARTLY,
    SUPPORTED,
    Robustness,
    Verdict,
    pick,
)
from dropout_study.chapters.verdicts import robustness as _table
from dropout_study.measures.stats import seed_interval
from dropout_study.numfmt import general
from dropout_study.validation import fail

__all__ = [
    "L1_VS_L2_CLAIM",
    "few_seeds_text",
    "MARGINS",
    "MIN_SEEDS",
    "strongest_within_margin",
    "matched_index",
    "collapse",
    "unit_selection",
    "evaluate",
    "decide",
    "robustness",
]

L1_VS_L2_CLAIM = "L1 makes weights sparse, L2 shrinks them."
MARGINS = (0.005, 0.01, 0.02)
"""Accuracy margins the robustness table uses (the primary one is ``acc_margin``)."""
MIN_SEEDS = 5
"""Fewest seeds with a defined Hoyer index under both penalties for a definite verdict."""
NEED = ("lambdas", "acc_margin", "hoyer_delta", "n_seeds", "paths", "none_runs")


def strongest_within_margin(lambdas, val_acc, acc_none, margin: float) -> int | None:
    """Index of the largest λ whose mean validation accuracy over seeds is
    ``>= mean(acc_none) − margin``; ``None`` if no λ is.

    ``lambdas`` ``(L,)``; ``val_acc`` ``(S, L)`` validation accuracies; ``acc_none`` ``(S,)``
    the unregularised networks' validation accuracies.
    """
    lams = np.asarray(lambdas, dtype=float)
    acc = np.asarray(val_acc, dtype=float).mean(axis=0)
    floor = float(np.mean(acc_none)) - margin - 1e-12
    ok = np.flatnonzero(acc >= floor)
    return int(ok[np.argmax(lams[ok])]) if ok.size else None


def matched_index(val_loss, target: float) -> int:
    """Index of the λ whose mean validation loss over seeds (``val_loss`` ``(S, L)``, nats) is
    nearest to ``target``; ties go to the first."""
    mean = np.asarray(val_loss, dtype=float).mean(axis=0)
    return int(np.argmin(np.abs(mean - target)))


def collapse(lambdas, val_acc, j: int | None, acc_none, margin: float, n_val: int) -> dict:
    """How close λ*[j] is to collapse: the next larger λ of the grid, its ratio to λ*, its mean
    validation accuracy, and the slack of λ*'s accuracy above the floor, in validation
    examples (``n_val`` examples per split)."""
    lams = np.asarray(lambdas, dtype=float)
    acc = np.asarray(val_acc, dtype=float).mean(axis=0)
    floor = float(np.mean(acc_none)) - margin
    if j is None:
        return {"next_lambda": None, "next_ratio": None, "next_acc": None, "slack": None}
    bigger = np.flatnonzero(lams > lams[j])
    nxt = int(bigger[np.argmin(lams[bigger])]) if bigger.size else None
    return {
        "next_lambda": None if nxt is None else float(lams[nxt]),
        "next_ratio": None if nxt is None else float(lams[nxt] / lams[j]),
        "next_acc": None if nxt is None else float(acc[nxt]),
        "slack": float((acc[j] - floor) * n_val),
    }


def unit_selection(dead_l2, dead_none) -> dict:
    """Dead hidden units under L2 against the unregularised network of the same seed:
    ``seeds_more`` (seeds with more dead units under L2), mean counts, and the interval of the
    paired difference; ``selects`` is True when that interval lies above 0."""
    d2, d0 = np.asarray(dead_l2, float), np.asarray(dead_none, float)
    iv = seed_interval(d2 - d0)
    return {
        "seeds_more": int(np.sum(d2 > d0)),
        "n": int(d2.size),
        "mean_l2": float(d2.mean()),
        "mean_none": float(d0.mean()),
        "diff": iv.estimate,
        "low": iv.low,
        "high": iv.high,
        "selects": bool(iv.low > 0),
    }


def _arr(block: dict, key: str, owner: str) -> np.ndarray:
    if key not in block:
        fail("metrics", owner, f"paths holding {key!r}", sorted(block))
    return np.asarray(block[key], dtype=float)


def _versus(iv, bound: float) -> bool | None:
    """True if the interval lies above ``bound``, False if at or below it, None if it
    contains it."""
    if iv.low > bound:
        return True
    if iv.high <= bound or (iv.degenerate and iv.estimate <= bound):
        return False
    return None


def evaluate(metrics, *, margin=None, delta=None, anchor="l1", layer="mean",
             measure="hoyer", units=False) -> dict:  # fmt: skip
    """Apply the rule under one analysis choice; returns the word and every number it used.

    ``anchor``: ``"l1"`` (primary: L2 matched to L1 at λ*(L1)), ``"l2"`` (L1 matched to L2 at
    λ*(L2)) or ``"own"`` (each at its own λ*); ``layer``: ``"mean"`` over layers (weighted by
    living weights), ``"unweighted"`` or ``"first"``; ``measure``: ``"hoyer"``,
    ``"hoyer_change"`` (from each path's smallest λ) or ``"near_zero"`` (share
    ``|w| < rel·max|w|``, bound 0 instead of δ); ``units``: dead units under L2 count as
    selection.
    """
    owner = "l1_vs_l2"
    m = pick(metrics, NEED, owner)
    margin = m["acc_margin"] if margin is None else margin
    delta = m["hoyer_delta"] if delta is None else delta
    lams = np.asarray(m["lambdas"], dtype=float)
    p1, p2 = m["paths"]["l1"], m["paths"]["l2"]
    acc_none = np.asarray(m["none_runs"]["val_acc"], dtype=float)
    out = {"margin": margin, "delta": delta, "anchor": anchor}
    s1 = strongest_within_margin(lams, _arr(p1, "val_acc", owner), acc_none, margin)
    s2 = strongest_within_margin(lams, _arr(p2, "val_acc", owner), acc_none, margin)
    out["star_l1"] = None if s1 is None else float(lams[s1])
    out["star_l2"] = None if s2 is None else float(lams[s2])
    if "n_val" in metrics:
        for pen, j in (("l1", s1), ("l2", s2)):
            out[f"collapse_{pen}"] = collapse(
                lams, _arr(m["paths"][pen], "val_acc", owner), j, acc_none, margin, metrics["n_val"]
            )
    if s1 is None or (anchor != "l1" and s2 is None):
        who = "L1" if s1 is None else "L2"
        out.update(word=NOT_SUPPORTED if s1 is None else INCONCLUSIVE, reason=f"no_{who}")
        return out
    if anchor == "l1":
        j1 = s1
        j2 = matched_index(_arr(p2, "val_loss", owner), _arr(p1, "val_loss", owner)[:, j1].mean())
    elif anchor == "l2":
        j2 = s2
        j1 = matched_index(_arr(p1, "val_loss", owner), _arr(p2, "val_loss", owner)[:, j2].mean())
    else:
        j1, j2 = s1, s2
    out.update(j1=j1, j2=j2, lam_l1=float(lams[j1]), lam_l2=float(lams[j2]))
    out["val_loss_l1"] = float(_arr(p1, "val_loss", owner)[:, j1].mean())
    out["val_loss_l2"] = float(_arr(p2, "val_loss", owner)[:, j2].mean())
    key = {"first": "hoyer_first", "unweighted": "hoyer_unweighted"}.get(layer, "hoyer")
    bound = 0.0 if measure == "near_zero" else delta
    if measure == "near_zero":
        a, b = _arr(p1, "near_zero", owner)[:, j1], _arr(p2, "near_zero", owner)[:, j2]
    else:
        h1, h2 = _arr(p1, key, owner), _arr(p2, key, owner)
        a, b = h1[:, j1], h2[:, j2]
        if measure == "hoyer_change":
            a, b = a - h1[:, 0], b - h2[:, 0]
    ok = np.isfinite(a) & np.isfinite(b)
    n_ok, n_all = int(ok.sum()), int(a.size)
    out.update(n_qualified=n_ok, n_seeds=n_all, bound=bound)
    zeros2 = _arr(p2, "exact_zero", owner)[:, j2]
    out["l2_zero_share"] = float(zeros2.mean())
    out["l2_zero_seeds"] = int(np.sum(zeros2 > 0))
    no_zeros = bool(np.all(zeros2 == 0))
    units_info = unit_selection(_arr(p2, "dead", owner)[:, j2], m["none_runs"]["dead"])
    out["units"] = units_info
    ratio_idx = s2 if s2 is not None else j2
    ratio = seed_interval(_arr(p2, "norm_ratio_ref", owner)[:, ratio_idx])
    out["ratio"] = ratio.as_dict()
    shrink = _versus(seed_interval(1.0 - _arr(p2, "norm_ratio_ref", owner)[:, ratio_idx]), 0.0)
    if s2 is None:
        shrink = False
    out["shrink"] = shrink
    out["no_zeros"] = no_zeros
    if n_ok < max(MIN_SEEDS, math.ceil(n_all / 2)):
        out.update(word=INCONCLUSIVE, reason="few_seeds", select=None)
        return out
    diff = seed_interval((a - b)[ok])
    out["diff"] = diff.as_dict()
    select = _versus(diff, bound)
    out["select"] = select
    l2_selects = (not no_zeros) or (units and units_info["selects"])
    if select is False:
        word, reason = NOT_SUPPORTED, "no_selection"
    elif select is None:
        word, reason = INCONCLUSIVE, "straddles"
    elif l2_selects:
        word, reason = PARTLY, "l2_selects"
    elif shrink is None:
        word, reason = INCONCLUSIVE, "shrink_straddles"
    elif shrink:
        word, reason = SUPPORTED, "all"
    else:
        word, reason = PARTLY, "no_shrink"
    out.update(word=word, reason=reason)
    return out


def few_seeds_text(e: dict) -> str:
    """Why too few seeds qualified, in words (an :func:`evaluate` result's inconclusive reason)."""
    need = f"at least {MIN_SEEDS} seeds and at least half of them are needed"
    if e["n_qualified"] == e["n_seeds"]:
        return f"{e['n_seeds']} seeds are too few for a definite verdict ({need})"
    some = f"only {e['n_qualified']} of" if e["n_qualified"] else "none of the"
    return f"{some} {e['n_seeds']} seeds had a defined Hoyer index under both penalties ({need})"


def _fmt_iv(d: dict) -> str:
    return f"{d['estimate']:z.3f} [{d['low']:z.3f}, {d['high']:z.3f}]"


def _collapse_text(e: dict) -> str:
    parts = []
    for pen in ("l1", "l2"):
        c = e.get(f"collapse_{pen}")
        if c and c["slack"] is not None:
            nxt = (
                ""
                if c["next_lambda"] is None
                else (f", next λ ×{general(c['next_ratio'], 2)}: accuracy {c['next_acc']:z.3f}")
            )
            parts.append(f"λ*({pen.upper()}) {c['slack']:z.2f} validation examples above the "
                         f"floor{nxt}")  # fmt: skip
    return "; ".join(parts)


def _detail(e: dict, *, margin_row: bool = False, units_row: bool = False) -> str:
    if e["reason"] in ("no_L1", "no_L2"):
        text = f"no {e['reason'][3:]} λ > 0 within the margin"
    else:
        text = f"L1 λ = {general(e['lam_l1'])}, L2 λ = {general(e['lam_l2'])}"
        if "diff" in e:
            what = "near-zero share" if e["bound"] == 0.0 else "Hoyer"
            text += f"; {what} L1 − L2 = {_fmt_iv(e['diff'])} vs {general(e['bound'])}"
        else:
            text += f"; {e['n_qualified']} of {e['n_seeds']} seeds qualified"
    if units_row and "units" in e:
        u = e["units"]
        text += f"; dead units L2 − none = {u['diff']:z.2f} [{u['low']:z.2f}, {u['high']:z.2f}]"
    if margin_row and _collapse_text(e):
        text += f" ({_collapse_text(e)})"
    return text


def decide(metrics) -> Verdict:
    """Verdict of chapter 4 under the primary analysis (see the module docstring)."""
    e = evaluate(metrics)
    n = metrics["n_seeds"]
    margin = e["margin"]
    head = (
        f"Over {n} paired seeds, each network trained to its early-stopping rule, at the "
        f"strongest λ keeping mean validation accuracy within {general(margin)} of the "
        f"unregularised network's"
    )
    if e["reason"] == "no_L1":
        sentence = f"{head}: no L1 λ > 0 qualified, so L1 gets no credit for sparsity."
        return Verdict(L1_VS_L2_CLAIM, e["word"], sentence)
    head += (
        f" (λ*(L1) = {general(e['lam_l1'])}), matched in validation loss by L2 at "
        f"λ = {general(e['lam_l2'])}"
    )
    head += f" ({e['val_loss_l1']:z.3f} vs {e['val_loss_l2']:z.3f} nats)"
    if e["reason"] == "few_seeds":
        sentence = f"{head}, {few_seeds_text(e)}."
        return Verdict(L1_VS_L2_CLAIM, e["word"], sentence)
    d = e["diff"]
    parts = [
        f"the Hoyer index of L1 minus that of L2 is {d['estimate']:z.3f} (95 % CI "
        f"[{d['low']:z.3f}, {d['high']:z.3f}], {d['method']}) against the margin δ = "
        f"{general(e['delta'])}",
        f"L2 left {100 * e['l2_zero_share']:z.1f} % of its weights exactly 0 "
        f"({e['l2_zero_seeds']} of {e['n_seeds']} seeds with any)",
    ]
    r = e["ratio"]
    if e["star_l2"] is not None:
        parts.append(
            f"at its own λ* = {general(e['star_l2'])} L2 scaled the weight norm to "
            f"{r['estimate']:z.2f} "
            f"of its path's smallest λ (95 % CI [{r['low']:z.2f}, {r['high']:z.2f}])"
        )
    else:
        parts.append("no L2 λ > 0 was within the margin, so L2 gets no credit for shrinkage")
    u = e["units"]
    sentence = f"{head}, {'; '.join(parts)}."
    if u["selects"]:
        sentence += (
            f" L2 does select at the level of units: it left {u['mean_l2']:z.1f} dead hidden "
            f"units per network against {u['mean_none']:z.1f} without a penalty."
        )
    elif u["seeds_more"]:
        sentence += (
            f" L2 left more dead hidden units than the unregularised network in "
            f"{u['seeds_more']} of {u['n']} seeds ({u['mean_l2']:z.1f} vs {u['mean_none']:z.1f} "
            f"per network), an interval that includes no change."
        )
    return Verdict(L1_VS_L2_CLAIM, e["word"], sentence)


def alternatives(metrics) -> list[tuple[str, dict]]:
    """``(choice, evaluation)`` for every alternative analysis of the robustness table."""
    base = metrics["acc_margin"]
    delta = metrics["hoyer_delta"]
    rows = [(f"accuracy margin {general(mg)}", evaluate(metrics, margin=mg)) for mg in MARGINS
            if not math.isclose(mg, base)]  # fmt: skip
    rows += [
        (f"Hoyer margin δ = {general(delta / 2)}", evaluate(metrics, delta=delta / 2)),
        (f"Hoyer margin δ = {general(2 * delta)}", evaluate(metrics, delta=2 * delta)),
        ("anchored at λ*(L2), L1 matched to it", evaluate(metrics, anchor="l2")),
        ("each penalty at its own λ* (no matching)", evaluate(metrics, anchor="own")),
        ("Hoyer of the first layer only", evaluate(metrics, layer="first")),
        ("Hoyer averaged over layers unweighted", evaluate(metrics, layer="unweighted")),
        ("Hoyer change from each path's smallest λ", evaluate(metrics, measure="hoyer_change")),
        ("near-zero share (v1 measure), bound 0", evaluate(metrics, measure="near_zero")),
        ("dead units under L2 count as selection", evaluate(metrics, units=True)),
    ]
    return rows


def robustness(metrics) -> Robustness:
    """The primary verdict re-decided under each alternative of :func:`alternatives`."""
    primary = decide(metrics).word
    rows = [
        (
            c,
            e["word"],
            _detail(
                e, margin_row=c.startswith("accuracy margin"), units_row=c.startswith("dead units")
            ),
        )  # fmt: skip
        for c, e in alternatives(metrics)
    ]
    return _table(primary, rows)
