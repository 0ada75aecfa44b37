"""The verdict vocabulary, the :class:`Verdict` record and the robustness table.

Each chapter's rule lives in its own folder, ``dropout_study.chapters.<id>.verdict``, as one
pure function ``decide(metrics) -> Verdict`` (and, where the chapter names alternative analysis
choices, ``robustness(metrics) -> Robustness``). A rule only reads the metrics dict it is
given (no I/O, no randomness) and is tested branch by branch on synthetic metrics in
``tests/chapters/<id>/test_verdict.py``; its docstring states the rule and its margins.

The vocabulary (STUDY.md, "Common ground"):

- ``supported`` — the data back the claim at the stated margin;
- ``partly supported`` — a part of the claim holds, another does not (the sentence says which);
- ``not supported`` — the data contradict the claim at the stated margin;
- ``inconclusive`` — the data cannot decide at the stated margin: an interval straddles the
  margin, or too few seeds qualified.

In the book every word carries a symbol as well as a colour (:data:`SYMBOLS`,
:func:`badge`), so it reads without colour vision.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

from dropout_study.validation import fail

__all__ = [
    "Verdict",
    "WORDS",
    "SUPPORTED",
    "PARTLY",
    "NOT_SUPPORTED",
    "INCONCLUSIVE",
    "SYMBOLS",
    "COLOURS",
    "label",
    "badge",
    "pick",
    "Alternative",
    "Robustness",
    "robustness",
    "fixed_by_rule",
    "fixed_within",
    "FIXED_BY_RULE",
    "margin_reach",
    "reachable",
]

SUPPORTED = "supported"
PARTLY = "partly supported"
NOT_SUPPORTED = "not supported"
INCONCLUSIVE = "inconclusive"
WORDS = (SUPPORTED, PARTLY, NOT_SUPPORTED, INCONCLUSIVE)

SYMBOLS = {SUPPORTED: "✔", PARTLY: "◐", NOT_SUPPORTED: "✘", INCONCLUSIVE: "?"}
"""One symbol per word, so a verdict never rests on colour alone."""

COLOURS = {SUPPORTED: "success", PARTLY: "warning", NOT_SUPPORTED: "danger", INCONCLUSIVE: "info"}
"""sphinx-design badge colour of each word (green, amber, red, blue-grey)."""


def _check_word(word, owner: str) -> str:
    if word not in WORDS:
        fail("word", owner, "one of " + ", ".join(map(repr, WORDS)), word)
    return word


def label(word: str) -> str:
    """Plain-text form with its symbol, e.g. ``"✔ supported"`` (terminal, README)."""
    return f"{SYMBOLS[_check_word(word, 'label')]} {word}"


def badge(word: str) -> str:
    """MyST markup of a verdict word: a coloured sphinx-design badge that also carries the
    word's symbol, e.g. ``{bdg-success}`✔ supported```."""
    return f"{{bdg-{COLOURS[_check_word(word, 'badge')]}}}`{label(word)}`"


@dataclass(frozen=True)
class Verdict:
    """``claim``: the claim tested, in the words people repeat; ``word``: one of
    :data:`WORDS`; ``sentence``: the technical sentence with the numbers behind the word;
    ``answer``: the plain-words answer to the source's question (one or two sentences a
    learner understands, built from the findings' outcomes, at most three numbers), which the
    chapter's answer box opens with."""

    claim: str
    word: str
    sentence: str
    answer: str = ""

    def __post_init__(self) -> None:
        _check_word(self.word, "Verdict")

    def as_dict(self) -> dict:
        return asdict(self)


def pick(metrics, need: tuple[str, ...], owner: str) -> dict:
    """``{key: metrics[key]}`` for the keys in ``need``; names the first missing one."""
    missing = [k for k in need if k not in metrics]
    if missing:
        raise ValueError(
            f"The 'metrics' parameter of {owner} must hold {', '.join(need)}; "
            f"got no {missing[0]!r}."
        )
    return {k: metrics[k] for k in need}


# ---------------------------------------------------------------------------------------------
# robustness table
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alternative:
    """One alternative analysis choice and the verdict re-decided under it.

    ``choice``: what differs from the primary analysis (e.g. ``"target: 50 % of own
    improvement"``); ``word``: the verdict under it; ``detail``: the number(s) it rests on.
    ``applicable=False`` marks a row that cannot decide (its findings tied or undefined in
    too many seeds, or fixed by algebra; ``reason`` says which): shown, left out of every
    count. ``exploratory=True`` marks a row that measures a different quantity (e.g. a hidden
    layer instead of the logit): shown, not counted.
    """

    choice: str
    word: str
    detail: str = ""
    applicable: bool = True
    reason: str = ""
    exploratory: bool = False

    def __post_init__(self) -> None:
        _check_word(self.word, "Alternative")
        if not self.applicable and not self.reason:
            fail("reason", "Alternative", "a reason when the row is not applicable", self.reason)

    @property
    def counted(self) -> bool:
        return self.applicable and not self.exploratory


@dataclass(frozen=True)
class Robustness:
    """The primary verdict and the verdicts under each named alternative (same run), counted
    honestly (STUDY.md, "Robustness, counted honestly").

    Of the ``n`` counted alternatives (applicable, not exploratory), with a definite primary
    word: ``agree`` give it, ``flips`` give another definite word, ``to_inconclusive`` only
    move to inconclusive. With an inconclusive primary: ``also_inconclusive`` are inconclusive
    too and ``decided`` are not (they are named) — inconclusive rows never count as agreeing.
    ``not_applicable`` rows are shown and counted apart; exploratory rows are shown only.
    """

    primary: str
    alternatives: tuple[Alternative, ...]

    def __post_init__(self) -> None:
        _check_word(self.primary, "Robustness")

    @property
    def counted(self) -> tuple[Alternative, ...]:
        return tuple(a for a in self.alternatives if a.counted)

    @property
    def n(self) -> int:
        return len(self.counted)

    @property
    def not_applicable(self) -> int:
        return sum(not a.applicable and not a.exploratory for a in self.alternatives)

    @property
    def exploratory(self) -> int:
        return sum(a.exploratory for a in self.alternatives)

    @property
    def agree(self) -> int:
        if self.primary == INCONCLUSIVE:
            return 0
        return sum(a.word == self.primary for a in self.counted)

    @property
    def to_inconclusive(self) -> int:
        if self.primary == INCONCLUSIVE:
            return 0
        return sum(a.word == INCONCLUSIVE for a in self.counted)

    @property
    def flips(self) -> int:
        if self.primary == INCONCLUSIVE:
            return 0
        return self.n - self.agree - self.to_inconclusive

    @property
    def also_inconclusive(self) -> int:
        if self.primary != INCONCLUSIVE:
            return 0
        return sum(a.word == INCONCLUSIVE for a in self.counted)

    @property
    def decided(self) -> tuple[Alternative, ...]:
        """With an inconclusive primary, the counted rows that reach a definite word."""
        if self.primary != INCONCLUSIVE:
            return ()
        return tuple(a for a in self.counted if a.word != INCONCLUSIVE)

    def summary(self) -> str:
        """E.g. ``"5 of 6 agree, 1 flip, 0 only inconclusive (1 not applicable)"``, or with
        an inconclusive primary ``"3 of 4 also inconclusive, 1 decided (…): name → word"``."""
        if not self.alternatives:
            return "no alternatives named"
        tail = f" ({self.not_applicable} not applicable)"
        if self.primary == INCONCLUSIVE:
            text = (
                f"{self.also_inconclusive} of {self.n} also inconclusive, "
                f"{len(self.decided)} decided{tail}"
            )
            if self.decided:
                text += ": " + "; ".join(f"{a.choice} → {a.word}" for a in self.decided)
            return text
        return (
            f"{self.agree} of {self.n} agree, {self.flips} flip, "
            f"{self.to_inconclusive} only inconclusive{tail}"
        )

    def as_dict(self) -> dict:
        return {
            "primary": self.primary,
            "alternatives": [asdict(a) for a in self.alternatives],
            "n": self.n,
            "agree": self.agree,
            "flips": self.flips,
            "to_inconclusive": self.to_inconclusive,
            "also_inconclusive": self.also_inconclusive,
            "decided": [a.choice for a in self.decided],
            "not_applicable": self.not_applicable,
            "exploratory": self.exploratory,
            "summary": self.summary(),
        }

    def markdown(self) -> str:
        """A MyST list-table: choice, verdict (badge), agrees?, detail; then the count."""
        lines = ["```{list-table}", ":header-rows: 1", ":widths: 34 18 10 38", ""]
        rows = [["Analysis choice", "Verdict", "Agrees", "Evidence"]]
        for a in self.alternatives:
            if a.exploratory:
                agrees, detail = "exploratory (not counted)", a.detail
            elif not a.applicable:
                agrees, detail = "not applicable", f"{a.reason}. {a.detail}".strip()
            elif self.primary == INCONCLUSIVE:
                agrees = "also inconclusive" if a.word == INCONCLUSIVE else "decided"
                detail = a.detail
            else:
                agrees, detail = ("yes" if a.word == self.primary else "no"), a.detail
            rows.append([a.choice, badge(a.word), agrees, detail or "—"])
        for row in rows:
            lines += [f"* - {_one_line(row[0])}"] + [f"  - {_one_line(c)}" for c in row[1:]]
        lines += ["```", "", f"Primary verdict {badge(self.primary)}: {self.summary()}.", ""]
        return "\n".join(lines)


def _one_line(text) -> str:
    return " ".join(str(text).split())


def robustness(primary: str, alternatives: Iterable) -> Robustness:
    """Build a :class:`Robustness` from ``(choice, word[, detail])`` tuples, mappings with
    those keys, or :class:`Alternative` objects."""
    rows = []
    for a in alternatives:
        if isinstance(a, Alternative):
            rows.append(a)
        elif isinstance(a, Mapping):
            rows.append(
                Alternative(
                    str(a["choice"]),
                    a["word"],
                    str(a.get("detail", "")),
                    bool(a.get("applicable", True)),
                    str(a.get("reason", "")),
                    bool(a.get("exploratory", False)),
                )
            )
        else:
            rows.append(Alternative(*a))
    return Robustness(primary, tuple(rows))


FIXED_BY_RULE = "the rule gives this word whatever the findings this choice moves say"
"""The reason of a row :func:`fixed_by_rule` finds: it cannot disagree, so it is not counted."""


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
