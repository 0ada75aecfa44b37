"""Chapter 2's verdict rule: :func:`decide` (metrics → :class:`Verdict`), :func:`robustness`
(the verdict under each alternative of the same run) and :func:`power_of` (how well the primary
findings were measured). The findings come from
:mod:`dropout_study.chapters.cost_under_dropout.evidence`."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from dropout_study.chapters.cost_under_dropout import evidence as ev
from dropout_study.chapters.findings import INCONCLUSIVE as F_INCONCLUSIVE
from dropout_study.chapters.findings import NO, REVERSED, YES, Finding
from dropout_study.chapters.power import power
from dropout_study.chapters.reach import fixed_within, reachable
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
from dropout_study.chapters.wording import interval_text, outcome_words
from dropout_study.numfmt import general

__all__ = ["CLAIM", "decide", "word_of", "fixed", "robustness", "power_of", "cause_text", "times"]

CLAIM = "Dropout does not change the cost function."
_WORD = {YES: SUPPORTED, NO: PARTLY, REVERSED: PARTLY, F_INCONCLUSIVE: INCONCLUSIVE}


def word_of(f: Finding, exact) -> str:
    """The chapter's word from an R finding ``f`` (or any alternative of it) and the exact
    checks ``exact``: a failed exact check → not supported; else ``f`` inside its margin →
    supported, outside → partly supported, otherwise (or not applicable) → inconclusive."""
    if any(e.counted != YES for e in exact):
        return NOT_SUPPORTED
    return _WORD[f.counted]


def _pct(x: float) -> str:
    return general(100 * x, 2)


def _nats(x: float) -> str:
    return general(x, 2)


def times(x: float) -> str:
    """A factor in plain digits, two significant: ``"1200"``, ``"35"``, ``"2.4"``."""
    if x >= 100:
        digits = int(math.floor(math.log10(x))) - 1
        return f"{round(x, -digits):z.0f}"
    return general(x, 2)


def cause_text(c: Finding, control, *, short: bool = False) -> str:
    """What the K-mask control says about why ``J(θ_t)`` goes up in some steps under dropout,
    from its outcome ``c`` and ``control`` (``metrics["control"]``: ``ks`` and the per-seed
    summed rises of the window ``"best"``). A "yes" quotes the mean summed rises at ``K = 1``
    and the largest ``K`` in nats and the seeds without any rise — numbers the floor of the
    ratio cannot move; ``short`` (the plain answer) leaves out ``K`` and the seed count, so
    that the answer carries at most three numbers."""
    ks = control["ks"]
    k = ks[-1]
    rises = np.asarray(control["per_seed"]["best"]["rises"], dtype=float)
    if not c.applicable or c.outcome == F_INCONCLUSIVE:
        return (
            "Whether the rises of J during training come from the mask noise is undecided in "
            "this run."
        )
    if c.outcome == YES:
        one, top = _nats(float(rises[:, 0].mean())), _nats(float(rises[:, -1].mean()))
        if short:
            return (
                "The rises of J during training are the mask noise: averaging many masks per "
                f"step cut their total from {one} to {top} nats."
            )
        zero = int(np.sum(rises[:, -1] == 0))
        none = (
            f" With {k} masks, J did not rise at all in {zero} of {rises.shape[0]} seeds."
            if zero
            else ""
        )
        return (
            f"The rises of J during training are the mask noise: averaging {k} masks per step "
            f"cut their total from {one} to {top} nats (mean over seeds).{none}"
        )
    if c.outcome == NO:
        return (
            f"Averaging {k} masks per step did not change the rises of J by a factor of "
            f"{general(c.stated_margin)} or more, so the mask noise is not why J rises."
        )
    return (
        f"Averaging {k} masks per step made the rises of J larger, so the mask noise is not "
        "why J rises."
    )


def decide(metrics) -> Verdict:
    """Verdict of chapter 2 on "dropout does not change the cost function".

    Rule (STUDY.md, chapter 2, v3), in order:

    (a) the function J is unchanged — both exact checks (:func:`evidence.exact_checks`: no
        value differs between ``p = 0`` and no dropout layers, nor between evaluation mode and
        the network without dropout layers) are ``yes``; otherwise → **not supported**;
    (b) primary: ``R(θ*_p)`` at the primary rate (:func:`evidence.primary`), equivalence with
        the absolute margin δ = ``metrics["abs_margin"]`` (0.01 nats): inside → **supported**
        (the mean over masks is J itself at this margin); entirely above δ or below −δ →
        **partly supported** (the definition is unchanged, the objective minimised is not);
        otherwise, or not applicable → **inconclusive**.

    The plain answer adds what the K-mask control found (:func:`cause_text`); the control
    does not change the word.
    """
    exact = ev.exact_checks(metrics)
    prim = ev.primary(metrics)
    ctrl = ev.control(metrics)[0]
    word = word_of(prim, exact)
    p = general(metrics["primary_rate"])
    cause = cause_text(ctrl, metrics["control"], short=True)
    if word == NOT_SUPPORTED:
        failed = [f.name for f in exact if f.counted != YES]
        sentence = f"The function itself changed: the exact check(s) {'; '.join(failed)} failed."
        answer = "No: in this run the function itself changed (an exact check failed)."
        return Verdict(CLAIM, word, sentence, answer)
    same = (
        "J is the same function: p = 0 is bit-identical to no dropout layers, and evaluation "
        "mode is the network without them."
    )
    rel = ev.relative(metrics)
    value = f"R = {interval_text(prim)} nats, {_pct(rel.estimate)} % of J(θ*_p)."
    at = f"At p = {p} the explicit regulariser R = Eₘ J(θ, m) − J(θ)"
    margin = f"±{general(prim.stated_margin)} nats"
    if word == SUPPORTED:
        tail = f"{at} lies inside {margin}: the mean over masks is J itself. {value}"
        first = (
            f"Yes: J is the same function, and the regulariser dropout adds is within "
            f"{general(prim.stated_margin)} nats of zero here."
        )
    elif word == PARTLY:
        tail = (
            f"{at} lies outside {margin}: the definition is unchanged, but the objective "
            f"gradient descent minimises on average is J + R, not J. {value}"
        )
        first = (
            "Yes and no: the cost J is the same function, but what training with dropout "
            f"minimises is J plus a regulariser, here {_nats(prim.estimate)} nats."
        )
    else:
        why = f"{prim.reason}" if not prim.applicable else f"it straddles {margin}"
        tail = f"{at} cannot be decided at that margin: {why}. {value}"
        first = (
            "J is the same function; whether what training minimises differs from it by more "
            f"than {general(prim.stated_margin)} nats is undecided in this run."
        )
    return Verdict(CLAIM, word, f"{same} {tail}", f"{first} {cause}")


def _as(f: Finding, outcome: str) -> Finding:
    """``f`` standing in with another (applicable) outcome, for the rule to read."""
    return replace(f, outcome=outcome, degenerate=False)


def fixed(prim: Finding, alt: Finding, exact, earlier=()) -> bool:
    """Whether :func:`word_of` gives the same word whatever the row's R finding ``alt`` can
    come out, given the primary's R finding ``prim``, the findings of the rows before it
    (``earlier``) and the exact checks ``exact`` (which no row moves):
    :func:`dropout_study.chapters.reach.fixed_within` over the outcomes ``alt`` can reach
    (:func:`dropout_study.chapters.reach.reachable` from the primary and from each earlier
    finding, intersected: a row that only moves the margin of the primary's interval, or of
    an earlier row's — e.g. the relative margin halved after the relative margin itself —
    reaches only what :func:`dropout_study.chapters.reach.margin_reach` allows from it;
    any other row every outcome). True for every row when an exact check failed (the rule
    then ignores R)."""
    outcomes = {"R": prim.counted, **{e.name: e.counted for e in exact}}
    reach = reachable(prim, alt)
    for ref in earlier:
        if ref.applicable and ref.kind == alt.kind:
            shared = set(reachable(_as(ref, ref.counted), alt))
            reach = tuple(o for o in reach if o in shared) or reach

    def rule(o) -> str:
        return word_of(_as(prim, o["R"]), [_as(e, o[e.name]) for e in exact])

    return fixed_within(rule, outcomes, {"R": reach})


def _numbers(f: Finding) -> tuple:
    return (f.kind, f.scale, f.estimate, f.low, f.high, f.margin)


def robustness(metrics) -> Robustness:
    """The verdict under each alternative of :func:`evidence.alternatives` (same run, same
    exact checks). Shown and left out of the count: a not-applicable alternative; one that
    repeats the numbers of the primary (or of an earlier row); one whose word the rule fixes
    whatever its R finding can come out (:func:`fixed`, e.g. a narrower margin on an R
    outside the margin)."""
    exact = ev.exact_checks(metrics)
    prim = ev.primary(metrics)
    primary = word_of(prim, exact)
    seen = {_numbers(prim): "the primary"}
    rows: list[Alternative] = []
    earlier: list[Finding] = []  # the measured findings of the rows so far
    for choice, f in ev.alternatives(metrics):
        detail = f"{interval_text(f)} against ±{general(f.stated_margin)}: {outcome_words(f)}"
        word = word_of(f, exact)
        if not f.applicable:
            rows.append(Alternative(choice, word, detail, applicable=False, reason=f.reason or ""))
            continue
        if _numbers(f) in seen:
            why = f"same numbers as {seen[_numbers(f)]}: {NO_NEW_EVIDENCE}"
            rows.append(Alternative(choice, word, detail, applicable=False, reason=why))
            continue
        seen[_numbers(f)] = f"the row “{choice}”"
        # fixed: the rule gives one word whatever the row's R can come out, given the primary
        # and the earlier rows; a word other than the primary's is then forced by an earlier
        # row (the same interval at a wider margin), which already counts
        is_fixed = fixed(prim, f, exact, earlier)
        earlier.append(f)
        if is_fixed:
            rows.append(Alternative(choice, word, detail, applicable=False, reason=FIXED_BY_RULE))
            continue
        rows.append(Alternative(choice, word, detail, reason=f.reason or ""))
    return _table(primary, rows)


def _sd(values, scale: str) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if scale == "log":
        v = np.log(v[v > 0])
    return float(np.std(v, ddof=1)) if v.size > 1 else math.nan


def power_of(metrics) -> dict:
    """For the two primary findings (``"primary"``: R in nats; ``"control"``: the K-mask control):
    the finding, its interval half-width and margin on the decision scale, and, when it is
    inconclusive, roughly how many seeds a decision would need
    (:func:`dropout_study.chapters.power.power`)."""
    prim = ev.primary(metrics)
    rates = [float(r) for r in metrics["rates"]]
    i = rates.index(float(metrics["primary_rate"]))
    ps = metrics["per_seed"]
    r = np.asarray(ps["r_own"], dtype=float)[:, i]
    ctrl = ev.control(metrics)[0]
    top = len(metrics["control"]["ks"]) - 1
    cv = ev.control_values(metrics, "best", top, floor=ev.RISE_FLOOR)
    return {
        "primary": {"finding": prim, **power(prim, _sd(r, "linear"))},
        "control": {"finding": ctrl, **power(ctrl, _sd(cv, "log"))},
    }
