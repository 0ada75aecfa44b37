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

from collections.abc import Iterable, Mapping
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
    "FIXED_BY_RULE",
    "NO_NEW_EVIDENCE",
    "NOT_COUNTED",
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

    @property
    def not_counted(self) -> str:
        """Why the row is left out of the counts, one of :data:`NOT_COUNTED` (``""`` when
        counted): ``"exploratory"``; ``"fixed by the rule"`` (reason :data:`FIXED_BY_RULE`);
        ``"no new evidence"`` (a reason ending in ``": "`` + :data:`NO_NEW_EVIDENCE`: it
        re-decides numbers another row or the primary already shows); else ``"not
        applicable"`` (its findings cannot decide)."""
        if self.exploratory:
            return "exploratory"
        if self.applicable:
            return ""
        if self.reason == FIXED_BY_RULE:
            return "fixed by the rule"
        if self.reason.endswith(": " + NO_NEW_EVIDENCE):
            return NO_NEW_EVIDENCE
        return "not applicable"


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
        """Rows left out of the counts, exploratory ones aside (every kind of
        :attr:`Alternative.not_counted`)."""
        return sum(not a.applicable and not a.exploratory for a in self.alternatives)

    @property
    def left_out(self) -> dict[str, int]:
        """How many non-exploratory rows are left out of the counts, by why (the kinds of
        :data:`NOT_COUNTED` but ``"exploratory"``, in that order; kinds with no row omitted)."""
        kinds = [a.not_counted for a in self.alternatives if not a.exploratory]
        return {k: kinds.count(k) for k in NOT_COUNTED[:3] if k in kinds}

    def _tail(self) -> str:
        """``" (not counted: 1 not applicable, 2 fixed by the rule)"``, or ``""``."""
        parts = [f"{n} {k}" for k, n in self.left_out.items()]
        return f" (not counted: {', '.join(parts)})" if parts else ""

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
        """E.g. ``"5 of 6 agree, 1 flip, 0 only inconclusive (not counted: 1 fixed by the
        rule)"``, or with an inconclusive primary ``"3 of 4 also inconclusive, 1 decided
        (…): name → word"``; the parenthesis says why rows are left out (:meth:`left_out`)."""
        if not self.alternatives:
            return "no alternatives named"
        tail = self._tail()
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
            "left_out": self.left_out,
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
                agrees, detail = f"{a.not_counted} (not counted)", f"{a.reason}. {a.detail}"
                detail = detail.strip()
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


FIXED_BY_RULE = (
    "the rule gives this word for every outcome the findings this choice moves could take"
    " (any outcome, or only those a moved margin allows)"
)
"""The reason of a row :func:`dropout_study.chapters.reach.fixed_by_rule` or
:func:`~dropout_study.chapters.reach.fixed_within` finds: it cannot disagree, so it is not
counted."""

NO_NEW_EVIDENCE = "no new evidence"
"""The end of the reason of a row that re-decides numbers the primary or an earlier row
already shows (e.g. ``"same numbers as the row “…”: no new evidence"``): not counted."""

NOT_COUNTED = ("not applicable", "fixed by the rule", NO_NEW_EVIDENCE, "exploratory")
"""The reasons a robustness row is left out of the counts (:attr:`Alternative.not_counted`)."""
