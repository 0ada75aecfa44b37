"""Which robustness rows could change a verdict at all (STUDY.md, "Robustness, counted
honestly"): a row that moves only some findings, by a margin or a re-estimate, may be unable
to give any word but the primary's; such a row agrees by construction, so it is shown with
:data:`dropout_study.chapters.verdicts.FIXED_BY_RULE` and left out of the counts.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence

from dropout_study.validation import fail

__all__ = ["fixed_by_rule", "fixed_within", "margin_reach", "reachable"]


def fixed_by_rule(
    rule: Callable[[Mapping[str, str]], str],
    outcomes: Mapping[str, str],
    moved: Iterable[str],
    values: Sequence[str] = ("yes", "no", "reversed", "inconclusive"),
) -> bool:
    """Whether an alternative analysis that changes only the findings named in ``moved``
    could change the verdict at all: ``rule`` maps finding name → outcome to a verdict word;
    the other findings keep their ``outcomes``. ``True`` when every combination of ``values``
    for the moved findings gives one word — such a row agrees by construction, and counting it
    inflates agreement (mark it ``applicable=False`` with :data:`FIXED_BY_RULE`). Calls
    ``rule`` at most ``len(values) ** len(moved)`` times."""
    names = list(moved)
    if not names:
        return True
    words = set()
    for combo in itertools.product(values, repeat=len(names)):
        words.add(rule({**outcomes, **dict(zip(names, combo, strict=True))}))
        if len(words) > 1:
            return False
    return True


_Y, _N, _R, _I = "yes", "no", "reversed", "inconclusive"  # findings.OUTCOMES
_REACH = {  # (kind, wider?) → outcome → the outcomes the moved margin can give
    ("effect", True): {_Y: (_Y, _I, _N), _N: (_N,), _R: (_R, _I, _N), _I: (_I, _N)},
    ("effect", False): {_Y: (_Y,), _N: (_Y, _N, _R, _I), _R: (_R,), _I: (_I, _Y, _R)},
    ("equivalence", True): {_Y: (_Y,), _N: (_N, _I, _Y), _I: (_I, _Y)},
    ("equivalence", False): {_Y: (_Y, _I, _N), _N: (_N,), _I: (_I, _N)},
}


def margin_reach(kind: str, outcome: str, wider: bool) -> tuple[str, ...]:
    """The outcomes a finding can take when only its margin moves (same interval), from its
    ``outcome``: :func:`dropout_study.chapters.findings.decide` is monotone in the margin, so
    a wider margin keeps an effect's ``no`` a ``no`` (and may turn its ``yes`` undecided or
    ``no``), a narrower one keeps its ``yes`` a ``yes``; an equivalence the other way round.
    ``kind``: ``"effect"`` (a trend is decided like one) or ``"equivalence"``; raises
    ``ValueError`` for another kind or outcome."""
    table = _REACH.get((kind, bool(wider)))
    if table is None:
        fail("kind", "margin_reach", "'effect' or 'equivalence'", kind)
    if outcome not in table:
        fail("outcome", "margin_reach", f"one of {sorted(table)} for {kind}", outcome)
    return table[outcome]


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))


def reachable(prim, alt) -> tuple[str, ...]:
    """The outcomes an alternative finding ``alt`` could take given the primary ``prim``:
    ``()`` when nothing moved (same interval, margin and outcome); when only the margin of an
    effect or equivalence moved (same interval), those :func:`margin_reach` allows from the
    primary's outcome; otherwise every outcome."""
    same_iv = all(_same(getattr(prim, k), getattr(alt, k)) for k in ("estimate", "low", "high"))
    same_rest = prim.kind == alt.kind and prim.applicable == alt.applicable
    if same_iv and same_rest and _same(prim.margin, alt.margin) and prim.outcome == alt.outcome:
        return ()
    if not (same_iv and same_rest and prim.applicable) or prim.kind not in (
        "effect",
        "equivalence",
    ):
        return (_Y, _N, _R, _I)
    return margin_reach(prim.kind, prim.outcome, float(alt.margin or 0) > float(prim.margin or 0))


def fixed_within(
    rule: Callable[[Mapping[str, str]], str],
    outcomes: Mapping[str, str],
    reach: Mapping[str, Sequence[str]],
) -> bool:
    """:func:`fixed_by_rule` with each moved finding over its own outcomes: ``reach`` maps a
    finding name to the outcomes the row can give it (e.g. :func:`reachable`; empty: not
    moved). Index ``i`` stands for a finding's ``i``-th reachable outcome, clamped to its last
    (which repeats an outcome, so adds no word)."""
    moved = [k for k, r in reach.items() if r]

    def word(named) -> str:
        out = dict(outcomes)
        for k in moved:
            out[k] = reach[k][min(int(named[k]), len(reach[k]) - 1)]
        return rule(out)

    size = max((len(reach[k]) for k in moved), default=1)
    return fixed_by_rule(word, outcomes, moved, [str(i) for i in range(size)])
