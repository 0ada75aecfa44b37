"""Fresh-seed confirmation records (dropout_study.book.confirm) and their sentences."""

from __future__ import annotations

from dropout_study.book import confirm


def _record(word="partly supported"):
    return {
        "chapter": "tiny",
        "profile": "full",
        "verdict": {"word": word, "sentence": "s."},
        "robustness": {"summary": "3 of 4 alternatives agree"},
        "provenance": {"git": {"commit": "abcdef1234567890"}},
    }


def test_record_and_sentences(tmp_path):
    assert confirm.load("tiny", tmp_path) is None
    s = confirm.sentence("tiny", "book", "supported", tmp_path)
    assert "No confirmatory run" in s and "--profile full" in s
    f = confirm.record(_record(), {"seed": 1000, "n_seeds": 32}, tmp_path)
    assert f == tmp_path / "book" / "confirmations" / "tiny.json"
    rec = confirm.load("tiny", tmp_path)
    assert rec["word"] == "partly supported" and rec["seed"] == 1000
    held = confirm.sentence("tiny", "book", "partly supported", tmp_path)
    assert "32 fresh seeds" in held and " held there" in held and "abcdef1234" in held
    assert "did not hold" in confirm.sentence("tiny", "book", "supported", tmp_path)
    assert "is the confirmatory run" in confirm.sentence("tiny", "full", "supported", tmp_path)
    # an undecided run neither holds nor fails to hold
    undecided = confirm.sentence("tiny", "book", "inconclusive", tmp_path)
    assert "did not hold" not in undecided and "could not decide" in undecided
    # a smoke run is not the study's verdict: it only reports the confirmatory one
    smoke = confirm.sentence("tiny", "smoke", "inconclusive", tmp_path)
    assert "`smoke` profile, not the study's" in smoke and "hold" not in smoke


def test_a_record_made_with_other_code_says_so(tmp_path):
    confirm.record(_record(), {"seed": 1000, "n_seeds": 32}, tmp_path, code="aaa")
    assert "other code" not in confirm.sentence("tiny", "book", "supported", tmp_path, code="aaa")
    stale = confirm.sentence("tiny", "book", "supported", tmp_path, code="bbb")
    assert "other code than this page" in stale and "--profile full" in stale


def test_a_corrupt_record_is_ignored(tmp_path):
    f = confirm.path("tiny", tmp_path)
    f.parent.mkdir(parents=True)
    f.write_text("{not json")
    assert confirm.load("tiny", tmp_path) is None


def _rendered(markdown: str) -> tuple[list[str], str]:
    """``markdown`` parsed by MyST-Parser's docutils parser with docutils' smart quotes on
    (as Sphinx has them, so "--" outside code becomes an en dash): (the texts of its code
    spans, the rest of its text)."""
    from docutils import nodes
    from docutils.core import publish_doctree
    from myst_parser.parsers.docutils_ import Parser

    doc = publish_doctree(
        markdown, parser=Parser(), settings_overrides={"smart_quotes": True, "report_level": 4}
    )
    code = [n.astext() for n in doc.findall(nodes.literal)]
    prose = [
        str(t)
        for t in doc.findall(nodes.Text)
        if not any(isinstance(a, nodes.literal) for a in _ancestors(t))
    ]
    return code, " ".join(prose)


def _ancestors(node):
    while node.parent is not None:
        node = node.parent
        yield node


def _sentences(tmp_path):
    out = [confirm.sentence("tiny", "book", "supported", tmp_path)]  # no record yet
    confirm.record(_record(), {"seed": 1000, "n_seeds": 32}, tmp_path, code="aaa")
    for profile in ("book", "smoke", "full"):
        for word in ("supported", "partly supported", "inconclusive"):
            out.append(confirm.sentence("tiny", profile, word, tmp_path, code="bbb"))
    return out


def test_every_sentence_renders_as_markdown_with_its_commands_as_code(tmp_path):
    commands = 0
    for s in _sentences(tmp_path):
        code, prose = _rendered(s)
        assert "`" not in prose and "–" not in prose and "--" not in prose, s
        assert "dropout-study" not in prose, s  # every command is code
        for c in code:
            if c.startswith("dropout-study run"):
                commands += 1
                assert c == "dropout-study run tiny --profile full", s
    assert commands >= 2  # the missing record and the stale one name the command
    # the oracle itself: plain "--" in prose does become an en dash
    assert _rendered("a -- b")[1] == "a – b"


def test_chapters_place_glued_markdown_with_glue_md():
    """A key glued as markdown (``report.markdown``; ``confirmation``, which ``report.finish``
    glues so) is placed with ``{glue:md}`key:myst``` and never with ``{glue:text}``, which
    would show its markup literally."""
    import re

    from dropout_study import paths

    for page in paths.CHAPTER_SOURCES.glob("*.md"):
        text = page.read_text(encoding="utf-8")
        md_keys = {"confirmation"} | set(
            re.findall(r"report\.markdown\(\s*[f]?[\"']([\w-]+)", text)
        )
        as_text = set(re.findall(r"\{glue:text\}`([\w-]+)", text))
        assert not md_keys & as_text, (page.name, md_keys & as_text)
        assert "{glue:md}`confirmation:myst`" in text, page.name


def _f(name, outcome, degenerate=False):
    return {"name": name, "role": "primary", "outcome": outcome, "degenerate": degenerate,
            "estimate": 0.1, "low": 0.0, "high": 0.2, "n": 8}  # fmt: skip


def test_the_sentence_lists_which_findings_held_and_which_changed(tmp_path):
    rec = _record() | {"findings": [_f("noisier", "yes"), _f("slower", "yes"), _f("cause", "no")]}
    confirm.record(rec, {"seed": 2000, "n_seeds": 32}, tmp_path)
    here = [_f("noisier", "yes"), _f("slower", "inconclusive"), _f("cause", "no", True)]
    s = confirm.sentence("tiny", "book", "partly supported", tmp_path, findings=here)
    assert "this page's verdict held there" in s  # the chapter's word held...
    assert "1 of 3 kept their outcome there" in s  # ...and the changed findings are named
    assert "slower (here inconclusive, on the fresh seeds yes)" in s
    assert "cause (here not applicable, on the fresh seeds no)" in s
    c = confirm.compare(here, rec["findings"])
    assert c["held"] == ["noisier"] and len(c["changed"]) == 2
    stored = confirm.load("tiny", tmp_path)
    assert [f["name"] for f in stored["findings"]] == ["noisier", "slower", "cause"]
    assert stored["parameters"] == {"seed": 2000, "n_seeds": 32}


def test_findings_only_the_confirmation_measured_are_shown_with_their_numbers(tmp_path):
    # e.g. an analysis only the `full` profile runs: the book page must show it, not drop it
    extra = _f("surrogate", "yes") | {"estimate": 3.5, "low": 3.07, "high": 4.0}
    rec = _record() | {"findings": [_f("noisier", "yes"), extra, _f("gone", "no", True)]}
    confirm.record(rec, {"seed": 2000, "n_seeds": 32}, tmp_path)
    s = confirm.sentence("tiny", "book", "supported", tmp_path, findings=[_f("noisier", "yes")])
    only = "Measured only by that run: surrogate: yes (3.50 [3.07, 4.00]); gone: not applicable"
    assert only in s


def test_recorded_outcomes_read_in_the_words_of_their_kind_and_shared_nulls_are_said(tmp_path):
    eq = _f("same cost", "no") | {"kind": "equivalence", "margin": 0.1}
    rec = _record() | {"findings": [eq, _f("tied", "yes", True), _f("trend", "yes")]}
    confirm.record(rec, {"seed": 2000, "n_seeds": 32}, tmp_path)
    assert confirm.load("tiny", tmp_path)["findings"][0]["kind"] == "equivalence"
    here = [
        _f("same cost", "yes") | {"kind": "equivalence"},
        _f("tied", "no", True),
        _f("trend", "yes") | {"kind": "trend"},
    ]
    s = confirm.sentence("tiny", "book", "supported", tmp_path, findings=here)
    # not applicable in both: left out of the count, like every not-applicable finding
    assert "1 of 2 kept their outcome there (1 more is not applicable in both runs, " in s
    assert ("same cost (here no change beyond the margin, on the fresh seeds a change beyond "
            "the margin)") in s  # fmt: skip
    # a record without kinds (made before they were recorded) keeps the bare outcomes
    s = confirm.sentence("tiny", "book", "supported", tmp_path, findings=[_f("trend", "no")])
    assert "trend (here no, on the fresh seeds yes)" in s


def test_finding_names_are_literal_text_in_the_rendered_sentence(tmp_path):
    """Two names with θ*₀ in one paragraph once italicised everything between them."""
    from docutils import nodes
    from docutils.core import publish_doctree
    from myst_parser.parsers.docutils_ import Parser

    a, b = "R(θ*₀) at p = 0.5", "price ÷ J(θ*₀), [see] a_b_c"
    rec = _record() | {"findings": [_f(a, "yes"), _f(b, "yes")]}
    confirm.record(rec, {"seed": 2000, "n_seeds": 32}, tmp_path)
    s = confirm.sentence("tiny", "book", "supported", tmp_path, findings=[_f(a, "no")])
    doc = publish_doctree(s, parser=Parser(), settings_overrides={"report_level": 4})
    assert not list(doc.findall(nodes.emphasis)) and not list(doc.findall(nodes.strong))
    text = doc.astext()
    assert a in text and b in text
