"""The chapter registry and the parser of chapter sources.

Oracle for the parameters cell: papermill's own ``--help-notebook`` (nobody here wrote it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
from fixtures.tinybook import TINY, use_fixtures
from helpers import ROOT

from dropout_study.book import source as chapters
from dropout_study.book.source import ChapterSourceError, chapter_ids, load


def test_the_chapters_are_the_entries_of_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    ids = chapter_ids()
    assert len(ids) >= 6 and len(set(ids)) == len(ids)
    assert [toc.index(f"book/generated/{c}/{c}") for c in ids] == sorted(
        toc.index(f"book/generated/{c}/{c}") for c in ids
    )
    assert chapters.default_experiment("l1-vs-l2") == "dropout_study.chapters.l1_vs_l2.experiment"
    assert chapters.source_path("linearity").name == "linearity.md"


@pytest.mark.parametrize(
    ("value", "exc", "match"),
    [
        ("nope", ValueError, r"The 'chapter' parameter of experiment_module must be one of "),
        (3, TypeError, r"The 'chapter' parameter of experiment_module must be one of .*; got 3\."),
    ],
)
def test_experiment_module_rejects_unknown_ids(value, exc, match):
    with pytest.raises(exc, match=match):
        chapters.experiment_module(value)


def test_tiny_source_is_parsed_into_a_spec():
    spec = load("tiny", TINY, chapters=("tiny",))
    assert spec.claim == "The mean of normal draws centred at p is positive."
    assert spec.experiment == "tiny_experiment"
    assert spec.names == ("seed", "p", "n", "rates", "label", "explode")
    assert [p.type for p in spec.params] == ["int", "float", "int", "list[float]", "str", "bool"]
    assert spec.defaults() == {
        "seed": 0,
        "p": 0.5,
        "n": 200,
        "rates": [0.0, 0.5],
        "label": "draws",
        "explode": False,
    }
    assert spec.param("p").help == "centre of the draws, in [0, 1)"
    assert spec.profiles == {
        "smoke": {"n": 20},
        "full": {"n": 2000, "rates": [0.0, 0.25, 0.5, 0.75]},
    }


def test_papermill_help_notebook_describes_the_same_parameters(tmp_path):
    nb_path = tmp_path / "tiny.ipynb"
    jupytext.write(jupytext.read(TINY), nb_path)
    exe = Path(sys.executable).parent / "papermill"
    out = subprocess.run(
        [str(exe), "--help-notebook", str(nb_path)], capture_output=True, text=True, check=True
    ).stdout
    spec = load("tiny", TINY, chapters=("tiny",))
    for p in spec.params:
        assert f"{p.name}: {p.type} (default " in out
        assert p.help in out


def test_unregistered_id_is_rejected_before_reading_the_file():
    with pytest.raises(ValueError, match=r"The 'chapter' parameter of dropout-study must be one"):
        load("tiny", TINY)  # not in the real registry


def test_missing_source_names_the_file(tmp_path):
    with pytest.raises(
        ChapterSourceError, match=r"source of chapter 'tiny' does not exist: .*x\.md"
    ):
        load("tiny", tmp_path / "x.md", chapters=("tiny",))


HEADER = """---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {name: python3, display_name: Python 3, language: python}
%s
---

# T

"""
META = """dropout_study:
  claim: A claim.
  experiment: tiny_experiment"""


def _source(tmp_path, cell: str | None, meta: str = META, extra: str = "") -> Path:
    body = HEADER % meta
    if cell is not None:
        body += "```{code-cell} ipython3\n:tags: [parameters]\n" + cell + "\n```\n"
    body += extra
    path = tmp_path / "bad.md"
    path.write_text(body, encoding="utf-8")
    return path


GOOD = "seed: int = 0  # master seed"


@pytest.mark.parametrize(
    ("cell", "meta", "extra", "match"),
    [
        (GOOD, "other: 1", "", r"front matter has no 'dropout_study:' mapping"),
        (GOOD, "dropout_study:\n  profiles: {}", "", r"'dropout_study.claim' must be a non-empty"),
        (GOOD, META + "\n  experiment: 3", "", r"'dropout_study.experiment' must be a module"),
        (None, META, "", r"exactly one code cell tagged 'parameters'; found 0"),
        (
            GOOD,
            META,
            "```{code-cell} ipython3\n:tags: [parameters]\nn: int = 1  # n\n```\n",
            r"exactly one code cell tagged 'parameters'; found 2",
        ),
        (GOOD + "\nx = 3", META, "", r"expected one 'name: type = value  # help' per line"),
        (GOOD + "\nx: int", META, "", r"expected one 'name: type = value  # help' per line"),
        (GOOD + "\nx: dict = {}  # d", META, "", r"the type of 'x' must be one of int, float"),
        (GOOD + "\nx: int = 1 + 1  # d", META, "", r"the default of 'x' is not a literal"),
        (GOOD + "\nx: int = 1", META, "", r"'x' needs a '# help' comment"),
        (GOOD + "\nseed: int = 1  # again", META, "", r"'seed' is declared twice"),
        (GOOD + "\nx: int = 0.5  # d", META, "", r"The 'x' parameter of the parameters cell of"),
        (GOOD + "\nx: list[int] = [\n  1]  # d", META, "", r"a parameter must fit on one line"),
        (GOOD + "\nx: int = (", META, "", r"the parameters cell is not valid Python"),
        ("n: int = 1  # n", META, "", r"the parameters cell must declare 'seed: int'"),
        ("seed: float = 0.0  # s", META, "", r"the parameters cell must declare 'seed: int'"),
        (
            GOOD + '\nx: str = "a # b"  # d',
            META,
            "",
            r"papermill --help-notebook reads parameter 2",
        ),
        (GOOD, META + "\n  profiles: {book: {seed: 1}}", "", r"profile 'book' is not one of smoke"),
        (GOOD, META + "\n  profiles: [1]", "", r"'dropout_study.profiles' must be a mapping"),
        (GOOD, META + "\n  profiles: {smoke: 3}", "", r"profile 'smoke' must map names to values"),
        (GOOD, META + "\n  profiles: {smoke: {n: 1}}", "", r"profile 'smoke' sets 'n', which"),
        (GOOD, META + "\n  profiles: {full: {seed: x}}", "", r"The 'seed' parameter of profile"),
    ],
)
def test_sources_that_break_the_contract_are_rejected_with_the_file_named(
    tmp_path, cell, meta, extra, match
):
    path = _source(tmp_path, cell, meta, extra)
    with pytest.raises(ChapterSourceError, match=match) as info:
        load("tiny", path, chapters=("tiny",))
    assert "bad.md" in str(info.value)


def test_a_hash_sign_inside_a_string_default_is_read_correctly_by_our_parser():
    # our tokenizer gets it right; the papermill cross-check is what rejects it (above)
    from dropout_study.book.source import _parse_parameters

    params = _parse_parameters('label: str = "a # b"  # the help', Path("x.md"))
    assert params[0].default == "a # b" and params[0].help == "the help"


def test_experiment_module_imports_the_registered_module(monkeypatch):
    use_fixtures(monkeypatch)
    import dropout_study.chapters.linearity as pkg

    monkeypatch.setitem(sys.modules, "dropout_study.chapters.linearity.experiment", pkg)
    assert chapters.experiment_module("linearity") is pkg
