"""BibTeX that both BibTeX's standard styles and biblatex read, with its text as LaTeX in
pure ASCII (:func:`latex`): pdflatex with BibTeX cannot typeset Unicode such as the figure
captions' ×, −, θ, ≥ or λₘₐₓ. pylatexenc (already a dependency, for the book's alt texts)
does the escaping; this module adds what it does not do: super- and subscript runs, letters
with a combining accent, paired straight quotes and ``|``.
"""

from __future__ import annotations

import re

__all__ = ["latex", "entry"]

_SCRIPT = {"<super>": "^", "<sub>": "_"}
_ACCENT = {
    "\u0304": "bar",
    "\u0305": "overline",
    "\u0302": "hat",
    "\u0303": "tilde",
    "\u0307": "dot",
}
"""Combining marks a caption's maths leaves after a letter (``\\bar g`` reads ``g̅``)."""
_QUOTED = re.compile(r'"([^"]*)"')
"""Straight double quotes around a phrase, typeset as opening and closing quotes."""


def latex(text: str) -> str:
    """``text`` (Unicode, e.g. a caption with its maths as text, as ``cite`` prints it) as
    LaTeX in pure ASCII, for a BibTeX field that pdflatex typesets without extra packages:
    a run of Unicode super- or subscripts (``10⁻⁴``, ``λₘₐₓ``) as one ``\\ensuremath{^{-4}}``,
    a letter with a combining accent (``g̅``) as ``\\ensuremath{\\overline{g}}``, everything
    else by pylatexenc's ``unicode_to_latex`` (``×`` → ``{\\texttimes}``, ``θ`` →
    ``{\\ensuremath{\\theta}}``, ``%`` → ``{\\%}``, each in braces so BibTeX leaves its case
    alone; ``"a"`` → ``{\\textquotedblleft}a{\\textquotedblright}``, ``|`` → ``{\\textbar}``). A
    character pylatexenc does not know becomes its code point (``U+2C7C``)."""
    import unicodedata

    from pylatexenc.latexencode import (
        RULE_DICT,
        UnicodeToLatexConversionRule,
        UnicodeToLatexEncoder,
    )

    enc = UnicodeToLatexEncoder(
        conversion_rules=[  # '|' is a dash in LaTeX's default font encoding
            UnicodeToLatexConversionRule(RULE_DICT, {ord("|"): r"\textbar"}),
            "defaults",
        ],
        non_ascii_only=False,
        replacement_latex_protection="braces-all",
        unknown_char_policy="unihex",
    )
    text = _QUOTED.sub("\u201c\\1\u201d", unicodedata.normalize("NFC", str(text)))
    out: list[str] = []
    for kind, run in _runs(text):
        if kind in _SCRIPT:
            inner = unicodedata.normalize("NFKC", run).replace("\u2212", "-")
            out.append("{\\ensuremath{" + _SCRIPT[kind] + "{" + latex(inner) + "}}}")
        elif kind == "accent":
            base = latex(run[0])
            for mark in run[1:]:
                base = "\\" + _ACCENT[mark] + "{" + base + "}"
            out.append("{\\ensuremath{" + base + "}}")
        else:
            out.append(enc.unicode_to_latex(run))
    return "".join(out)


def _runs(text: str):
    """``(kind, piece)`` of ``text``: ``"<super>"``/``"<sub>"`` for a run of Unicode super- or
    subscripts, ``"accent"`` for a character and the combining accents of :data:`_ACCENT`
    after it, ``None`` for the rest."""
    import unicodedata

    i, plain = 0, ""
    while i < len(text):
        c = text[i]
        script = unicodedata.decomposition(c).split(" ")[0]
        j = i + 1
        kind: str | None = script
        if script in _SCRIPT:
            while j < len(text) and unicodedata.decomposition(text[j]).startswith(script):
                j += 1
        else:
            while j < len(text) and text[j] in _ACCENT:
                j += 1
            kind = "accent" if j > i + 1 else None
        if kind is None:
            plain += c
        else:
            if plain:
                yield None, plain
            plain = ""
            yield kind, text[i:j]
        i = j
    if plain:
        yield None, plain


def entry(key: str, kind: str, fields: dict) -> str:
    """A BibTeX entry ``@kind{key, ...}``: each field that has a value, in braces, or as given
    when it is a ``("raw", text)`` pair (a month macro such as ``nov``)."""
    lines = []
    for k, v in fields.items():
        if not v:
            continue
        lines.append(f"  {k} = {v[1]}" if isinstance(v, tuple) else f"  {k} = {{{v}}}")
    return f"@{kind}{{{key},\n" + ",\n".join(lines) + "\n}"
