"""The box each chapter opens with: the plain-words answer, the claim, the verdict and its
technical sentence.

:func:`glue_answer` (called by ``report.finish``) glues ``claim`` (text) and ``verdict_badge``
(MyST markup of the coloured badge with its symbol, for ``{glue:md}``); ``verdict`` and
``verdict_sentence`` and ``answer`` (the plain-words answer a learner reads first) are glued by
``report.finish`` itself. A chapter shows the box by placing
:data:`SNIPPET` right under its title — glue resolves anywhere on the page, so the reader
learns the answer before the method, while the rule and margins still come before the
results in the body.
"""

from __future__ import annotations

from dropout_study.chapters.verdicts import badge

__all__ = ["SNIPPET", "glue_answer"]

SNIPPET = """\
<!-- answer box (dropout_study.book.answer_box.SNIPPET): keep as is, filled from the run -->
:::{admonition} In short
:class: ds-answer

{glue:md}`answer:myst`

*Claim:* {glue:text}`claim`

*Verdict:* {glue:md}`verdict_badge:myst` — {glue:text}`verdict_sentence`
:::
<!-- end of answer box -->
"""
"""MyST markup of the box (a colon fence, so it nests in any page)."""


def glue_answer(word: str, claim: str, glue_text, glue_markdown) -> None:
    """Glue ``claim`` with ``glue_text`` and ``verdict_badge`` with ``glue_markdown`` (the
    report's ``text`` and ``markdown``)."""
    glue_text("claim", " ".join(str(claim).split()))
    glue_markdown("verdict_badge", badge(word))
