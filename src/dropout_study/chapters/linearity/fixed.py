"""Which robustness rows of the ``linearity`` chapter can change its word at all (STUDY.md
v3, "Robustness, counted honestly"): the outcomes a moved finding can reach and
:func:`dropout_study.chapters.reach.fixed_within` over them."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from dropout_study.chapters.findings import INCONCLUSIVE as F_INCONCLUSIVE
from dropout_study.chapters.findings import NO, REVERSED, YES, Finding
from dropout_study.chapters.reach import fixed_within, margin_reach

__all__ = ["reachable", "fixed", "moved"]

_ALL = (YES, NO, REVERSED, F_INCONCLUSIVE)


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))


def reachable(prim: Finding, alt: Finding) -> tuple[str, ...]:
    """The outcomes ``alt`` can take given the primary ``prim``: ``()`` when nothing moved;
    when only a trend's margin moved, those a wider (narrower) margin allows from the
    primary's outcome (the interval is the same and the decision is monotone in the margin:
    a narrower margin keeps a ``yes``, a wider one keeps a ``no``); otherwise every outcome."""
    same_iv = all(_same(getattr(prim, k), getattr(alt, k)) for k in ("estimate", "low", "high"))
    same = same_iv and prim.kind == alt.kind and prim.applicable == alt.applicable
    if same and _same(prim.margin, alt.margin) and prim.outcome == alt.outcome:
        return ()
    if alt.kind == "sign":  # "no" is unreachable for a sign finding
        return (YES, REVERSED, F_INCONCLUSIVE)
    if not (same and prim.applicable and prim.kind == "trend"):
        return _ALL
    wider = float(alt.margin or 0) > float(prim.margin or 0)
    return margin_reach("effect", prim.outcome, wider)  # a trend is decided like an effect


def fixed(prim: dict, parts: dict, word_of: Callable[[Mapping[str, str]], str]) -> bool:
    """Whether the moved findings of ``parts`` (each over the outcomes it can reach,
    :func:`reachable`) cannot change the word the rule gives on the primary's findings
    (:func:`dropout_study.chapters.reach.fixed_within`)."""
    outcomes = {f"{ds}/{k}": f.counted for ds, p in prim.items() for k, f in p.items()}
    reach = {
        f"{ds}/{k}": reachable(prim[ds][k], f) for ds, p in parts.items() for k, f in p.items()
    }
    return fixed_within(word_of, outcomes, reach)


def moved(prim: dict, parts: dict) -> bool:
    """Whether any finding of ``parts`` differs from the primary's (:func:`reachable`)."""
    return any(reachable(prim[ds][k], f) for ds, p in parts.items() for k, f in p.items())
