"""The verdict rule of the ``linearity`` chapter (STUDY.md, chapter 5).

:func:`decide` (metrics → :class:`Verdict`) and :func:`robustness` (metrics →
:class:`Robustness`). Both read, per classification data set, *variants*: an analysis choice
with ``rho`` (the within-seed Spearman ρ(p, Z) averaged over seeds, with ``low``/``high`` of
its 95 % interval over seeds) and ``l2`` (the paired difference Z(dropout) − Z(L2) at a
comparison point: ``estimate``, ``low``, ``high``, ``n`` seeds, and for matched comparisons
``n_required``). The primary variant is ``"primary"``: Z of the logit at the main step h,
networks trained to the stopping rule, each family at its own best validation loss.

Rule, in this order over the data sets (margin 0: an interval "lies above 0" when its low end
is > 0, "below 0" when its high end is < 0, else it "straddles 0"; a NaN end straddles):

1. any data set whose ρ(p, Z) interval lies above 0 → **not supported**;
2. any data set whose ρ(p, Z) interval straddles 0 → **inconclusive**;
3. a comparison that needs matched seeds (``n_required``) and has fewer on some data set →
   **inconclusive** (too few seeds qualified);
4. if on every data set the interval of Z(dropout) − Z(L2) lies below 0 → **supported**;
5. otherwise → **partly supported** (the trend holds, the analogy with L2 does not).

The 1-D toy (``metrics["toy"]["rho_z"]``) is not part of the rule; it qualifies the sentence
("the essay's own 1-D picture goes the other way" when its ρ(p, Z) lies above 0).
Every side word in the sentence comes from :func:`side`, the same comparison as the rule.
"""

from __future__ import annotations

import math

from dropout_study.chapters.verdicts import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    PARTLY,
    SUPPORTED,
    Robustness,
    Verdict,
)
from dropout_study.chapters.verdicts import robustness as _table

__all__ = [
    "LINEARITY_CLAIM",
    "MIN_MATCHED",
    "ABOVE",
    "BELOW",
    "STRADDLES",
    "side",
    "decide",
    "decide_parts",
    "robustness",
    "VARIANT_LABELS",
    "label",
]

LINEARITY_CLAIM = (
    "Dropout makes the learned function more linear: its degree of linearity Z decreases as "
    "the dropout rate increases."
)
MIN_MATCHED = 5
"""Seeds with a matched fit needed on every data set before a matched comparison counts."""
ABOVE, BELOW, STRADDLES = "lies above 0", "lies below 0", "straddles 0"
LABELS = {
    "breast_cancer": "breast cancer",
    "noisy_moons": "noisy moons",
    "digits_small": "digits (small split)",
}
VARIANT_LABELS = {
    "primary": "primary: own best validation loss, logit, main h, stopping rule",
    "matched": "comparison point: matched validation loss",
    "matched_fill": "comparison point: matched, unmatched seeds filled by the nearest point",
    "hidden_last": "layer: last hidden layer instead of the logit",
    "hidden_first": "layer: first hidden layer instead of the logit",
    "budget": "budget: step cap at the fixed budget",
}
_POINTS = {
    "primary": "each family's own best validation loss",
    "matched": "matched validation loss",
    "matched_fill": "matched validation loss (nearest-point fill)",
}


def _num(value) -> float:
    """A metric as float; ``None`` (how metrics.json stores NaN) becomes NaN."""
    return float("nan") if value is None else float(value)


def side(interval) -> str:
    """:data:`ABOVE`, :data:`BELOW` or :data:`STRADDLES` for a dict with ``low``/``high``
    (the rule's comparison with 0; NaN or missing ends straddle)."""
    if not interval:
        return STRADDLES
    low, high = _num(interval.get("low")), _num(interval.get("high"))
    if low > 0:
        return ABOVE
    if high < 0:
        return BELOW
    return STRADDLES


def label(name: str) -> str:
    return LABELS.get(name, name.replace("_", " "))


def _fmt(iv, digits: int) -> str:
    est = _num(iv.get("rho", iv.get("estimate")))
    if not math.isfinite(est):
        return "undefined"
    low, high = _num(iv["low"]), _num(iv["high"])
    flag = " (degenerate)" if iv.get("degenerate") else ""
    return f"{est:+z.{digits}f} [{low:+z.{digits}f}, {high:+z.{digits}f}]{flag}"


def _evidence(parts: dict) -> str:
    """A compact line of the numbers a decision rests on (for the robustness table)."""
    out = []
    for name, v in parts.items():
        d = v["l2"]
        need, n = d.get("n_required"), int(d.get("n") or 0)
        dtxt = f"{n}/{need} matched" if need is not None and n < int(need) else _fmt(d, 3)
        out.append(f"{label(name)}: ρ {_fmt(v['rho'], 2)}, Δ {dtxt}")
    return "; ".join(out)


def _toy_clause(toy) -> str:
    r = (toy or {}).get("rho_z")
    if not r:
        return ""
    s = side(r)
    lead = {
        ABOVE: "The essay's own 1-D picture goes the other way",
        BELOW: "The essay's own 1-D picture agrees",
    }.get(s, "On the essay's own 1-D picture the trend is undecided")
    return f" {lead}: there ρ(p, Z) = {_fmt(r, 2)} {s}."


def decide_parts(parts: dict, toy=None, point: str = "primary") -> Verdict:
    """The rule of the module docstring on ``parts`` = ``{data set: variant}``."""
    if not isinstance(parts, dict) or not parts:
        raise ValueError(
            "The 'parts' parameter of linearity must be a non-empty dict of data sets; "
            f"got {parts!r}."
        )
    rho_side, diff_side, rho_txt, diff_txt, short = {}, {}, [], [], []
    for name, v in parts.items():
        try:
            r, d = v["rho"], v["l2"]
            _num(r["low"]), _num(r["high"]), _num(d["low"]), _num(d["high"])
        except (KeyError, TypeError) as exc:
            raise ValueError(
                f"The 'metrics' parameter of linearity must hold rho and l2 intervals for "
                f"data set {name!r}; got no {exc}."
            ) from exc
        rho_side[name], diff_side[name] = side(r), side(d)
        rho_txt.append(f"{_fmt(r, 2)} on {label(name)} ({rho_side[name]})")
        need = d.get("n_required")
        n = int(d.get("n") or 0)
        if need is not None and n < int(need):
            short.append(name)
            diff_txt.append(f"undecided on {label(name)} ({n} matched seeds, {need} required)")
        else:
            diff_txt.append(f"{_fmt(d, 3)} on {label(name)} ({diff_side[name]})")
    where = _POINTS.get(point, "the comparison point")
    lead = f"Spearman ρ(p, Z) is {'; '.join(rho_txt)}"
    comp = f"at {where}, Z(dropout) − Z(L2) is {'; '.join(diff_txt)}"
    up = [n for n, s in rho_side.items() if s == ABOVE]
    mid = [n for n, s in rho_side.items() if s == STRADDLES]

    def names(xs: list) -> str:
        xs = [label(x) for x in xs]
        return xs[0] if len(xs) == 1 else ", ".join(xs[:-1]) + " and " + xs[-1]

    if up:
        word, why = NOT_SUPPORTED, f"the ρ(p, Z) interval {ABOVE} on {names(up)}"
    elif mid:
        word, why = INCONCLUSIVE, f"the ρ(p, Z) interval {STRADDLES} on {names(mid)}"
    elif short:
        word = INCONCLUSIVE
        why = f"the trend holds, but too few seeds matched on {names(short)}"
    elif all(s == BELOW for s in diff_side.values()):
        word = SUPPORTED
        why = f"ρ(p, Z) and Z(dropout) − Z(L2) both {BELOW} on every data set"
    else:
        not_below = [n for n, s in diff_side.items() if s != BELOW]
        word = PARTLY
        why = (
            f"the trend holds, but Z(dropout) − Z(L2) does not lie below 0 on "
            f"{names(not_below)}: the analogy with L2 does not hold"
        )
    sentence = f"{lead}; {comp}; so {why}.{_toy_clause(toy)}"
    return Verdict(LINEARITY_CLAIM, word, sentence)


def _variants(metrics) -> dict:
    if not isinstance(metrics, dict) or not metrics.get("datasets"):
        raise ValueError(
            "The 'metrics' parameter of linearity must be a dict with a non-empty 'datasets'; "
            f"got {type(metrics).__name__}."
        )
    out = {}
    for name, m in metrics["datasets"].items():
        if not isinstance(m, dict) or "variants" not in m or "primary" not in m["variants"]:
            raise ValueError(
                f"The 'metrics' parameter of linearity must hold variants.primary for data set "
                f"{name!r}; got no 'variants'."
            )
        out[name] = m["variants"]
    return out


def decide(metrics) -> Verdict:
    """The verdict from the primary variant of every data set (rule in the module docstring)."""
    v = _variants(metrics)
    return decide_parts({n: m["primary"] for n, m in v.items()}, metrics.get("toy"))


def robustness(metrics) -> Robustness:
    """The verdict re-decided under every other variant (comparison point, h, layer, budget)
    on all data sets, and on each data set alone (primary variant)."""
    v = _variants(metrics)
    primary = decide(metrics)
    toy = metrics.get("toy")
    rows = []
    names = [k for k in next(iter(v.values())) if k != "primary"]
    for key in names:
        if not all(key in m for m in v.values()):
            continue
        parts = {n: m[key] for n, m in v.items()}
        verdict = decide_parts(parts, toy, point=key)
        choice = VARIANT_LABELS.get(key) or (
            f"step: {key.replace('h=', 'h = ')} instead of the main h"
            if key.startswith("h=")
            else key
        )
        rows.append((choice, verdict.word, _evidence(parts)))
    if len(v) > 1:
        for n, m in v.items():
            verdict = decide_parts({n: m["primary"]}, toy)
            rows.append((f"data set: {label(n)} alone", verdict.word, _evidence({n: m["primary"]})))
    return _table(primary.word, rows)
