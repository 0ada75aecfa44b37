"""What a reader meets at the terminal and on the page: ``params``, ``run --help``, ``cite``,
the rerun page, the progress side channel, the profile banner, the footer year, the answer
box, the multiplicity note and the figure list."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from fixtures.cells import square
from fixtures.tinybook import make_project, use_fixtures

from dropout_study import paths
from dropout_study.book.generated_pages import built_with_markdown, multiplicity_markdown
from dropout_study.book.params import resolve
from dropout_study.book.pipeline import execute
from dropout_study.book.sphinxext import BANNERS, banner_html, build_year
from dropout_study.cli import main as cli
from dropout_study.seeds import SEED_MAX
from dropout_study.sweep import progress
from dropout_study.sweep.runner import run_sweep

ROOT = paths.ROOT


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "root"
    use_fixtures(monkeypatch, root)
    return make_project(root, ("tiny",))


@pytest.fixture
def built(project):
    """The tiny chapter executed into the book's place (as `build` leaves it)."""
    spec = project.spec("tiny")
    record = execute(spec, resolve(spec, "smoke"), project.dest("tiny"), profile="smoke")
    return project, record


# ------------------------------------------------------------------------------------------
# params / run --help
# ------------------------------------------------------------------------------------------


def _param_block(text: str, name: str) -> str:
    m = re.search(rf"^  {name} \(.*?(?=^  \S|\Z)", text, re.M | re.S)
    assert m, text
    return m.group(0)


def test_params_lists_type_profile_values_range_and_meaning(project, capsys):
    assert cli.main(["params", "tiny"], project) == 0
    out = capsys.readouterr().out
    block = _param_block(out, "rates")
    assert "rates (list[float])" in block
    assert "book: [0.0, 0.5]   smoke: [0.0, 0.5]   full: [0.0, 0.25, 0.5, 0.75]" in block
    assert "allowed: at least 1 item, each in [0, 1)" in block
    assert "meaning: rates to compare, each in [0, 1)" in block
    p = _param_block(out, "p")
    assert "allowed: [0, 1)" in p and "book: 0.5" in p
    assert "smoke: 20" in _param_block(out, "n")


def test_the_printed_range_is_the_one_validation_enforces(project, capsys):
    # the oracle is the validation itself: both ends of the printed interval behave as shown
    assert cli.main(["params", "tiny"], project) == 0
    allowed = re.search(r"allowed: \[(\S+), (\S+)\)", _param_block(capsys.readouterr().out, "p"))
    low, high = float(allowed.group(1)), float(allowed.group(2))
    spec = project.spec("tiny")
    assert resolve(spec, "book", {"p": low})["p"] == low  # closed end accepted
    with pytest.raises(ValueError, match="'p' parameter of tiny"):
        resolve(spec, "book", {"p": high})  # open end rejected
    with pytest.raises(ValueError, match="'p' parameter of tiny"):
        resolve(spec, "book", {"p": low - 1e-9})


def test_run_help_lists_the_chapters_parameters(project, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "tiny", "--help"], project)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "Parameters of tiny" in out and "allowed: [0, 1)" in out and "  explode (bool)" in out


def test_params_of_an_unknown_chapter_is_one_line(project, capsys):
    assert cli.main(["params", "nope"], project) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'chapter' parameter of dropout-study params" in err


def test_every_real_chapter_lists_a_range_for_most_parameters():
    from dropout_study.book.catalog import allowed_ranges
    from dropout_study.book.project import Project

    project = Project()
    for cid in project.chapters:
        if not project.source(cid).is_file():
            continue
        spec = project.spec(cid)
        ranges = allowed_ranges(spec)
        # the listing shows the range an error states (the shared seed bound, not a looser
        # one a chapter checks after it)
        assert ranges.get("seed") == f"[0, {SEED_MAX}]", cid
        with pytest.raises(ValueError, match=re.escape(f"in the range {ranges['seed']}; got -1")):
            resolve(spec, "book", {"seed": -1})
        assert not any(r.startswith("at least 0 ") for r in ranges.values()), cid
        assert len(ranges) >= len(spec.params) // 2, (cid, sorted(set(spec.names) - set(ranges)))


def test_what_a_parameter_allows_reads_the_same_under_every_profile():
    """A rule names the parameters it depends on, not their values (those go into the error
    message only, ``validation.require(detail=...)``): a listing that said "names from
    alt_datasets ['circles', 'breast_cancer']" was wrong for the smoke profile's alt_datasets."""
    from dropout_study.book.catalog import allowed_ranges
    from dropout_study.book.project import Project

    project = Project()
    checked = 0
    for cid in project.chapters:
        if not project.source(cid).is_file():
            continue
        spec = project.spec(cid)
        book = allowed_ranges(spec)
        for profile in spec.profiles:
            other = allowed_ranges(spec, profile)
            differ = {k: (book.get(k), other.get(k)) for k in set(book) | set(other)
                      if book.get(k) != other.get(k)}  # fmt: skip
            assert not differ, (cid, profile, differ)
            checked += 1
    assert checked >= 6


# ------------------------------------------------------------------------------------------
# cite
# ------------------------------------------------------------------------------------------


def test_cite_prints_bibtex_and_csl_json_from_citation_cff(capsys):
    """The study as an @misc entry both BibTeX and biblatex read (year, month, howpublished,
    note with version and the checkout's commit; no biblatex-only @software or date), in
    ASCII, under a header that says so; the CSL-JSON as before."""
    from pybtex.database import parse_string

    from dropout_study.book.citing import BIBTEX_HEADER
    from dropout_study.book.project import Project
    from dropout_study.provenance import git_commit

    assert cli.main(["cite"], Project()) == 0
    out = capsys.readouterr().out
    assert out.startswith(BIBTEX_HEADER + "\n@misc{dropout_study,")
    assert "biblatex" in BIBTEX_HEADER and "BibTeX" in BIBTEX_HEADER
    bib_text = out.split(BIBTEX_HEADER + "\n", 1)[1].split("\n\n// CSL-JSON", 1)[0]
    csl = json.loads(out.split("// CSL-JSON (type software)\n", 1)[1])
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert bib_text.isascii() and "@software" not in bib_text and "date =" not in bib_text
    entry = parse_string(bib_text, "bibtex").entries["dropout_study"]  # pybtex parses it
    assert entry.type == "misc"
    assert entry.fields["version"] == version == cff["version"] == csl[0]["version"]
    released = str(cff["date-released"])
    assert entry.fields["year"] == released[:4]
    assert entry.fields["month"] == "November" == ["", "January", "February", "March", "April",
        "May", "June", "July", "August", "September", "October", "November",
        "December"][int(released[5:7])]  # fmt: skip
    commit = git_commit(ROOT)["commit"]
    assert entry.fields["note"].startswith(f"Version {version}, commit {commit}")
    assert entry.fields["howpublished"]
    assert csl[0]["type"] == "software" and csl[0]["title"] == cff["title"]
    assert csl[0]["issued"]["date-parts"][0][0] == int(str(cff["date-released"])[:4])


def test_citation_cff_has_version_date_and_abstract():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(cff["date-released"]))
    assert len(cff["abstract"].split()) > 20 and cff["version"]


def test_cite_a_figure_gives_label_caption_provenance_and_anchor(built, capsys):
    project, record = built
    assert cli.main(["cite", "fig-tiny-draws"], project) == 0
    out = capsys.readouterr().out
    fields = dict(ln.split(":", 1) for ln in out.split("\n\n")[0].splitlines() if ":" in ln[:12])
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    meta = json.loads((project.dest("tiny") / "figures" / "draws.json").read_text())
    expected_hash = hashlib.sha256(
        json.dumps(meta["parameters"], sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:12]
    assert fields["label"] == "fig-tiny-draws"
    assert fields["caption"] == "Histogram of the draws."
    assert fields["chapter"] == "tiny"
    assert fields["version"] == record["provenance"]["version"]
    assert fields["commit"].split()[0] == (record["provenance"]["git"]["commit"] or "unknown")
    assert fields["parameters"] == f"sha256 {expected_hash}"
    assert fields["anchor"] == "book/generated/tiny/tiny.html#fig-tiny-draws"
    assert "@misc{dropout_study" in out and "@software" not in out


def test_cite_gives_the_figure_its_own_bibtex_entry_and_cites_a_run_folder(built, capsys):
    """The figure's @misc entry (pybtex parses it) says where the figure is — the chapter
    source in the repository at the figure's commit, and its anchor in the built book — and
    names its version, profile and parameters; the study's entry beside it names the same
    commit; a figure of a profile other than the book's says so; --run cites the same figure
    from a run's --out folder, with that folder's files and no anchor of the book."""
    from pybtex.database import parse_string

    from dropout_study.book.citing import BIBTEX_HEADER

    project, record = built
    assert cli.main(["cite", "fig-tiny-draws"], project) == 0
    out = capsys.readouterr().out
    bib = parse_string(out.split(BIBTEX_HEADER + "\n", 1)[1], "bibtex")
    fig = bib.entries["fig-tiny-draws"]
    commit = record["provenance"]["git"]["commit"]
    where = fig.fields["howpublished"]
    assert where.startswith("dropout-study repository, commit ")
    assert (commit or "commit unknown") in where and "of book/chapters/tiny.md" in where
    assert where.endswith(r"in the built book at book/generated/tiny/tiny.html{\#}fig-tiny-draws")
    assert f"commit {commit}" in bib.entries["dropout_study"].fields["note"]  # the figure's
    assert f"profile {record.get('profile', 'smoke')}" in fig.fields["note"]
    profile = record["profile"] if "profile" in record else "smoke"
    assert (f"from the `{profile}` profile, not the study's" in out) == (
        profile not in ("book", "full")
    )
    run_dir = project.dest("tiny")
    assert cli.main(["cite", "fig-tiny-draws", "--run", str(run_dir)], project) == 0
    out = capsys.readouterr().out
    assert f"files:      {run_dir}/figures/" in out and "page/tiny.html#fig-tiny-draws" in out
    where = (
        parse_string(out.split(BIBTEX_HEADER + "\n", 1)[1], "bibtex")
        .entries["fig-tiny-draws"]
        .fields["howpublished"]
    )
    assert where.endswith("from a run with its own parameters (dropout-study run tiny)")
    assert str(run_dir) not in where  # no private path in a citation
    assert cli.main(["cite", "fig-tiny-draws", "--run", str(run_dir.parent)], project) == 2
    assert "'--run' parameter of dropout-study cite" in capsys.readouterr().err


@pytest.mark.parametrize("label", ["fig-tiny-nope", "fig-other-draws", "draws"])
def test_cite_an_unknown_figure_is_one_line(built, capsys, label):
    project, _ = built
    assert cli.main(["cite", label], project) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'figure' parameter of dropout-study cite" in err


def test_cite_a_mistyped_figure_suggests_the_closest_label(built, capsys):
    project, _ = built
    assert cli.main(["cite", "fig-tiny-dark"], project) == 2  # not like any name: no guess
    assert "Did you mean" not in capsys.readouterr().err
    assert cli.main(["cite", "fig-tiny-draw"], project) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith(
        "got 'fig-tiny-draw'. Did you mean 'fig-tiny-draws'?\n"
    )


# ------------------------------------------------------------------------------------------
# the rerun page
# ------------------------------------------------------------------------------------------


def test_run_writes_a_readable_page_of_the_rerun(project, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "tiny", "--profile", "smoke", "--out", "out"], project) == 0
    stdout = capsys.readouterr().out
    page = (tmp_path / "out" / "page" / "tiny.html").resolve()
    assert f"page: {page}" in stdout
    html = page.read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert "{glue" not in html and "glue:text" not in text  # glue resolved
    assert f"The mean is {m['glued']['mean']:.3f}." in text
    assert "Figure 1" in text  # numbered figure
    assert "Srivastava" in text and "2014" in text  # citation resolved, with its reference
    assert "srivastava2014dropout" not in text
    assert BANNERS["smoke"] in html.replace("&#39;", "'")  # a smoke rerun says so
    assert "cdn.jsdelivr" not in html and "_static/mathjax/tex-chtml.js" in html
    for img in re.findall(r'<img[^>]+src="([^"]+)"', html):
        assert (page.parent / img).is_file(), img


# ------------------------------------------------------------------------------------------
# progress
# ------------------------------------------------------------------------------------------


def test_progress_bar_counts_finished_sweep_cells_on_the_clis_stream(monkeypatch, tmp_path):
    monkeypatch.setenv(progress.FORCE_ENV, "always")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"chapter": "tiny"}))
    stream = io.StringIO()
    with progress.watch(stream=stream, interval=0.01) as side:
        res = run_sweep(
            square,
            [{"x": i} for i in range(7)],
            cache_dir=None,
            n_jobs=1,
            desc="squares",
            progress=False,
        )
        state = json.loads(Path(side).read_text())
    assert res.results == [i * i for i in range(7)]
    assert state["done"] == 7 and state["total"] == 7 and state["chapter"] == "tiny"
    drawn = stream.getvalue()
    assert "tiny: squares" in drawn and "7/7" in drawn
    assert progress.ENV not in __import__("os").environ  # restored afterwards


def test_without_the_cli_a_sweep_reports_nothing(monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)
    bar = object()
    assert progress.sweep_bar(bar, "x") is bar


def test_build_summary_lists_every_chapter_and_the_total():
    from dropout_study.book.project import RunResult

    rs = [RunResult("a", Path("."), True, 2.0, {}), RunResult("bb", Path("."), False, 0.5, {})]
    text = progress.summary(rs, html_seconds=3.0)
    assert text.splitlines() == [
        "time per chapter:",
        "  a         executed      2.0 s",
        "  bb        cached        0.5 s",
        "  chapters                2.5 s",
        "  HTML                    3.0 s",
    ]


# ------------------------------------------------------------------------------------------
# banner, footer, generated text
# ------------------------------------------------------------------------------------------


def test_banner_names_the_profile_and_is_absent_for_the_book_profile():
    assert banner_html(["book"]) == "" and banner_html([]) == ""
    assert "smoke" in banner_html(["smoke"]) and BANNERS["smoke"] in banner_html(["smoke"])
    assert BANNERS["full"] in banner_html(["full"])
    assert BANNERS["smoke"] == "not the study's verdicts"
    assert BANNERS["full"] == "confirmatory rerun on fresh seeds"


def test_footer_year_comes_from_the_build():
    assert build_year({"SOURCE_DATE_EPOCH": "1700000000"}) == 2023  # 2023-11-14 UTC
    import datetime

    assert build_year({}) == datetime.datetime.now(datetime.UTC).year


def test_multiplicity_counts_verdicts_and_alternatives():
    rows = [
        {"word": "supported", "robustness": {"n": 3}},
        {"word": "inconclusive", "robustness": {"n": 4}},
        {"word": None, "robustness": None},
    ]
    text = multiplicity_markdown(rows)
    assert "decides 2 verdicts and re-decides them under 7 alternative" in text
    assert "9 decisions" in text and "not adjusted" in text
    # rows shown and left out of the counts are decisions too, and said to be left out
    rows[1]["robustness"]["not_applicable"] = 5
    text = multiplicity_markdown(rows)
    assert "under 12 alternative analysis choices (the robustness tables; 7 of them counted" in text
    assert "14 decisions" in text
    assert "decides 1 verdict," in multiplicity_markdown([{"word": "supported"}])


def test_reproduce_page_states_the_profile_the_build_used():
    assert "`smoke` profile" in built_with_markdown([{"profile": "smoke"}])
    assert "`book` profile (`make book`)" in built_with_markdown([{"profile": "smoke"}])
    assert "`book` profile" in built_with_markdown([{"profile": "book"}])
    assert "make book" not in built_with_markdown([{"profile": "book"}])
    text = (ROOT / "book" / "reproduce.md").read_text()
    assert "is what this book was built with" not in text  # no fixed claim about the build


def test_every_chapter_opens_with_the_answer_box():
    from dropout_study.book.answer_box import SNIPPET

    for src in sorted((ROOT / "book" / "chapters").glob("*.md")):
        text = src.read_text()
        title = re.search(r"^# .+$", text, re.M)
        assert title, src
        after = text[title.end() :].lstrip("\n")
        assert after.startswith(SNIPPET), f"{src.name}: the answer box must follow the title"


def test_number_formatting_has_no_python_exponents():
    from dropout_study.numfmt import plain, sci

    assert sci(0.0) == "0" and sci(-0.0) == "0"
    assert sci(3.2e-9) == "3.2 × 10⁻⁹" and sci(-1.25e12, 2) == "−1.25 × 10¹²"
    assert sci(4.0) == "4.0" and sci(float("inf")) == "∞"
    assert plain(-0.0004) == "0.000" and plain(-0.083) == "−0.083"
    assert plain(0.083, 1, sign=True) == "+0.1" and plain(-1.26, 1, sign=True) == "−1.3"
    assert plain(-0.04, 1, sign=True) == "0.0" and plain(0.04, 1, sign=True) == "0.0"
    for x in (1e-300, 7.77e-5, 123456.0, -9.99e-10):  # the value survives the round trip
        m, e = sci(x, 6).replace("−", "-").split(" × 10")
        e = int(e.translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")))
        assert abs(float(m) * 10.0**e - x) <= 1e-6 * abs(x)


def test_general_is_pythons_g_without_its_exponent_notation():
    from dropout_study.numfmt import general, sci

    for x in (0.5, 0.2, 1.0, 300.0, 0.0003, 0.0213, 4000.0, 12.5):  # :g has no exponent here
        assert general(x) == f"{x:g}"
    assert general(1e-05) == "10⁻⁵" and general(2.5e-9, 2) == "2.5 × 10⁻⁹"
    assert sci(1e-6, 0) == "10⁻⁶" and sci(-1e-8, 0) == "−10⁻⁸" and sci(1e-6) == "1.0 × 10⁻⁶"
    assert general(-6.5e-8, 2, sign=True) == "−6.5 × 10⁻⁸"
    assert general(0.000153, 3, True) == "+0.000153" and general(1e-6, 3, True) == "+10⁻⁶"
    assert general(1234567.0) == "1.23457 × 10⁶" and general(-0.0) == "0"
    assert general(0.0, sign=True) == "0"
    sup = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
    for x in (1e-300, 7.77e-5, 123456789.0, -9.99e-10, 1e-7):  # the value survives the trip
        text = general(x, 6).replace("−", "-")
        m, _, e = (
            text.rpartition("10") if "× 10" in text or text.startswith("10") else (text, "", "")
        )
        m = m.replace("×", "").strip() or "1"
        e = int(e.translate(sup) or 0)
        assert abs(float(m) * 10.0**e - x) <= 1e-5 * abs(x), (x, text)
    with pytest.raises((TypeError, ValueError)):
        general("abc")


_PAGES = sorted((ROOT / "book" / "chapters").glob("*.md")) + sorted((ROOT / "book").glob("*.md"))
_ROLE = re.compile(r"\{glue(?::text)?\}`([^`:]+)(?::([^`]*))?`")
_CODE_CELL = re.compile(r"^```\{code-cell\}.*?^```[ \t]*$", re.M | re.S)


def _prose(text: str) -> str:
    """A MyST page without its code cells."""
    return _CODE_CELL.sub("", text)


def _text_writing_code() -> list:
    """The package's modules that write the book's text."""
    code = sorted((paths.PACKAGE / "chapters").rglob("*.py"))
    assert len(code) > 20  # every chapter folder's modules
    names = ("book/generated_pages.py", "book/report.py", "book/answer_box.py", "book/citing.py")
    return code + [paths.PACKAGE / n for n in names]


def test_no_glued_number_is_formatted_with_python_exponents():
    """``{glue:text}`x:.1e``` prints ``1.0e-05``, and ``:g`` does as soon as a value is small:
    a spec with e/E/g/G is refused (glue ``numfmt.sci``/``numfmt.general`` text instead), and
    so is an exponent spec in the code that writes the book's text."""
    bad = []
    for page in _PAGES:
        for m in _ROLE.finditer(page.read_text()):
            if m.group(2) and re.search(r"[eEgG]", m.group(2)):
                bad.append(f"{page.name}: {m.group(0)}")
    exp_spec = re.compile(r"\{[^{}\n]*:[+ ]?\.?\d*[eE]\}")  # f"{x:.1e}" and the like
    code = [*(ROOT / "book" / "chapters").glob("*.md"), *_text_writing_code()]
    for path in code:
        for m in exp_spec.finditer(path.read_text()):
            bad.append(f"{path.name}: {m.group(0)}")
    for path in (ROOT / "book" / "chapters").glob("*.md"):  # e.g. ci(x, ".1e") in a code cell
        for m in re.finditer(r"[\"'][+ ]?\.\d*[eE][\"']", path.read_text()):
            bad.append(f"{path.name}: {m.group(0)}")
    assert not bad, bad


def test_no_negative_zero_in_the_book_text():
    """``f"{-0.001:+.2f}"`` is ``-0.00``: the code that writes the book's text uses ``z``
    (``:+z.2f``), which prints ``+0.00`` (the built smoke book is checked in test_book)."""
    fixed = re.compile(r"\{[^{}\n]*:[<>^=]?[+ ]?\d*\.\d+f\}|[\"'][+ ]?\d*\.\d+f[\"']")
    bad = []
    for path in _text_writing_code():
        for m in fixed.finditer(path.read_text()):
            bad.append(f"{path.name}: {m.group(0)}")
    assert f"{-0.001:+z.2f}" == "+0.00" and f"{-0.004:z.2f}" == "0.00"
    assert not bad, bad


_VERDICT_WORDS = {"supported", "partly supported", "not supported", "inconclusive"}
_VERDICT_ROLE = re.compile(r"^\{glue:text\}`(verdict|word_\w+|outcome_\w+)`$")


def test_bold_is_only_for_verdicts():
    """Bold marks a verdict word or a glued verdict (``verdict``, ``word_*``, ``outcome_*``);
    run-in labels are italic."""
    assert _VERDICT_ROLE.match("{glue:text}`verdict`") and not _VERDICT_ROLE.match("{glue:text}`x`")
    bad = []
    for page in _PAGES:
        for m in re.finditer(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", _prose(page.read_text()), re.S):
            inner = " ".join(m.group(1).split())
            if inner.lower() not in _VERDICT_WORDS and not _VERDICT_ROLE.match(inner):
                bad.append(f"{page.name}: **{inner[:60]}**")
        assert "<b>" not in page.read_text() and "<strong>" not in page.read_text(), page.name
    assert not bad, bad


def test_glued_numbers_get_a_true_minus_and_do_not_wrap():
    from docutils import nodes
    from docutils.utils import new_document

    from dropout_study.book.sphinxext import number_typography

    doc = new_document("<test>")
    para = nodes.paragraph()
    glued = (
        "-0.094 [-0.1, -.5]; step 2014-05, x-1, p = 0.5: -45; 14 % [11, 17]; 5.6 × 10⁻¹⁷; "
        "-0.00 [-0.96, -0], -0.001, -0.0.1"
    )
    para += nodes.inline(glued, glued, classes=["pasted-text"])
    para += nodes.Text(" typed -1 stays, 3 %")  # not glued: left alone
    doc += para
    number_typography(None, doc)
    nb = "\u00a0"
    assert para.astext() == (
        f"−0.094 [−0.1, −.5]; step 2014-05, x-1, p = 0.5: −45; 14{nb}% [11, 17]; "
        f"5.6{nb}×{nb}10⁻¹⁷; 0.00 [−0.96, 0], −0.001, −0.0.1 typed -1 stays, 3 %"
    )


def test_numbers_in_table_cells_get_a_true_minus_but_code_in_them_does_not():
    from docutils import nodes
    from docutils.utils import new_document

    from dropout_study.book.sphinxext import number_typography

    doc = new_document("<test>")
    table = nodes.table()
    cell = nodes.paragraph()
    cell += nodes.Text("ρ = -0.91 [-0.97, -0.86], 2014-05 ")
    cell += nodes.literal("-p x=-1", "-p x=-1")
    table += cell
    doc += table
    doc += nodes.paragraph("", "outside a table -1 stays")
    number_typography(None, doc)
    assert cell.astext() == "ρ = −0.91 [−0.97, −0.86], 2014-05 -p x=-1"
    assert doc.children[-1].astext() == "outside a table -1 stays"


def test_robustness_tables_are_recognised_by_the_header_verdicts_writes():
    from docutils import nodes
    from docutils.utils import new_document

    from dropout_study.book.sphinxext import (
        FINDINGS_HEADER,
        ROBUSTNESS_HEADER,
        stack_robustness_tables,
    )
    from dropout_study.chapters.verdicts import SUPPORTED, robustness

    md = robustness(SUPPORTED, [("a choice", SUPPORTED, "detail")]).markdown()
    first_row = re.search(r"^\* - (.*?)\n(?=\* - )", md, re.M | re.S).group(0)
    cells = [c.strip() for c in re.split(r"^\*? *- ", first_row, flags=re.M) if c.strip()]
    assert tuple(cells) == ROBUSTNESS_HEADER

    def table(header):
        t, group, head, row = nodes.table(), nodes.tgroup(), nodes.thead(), nodes.row()
        for text in header:
            row += nodes.entry("", nodes.paragraph(text, text))
        head += row
        group += head
        t += group
        return t

    doc = new_document("<test>")
    doc += table(ROBUSTNESS_HEADER)
    doc += table(("Analysis choice", "Verdict", "Agrees", "Notes"))
    doc += table(FINDINGS_HEADER)
    stack_robustness_tables(None, doc)
    assert doc.children[0]["classes"] == ["ds-stack", "ds-robustness"]
    assert doc.children[1]["classes"] == []
    assert doc.children[2]["classes"] == ["ds-stack", "ds-findings"]


def test_findings_tables_are_recognised_by_the_header_the_kit_writes():
    from dropout_study.book.sphinxext import FINDINGS_HEADER
    from dropout_study.chapters.wording import TABLE_HEADER

    assert FINDINGS_HEADER == TABLE_HEADER


def test_alt_text_reads_caption_maths_as_text():
    from docutils import nodes
    from docutils.utils import new_document

    from dropout_study.book.sphinxext import alt_from_captions, label_captions, math_as_text

    doc = new_document("<test>")
    fig = nodes.figure(ids=["fig-x"])
    fig += nodes.image(uri="x.png")
    cap = nodes.caption()
    cap += nodes.Text("Threshold ")
    cap += nodes.math(r"\text{lr}\cdot\lambda_\max", r"\text{lr}\cdot\lambda_\max")
    cap += nodes.Text(" and norm ")
    cap += nodes.math(r"\|w\|_1", r"\|w\|_1")
    fig += cap
    doc += fig
    label_captions(None, doc)
    label_captions(None, doc)  # once only
    assert cap.astext().endswith("_1 (cite: fig-x)") and cap.astext().count("cite:") == 1
    alt_from_captions(None, doc, "x")
    (img,) = doc.findall(nodes.image)
    assert img["alt"] == "Threshold lr·λₘₐₓ and norm ‖w‖₁"
    assert math_as_text(r"\theta + \alpha(\theta' - \theta)") == "θ + α(θ' − θ)"
    # sub- and superscripts as Unicode ones, or after a space where Unicode has none
    assert math_as_text(r"\theta^*_p") == "θ*ₚ" and math_as_text(r"J(\theta_t, m_t)") == "J(θₜ, mₜ)"
    assert math_as_text(r"\log_{10}|w|") == "log₁₀|w|" and math_as_text(r"\bar g^2") == "g̅²"
    assert math_as_text(r"R_\text{quad} + w_b") == "R quad + w b"
    assert math_as_text(r"\alpha = 0") == "α = 0" and math_as_text(r"K \to \infty") == "K → ∞"


def _caption_text(markdown: str) -> str:
    """A caption's MyST (glue roles replaced by a word) parsed by MyST-Parser as the book
    parses it (dollarmath), read out by the book's alt-text code."""
    from docutils import nodes
    from docutils.core import publish_doctree
    from myst_parser.parsers.docutils_ import Parser

    from dropout_study.book.sphinxext import caption_as_text

    text = re.sub(r"\{glue:[a-z]+\}`[^`]*`", "0.5", markdown)
    doc = publish_doctree(
        text,
        parser=Parser(),
        settings_overrides={"myst_enable_extensions": ["dollarmath"], "report_level": 4},
    )
    (para,) = doc.findall(nodes.paragraph)
    return caption_as_text(para)


def test_every_caption_reads_as_plain_text():
    """The alt text of every figure of every chapter: no TeX, no ``_``/``^`` script markers,
    no space before , . ; : ) or after (."""
    from dropout_study.book.citing import _GLUE_FIGURE

    assert (
        _caption_text("Value $x$, next ( $x$ ) and $\\theta^*_p$.") == "Value x, next (x) and θ*ₚ."
    )
    n = 0
    for page in (ROOT / "book" / "chapters").glob("*.md"):
        for m in _GLUE_FIGURE.finditer(page.read_text(encoding="utf-8")):
            caption = m.group("body").split("\n\n", 1)[-1].strip()  # after the options
            alt = _caption_text(caption)
            n += 1
            assert alt and not re.search(r"[\\^_{}$]", alt), (page.name, alt)
            assert not re.search(r"\s[,.;:)]|\(\s", alt), (page.name, alt)
    assert n >= 30


def test_figure_list_never_cuts_a_formula():
    from dropout_study.book.generated_pages import _first_sentence

    assert _first_sentence("Left: $a. b$ and more. Right: x.") == "Left: $a. b$ and more"
    assert _first_sentence("One sentence only.") == "One sentence only"
    assert _first_sentence("Ends in maths $x$. Then.") == "Ends in maths $x$"
