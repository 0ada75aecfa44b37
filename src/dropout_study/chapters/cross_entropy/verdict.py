"""Chapter 1's verdict rule: :func:`decide` (metrics → :class:`Verdict`). The findings come
from :mod:`dropout_study.chapters.cross_entropy.evidence`; the chapter has no robustness table:
its checks are theorems (exact checks), which no analysis choice could move."""

from __future__ import annotations

import math

import numpy as np

from dropout_study.chapters.cross_entropy import evidence as ev
from dropout_study.chapters.findings import INCONCLUSIVE as F_INCONCLUSIVE
from dropout_study.chapters.findings import NO, REVERSED, YES, Finding
from dropout_study.chapters.power import power
from dropout_study.chapters.verdicts import INCONCLUSIVE, PARTLY, Verdict
from dropout_study.numfmt import general, sci, shortest

__all__ = [
    "CLAIM",
    "CURVATURE_TOL",
    "ExactCheckFailed",
    "curves_down",
    "decide",
    "reading",
    "power_of",
]

CLAIM = "Cross-entropy is introduced to make the cost function convex."
CURVATURE_TOL = ev.CURVATURE_TOL


class ExactCheckFailed(RuntimeError):
    """An exact check did not hold: a bug in the code, not a finding about the claim."""


def curves_down(second_difference, scale, tol: float = CURVATURE_TOL):
    """Whether a second difference counts as curving down: below ``−tol`` times ``scale`` (the
    largest absolute second difference of the same function). Works elementwise on a numpy
    array (a bool array) as on a float (a bool)."""
    return second_difference < -tol * scale


def _check(exact: list[Finding]) -> None:
    failed = [f for f in exact if f.outcome != YES]
    if failed:
        what = "; ".join(
            f"{f.name}: {general(f.estimate, 3)} against ±{general(f.stated_margin)}"
            for f in failed
        )
        raise ExactCheckFailed(
            f"cross-entropy: an exact check failed ({what}). These are identities and "
            "theorems, so this is a bug in the code, not a finding: the chapter does not decide."
        )


def _pct(ratio_margin: float) -> str:
    """A ratio margin as the growth it stands for: ``1.25`` → ``"25 %"``."""
    return f"{shortest(100 * (ratio_margin - 1))} %"


def _ece_clause(ece: Finding) -> str:
    """What the calibration-error finding says, from its outcome (one number: its margin)."""
    m = _pct(ece.stated_margin)
    if ece.counted == YES:
        return f"the calibration error grew by more than its {m} margin"
    if ece.counted == NO:
        return f"the calibration error did not grow by {m} or more"
    if ece.counted == REVERSED:
        return f"the calibration error shrank by more than its {m} margin"
    return f"whether the calibration error grew is undecided at its {m} margin"


def reading(measured: list[Finding]) -> str:
    """What the held-out digits findings say about a rise of validation CE after its minimum,
    in plain words, from the outcomes of all three primary findings (the rise, the rise after
    temperature scaling, the growth of the calibration error); at most one number, a margin.
    Over-confidence is named as the reading only when one temperature removes the rise *and*
    the calibration error grew; otherwise the sentence says which of the two is undecided or
    disagrees."""
    rise, scaled, ece = (f for f in measured if f.role == "primary")
    if rise.counted == F_INCONCLUSIVE:
        return "Whether its validation CE rose after its minimum is undecided in this run."
    if rise.counted in (NO, REVERSED):
        m = _pct(rise.stated_margin)
        return f"Its validation CE did not rise by {m} or more after its minimum."
    calib = _ece_clause(ece)
    if scaled.counted == YES:
        return (
            "Its validation CE rose after its minimum, and part of the rise survives one "
            f"temperature: the late network ranks worse, not only more confidently; {calib}."
        )
    if scaled.counted == F_INCONCLUSIVE:
        return (
            "Its validation CE rose after its minimum; whether one temperature removes the rise "
            f"is undecided in this run, and {calib}."
        )
    better = (
        " (after scaling, the late network even scores better)"
        if scaled.counted == REVERSED
        else ""
    )
    removed = (
        "Its validation CE rose after its minimum, and one temperature fitted on held-out "
        f"data removes the rise{better}"
    )
    if ece.counted == YES:
        return f"{removed}, and {calib}: the rise was over-confidence."
    if ece.counted == F_INCONCLUSIVE:
        return f"{removed}, as over-confidence would; {calib}."
    return f"{removed}, as over-confidence would, but {calib}: the two readings disagree."


_OPENING = {PARTLY: "Partly", INCONCLUSIVE: "Undecided"}
"""The first word of the plain answer for each verdict word the rule can return, so that the
answer never opens with a different answer than the verdict's label."""


def _opening(word: str) -> str:
    return _OPENING[word]


def decide(metrics) -> Verdict:
    """Verdict of chapter 1 on "cross-entropy is introduced to make the cost function convex".

    The claim is about a *motive*. Cross-entropy comes from maximum likelihood (it is the
    negative log-likelihood, checked exactly on the page); convexity of logistic regression's
    cost is a consequence of that choice (Bernoulli likelihood, canonical link), and with a
    hidden layer the cost is non-convex for certain (swapping two hidden units), whatever the
    loss. Rule (STUDY.md, chapter 1, v3):

    - every exact check (:func:`evidence.exact_checks`) must hold, or the chapter raises
      :class:`ExactCheckFailed` (a bug, not a finding);
    - **partly supported** when the contrast (:func:`evidence.contrast`: the squared-error
      cost curves down on the grid) is shown: convexity in logistic regression is a by-product
      of maximum likelihood that the loss brings and that does not extend to networks;
    - **inconclusive** otherwise: this grid does not show the contrast between the two losses.

    "Supported" would need the motive and a convex cost beyond logistic regression; the rule
    never returns it. The held-out digits findings (:func:`evidence.measured`) answer the
    chapter's second question, how to read a CE value, and do not change the word.
    """
    exact = ev.exact_checks(metrics)
    _check(exact)
    con = ev.contrast(metrics)
    c = metrics["convexity"]
    mle = metrics["mle"]
    gap = abs(float(mle["bernoulli_ce_at_mean"]) - float(mle["bernoulli_nll_over_n"]))
    shown = con.outcome == YES
    word = PARTLY if shown else INCONCLUSIVE
    ce_min = general(float(c["logreg_ce_min_curvature"]), 2, sign=True)
    mse_min = general(float(c["logreg_mse_min_curvature"]), 2, sign=True)
    origin = (
        "The claim is about a motive: cross-entropy comes from maximum likelihood (mean CE and "
        f"NLL/n differ by {sci(gap)} nats here)"
    )
    grid = (
        f"for logistic regression the smallest second difference on the grid is {ce_min} with "
        f"cross-entropy (never curving down) and {mse_min} with squared error"
    )
    if shown:
        tail = (
            "so convexity there is a by-product of the likelihood's loss, and it does not "
            "extend to networks, whose costs are non-convex for certain by the unit-swap "
            "symmetry"
        )
        plain = (
            f"{_opening(word)}: not as a motive — cross-entropy comes from maximum likelihood, "
            "not from a wish for convexity. Convexity is a by-product that holds for logistic "
            "regression and not for networks with hidden layers."
        )
    else:
        tail = (
            "this grid does not show the squared-error cost curving down, so it cannot show "
            "that convexity comes with the loss"
        )
        plain = (
            f"{_opening(word)}: cross-entropy comes from maximum likelihood; this run's grid "
            "does not show the contrast with squared error, so the convexity part is undecided."
        )
    d = metrics["digits"]
    g, base = d["geometric_mean_probability_end"], d["baseline_geometric_mean_probability"]
    read = (
        f"To read a value, take e^(−CE): this digits network gives the true class a "
        f"geometric-mean probability of {g['mean']:z.2f}, against {base:z.2f} for guessing "
        "from the class frequencies. " + reading(ev.measured(metrics))
    )
    return Verdict(CLAIM, word, f"{origin}; {grid}; {tail}.", f"{plain} {read}")


def power_of(metrics) -> list[dict]:
    """For each measured primary finding (:func:`evidence.measured`): the finding, its
    interval half-width and margin on the log scale and, when it is inconclusive, roughly how
    many seeds a decision would need (:func:`dropout_study.chapters.power.power`, with the
    per-seed standard deviation of the log ratios)."""
    ps = metrics["digits"]["per_seed"]
    keys = (("ce_end", "ce_best"), ("ce_scaled_end", "ce_scaled_best"), ("ece_end", "ece_best"))
    out = []
    prim = [f for f in ev.measured(metrics) if f.role == "primary"]
    for f, (end, best) in zip(prim, keys, strict=True):
        logs = np.log(np.asarray(ps[end], dtype=float) / np.asarray(ps[best], dtype=float))
        sd = float(np.std(logs, ddof=1)) if logs.size > 1 else math.nan
        out.append({"finding": f, **power(f, sd)})
    return out
