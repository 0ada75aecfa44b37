"""One pure function per claim: a chapter's metrics → a :class:`Verdict`.

A verdict word is one of :data:`WORDS`; its sentence carries the numbers it was decided on, so
a reader who reruns a chapter with other parameters reads a verdict that follows their data.
Each function only reads the metrics dict it is given (no I/O, no randomness) and is tested
branch by branch on synthetic metrics in ``tests/test_verdicts.py``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Verdict", "WORDS", "SUPPORTED", "PARTLY", "NOT_SUPPORTED"]

SUPPORTED = "supported"
PARTLY = "partly supported"
NOT_SUPPORTED = "not supported"
WORDS = (SUPPORTED, PARTLY, NOT_SUPPORTED)


@dataclass(frozen=True)
class Verdict:
    """``claim``: the claim tested, in the words people repeat; ``word``: one of
    :data:`WORDS`; ``sentence``: one sentence with the numbers behind the word."""

    claim: str
    word: str
    sentence: str

    def __post_init__(self) -> None:
        if self.word not in WORDS:
            raise ValueError(
                f"The 'word' parameter of Verdict must be one of {', '.join(map(repr, WORDS))}; "
                f"got {self.word!r}."
            )

    def as_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# cross-entropy (chapter 1)
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# cost-under-dropout (chapter 2)
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# noisy-loss (chapter 3)
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# l1-vs-l2 (chapter 4)
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# linearity (chapter 5)
# ---------------------------------------------------------------------------------------------
