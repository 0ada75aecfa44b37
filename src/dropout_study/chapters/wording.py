"""How findings read on a page: outcome words that never say "not shown" and "no" alike,
intervals and margins as text, the findings table, counts by outcome
(:mod:`dropout_study.chapters.findings` decides them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dropout_study.chapters.findings import (
    INCONCLUSIVE,
    NO,
    OUTCOMES,
    REVERSED,
    YES,
    Finding,
)
from dropout_study.numfmt import bracket, ratio, shortest, significant

__all__ = [
    "outcome_words",
    "kind_words",
    "counts",
    "interval_text",
    "margin_text",
    "table_markdown",
    "md_text",
    "list_table",
    "TABLE_HEADER",
]

_WORDS = {
    "effect": {
        YES: "shown",
        NO: "no effect worth the name",
        REVERSED: "reversed",
        INCONCLUSIVE: "not shown (undecided at this margin)",
    },
    "trend": {
        YES: "a trend in the predicted direction",
        NO: "no trend",
        REVERSED: "a trend the other way",
        INCONCLUSIVE: "not shown (undecided)",
    },
    "equivalence": {
        YES: "no change beyond the margin",
        NO: "a change beyond the margin",
        REVERSED: "a change beyond the margin",
        INCONCLUSIVE: "not shown either way (undecided)",
    },
    "sign": {
        YES: "shown (sign only)",
        NO: "contradicted",
        REVERSED: "reversed",
        INCONCLUSIVE: "not shown (undecided)",
    },
}


def outcome_words(f: Finding) -> str:
    """A few words for ``f``'s outcome that never say "not shown" and "no"/"reversed" alike;
    a not-applicable finding reads "not applicable (<reason>)"."""
    if not f.applicable:
        return f"not applicable ({f.reason})"
    return _WORDS[f.kind][f.outcome]


def kind_words(kind, outcome: str) -> str:
    """:func:`outcome_words` from a finding's recorded ``kind`` and ``outcome`` (e.g. a
    confirmation record's); the bare outcome for a kind without words (or none recorded)."""
    return _WORDS.get(str(kind), {}).get(outcome, outcome)


def counts(findings: Iterable[Finding], role: str | None = None) -> dict:
    """``{outcome: count}`` over the applicable findings (of ``role``, if given), plus
    ``"not applicable"``."""
    out = {o: 0 for o in OUTCOMES} | {"not applicable": 0}
    for f in findings:
        if role is not None and f.role != role:
            continue
        out[f.outcome if f.applicable else "not applicable"] += 1
    return out


def interval_text(f: Finding, peers: Iterable[Finding] = ()) -> str:
    """``"0.350 [0.290, 0.400]"`` (``"1.50× [1.30, 1.80]"`` for a ratio) with true minus
    signs, by :func:`~dropout_study.numfmt.bracket`: 3 significant digits with their trailing
    zeros, more where the estimate, its bounds and the margin's boundaries (``±m``; ``m`` and
    ``1/m`` for a ratio) would read alike; the rounding residue of an exact zero reads ``0``.
    ``peers``: the other findings shown on the same page; the boundaries of every peer with
    the same estimate and bounds (the same numbers decided at another margin, as a robustness
    row does) count too, so that a finding's numbers read the same in every row and sentence
    that is given the page's findings."""
    unit = "×" if f.scale == "log" else ""
    same = [p for p in peers if _numbers(p) == _numbers(f) and p.scale == f.scale]
    against = tuple(dict.fromkeys(e for g in (f, *same) for e in _edges(g)))
    return bracket(f.estimate, f.low, f.high, fmt=significant, against=against, unit=unit)


def _numbers(f: Finding) -> tuple:
    return (f.estimate, f.low, f.high)


def _edges(f: Finding) -> tuple:
    """The values ``f``'s interval is decided against: ``±m``, or ``m`` and ``1/m`` for a
    ratio; ``0`` for a test of sign."""
    m = f.margin if f.kind != "sign" and f.margin is not None else 0.0
    return (m, 1 / m) if f.scale == "log" and m > 0 else (m, -m)


def margin_text(f: Finding) -> str:
    """The margin as the decision reads it: ``±0.1``, ``×/÷ 1.2``, ``0`` for a sign test."""
    if f.kind == "sign" or f.margin is None:
        return "0 (sign only)"
    if f.scale == "log":
        return f"×/÷ {ratio(f.margin)}"
    return f"±{shortest(f.margin)}"


TABLE_HEADER = ("Finding", "Estimate [95 % interval], seeds", "Margin (source)", "Outcome")
"""The header of :func:`table_markdown` (the book's Sphinx extension stacks such tables into
cards on a phone; a test keeps the two equal)."""


def list_table(
    header: Sequence, rows: Iterable[Sequence], widths: Sequence[int] | None = None
) -> str:
    """A MyST ``list-table`` (header row first; each cell's text on one line; stacked into
    cards on a phone by the book's extension). ``widths``: relative column widths."""
    lines = ["```{list-table}", ":header-rows: 1"]
    if widths:
        lines.append(":widths: " + " ".join(str(w) for w in widths))
    lines.append("")
    for row in [list(header), *rows]:
        cells = [" ".join(str(c).split()) for c in row]
        lines += [f"* - {cells[0]}"] + [f"  - {c}" for c in cells[1:]]
    return "\n".join([*lines, "```", ""])


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<"})


def md_text(text: str) -> str:
    """``text`` (a finding's name: ``R(θ*₀) at p = 0.5``) for a markdown paragraph or cell,
    its emphasis, code, link and HTML characters backslash-escaped, so that two ``θ*₀`` in
    one paragraph do not italicise what lies between them."""
    return str(text).translate(_MD_SPECIAL)


def table_markdown(findings: Sequence[Finding], peers: Sequence[Finding] | None = None) -> str:
    """A MyST list-table of ``findings``: name and role, interval and seeds, margin with its
    source, outcome in words (not-applicable rows say why). ``peers`` (default ``findings``):
    the page's findings whose numbers :func:`interval_text` writes alike."""
    peers = findings if peers is None else peers
    rows = []
    for f in findings:
        role = "" if f.role == "primary" else f" ({f.role})"
        rows.append(
            [
                f"{md_text(f.name)}{role}",
                f"{interval_text(f, peers)}, n = {f.n}",
                f"{margin_text(f)} ({f.margin_source})",
                outcome_words(f),
            ]
        )
    return list_table(TABLE_HEADER, rows, (28, 26, 26, 20))
