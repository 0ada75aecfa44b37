"""The plain-words answer of the ``l1-vs-l2`` chapter's verdict (:func:`answer`), built from
the findings' outcomes (STUDY.md, "Reading"): a learner's sentence first, the numbers in the
verdict sentence (:mod:`dropout_study.chapters.l1_vs_l2.verdict`)."""

from __future__ import annotations

from dropout_study.chapters.findings import NO, REVERSED, YES, Finding
from dropout_study.chapters.verdicts import INCONCLUSIVE, SUPPORTED
from dropout_study.numfmt import general

__all__ = ["answer"]


def answer(e: dict, word: str, units: dict | None, acc_margin: float) -> str:
    """The plain-words answer of the verdict (at most three numbers) from an
    :func:`~dropout_study.chapters.l1_vs_l2.analysis.evaluate` record ``e``, the verdict
    ``word``, the unit counts ``units`` (``None`` before λ*(L1) exists) and the accuracy
    margin."""
    if e["star_l1"] is None:
        return (
            f"No. Every L1 penalty on the grid cost more than {general(acc_margin)} of "
            "validation accuracy, so L1 gets no credit for sparsity here."
        )
    if units is None:
        raise ValueError("the answer needs the unit counts once λ*(L1) exists (unit_death)")
    f = e["finding"]
    est = f"{f.estimate:z.2f}"
    if word == INCONCLUSIVE:
        why = f.reason if not f.applicable else "its interval straddles the margin"
        return (
            "Undecided. Whether L1 concentrates the weights more than L2 at the same validation "
            f"loss cannot be decided from this run ({why})."
        )
    if f.counted in (NO, REVERSED):
        return (
            "No. At the same validation loss, L1's weights were not concentrated on fewer "
            f"connections than L2's by the margin (Hoyer index difference {est})."
        )
    head = (
        f"{'Yes' if word == SUPPORTED else 'Partly'}. At the same validation loss, L1 "
        "concentrated the weights on far fewer connections than L2"
    )
    ch = e["checks"]
    if ch["passed"]:
        head += ", and L2 set no weight exactly to zero."
    elif not ch["zeros"]["passed"]:
        head += ", but L2 also set weights exactly to zero."
    else:
        head += ", but L2 did not shrink the weights."
    tail = ""
    most = bool(units and units["share"] is not None and units["share"]["mean"] > 0.5)
    if units and units.get("living_l1") is not None:
        tail += f" At λ*, L1 left only {units['living_l1']:z.1f} living hidden units per network"
        tail += ", and most of its zeros belong to the units it switched off." if most else "."
    elif most:
        tail += " Most of L1's zeros belong to whole hidden units it switched off."
    if units:
        u2 = e["units_l2"]
        k, n = units["seeds_more_l2"], units["n"]
        if u2.counted == YES:
            tail += f" L2 switched off whole units too, in {k} of {n} seeds: it selects units."
        elif u2.counted == REVERSED:
            tail += " L2 kept more units alive than no penalty did."
        elif not u2.applicable:
            tail += (
                f" L2 switched off more units than no penalty did in {k} of {n} seeds; "
                f"{u2.reason}: too many ties to decide whether it selects units."
            )
        else:
            tail += (
                f" L2 switched off whole units in {k} of {n} seeds; that it switches off more "
                "than no penalty was not shown."
            )
    return head + tail + _l2_concentrates(e)


def _raised(f: Finding | None) -> bool:
    """Whether an equivalence finding on Hoyer(L2) − Hoyer(none) says L2 raised the index
    beyond the margin: outcome "no" (a change beyond the margin) with a positive estimate."""
    return f is not None and f.counted == NO and f.estimate > 0


def _l2_concentrates(e: dict) -> str:
    """A sentence when L2 itself concentrated the weights beyond the margin compared with no
    penalty (Hoyer(L2) − Hoyer(none), dead units included, a change beyond ±δ upward):
    "shrinks" is then relative to L1 (whose lead over L2 is the primary finding, "yes"
    wherever this is called)."""
    same, same_all = e.get("l2_same"), e.get("l2_same_all")
    if not _raised(same_all):
        return ""
    where = "over its living units too" if _raised(same) else "counting the units it switched off"
    return (
        " In this run L2 itself also concentrated the weights beyond the margin compared with "
        f"no penalty ({where}), though far less than L1."
    )
