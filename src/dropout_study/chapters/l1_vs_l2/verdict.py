"""The verdict rule of the ``l1-vs-l2`` chapter: :func:`decide`, :func:`robustness` and the
findings they rest on (:func:`evaluate`, :func:`page_findings`).

The claim has two halves, "L1 makes weights sparse" and "L2 shrinks them" — read, as people
use it, as *L2 shrinks without selecting*.

**Selection (validation data only).** For each penalty, λ* is the largest λ of the grid whose
mean validation accuracy over seeds is at least the unregularised network's minus the accuracy
margin (:func:`strongest_within_margin`; margin 0.01, a convention varied at 0.005 and 0.02).
L1 is taken at λ*(L1); L2 at the λ of its path whose mean validation *loss* is nearest to
L1's there (:func:`matched_index`: matched validation loss). Nothing here reads test data.

**The finding that decides** (:mod:`dropout_study.chapters.findings`): the paired per-seed
difference of Hoyer indices ``H(L1) − H(L2)`` at the matched pair, ``H(w) = (√n − ‖w‖₁/‖w‖₂) /
(√n − 1)`` (Hoyer 2004) per layer over living units, averaged over layers weighted by their
living weights — an *effect* finding, direction +1, margin δ = ``hoyer_delta`` (a convention of
this study, varied at δ/2 and 2δ). Not applicable when the index is undefined in any seed.

**Checks** (they cannot fail under plain gradient descent unless something is broken): L2
leaves no weight exactly 0 at the matched λ, in any seed (``w ← (1 − lr·λ) w − lr·g`` lands on 0
with probability 0); and L2's weight norm at the matched λ is below its norm at the path's
smallest λ, in every seed (not applicable when the matched λ is the smallest).

**Rule**: no L1 λ > 0 within the accuracy margin → **not supported**; else from the Hoyer
finding's outcome (a not-applicable finding counts as inconclusive): ``yes`` and both checks
pass → **supported**; ``yes`` and a check fails → **partly supported**; ``no`` or ``reversed`` →
**not supported**; ``inconclusive`` → **inconclusive**.

**Units** (reported, STUDY.md v3): dead hidden units per penalty against the unregularised
network of the same seed are *sign* findings (direction +1: more dead units under the penalty;
a test of sign because removing any unit is selection), exploratory. Only the robustness row
"dead units under L2 count as selection" lets L2's unit finding change the word (``yes`` →
partly supported).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

from dropout_study.chapters.findings import INCONCLUSIVE as F_INCONCLUSIVE
from dropout_study.chapters.findings import NO, REVERSED, YES
from dropout_study.chapters.l1_vs_l2.analysis import (
    HOYER_NAME,
    MARGINS,
    collapse,
    evaluate,
    matched_index,
    page_findings,
    strongest_within_margin,
    unit_death,
    word_of,
)
from dropout_study.chapters.l1_vs_l2.answer import answer
from dropout_study.chapters.reach import fixed_within, margin_reach
from dropout_study.chapters.verdicts import (
    FIXED_BY_RULE,
    NO_NEW_EVIDENCE,
    Alternative,
    Robustness,
    Verdict,
)
from dropout_study.chapters.verdicts import robustness as _table
from dropout_study.chapters.wording import interval_text, outcome_words
from dropout_study.numfmt import bracket, distinct, general, percent, plain

__all__ = [
    "L1_VS_L2_CLAIM",
    "MARGINS",
    "HOYER_NAME",
    "strongest_within_margin",
    "matched_index",
    "collapse",
    "evaluate",
    "word_of",
    "next_accuracy",
    "page_findings",
    "unit_death",
    "decide",
    "alternatives",
    "robustness",
    "alternative_findings",
]

L1_VS_L2_CLAIM = "L1 makes weights sparse, L2 shrinks them."


def _pct(x: float, decimals: int) -> str:
    return percent(x, decimals)


def decide(metrics) -> Verdict:
    """Verdict of chapter 4 under the primary analysis (rule in the module docstring), with
    the plain-words answer."""
    e = evaluate(metrics)
    n = metrics["n_seeds"]
    word = e["word"]
    head = (
        f"Over {n} paired seeds, each network trained to its early-stopping rule, at the "
        f"strongest λ keeping mean validation accuracy within {general(e['margin'])} of the "
        f"unregularised network's"
    )
    if e["star_l1"] is None:
        sentence = f"{head}: no L1 λ > 0 qualified, so L1 gets no credit for sparsity."
        return Verdict(L1_VS_L2_CLAIM, word, sentence, answer(e, word, None, e["margin"]))
    f, ch = e["finding"], e["checks"]
    units = unit_death(metrics, e)
    sentence = (
        f"{head} (λ*(L1) = {general(e['lam_l1'])}), matched in validation loss by L2 at "
        f"λ = {general(e['lam_l2'])} ({e['val_loss_l1']:z.3f} vs {e['val_loss_l2']:z.3f} "
        f"nats): Hoyer(L1) − Hoyer(L2) = {interval_text(f)} against δ = "
        f"{general(e['delta'])}, {outcome_words(f)}"
    )
    z = ch["zeros"]
    sentence += (
        "; checks: L2 left no weight exactly 0 in any seed"
        if z["passed"]
        else f"; check failed: L2 left weights exactly 0 in {z['seeds_with_zeros']} of {z['n']} "
        "seeds"
    )
    nr = ch["norm"]
    if not nr["applicable"]:
        sentence += " (the norm check does not apply: the matched λ is the path's smallest)"
    elif nr["passed"]:
        sentence += (
            f", and its weight norm at the matched λ is below the path's smallest-λ norm in "
            f"every seed ({nr['mean']:z.2f} of it on average)"
        )
    else:
        sentence += (
            f"; check failed: L2's norm at the matched λ is not below the smallest-λ norm in "
            f"{nr['n'] - nr['seeds_below']} of {nr['n']} seeds"
        )
    sentence += (
        f". Dead hidden units per network: {units['dead_l1']:z.1f} under L1, "
        f"{units['dead_l2']:z.1f} under L2, {units['dead_none']:z.1f} without a penalty"
    )
    if units["share"] is not None:
        sh = units["share"]
        sentence += (
            f"; {bracket(sh['mean'], sh['low'], sh['high'], 0, _pct)} of L1's exact zeros "
            "belong to dead units"
        )
    u2 = e["units_l2"]
    sentence += f"; more dead units under L2 than without a penalty: {outcome_words(u2)}"
    if not u2.applicable:
        sentence += f" — more under L2 in {units['seeds_more_l2']} of {n} seeds"
    if u2.counted == YES:
        sentence += " — L2 does select, at the level of units"
    same, same_all = e.get("l2_same"), e.get("l2_same_all")
    if same is not None and same_all is not None:
        sentence += (
            f". Does L2 leave the concentration unchanged? Hoyer(L2) − Hoyer(none) at the "
            f"matched λ = {interval_text(same)} against ±{general(e['delta'])}, "
            f"{outcome_words(same)} (living units); {interval_text(same_all)}, "
            f"{outcome_words(same_all)} (dead units included) — shown beside the verdict, "
            "which the rule does not use"
        )
    sentence += "."
    return Verdict(L1_VS_L2_CLAIM, word, sentence, answer(e, word, units, e["margin"]))


def alternatives(metrics) -> list[tuple[str, dict, dict]]:
    """``(choice, evaluation, options)`` for every alternative analysis of the robustness
    table (``options``: ``units`` for the unit-selection row)."""
    base, delta = metrics["acc_margin"], metrics["hoyer_delta"]
    alt = {"role": "alternative"}
    rows: list[tuple[str, dict, dict]]
    rows = [(f"accuracy margin {general(mg)}", evaluate(metrics, margin=mg, **alt), {})
            for mg in MARGINS if not math.isclose(mg, base)]  # fmt: skip
    rows += [
        (f"Hoyer margin δ = {general(delta / 2)}", evaluate(metrics, delta=delta / 2, **alt), {}),
        (f"Hoyer margin δ = {general(2 * delta)}", evaluate(metrics, delta=2 * delta, **alt), {}),
        ("anchored at λ*(L2), L1 matched to it", evaluate(metrics, anchor="l2", **alt), {}),
        ("each penalty at its own λ* (no matching)", evaluate(metrics, anchor="own", **alt), {}),
        ("Hoyer of the first layer only", evaluate(metrics, layer="first", **alt), {}),
        (
            "Hoyer averaged over layers unweighted",
            evaluate(metrics, layer="unweighted", **alt),
            {},
        ),  # fmt: skip
        ("Hoyer over all units, dead ones included", evaluate(metrics, layer="all", **alt), {}),
        (
            "Hoyer change from each path's smallest λ",
            evaluate(metrics, measure="hoyer_change", **alt),
            {},
        ),  # fmt: skip
        ("dead units under L2 count as selection", evaluate(metrics, **alt), {"units": True}),
    ]
    return rows


def next_accuracy(c: dict) -> str:
    """The next λ's mean validation accuracy beside the floor it fell below (a
    :func:`~dropout_study.chapters.l1_vs_l2.analysis.collapse` record), each with the
    decimals (3 or more) at which the two read apart: ``accuracy 0.9704 (floor 0.9705)``."""
    acc, floor = distinct([c["next_acc"], c["floor"]], 3, plain)
    return f"accuracy {acc} (floor {floor})"


def _collapse_text(e: dict) -> str:
    parts = []
    for pen in ("l1", "l2"):
        c = e.get(f"collapse_{pen}")
        if c and c["slack"] is not None:
            nxt = (
                ""
                if c["next_lambda"] is None
                else f", next λ ×{general(c['next_ratio'], 2)}: {next_accuracy(c)}"
            )
            parts.append(f"λ*({pen.upper()}) {c['slack']:z.2f} validation examples above the "
                         f"floor{nxt}")  # fmt: skip
    return "; ".join(parts)


def _detail(e: dict, *, margin_row: bool = False, units: bool = False) -> str:
    if e["star_l1"] is None:
        return "no L1 λ > 0 within the margin"
    if e.get("finding") is None:
        return "no L2 λ > 0 within the margin"
    f = e["finding"]
    text = f"L1 λ = {general(e['lam_l1'])}, L2 λ = {general(e['lam_l2'])}; Hoyer L1 − L2 = "
    text += f"{interval_text(f)} vs δ = {general(e['delta'])}"
    if units:
        text += f"; dead units L2 − none = {interval_text(e['units_l2'])}"
    if margin_row and _collapse_text(e):
        text += f" ({_collapse_text(e)})"
    return text


_ALL = (YES, NO, REVERSED, F_INCONCLUSIVE)


def _numbers(e: dict) -> tuple | None:
    """What a row measured: the pair of λs and the Hoyer finding's interval and margin."""
    f = e.get("finding")
    if f is None:
        return None
    return (e["lam_l1"], e["lam_l2"], f.estimate, f.low, f.high, f.margin)


def reachable(prim: dict, alt: dict) -> tuple[str, ...]:
    """The outcomes the alternative's Hoyer finding can take given the primary's: when the
    networks and the interval are the same and only δ moved, those a wider (narrower) δ
    allows from the primary's outcome (the effect decision is monotone in the margin: a
    narrower δ keeps a ``yes``, a wider one keeps a ``no``); otherwise every outcome."""
    f, g = prim["finding"], alt["finding"]
    a, b = _numbers(prim), _numbers(alt)
    same = a is not None and b is not None and a[:5] == b[:5] and f.applicable and g.applicable
    if not same:
        return _ALL
    if f.margin == g.margin:
        return (g.counted,)
    return margin_reach("effect", f.counted, g.margin > f.margin)


def _fixed(prim: dict, alt: dict, units: bool) -> bool:
    """Whether the rule (:func:`word_of`) gives the primary's word whatever the findings the
    row moves say (:func:`dropout_study.chapters.reach.fixed_within`): the Hoyer finding
    over the outcomes it can reach (:func:`reachable`), the checks (``yes`` = passed) when the
    row uses other networks, and L2's unit finding when the row lets it count."""
    reach = {"hoyer": reachable(prim, alt)}
    a, b = _numbers(prim), _numbers(alt)
    if a is None or b is None or a[:2] != b[:2]:
        reach["checks"] = (YES, NO)
    if units:
        reach["units_l2"] = _ALL
    outcomes = {
        "hoyer": prim["finding"].counted,
        "checks": YES if prim["checks"]["passed"] else NO,
        "units_l2": prim["units_l2"].counted,
    }

    def rule(o) -> str:
        fake = {
            "star_l1": prim["star_l1"],
            "finding": SimpleNamespace(counted=o["hoyer"]),
            "checks": {"passed": o["checks"] == YES},
            "units_l2": SimpleNamespace(counted=o["units_l2"]),
        }
        return word_of(fake, units=units)

    return fixed_within(rule, outcomes, reach)


def _row(choice: str, e: dict, opts: dict, metrics, seen: dict) -> Alternative:
    """One row; ``seen`` maps what earlier rows (and the primary) measured to their choice: a
    row with the same networks and numbers is not new evidence."""
    units = bool(opts.get("units"))
    detail = _detail(e, margin_row=choice.startswith("accuracy margin"), units=units)
    word = word_of(e, units=units)
    for f in (e.get("finding"), e.get("units_l2") if units else None):
        if f is not None and not f.applicable:
            why = f"{f.reason}"
            if units:
                why = f"dead units L2 − none {why}"
            elif "unweighted" in choice:
                last = metrics["paths"]["l1"]["living_last"]
                k = sum(1 for row in last if row[e["j1"]] is not None and row[e["j1"]] < 2)
                why += (
                    f": in {k} of them L1's output layer keeps fewer than two living weights, "
                    "and a Hoyer index needs two"
                )
            return Alternative(choice, word, detail, applicable=False, reason=why)
    key = (_numbers(e), units)
    if _numbers(e) is not None and key in seen:
        why = f"same networks and numbers as {seen[key]}: {NO_NEW_EVIDENCE}"
        return Alternative(choice, word, detail, applicable=False, reason=why)
    seen.setdefault(key, f"the row “{choice}”")
    prim = seen["primary"]
    if _numbers(e) is not None and _numbers(prim) is not None and _fixed(prim, e, units):
        return Alternative(choice, word, detail, applicable=False, reason=FIXED_BY_RULE)
    return Alternative(choice, word, detail)


def robustness(metrics) -> Robustness:
    """The primary verdict re-decided under each alternative of :func:`alternatives`; rows
    whose finding is not applicable, that repeat the primary's (or an earlier row's) networks
    and numbers, or whose moved findings cannot change the word (:func:`_fixed`) are shown and
    left out of the count."""
    prim = evaluate(metrics)
    seen: dict = {"primary": prim, (_numbers(prim), False): "the primary"}
    rows = [_row(c, e, o, metrics, seen) for c, e, o in alternatives(metrics)]
    return _table(decide(metrics).word, rows)


def alternative_findings(metrics) -> list[dict]:
    """The Hoyer finding of every alternative row, as ``metrics.json`` records."""
    out = []
    for choice, e, _ in alternatives(metrics):
        if e.get("finding") is not None:
            out.append({"choice": choice, **e["finding"].as_dict()})
    return out
