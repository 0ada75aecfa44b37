"""The words of chapter 3's verdict (``noisy-loss``): the plain-words answer the answer box
opens with (:func:`answer`), and the notes the technical sentence and the page share — when a
primary finding's outcome turns on one seed (:func:`turns_on`, from
:func:`dropout_study.chapters.noisy_loss.evidence.leave_one_out`) and the median times behind
the time ratios (:func:`medians`). Pure functions of the metrics and the findings.
"""

from __future__ import annotations

from collections.abc import Mapping

from dropout_study.chapters.findings import INCONCLUSIVE as UNDECIDED
from dropout_study.chapters.findings import NO, REVERSED, YES, Finding
from dropout_study.chapters.noisy_loss import evidence
from dropout_study.chapters.wording import outcome_words
from dropout_study.numfmt import plain

__all__ = ["PARTLY_CAUSE", "answer", "turns_on", "loo_notes", "medians", "steps_text"]

PARTLY_CAUSE = "partly"


def _ratio(f: Finding, decimals: int = 2) -> str:
    return f"{plain(f.estimate, decimals)}×" if f.estimate == f.estimate else "undefined"


def turns_on(entry: Mapping) -> str:
    """``entry`` of :func:`evidence.leave_one_out` in words: "" when no single seed changes
    the outcome, else e.g. "the outcome turns on one seed: without seed 6 it reads shown"."""
    groups: dict[str, list[str]] = {}
    for seed, g in entry["changed"]:
        groups.setdefault(outcome_words(g), []).append(str(seed))
    if not groups:
        return ""
    n = len(entry["changed"])
    head = "one seed" if n == 1 else f"single seeds ({n} of {entry['finding'].n})"
    parts_ = [
        f"without seed {' or '.join([', '.join(ss[:-1]), ss[-1]] if len(ss) > 1 else ss)} "
        f"it reads {w}"
        for w, ss in groups.items()
    ]
    return f"the outcome turns on {head}: " + "; ".join(parts_)


def loo_notes(m: Mapping) -> dict[str, str]:
    return {e["finding"].name: turns_on(e) for e in evidence.leave_one_out(m)}


def medians(m: Mapping, d: str) -> tuple:
    """The median times (steps; ``None``: not reached) of p = 0 and p = control rate on data
    set ``d``'s primary clock."""
    c = m["by_dataset"][d]["clock"]["primary"]
    j0, jc = m["dropout_rates"].index(0.0), m["dropout_rates"].index(m["control_rate"])
    return c["median"][j0], c["median"][jc]


def steps_text(v) -> str:
    return "not reached" if v is None or v != v else plain(v, 1)


_SLOWER_WORDS = {
    YES: "slower",
    NO: "no slowdown worth the name",
    REVERSED: "faster",
    UNDECIDED: "too uncertain to decide",
}


_FRACTION_WORDS = {0.5: "half", 0.8: "four fifths", 0.9: "nine tenths"}


def _fragile(text: str, lead: str = "; ", end: str = "") -> str:
    """A note that a finding's outcome turns on one seed (or on single seeds), or ""."""
    if not text:
        return ""
    who = "one seed decides that" if "one seed" in text else "single seeds decide that"
    return f"{lead}{who}{end}"


def answer(m: Mapping, found: Mapping, p: Mapping) -> str:
    """The plain-words answer: one short sentence per part, at most three numbers — the two
    time ratios and, for the data set where the medians differ least, that gap in steps
    (the target's fraction in words when it is a half, four fifths or nine tenths)."""
    noisier = {
        YES: "Yes, the loss under dropout is noisier: it changes from mask to mask.",
        NO: "No: in this run the loss did not get noisier as the dropout rate grew.",
        UNDECIDED: "Whether the loss gets noisier with the dropout rate is undecided in this run.",
    }[p["noisier"]]
    frac = _FRACTION_WORDS.get(m["target_fraction"])
    s_, loo = found["slower"], loo_notes(m)
    gaps = {}
    for d in s_:
        a, b = medians(m, d)
        if a is not None and b is not None and a == a and b == b:
            gaps[d] = b - a
    smallest = min(gaps, key=lambda d: abs(gaps[d])) if gaps and frac else None
    each = []
    for i, (d, f) in enumerate(s_.items()):
        text = (
            f"{_ratio(f, 1)}{' as many steps' if i == 0 else ''} on {evidence.NAMES.get(d, d)} "
            f"({_SLOWER_WORDS[f.counted]}{_fragile(loo.get(f.name, ''))})"
        )
        if d == smallest:
            g = gaps[d]
            more = "more" if g >= 0 else "fewer"
            text += f", there about {plain(abs(g), 0 if abs(g) >= 1.5 else 1)} steps {more}"
        each.append(text)
    outs = {f.counted for f in s_.values()}
    lead = "Whether training is slower is undecided"
    if len(outs) == 1:
        lead = {
            YES: "Training is slower",
            UNDECIDED: lead,
            REVERSED: "Training is faster",
            NO: "Training is not slower by a margin that matters",
        }[outs.pop()]
    elif outs & {NO, REVERSED}:
        lead = "Training is not slower on every data set"
    target = (
        f"getting {frac} of the way"
        if frac
        else f"getting {100 * m['target_fraction']:g} % of the way"
    )
    slower = (
        f"{lead}: with dropout, {target} from the starting loss to the best loss the same "
        f"network reached without dropout took {' and '.join(each)}."
    )
    names = [evidence.NAMES.get(d, d) for d in m["control_datasets"]]
    where = "On " + " and ".join(names)
    frag = _fragile(loo.get(found["noise"].name, ""), " (", ")")
    because = {
        YES: f"{where}, averaging many masks per step (far less noise) removed the extra "
        f"steps{frag}",
        PARTLY_CAUSE: f"{where}, averaging many masks per step (far less noise) saved some "
        f"of the extra steps, not all{frag}",
        NO: f"{where}, averaging many masks per step (far less noise) did not save steps "
        f"worth the name{frag}",
        UNDECIDED: f"{where}, whether averaging many masks per step (far less noise) saves "
        "steps is undecided",
    }[p["because"]]
    missing = [evidence.NAMES.get(d, d) for d in m["datasets"] if d not in m["control_datasets"]]
    if missing:
        because += f"; this control was not run on {' and '.join(missing)} in this run"
    return f"{noisier} {slower} {because}."
