"""``dropout-study cite``'s BibTeX: LaTeX in pure ASCII that reads back as the caption, the
repository's address only when CITATION.cff has one, and every caption of the built book
(smoke profile) escaped so that pdflatex with BibTeX can read it."""

from __future__ import annotations

import unicodedata

import pytest
from fixtures.tinybook import smoke_book, smoke_chapter
from pybtex.database import parse_string
from pylatexenc.latex2text import LatexNodes2Text

from dropout_study.book import bibtex, citing
from dropout_study.book.project import toc_chapters
from dropout_study.book.source import chapter_ids

CFF = {
    "title": "dropout-study: Dropout — tested",
    "authors": [{"family-names": "Müller", "given-names": "Zoë"}, {"name": "The team"}],
    "version": "1.2.3",
    "date-released": "2026-03-04",
}


def _letters(text: str) -> list[str]:
    """The letters and digits of ``text``, in order: what must survive escaping (signs and
    super/subscript marks may be spelt otherwise: ``10⁻⁴`` reads back as ``10^-4``)."""
    return [
        c
        for c in unicodedata.normalize("NFKC", text)
        if unicodedata.category(c)[0] in "LN" and unicodedata.category(c) != "Lm"
    ]


def _read_back(latex: str) -> str:
    """LaTeX as text, read by pylatexenc (the oracle)."""
    return LatexNodes2Text().latex_to_text(latex)


@pytest.mark.parametrize(
    "text",
    [
        "λ at 3.2 × 10⁻⁴, p ≥ 0.5 — θ − θ* ± 2σ (50 % of K·n), ‖w‖ and λₘₐₓ",
        'a & b_c #1 {x} ~ ^ \\ $5 with (‖g\u0305‖² − V/K)/V, uⱼ, log₁₀|w| and "quoted"',
        "Δ loss 0–0.9 ², Zoë's café",
    ],
)
def test_latex_is_ascii_and_reads_back_as_the_text(text):
    out = bibtex.latex(text)
    assert out.isascii(), out
    assert _letters(_read_back(out)) == _letters(text)
    assert out.count("{") == out.count("}")  # BibTeX counts braces, escaped or not


def test_super_and_subscript_runs_become_one_group():
    assert bibtex.latex("10⁻⁴") == "10{\\ensuremath{^{-4}}}"
    assert bibtex.latex("λₘₐₓ") == "{\\ensuremath{\\lambda}}{\\ensuremath{_{max}}}"
    assert bibtex.latex("g\u0305") == "{\\ensuremath{\\overline{g}}}"  # \\bar g as text


def test_a_character_without_a_latex_name_is_still_ascii():
    assert bibtex.latex("\u2c7f").isascii() and "U+2C7F" in bibtex.latex("\u2c7f")


def test_the_repository_address_comes_only_from_citation_cff(tmp_path):
    """Without repository-code or url in CITATION.cff no address is invented; with one the
    study's and a figure's entries carry it; names and title are escaped; the month is a
    macro both BibTeX and biblatex know."""
    git = {"commit": "a" * 40, "dirty": False}
    bare = citing.study_bibtex(CFF, git)
    assert "url" not in bare and "http" not in bare and bare.isascii()
    entry = parse_string(bare, "bibtex").entries["dropout_study"]
    assert entry.fields["note"] == f"Version 1.2.3, commit {'a' * 40}"
    assert entry.fields["month"] == "March" and entry.fields["year"] == "2026"
    assert _letters(_read_back(entry.fields["title"])) == _letters(CFF["title"])
    assert _letters(_read_back(str(entry.persons["author"][0]))) == _letters("Müller, Zoë")
    repo = "https://example.org/study.git"
    for key in ("repository-code", "url"):
        cff = {**CFF, key: repo}
        entry = parse_string(citing.study_bibtex(cff, git), "bibtex").entries["dropout_study"]
        assert entry.fields["url"] == repo and entry.fields["howpublished"] == f"\\url{{{repo}}}"
    record = {
        "label": "fig-x-y",
        "caption": "A caption.",
        "chapter": "x",
        "source": "book/chapters/x.md",
        "version": "1.2.3",
        "commit": "b" * 40,
        "dirty": True,
        "profile": "book",
        "parameters_hash": "0123456789ab",
        "anchor": "book/generated/x/x.html#fig-x-y",
    }
    fig = parse_string(citing.figure_bibtex(record, CFF), "bibtex").entries["fig-x-y"]
    assert "url" not in fig.fields and "\\url" not in fig.fields["howpublished"]
    assert f"commit {'b' * 40} (with uncommitted changes)" in fig.fields["howpublished"]
    with_repo = citing.figure_bibtex(record, {**CFF, "repository-code": repo})
    fig = parse_string(with_repo, "bibtex").entries["fig-x-y"]
    assert fig.fields["url"] == repo and f"\\url{{{repo}}}" in fig.fields["howpublished"]


@pytest.mark.parametrize("chapter_id", chapter_ids())
def test_every_caption_of_the_built_book_is_ascii_latex_that_reads_back(
    tmp_path_factory, chapter_id
):
    """Each figure of each real chapter (executed at the smoke profile, glued values filled
    in): its BibTeX entry parses, is pure ASCII (pdflatex with BibTeX reads no Unicode) and
    its caption, escaped, reads back with the same letters and digits."""
    project = smoke_book(tmp_path_factory)  # shared with test_pipeline and test_book
    if chapter_id not in toc_chapters(project):
        pytest.skip(f"{chapter_id} is not in the book")
    smoke_chapter(project, chapter_id)
    cff = citing.load_cff(project.root)
    labels = [label for cid, label, _ in citing.figures(project, [chapter_id])]
    assert labels, chapter_id
    for label in labels:
        record = citing.figure_record(project, label)
        bib = citing.figure_bibtex(record, cff)
        assert bib.isascii(), (label, [c for c in bib if not c.isascii()])
        fields = parse_string(bib, "bibtex").entries[label].fields
        first = record["caption"].split(". ")[0]
        assert _letters(_read_back(fields["title"])) == _letters(first), label
        whole = bibtex.latex(record["caption"])
        assert whole.isascii() and _letters(_read_back(whole)) == _letters(record["caption"])
