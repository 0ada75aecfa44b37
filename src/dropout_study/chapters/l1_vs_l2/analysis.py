"""The analysis behind the ``l1-vs-l2`` verdict: λ* per penalty (validation data only), the
matched pair, the Hoyer finding, the two checks and the unit findings under one analysis choice
(:func:`evaluate`), and the word the rule gives them (:func:`word_of`). The rule itself is
stated in :mod:`dropout_study.chapters.l1_vs_l2.verdict`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dropout_study.chapters.findings import NO, REVERSED, YES, Finding, from_seeds
from dropout_study.chapters.verdicts import INCONCLUSIVE, NOT_SUPPORTED, PARTLY, SUPPORTED, pick
from dropout_study.measures.stats import mean_ci
from dropout_study.numfmt import general
from dropout_study.validation import fail

__all__ = [
    "MARGINS",
    "HOYER_NAME",
    "strongest_within_margin",
    "matched_index",
    "collapse",
    "evaluate",
    "word_of",
    "page_findings",
    "unit_death",
    "L2_SAME_NAME",
]

MARGINS = (0.005, 0.01, 0.02)
"""Accuracy margins the robustness table uses (the primary one is ``acc_margin``)."""
NEED = ("lambdas", "acc_margin", "hoyer_delta", "n_seeds", "paths", "none_runs")
HOYER_NAME = "Hoyer(L1) − Hoyer(L2) at matched validation loss"
_LAYER_KEY = {"mean": "hoyer", "first": "hoyer_first", "unweighted": "hoyer_unweighted",
              "all": "hoyer_all"}  # fmt: skip
_LAYER_WORDS = {
    "mean": "living units, layers weighted by living weights",
    "first": "first layer, living units",
    "unweighted": "living units, plain mean over layers",
    "all": "all units, dead ones included",
}


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
    validation accuracy, the floor (mean accuracy without a penalty minus ``margin``) and the
    slack of λ*'s accuracy above the floor, in validation examples (``n_val`` examples per
    split)."""
    lams = np.asarray(lambdas, dtype=float)
    acc = np.asarray(val_acc, dtype=float).mean(axis=0)
    floor = float(np.mean(acc_none)) - margin
    if j is None:
        return {"next_lambda": None, "next_ratio": None, "next_acc": None, "slack": None,
                "floor": floor}  # fmt: skip
    bigger = np.flatnonzero(lams > lams[j])
    nxt = int(bigger[np.argmin(lams[bigger])]) if bigger.size else None
    return {
        "next_lambda": None if nxt is None else float(lams[nxt]),
        "next_ratio": None if nxt is None else float(lams[nxt] / lams[j]),
        "next_acc": None if nxt is None else float(acc[nxt]),
        "slack": float((acc[j] - floor) * n_val),
        "floor": floor,
    }


def _arr(block: dict, key: str, owner: str = "l1_vs_l2") -> np.ndarray:
    if key not in block:
        fail("metrics", owner, f"paths holding {key!r}", sorted(block))
    return np.asarray(block[key], dtype=float)


def _delta_source(delta: float) -> str:
    return (
        f"convention: a difference of {general(delta)} on the Hoyer index's [0, 1] scale "
        "(this study; varied at half and double)"
    )


def _units(dead_pen, dead_none, pen: str) -> Finding:
    """Dead hidden units under ``pen`` minus the unregularised network's, per seed (sign).
    A seed with equal counts is a tie (STUDY.md, "Degenerate and not applicable": tied in at
    least half the seeds → not applicable, shown with the reason)."""
    a, b = np.asarray(dead_pen, float), np.asarray(dead_none, float)
    return from_seeds(
        f"dead hidden units, {pen.upper()} − none",
        "sign",
        a - b,
        direction=1,
        role="exploratory",
        ties=a == b,
    )


L2_SAME_NAME = "Hoyer(L2) − Hoyer(none) at the matched λ"


def _l2_vs_none(p2: dict, none: dict, j2: int, layer: str, delta: float) -> Finding:
    """ "L2 shrinks without selecting", tested: the paired difference Hoyer(L2 at the matched
    λ) − Hoyer(unregularised), an *equivalence* at ±δ (the chapter's Hoyer margin):
    ``yes`` when L2 leaves the concentration of the weights unchanged. Exploratory: STUDY.md
    v3's rule does not use it; the page shows it beside the verdict."""
    key = _LAYER_KEY[layer]
    values = _arr(p2, key)[:, j2] - np.asarray(none[key], dtype=float)
    tag = "" if layer == "mean" else f" ({_LAYER_WORDS[layer]})"
    return from_seeds(
        f"{L2_SAME_NAME}{tag}",
        "equivalence",
        values,
        margin=delta,
        margin_source=_delta_source(delta),
        role="exploratory",
    )


def _checks(p2: dict, j2: int) -> dict:
    """The two checks at L2's matched λ (module docstring)."""
    zeros = _arr(p2, "exact_zero")[:, j2]
    ratio = _arr(p2, "norm_ratio_ref")[:, j2]
    out: dict[str, Any] = {
        "zeros": {
            "seeds_with_zeros": int(np.sum(zeros > 0)),
            "n": int(zeros.size),
            "share": float(zeros.mean()),
            "passed": bool(np.all(zeros == 0)),
        },
        "norm": {
            "applicable": j2 > 0,
            "mean": float(ratio.mean()),
            "max": float(ratio.max()),
            "seeds_below": int(np.sum(ratio < 1)),
            "n": int(ratio.size),
            "passed": bool(j2 == 0 or np.all(ratio < 1)),
        },
    }
    out["passed"] = out["zeros"]["passed"] and out["norm"]["passed"]
    return out


def word_of(e: dict, *, units: bool = False) -> str:
    """The rule (module docstring) on an :func:`evaluate` result; with ``units``, L2's unit
    finding ``yes`` also counts as L2 selecting."""
    if e["star_l1"] is None:
        return NOT_SUPPORTED
    if e.get("finding") is None:  # no L2 λ to anchor on (anchor "l2" / "own")
        return INCONCLUSIVE
    o = e["finding"].counted
    if o == YES:
        selects = units and e["units_l2"].counted == YES
        return PARTLY if (selects or not e["checks"]["passed"]) else SUPPORTED
    if o in (NO, REVERSED):
        return NOT_SUPPORTED
    return INCONCLUSIVE


def evaluate(metrics, *, margin=None, delta=None, anchor="l1", layer="mean",
             measure="hoyer", role="primary") -> dict:  # fmt: skip
    """The rule under one analysis choice: λ*, the matched pair, the Hoyer finding (named
    :data:`HOYER_NAME` for the primary), the checks, the unit findings and the word.

    ``anchor``: ``"l1"`` (primary: L2 matched to L1 at λ*(L1)), ``"l2"`` (L1 matched to L2 at
    λ*(L2)) or ``"own"`` (each at its own λ*); ``layer``: ``"mean"`` (living units, layers
    weighted by living weights), ``"first"``, ``"unweighted"`` or ``"all"`` (dead units
    included); ``measure``: ``"hoyer"`` or ``"hoyer_change"`` (from each path's smallest λ).
    """
    m = pick(metrics, NEED, "l1_vs_l2")
    margin = m["acc_margin"] if margin is None else margin
    delta = m["hoyer_delta"] if delta is None else delta
    lams = np.asarray(m["lambdas"], dtype=float)
    p1, p2 = m["paths"]["l1"], m["paths"]["l2"]
    acc_none = np.asarray(m["none_runs"]["val_acc"], dtype=float)
    out: dict = {"margin": margin, "delta": delta, "anchor": anchor, "finding": None}
    s1 = strongest_within_margin(lams, _arr(p1, "val_acc"), acc_none, margin)
    s2 = strongest_within_margin(lams, _arr(p2, "val_acc"), acc_none, margin)
    out["star_l1"] = None if s1 is None else float(lams[s1])
    out["star_l2"] = None if s2 is None else float(lams[s2])
    if "n_val" in metrics:
        for pen, j in (("l1", s1), ("l2", s2)):
            acc = _arr(m["paths"][pen], "val_acc")
            out[f"collapse_{pen}"] = collapse(lams, acc, j, acc_none, margin, metrics["n_val"])
    if s1 is None or (anchor != "l1" and s2 is None):
        out["word"] = word_of(out)
        return out
    loss1, loss2 = _arr(p1, "val_loss"), _arr(p2, "val_loss")
    if anchor == "l1":
        j1, j2 = s1, matched_index(loss2, loss1[:, s1].mean())
    elif s2 is None:  # returned above: only the l1 anchor goes on without λ*(L2)
        raise AssertionError(f"anchor {anchor!r} without λ*(L2)")
    elif anchor == "l2":
        j1, j2 = matched_index(loss1, loss2[:, s2].mean()), s2
    else:
        j1, j2 = s1, s2
    out.update(j1=j1, j2=j2, lam_l1=float(lams[j1]), lam_l2=float(lams[j2]))
    out.update(val_loss_l1=float(loss1[:, j1].mean()), val_loss_l2=float(loss2[:, j2].mean()))
    h1, h2 = _arr(p1, _LAYER_KEY[layer]), _arr(p2, _LAYER_KEY[layer])
    a, b = h1[:, j1], h2[:, j2]
    if measure == "hoyer_change":
        a, b = a - h1[:, 0], b - h2[:, 0]
    values = a - b
    out["values"] = values
    name = HOYER_NAME if role == "primary" else f"{HOYER_NAME} ({_choice_tag(out, layer, measure)})"
    out["finding"] = from_seeds(
        name,
        "effect",
        values,
        margin=delta,
        margin_source=_delta_source(m["hoyer_delta"]),
        direction=1,
        role=role,
    )
    out["checks"] = _checks(p2, j2)
    dead_none = m["none_runs"]["dead"]
    out["units_l1"] = _units(_arr(p1, "dead")[:, j1], dead_none, "l1")
    out["units_l2"] = _units(_arr(p2, "dead")[:, j2], dead_none, "l2")
    if role == "primary" and all(k in m["none_runs"] for k in ("hoyer", "hoyer_all")):
        for lay, key in (("mean", "l2_same"), ("all", "l2_same_all")):
            out[key] = _l2_vs_none(p2, m["none_runs"], j2, lay, m["hoyer_delta"])
    out["word"] = word_of(out)
    return out


def _choice_tag(e: dict, layer: str, measure: str) -> str:
    parts = [f"margin {general(e['margin'])}", f"δ = {general(e['delta'])}", e["anchor"]]
    parts.append(_LAYER_WORDS[layer])
    if measure != "hoyer":
        parts.append(measure)
    return ", ".join(parts)


def page_findings(e: dict) -> list[Finding]:
    """The findings the page lists: the primary Hoyer finding and the two unit findings."""
    if e.get("finding") is None:
        return []
    extra = [e[k] for k in ("l2_same", "l2_same_all") if k in e]
    return [e["finding"], e["units_l1"], e["units_l2"], *extra]


def _clipped(ci: dict) -> dict:
    """A share's interval clipped to [0, 1] (a t interval over few seeds can leave it)."""
    return {**ci, "low": max(ci["low"], 0.0), "high": min(ci["high"], 1.0)}


def unit_death(metrics, e: dict) -> dict:
    """At the matched pair: mean dead units (none, L1, L2) and, over the seeds where L1 has
    exact zeros, the share of them that enter or leave a dead unit (mean and t interval)."""
    p1, p2 = metrics["paths"]["l1"], metrics["paths"]["l2"]
    share = _arr(p1, "zeros_on_dead")[:, e["j1"]]
    ok = np.isfinite(share)
    return {
        "dead_none": float(np.mean(metrics["none_runs"]["dead"])),
        "dead_l1": float(_arr(p1, "dead")[:, e["j1"]].mean()),
        "dead_l2": float(_arr(p2, "dead")[:, e["j2"]].mean()),
        "living_l1": float(np.mean(metrics["hidden_units"] - _arr(p1, "dead")[:, e["j1"]]))
        if "hidden_units" in metrics
        else None,
        "seeds_more_l2": int(
            np.sum(_arr(p2, "dead")[:, e["j2"]] > np.asarray(metrics["none_runs"]["dead"], float))
        ),
        "share": _clipped(mean_ci(share[ok])) if ok.sum() >= 2 else None,
        "n_share": int(ok.sum()),
        "n": int(share.size),
        "living_zero_l1": float(np.nanmean(_arr(p1, "living_exact_zero")[:, e["j1"]])),
    }
