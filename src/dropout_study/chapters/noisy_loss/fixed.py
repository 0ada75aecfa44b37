"""Which robustness rows of the ``noisy-loss`` chapter can change its word at all (STUDY.md
v3, "Robustness, counted honestly"): the findings a row moves, the outcomes each can reach
(:func:`dropout_study.chapters.reach.reachable`: a margin-only change reaches only what
:func:`dropout_study.chapters.reach.margin_reach` allows) and
:func:`dropout_study.chapters.reach.fixed_within` over them, with the chapter's own rule.

Findings are named ``"noisier/<data set>"``, ``"slower/<data set>"``, ``"noise"`` and
``"left"`` (the shape of :func:`dropout_study.chapters.noisy_loss.evidence.primary`). A data
set a row leaves out ("<data set> alone") counts as ``yes`` for the rule: a data set's ``yes``
never changes "yes on every data set", nor "no on any".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from dropout_study.chapters.findings import YES, Finding
from dropout_study.chapters.reach import fixed_within, reachable

__all__ = ["flat", "moved", "fixed", "numbers"]


def flat(found: Mapping) -> dict[str, Finding]:
    """``{name: finding}`` of findings shaped like :func:`evidence.primary`'s."""
    out: dict[str, Finding] = {}
    for key, v in found.items():
        if isinstance(v, Mapping):
            out.update({f"{key}/{d}": f for d, f in v.items()})
        else:
            out[key] = v
    return out


def _shape(named: Mapping[str, Finding]) -> dict:
    out: dict = {}
    for name, f in named.items():
        key, _, d = name.partition("/")
        if d:
            out.setdefault(key, {})[d] = f
        else:
            out[key] = f
    return out


def numbers(found: Mapping) -> tuple:
    """What a row measured: every finding's kind, interval and margin, by name."""
    return tuple(
        sorted((k, f.kind, f.scale, f.estimate, f.low, f.high, f.margin, f.outcome)
               for k, f in flat(found).items())
    )  # fmt: skip


def moved(prim: Mapping, found: Mapping) -> bool:
    """Whether any applicable finding of ``found`` differs from the primary's (a row that
    only leaves data sets out moves none: the same numbers, fewer of them; a finding the row
    could not measure — e.g. the control on a data set it did not run on — is less evidence,
    not new evidence)."""
    p = flat(prim)
    return any(reachable(p[k], f) for k, f in flat(found).items() if f.applicable)


def fixed(prim: Mapping, found: Mapping, word: Callable[[Mapping], str]) -> bool:
    """Whether ``word`` (the chapter's rule on findings shaped like ``prim``) gives one word
    whatever the findings ``found`` moves come out, each over the outcomes it can reach, the
    others at the primary's outcomes; a left-out data set's findings count as ``yes``."""
    p, a = flat(prim), flat(found)
    outcomes = {k: f.counted for k, f in p.items()}
    reach: dict[str, tuple[str, ...]] = {}
    for k, f in p.items():
        if k in a:
            reach[k] = reachable(f, a[k])
        else:  # left out: "yes", the identity of "yes on every data set"
            reach[k] = () if f.counted == YES else (YES,)

    def rule(o: Mapping[str, str]) -> str:
        return word(_shape({k: replace(f, outcome=o[k], degenerate=False) for k, f in p.items()}))

    return fixed_within(rule, outcomes, reach)
