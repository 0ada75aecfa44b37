"""The verdict rule of the ``linearity`` chapter (STUDY.md v3, chapter 5).

Every sub-outcome is a finding (:mod:`dropout_study.chapters.findings`), built from the
per-seed values the summary keeps (:mod:`dropout_study.chapters.linearity.summary`):

- per classification data set, the **trend** ρ(p, Z): within-seed Spearman ρ between the
  dropout rate and Z of the logit, averaged over seeds; direction −1 (Z falls as p grows),
  margin 0.2 (a convention of the study: |ρ| < 0.2 is no trend; varied at 0.1 and 0.4);
- per data set, the **analogy** Z(dropout) − Z(L2) with each family at its own best
  validation loss: a *sign* finding, direction −1 (dropout's Z lower). Only the direction is
  claimed (the essay gives no size), so the test is of sign only: "shown", "not shown"
  (undecided) or "reversed" — a null is never read as "does not hold". Seeds where both
  families chose the unregularised network are ties.

**Rule.** Let Y, N and I count the data sets whose trend finding is yes, no-or-reversed, and
inconclusive (a not-applicable finding counts as inconclusive). (1) N = 0 and I = 0: the
analogy decides — "shown" on every data set → **supported**, otherwise → **partly
supported**, the sentence naming per data set whether dropout's Z was lower ("shown"), not
distinguishable ("not shown") or higher ("reversed"); (2) Y ≥ 1 and N ≥ 1 → **partly
supported**, naming where the trend is absent; (3) Y = 0 and N ≥ 1 → **not supported**;
(4) otherwise (N = 0, I ≥ 1) → **inconclusive**. Every combination lands in exactly one.

Reported beside the rule (exploratory findings, never deciding the word): ρ(λ, Z) under L2
and under L1 (trend, direction −1) — whether Z falls under every regulariser; whether dropout
at its own best rate lowered the test loss (sign, direction −1; ties where p = 0 was chosen) —
the sentence says so when it did on none; and the 1-D toy, Z at the largest rate minus Z at
p = 0 (sign, direction −1), which qualifies the sentence only when decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from dropout_study.chapters.findings import (
    INCONCLUSIVE as F_INCONCLUSIVE,
)
from dropout_study.chapters.findings import NO, REVERSED, YES, Finding
from dropout_study.chapters.linearity.fixed import fixed, moved
from dropout_study.chapters.linearity.rule_findings import (
    ANALOGY_WORDS,
    LABELS,
    TREND_SOURCE,
    exploratory,
    label,
    names,
    page_findings,
    parts_of,
    variants,
)
from dropout_study.chapters.linearity.summary import MIN_MATCHED
from dropout_study.chapters.verdicts import (
    FIXED_BY_RULE,
    INCONCLUSIVE,
    NO_NEW_EVIDENCE,
    NOT_SUPPORTED,
    PARTLY,
    SUPPORTED,
    Alternative,
    Robustness,
    Verdict,
)
from dropout_study.chapters.verdicts import robustness as _table
from dropout_study.chapters.wording import interval_text
from dropout_study.numfmt import general
from dropout_study.validation import fail

__all__ = [
    "LINEARITY_CLAIM",
    "MIN_MATCHED",
    "TREND_SOURCE",
    "LABELS",
    "ANALOGY_WORDS",
    "label",
    "names",
    "parts_of",
    "exploratory",
    "page_findings",
    "rule",
    "decide",
    "VARIANT_LABELS",
    "alternatives",
    "robustness",
    "alternative_findings",
]

LINEARITY_CLAIM = (
    "Dropout makes the learned function more linear: its degree of linearity Z decreases as "
    "the dropout rate increases."
)


def rule(parts: dict) -> dict:
    """The rule of the module docstring on ``parts`` (from :func:`parts_of`): the word, the
    branch (1)–(4), the data sets per trend outcome and, in branch (1), per analogy word."""
    if not isinstance(parts, dict) or not parts:
        fail("parts", "linearity.rule", "a non-empty dict of data sets", parts)
    y = [ds for ds, p in parts.items() if p["trend"].counted == YES]
    n = [ds for ds, p in parts.items() if p["trend"].counted in (NO, REVERSED)]
    i = [ds for ds, p in parts.items() if p["trend"].counted == F_INCONCLUSIVE]
    out: dict[str, Any] = {"yes": y, "absent": n, "undecided": i, "analogy": {}}
    if not n and not i:
        out["analogy"] = {ds: ANALOGY_WORDS[p["sign"].counted] for ds, p in parts.items()}
        every = all(w == "shown" for w in out["analogy"].values())
        out.update(branch=1, word=SUPPORTED if every else PARTLY)
    elif y and n:
        out.update(branch=2, word=PARTLY)
    elif n:
        out.update(branch=3, word=NOT_SUPPORTED)
    else:
        out.update(branch=4, word=INCONCLUSIVE)
    return out


_TREND_WORDS = {YES: "Z falls as p grows", NO: "no trend", REVERSED: "Z rises as p grows",
                F_INCONCLUSIVE: "undecided"}  # fmt: skip


def _every(fs: dict) -> str:
    """How many data sets show a falling trend, e.g. "on 3 of 3 data sets"."""
    k = sum(f.counted == YES for f in fs.values())
    return f"{k} of {len(fs)}"


def _answer(r: dict, parts: dict, ex: dict) -> str:
    """The plain-words answer: built from the outcomes, no numbers."""
    falls_l2 = all(f.counted == YES for f in ex["l2"].values())
    falls_l1 = all(f.counted == YES for f in ex["l1"].values())
    if r["branch"] == 1:
        head = (
            f"{'Yes' if r['word'] == SUPPORTED else 'Partly'}. Z falls as the dropout rate "
            "grows on every data set"
        )
        if falls_l2 and falls_l1:
            head += ", but it also falls as the L2 and L1 penalties grow"
        elif falls_l2 or falls_l1:
            fam, other = ("L2", "l1") if falls_l2 else ("L1", "l2")
            head += (
                f", but it also falls as the {fam} penalty grows (and as the {other.upper()} "
                f"penalty grows on {_every(ex[other])} data sets)"
            )
        shown = [ds for ds, w in r["analogy"].items() if w == "shown"]
        if len(shown) == len(parts):
            head += "; at each family's best setting dropout's Z was lower than L2's everywhere."
        elif shown:
            head += (
                f"; at each family's best setting dropout's Z was lower than L2's on "
                f"{names(shown)} only."
            )
        else:
            head += (
                "; at each family's best setting dropout's Z could not be told apart from "
                "L2's on any data set."
            )
    elif r["branch"] == 2:
        head = (
            f"Partly. Z falls as the dropout rate grows on {names(r['yes'])}, but not on "
            f"{names(r['absent'])}"
        )
        if falls_l2 and falls_l1:
            head += "; it falls as the L2 and L1 penalties grow on every data set."
        else:
            head += "."
    elif r["branch"] == 3:
        head = (
            f"No. Z does not fall as the dropout rate grows on {names(r['absent'])}, and it "
            "falls on no data set."
        )
    else:
        head = "Undecided. This run cannot tell whether Z falls as the dropout rate grows."
    return head + " " + _helped_text(ex["helped"])


def _helped_by(helped: dict) -> dict:
    """Data sets per outcome of "dropout lowered the test loss" (sign findings; a
    not-applicable one counts as not shown)."""
    out: dict = {YES: [], REVERSED: [], F_INCONCLUSIVE: []}
    for ds, f in helped.items():
        out[f.counted if f.counted in out else F_INCONCLUSIVE].append(ds)
    return out


def _helped_text(helped: dict) -> str:
    """Whether dropout lowered the test loss, per outcome: shown, reversed, or not shown (a
    null is never written as "did not")."""
    by = _helped_by(helped)
    bits = []
    if by[YES]:
        where = "every data set" if len(by[YES]) == len(helped) else names(by[YES])
        bits.append(f"Dropout lowered the test loss on {where}")
    if by[REVERSED]:
        bits.append(f"dropout raised the test loss on {names(by[REVERSED])}")
    if by[F_INCONCLUSIVE]:
        if len(by[F_INCONCLUSIVE]) == len(helped):
            bits.append("Dropout was not shown to lower the test loss on any data set")
        else:
            bits.append(
                f"a lower test loss with dropout was not shown on {names(by[F_INCONCLUSIVE])}"
            )
    text = "; ".join(bits) + "."
    return text[0].upper() + text[1:]


def _sentence(r: dict, parts: dict, ex: dict, point: str) -> str:
    trend_txt = "; ".join(
        f"{interval_text(p['trend'])} on {label(ds)} ({_word(p['trend'], _TREND_WORDS)})"
        for ds, p in parts.items()
    )
    text = f"Trend ρ(p, Z) (margin 0.2): {trend_txt}"
    if r["branch"] == 1:
        diff = "; ".join(
            f"{interval_text(p['sign'])} on {label(ds)} ({r['analogy'][ds]}"
            + ("" if p["sign"].applicable else f"; not applicable: {p['sign'].reason}")
            + ")"
            for ds, p in parts.items()
        )
        text += f". At {point}, Z(dropout) − Z(L2) (sign only): {diff}"
        by = {w: [ds for ds, x in r["analogy"].items() if x == w] for w in ANALOGY_WORDS.values()}
        if r["word"] == SUPPORTED:
            text += ": dropout's Z was lower than L2's on every data set"
        else:
            bits = [f"{w} on {names(ds)}" for w, ds in by.items() if ds]
            text += ": dropout's Z lower than L2's — " + "; ".join(bits)
    elif r["branch"] == 2:
        text += f": the trend is absent on {names(r['absent'])}"
    text += (
        f". ρ(λ, Z) shows Z falling with λ on {_every(ex['l2'])} data sets under L2 and on "
        f"{_every(ex['l1'])} under L1"
    )
    by = _helped_by(ex["helped"])
    if by[YES]:
        text += f"; dropout lowered the test loss on {names(by[YES])}"
    elif by[REVERSED]:
        text += (
            f"; dropout raised the test loss on {names(by[REVERSED])} and lowered it nowhere, "
            "so this compares regularisers where dropout hurt there"
        )
    else:
        text += (
            "; dropout was not shown to lower the test loss on any data set, so this is a "
            "comparison where a benefit of dropout was not shown"
        )
    toy = ex.get("toy")
    if toy is not None and toy.applicable and toy.outcome in (YES, REVERSED):
        way = "agrees" if toy.outcome == YES else "goes the other way"
        text += (
            f". The essay's own 1-D picture {way}: Z at the largest rate minus Z at p = 0 is "
            f"{interval_text(toy)}"
        )
    return text + "."


def _word(f: Finding, words: dict) -> str:
    return f"not applicable: {f.reason}" if not f.applicable else words[f.outcome]


def decide(metrics) -> Verdict:
    """The verdict from the primary findings (rule in the module docstring), with the
    technical sentence and the plain-words answer."""
    parts = parts_of(metrics)
    r = rule(parts)
    ex = exploratory(metrics)
    sentence = _sentence(r, parts, ex, "each family's own best validation loss")
    return Verdict(LINEARITY_CLAIM, r["word"], sentence, _answer(r, parts, ex))


VARIANT_LABELS = {
    "matched": "comparison point: matched validation loss",
    "matched_fill": "comparison point: matched, unmatched seeds filled by the nearest point",
    "budget": "budget: step cap at the fixed budget",
    "hidden_last": "layer: last hidden layer instead of the logit",
    "hidden_first": "layer: first hidden layer instead of the logit",
}
_POINTS = {"matched", "matched_fill"}
"""Variants that differ from the primary only in the comparison point of the analogy."""
_EXPLORATORY = {"hidden_last", "hidden_first"}
"""Variants that measure another quantity (a hidden layer instead of the logit)."""


def _tag_label(key: str, metrics) -> str:
    if key.startswith("h="):
        return f"step h = {key[2:]} instead of the main h"
    if key.startswith("lr="):
        main = general(metrics.get("learning_rate", float("nan")))
        return f"learning rate {key[3:]} instead of {main} (dropout and L2 retrained)"
    if key.startswith("batch="):
        return (
            f"batch size {key[6:]} instead of {metrics.get('batch_size')} (dropout and L2 "
            "retrained)"
        )
    return key


def alternatives(metrics) -> list[tuple[str, dict, dict]]:
    """``(choice, parts, options)`` for every alternative of the robustness table: each
    variant of the summary, the trend margin at half and double, and each data set alone."""
    v = variants(metrics)
    keys = [k for k in next(iter(v.values())) if k != "primary"]
    rows = []
    for key in keys:
        if not all(key in m for m in v.values()):
            continue
        choice = VARIANT_LABELS.get(key) or _tag_label(key, metrics)
        parts = parts_of(metrics, key, role="alternative")
        rows.append((choice, parts, {"point": key in _POINTS, "exploratory": key in _EXPLORATORY}))
    for tm in (0.1, 0.4):
        parts = parts_of(metrics, trend_margin=tm, role="alternative")
        rows.append((f"trend margin {general(tm)} instead of 0.2", parts, {}))
    if len(v) > 1:
        for ds in v:
            parts = parts_of(metrics, only={ds}, role="alternative")
            rows.append((f"data set: {label(ds)} alone", parts, {}))
    return rows


def _evidence(parts: dict, r: dict) -> str:
    out = []
    for ds, p in parts.items():
        text = f"{label(ds)}: ρ {interval_text(p['trend'])}"
        if r["branch"] == 1:
            text += f", Δ {interval_text(p['sign'])} ({r['analogy'][ds]})"
        out.append(text)
    return "; ".join(out)


def _word_of(outcomes: Mapping[str, str], keys) -> str:
    """The rule's word on outcomes named ``"<data set>/<trend|sign>"``."""
    parts = {
        ds: {k: SimpleNamespace(counted=outcomes[f"{ds}/{k}"]) for k in ("trend", "sign")}
        for ds in keys
    }
    return rule(parts)["word"]


def _row(choice: str, parts: dict, opts: dict, prim: dict) -> Alternative:
    r = rule(parts)
    detail = _evidence(parts, r)
    if opts.get("exploratory"):
        return Alternative(choice, r["word"], detail, exploratory=True)
    used = [p["trend"] for p in parts.values()]
    if r["branch"] == 1:
        used += [p["sign"] for p in parts.values()]
    bad = [f for f in used if not f.applicable]
    if bad:
        why = "; ".join(f"{f.name}: {f.reason}" for f in bad)
        return Alternative(choice, r["word"], detail, applicable=False, reason=why)
    if not moved(prim, parts):
        why = (
            "same networks and numbers as the primary ("
            + names(list(parts))
            + f"): {NO_NEW_EVIDENCE}"
        )
        return Alternative(choice, r["word"], detail, applicable=False, reason=why)
    if fixed(prim, parts, lambda o: _word_of(o, prim)):
        return Alternative(choice, r["word"], detail, applicable=False, reason=FIXED_BY_RULE)
    return Alternative(choice, r["word"], detail)


def robustness(metrics) -> Robustness:
    """The verdict re-decided under every alternative of :func:`alternatives`; rows that are
    not applicable (a finding they use is; they restate the primary's findings; or the rule
    gives the primary's word whatever their moved findings say,
    :func:`~dropout_study.chapters.linearity.fixed.fixed`) are shown and
    left out of the count, the hidden-layer rows are exploratory."""
    prim = parts_of(metrics)
    rows = [_row(c, parts, o, prim) for c, parts, o in alternatives(metrics)]
    return _table(decide(metrics).word, rows)


def alternative_findings(metrics) -> list[dict]:
    """The findings of every alternative row, as ``metrics.json`` records with their row."""
    out = []
    for choice, parts, _ in alternatives(metrics):
        for p in parts.values():
            for f in (p["trend"], p["sign"]):
                out.append({"choice": choice, **f.as_dict()})
    return out
