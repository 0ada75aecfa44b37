"""Sphinx extension of the book (``sphinx: extra_extensions`` in ``_config.yml``).

What Jupyter Book 1's configuration cannot say by itself:

- the footer's copyright year is the year of the build (``SOURCE_DATE_EPOCH`` if set, for
  reproducible builds), not a year typed into ``_config.yml``;
- a book whose chapters were executed with a profile other than ``book`` shows a banner on
  every page naming the profile (:data:`BANNERS`), read from the chapters' ``metrics.json``
  (the generated state), so a smoke book never looks like the study's results;
- pages carry no script that fails without a network: the Thebe configuration (a launch
  feature this book does not use) is not emitted, and every image gets its alt text from the
  caption of its figure (:func:`alt_from_captions`);
- a glued negative number reads with a true minus sign (``−0.094``, not ``-0.094``) whatever
  format spec printed it, and a glued ``14 %`` or ``5.6 × 10⁻¹⁷`` never wraps inside
  (:func:`number_typography`).
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
import re
from pathlib import Path

__all__ = ["BANNERS", "build_year", "book_profiles", "banner_html", "number_typography", "setup"]

BANNERS = {
    "smoke": "not the study's verdicts",
    "full": "confirmatory rerun on fresh seeds",
}
"""The banner text of each non-canonical profile (the ``book`` profile has none)."""


def build_year(environ=None) -> int:
    """The year of the build: from ``SOURCE_DATE_EPOCH`` (seconds, UTC) if set, else now."""
    environ = os.environ if environ is None else environ
    epoch = environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return _dt.datetime.fromtimestamp(int(epoch), tz=_dt.UTC).year
    return _dt.datetime.now(tz=_dt.UTC).year


def book_profiles(srcdir: Path) -> list[str]:
    """Sorted profiles recorded in ``book/generated/*/metrics.json`` under ``srcdir``."""
    found = set()
    files = [*Path(srcdir).glob("book/generated/*/metrics.json"), Path(srcdir) / "metrics.json"]
    for f in sorted(p for p in files if p.is_file()):
        try:
            profile = json.loads(f.read_text(encoding="utf-8")).get("profile")
        except (OSError, ValueError):
            continue
        if profile:
            found.add(profile)
    return sorted(found)


def banner_html(profiles: list[str]) -> str:
    """The announcement shown on every page ("" for a book built with the ``book`` profile)."""
    other = [p for p in profiles if p != "book"]
    if not other:
        return ""
    parts = []
    for p in other:
        what = BANNERS.get(p, "not the study's canonical profile")
        parts.append(f"<code>{p}</code> profile — {what}")
    return '<span class="ds-profile-banner">Built with the ' + "; ".join(parts) + ".</span>"


def _config_inited(app, config) -> None:
    year = build_year()
    author = config.author or ""
    config.copyright = f"{year}, {author}" if author else str(year)
    options = dict(config.html_theme_options or {})
    banner = banner_html(book_profiles(Path(app.srcdir)))
    if banner:
        options["announcement"] = banner
    config.html_theme_options = options


def own_static(app, exc) -> None:
    """Copy the book's own static files (``html_static_path`` entries inside the project)
    into the output every build: Sphinx 7.4 leaves an existing copy alone, so an edited
    stylesheet would otherwise never reach the pages of an incremental build."""
    import shutil

    if exc is not None or not app.builder.name.endswith("html"):
        return
    confdir = Path(app.confdir).resolve()
    for entry in getattr(app.config, "html_static_path", []) or []:
        src = (confdir / entry).resolve()
        if not src.is_dir() or confdir not in src.parents:
            continue
        for f in src.iterdir():
            if f.is_file():
                shutil.copy2(f, Path(app.outdir) / "_static" / f.name)


def _html_page_context(app, pagename, templatename, context, doctree) -> None:
    # sphinx-thebe adds its configuration script to every page even with Thebe off; the
    # theme emits it a second time and the browser reports the duplicate as an error
    # (this book launches no kernels: the script is dropped).
    scripts = context.get("script_files")
    if scripts:
        keep = []
        for s in scripts:
            attrs = getattr(s, "attributes", {}) or {}
            if attrs.get("type") == "text/x-thebe-config" or "thebe" in str(s):
                continue
            keep.append(s)
        context["script_files"] = keep


LABEL_CLASS = "ds-fig-label"


def label_captions(app, doctree) -> None:
    """End every ``fig-…`` figure's caption with " (cite: `fig-…`)" (``dropout-study cite``),
    one inline node of class :data:`LABEL_CLASS`, which :func:`caption_as_text` leaves out."""
    from docutils import nodes

    for fig in doctree.findall(nodes.figure):
        labels = [i for i in fig.get("ids", []) + fig.get("names", []) if i.startswith("fig-")]
        caps = list(fig.findall(nodes.caption))
        if not labels or not caps:
            continue
        if any(LABEL_CLASS in n.get("classes", []) for n in caps[0].findall(nodes.inline)):
            continue
        note = nodes.inline(classes=[LABEL_CLASS])
        note += nodes.Text(" (cite: ")
        note += nodes.literal(text=labels[0])
        note += nodes.Text(")")
        caps[0] += note


def alt_from_captions(app, doctree, docname) -> None:
    """Give every image inside a figure the text of the figure's caption as ``alt`` (without
    the label that :func:`label_captions` appended; :func:`caption_as_text`), its maths read
    out as text, since a screen reader would spell out the TeX."""
    from docutils import nodes

    for fig in doctree.findall(nodes.figure):
        caps = list(fig.findall(nodes.caption))
        if not caps:
            continue
        text = caption_as_text(caps[0])
        for img in fig.findall(nodes.image):
            if not img.get("alt") or img["alt"].endswith((".png", ".svg")):
                img["alt"] = text


_SPACE_BEFORE = re.compile(r"\s+(?=[,.;:!?)\]])")
_SPACE_AFTER = re.compile(r"(?<=[(\[])\s+")


def _tidy(text: str) -> str:
    """``text`` on one line, without a space before ``, . ; : ! ? ) ]`` or after ``( [``."""
    return _SPACE_AFTER.sub("", _SPACE_BEFORE.sub("", " ".join(text.split())))


def caption_as_text(caption) -> str:
    """A caption node (or any node holding text and ``math``) as one line of plain text:
    maths by :func:`math_as_text`, the figure-label literal left out (:func:`_tidy`)."""
    from docutils import nodes

    parts = [
        math_as_text(n.astext()) if isinstance(n, nodes.math) else n.astext()
        for n in caption.children
        if not (isinstance(n, nodes.inline | nodes.literal) and LABEL_CLASS in n.get("classes", []))
    ]
    return _tidy("".join(parts))


_SUB = dict(
    zip("0123456789+-−=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ", strict=True)
)
_SUP = dict(
    zip(
        "0123456789+-−=()abcdefghijklmnoprstuvwxyzT*'",
        "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᵀ*'",
        strict=True,
    )
)
_SCRIPT = re.compile(r"([_^])(\{((?:[^{}]|\{[^{}]*\})*)\}|\\[A-Za-z]+|[^\s{}\\])")
_CONTROL_WORD_SPACE = re.compile(r"\\([A-Za-z]+)(?=\s+[^\sA-Za-z])")
_TAKES_ARGUMENT = {"bar", "hat", "tilde", "vec", "dot", "ddot", "overline", "mathbf", "mathrm"}


def _keep_space(match) -> str:
    word = match.group(1)
    return f"\\{word}" if word in _TAKES_ARGUMENT else f"\\{word}{{}}"


def _script(match) -> str:
    """One sub- or superscript as Unicode (``θ_t`` → ``θₜ``, ``θ^*`` → ``θ*``,
    ``λ_\\max`` → ``λₘₐₓ``, ``‖w‖^2`` → ``‖w‖²``); one with a character Unicode has no
    sub/superscript for follows after a space (``w_b`` → ``w b``)."""
    kind, arg, inner = match.groups()
    body = _plain_math(inner if inner is not None else arg)
    table = _SUB if kind == "_" else _SUP
    if body and all(c in table for c in body):  # "{}" ends a control word before it
        return "{}" + "".join(table[c] for c in body)
    return "{} " + body + " "


def _plain_math(tex: str) -> str:
    from pylatexenc.latex2text import LatexNodes2Text

    tex = _SCRIPT.sub(_script, tex.replace("\\|", "‖"))
    # pylatexenc eats the space after a control word ("\\alpha = 0" → "α= 0"): keep it
    # before an operator or a control word (not before a letter, nor after an accent or a
    # font: "\\bar g", "\\bar \\alpha")
    tex = _CONTROL_WORD_SPACE.sub(_keep_space, tex)
    text = LatexNodes2Text(math_mode="text").latex_to_text(tex)
    return _tidy(text.replace("-", "−"))


def math_as_text(tex: str) -> str:
    """Inline TeX as plain Unicode text for ``alt`` attributes, by pylatexenc's
    ``LatexNodes2Text`` (``\\text{lr}\\cdot\\lambda`` → ``lr·λ``) after sub- and
    superscripts are written as Unicode ones (``\\theta^*_p`` → ``θ*ₚ``, ``\\log_{10}`` →
    ``log₁₀``; :func:`_script`), so no ``_`` or ``^`` is read out; a minus is ``−``; ``\\|``
    becomes ``‖`` (pylatexenc drops it). The TeX itself if it cannot be parsed."""
    try:
        return _plain_math(tex)
    except Exception:  # malformed TeX: the source is still better than nothing
        return tex


_HYPHEN_MINUS = re.compile(r"(?<![\w.\-])-(?=\.?\d)")
_NUMBER_SPACE = re.compile(r"(?<=\d) (?=%)|(?<=\d) (?=×)|(?<=×) (?=\d)")
_NEGATIVE_ZERO = re.compile(r"(?<![\w.])\u2212(?=0(?:\.0+)?(?![\w.]))")


def number_typography(app, doctree, docname=None) -> None:
    """In glued text (myst-nb's ``pasted-text`` nodes) and in table cells (the glued
    robustness and result tables, the generated verdict table): a minus sign before a number
    is ``−`` (U+2212; ``{glue:text}`x:.3f``` prints Python's hyphen-minus) — except before a
    number that rounds to zero (``-0.00`` → ``0.00``) — and the spaces in
    ``14 %`` and ``5.6 × 10⁻¹⁷`` do not break, so a number never wraps across lines. A hyphen
    inside a word or between digits (``2014-05``) is left alone, and so is anything in code
    or maths."""
    from docutils import nodes

    keep = (nodes.literal, nodes.literal_block, nodes.math, nodes.math_block, nodes.raw)
    hosts = [n for n in doctree.findall(nodes.inline) if "pasted-text" in n.get("classes", [])]
    hosts += list(doctree.findall(nodes.table))
    for node in hosts:
        for text in list(node.findall(nodes.Text)):
            parent, in_code = text.parent, False
            while parent is not None and parent is not node:
                if isinstance(parent, keep):
                    in_code = True
                    break
                parent = parent.parent
            if in_code:
                continue
            new = _HYPHEN_MINUS.sub("\u2212", str(text))
            new = _NEGATIVE_ZERO.sub("", new)  # "−0.00": a value that rounds to zero
            new = _NUMBER_SPACE.sub("\u00a0", new)
            if new != str(text):
                text.parent.replace(text, nodes.Text(new))


ROBUSTNESS_HEADER = ("Analysis choice", "Verdict", "Agrees", "Evidence")
"""The header row of :meth:`dropout_study.chapters.verdicts.Robustness.markdown` (a test keeps
the two equal): a table with it is a robustness table."""
FINDINGS_HEADER = (
    "Finding",
    "Estimate [95 % interval], seeds",
    "Margin (source)",
    "Outcome",
)
"""The header row of :func:`dropout_study.chapters.wording.table_markdown` (a test keeps the
two equal): a table with it is a findings table."""


def stack_robustness_tables(app, doctree, docname=None) -> None:
    """Give each robustness and findings table the classes of the generated tables
    (``ds-stack``: one card per row on a phone, see book/_static) plus ``ds-robustness`` or
    ``ds-findings``. The table is glued from a
    kernel's output, so the class is set here, where the book is rendered, and reaches
    every executed page without re-executing it."""
    from docutils import nodes

    for table in doctree.findall(nodes.table):
        head = next(iter(table.findall(nodes.thead)), None)
        row = next(iter(head.findall(nodes.row)), None) if head is not None else None
        if row is None:
            continue
        cells = tuple(" ".join(e.astext().split()) for e in row.findall(nodes.entry))
        if cells == ROBUSTNESS_HEADER:
            table["classes"] += ["ds-stack", "ds-robustness"]
        elif cells == FINDINGS_HEADER:
            table["classes"] += ["ds-stack", "ds-findings"]


_REDIRECT = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<link rel="canonical" href="{target}">
<script>location.replace("{target}" + location.hash);</script>
<meta http-equiv="refresh" content="0; url={target}">
</head><body><p><a href="{target}">{title}</a></p></body></html>
"""


def short_urls(app, exc) -> None:
    """``<site>/<chapter>.html`` for every chapter page ``book/generated/<id>/<id>``: a
    redirect to the page that keeps the ``#fig-…`` anchor (a script; the meta refresh, for
    readers without scripts, drops it), so a chapter has a short address (Jupyter Book 1
    places each page where its source lives, and the executed copies live in
    ``book/generated/<id>/``). An earlier redirect is rewritten; any other file is kept."""
    if exc is not None or app.builder.name != "html":
        return
    for docname in app.env.found_docs:
        parts = docname.split("/")
        if len(parts) == 4 and parts[:2] == ["book", "generated"] and parts[2] == parts[3]:
            out = Path(app.outdir) / f"{parts[2]}.html"
            if not out.exists() or 'http-equiv="refresh"' in out.read_text(encoding="utf-8"):
                title = app.env.titles.get(docname)
                text = title.astext() if title is not None else parts[2]
                out.write_text(
                    _REDIRECT.format(title=html.escape(text), target=f"{docname}.html"),
                    encoding="utf-8",
                )


def _author_year_style():
    """A pybtex formatting style whose labels read "Srivastava et al., 2014" (the text's
    author-year citations and the list then use one style), sorted by author and year."""
    from pybtex.style.formatting.unsrt import Style as Unsrt
    from pybtex.style.labels import BaseLabelStyle
    from pybtex.style.sorting.author_year_title import SortingStyle as AuthorYearTitle

    class AuthorYearLabels(BaseLabelStyle):
        def format_labels(self, sorted_entries):
            seen: dict[str, int] = {}
            labels = []
            for entry in sorted_entries:
                people = entry.persons.get("author") or entry.persons.get("editor") or []
                if not people:
                    names = entry.fields.get("organization") or entry.fields.get("title", "?")
                    names = " ".join(str(names).strip("{}").split()[:3])
                else:
                    lasts = [
                        " ".join(p.last_names).replace("{", "").replace("}", "") for p in people
                    ]
                    if len(lasts) == 1:
                        names = lasts[0]
                    elif len(lasts) == 2:
                        names = f"{lasts[0]} and {lasts[1]}"
                    else:
                        names = f"{lasts[0]} et al."
                label = f"{names}, {entry.fields.get('year', 'n.d.')}"
                seen[label] = seen.get(label, 0) + 1
                labels.append(label)
            counts: dict[str, int] = {}
            for label in labels:
                if seen[label] > 1:
                    counts[label] = counts.get(label, 0) + 1
                    yield label + "abcdefghij"[counts[label] - 1]
                else:
                    yield label

    class ByLabel(AuthorYearTitle):
        """Alphabetical by the name the label shows (an organisation counts as a name)."""

        def sorting_key(self, entry):
            author, year, title = super().sorting_key(entry)
            if not author:
                org = entry.fields.get("organization") or entry.fields.get("author") or title
                author = str(org).strip("{}").lower()
            # braces ("{Cross Validated contributors}") must not sort after "z"
            author = author.replace("{", "").replace("}", "")
            return (author.lower(), year, title)

    class AuthorYearStyle(Unsrt):
        default_label_style = AuthorYearLabels
        default_sorting_style = ByLabel

    return AuthorYearStyle


def setup(app):
    import pybtex.plugin

    pybtex.plugin.register_plugin(
        "pybtex.style.formatting", "dropout_study_author_year", _author_year_style()
    )
    app.connect("config-inited", _config_inited)
    app.connect("html-page-context", _html_page_context, priority=900)
    app.connect("doctree-read", label_captions)
    app.connect("build-finished", short_urls)
    app.connect("build-finished", own_static)
    app.connect("doctree-resolved", alt_from_captions)
    app.connect("doctree-resolved", number_typography)
    app.connect("doctree-resolved", stack_robustness_tables)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
