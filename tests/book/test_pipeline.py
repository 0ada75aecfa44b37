"""The pipeline: execution with papermill, atomic replacement, post-processing, the cache,
generated tables, and every real chapter at the smoke profile.

Fixture chapters (tests/fixtures) keep these tests independent of the chapter engineers; the
last test runs the real chapters. Each executed notebook costs a kernel start (~3 s).
"""

from __future__ import annotations

import json

import nbformat
import pytest
from fixtures.tinybook import (
    make_project,
    package_copy,
    smoke_book,
    smoke_chapter,
    snapshot,
    use_fixtures,
    without_run,
)

from dropout_study import paths
from dropout_study.book.cache import cache_key, is_fresh
from dropout_study.book.generated_pages import update_readme, verdict_rows, write_generated
from dropout_study.book.params import resolve
from dropout_study.book.pipeline import build, execute
from dropout_study.book.project import BuildFailed, ChapterFailed, Project, toc_chapters
from dropout_study.book.source import chapter_ids
from dropout_study.chapters.verdicts import COLOURS, SYMBOLS, WORDS

CHAPTERS = chapter_ids()


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "book-root"
    use_fixtures(monkeypatch, root)
    return make_project(root, ("tiny", "tiny-two"))


def _set_default(project, chapter_id, old, new):
    src = project.source(chapter_id)
    text = src.read_text(encoding="utf-8")
    assert old in text
    src.write_text(text.replace(old, new), encoding="utf-8")


def test_execute_writes_the_outputs_and_postprocesses_the_notebook(project, tmp_path):
    spec = project.spec("tiny")
    params = resolve(spec, "smoke", {"p": 0.25})
    dest = tmp_path / "out" / "tiny"
    record = execute(spec, params, dest, profile="smoke", key="abc")
    assert record["verdict"]["word"] in WORDS
    assert sorted(p.name for p in dest.iterdir()) == [
        "figures",
        "metrics.json",
        "run.json",
        "tiny.ipynb",
    ]
    assert json.loads((dest / "run.json").read_text())["key"] == "abc"
    assert json.loads((dest / "metrics.json").read_text())["parameters"] == params
    # nothing left beside the destination: no run directory, no backup
    assert [p.name for p in dest.parent.iterdir()] == ["tiny"]

    nb = nbformat.read(dest / "tiny.ipynb", as_version=4)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    i_par = next(i for i, t in enumerate(tags) if "parameters" in t)
    i_inj = next(i for i, t in enumerate(tags) if "injected-parameters" in t)
    assert i_inj == i_par + 1
    assert "remove-cell" in tags[i_par] and "remove-cell" in tags[i_inj]
    table = nb.cells[i_inj + 1]
    assert table.cell_type == "markdown"
    assert "Parameters of this run (profile `smoke`)" in table.source
    base = resolve(spec, "smoke")
    assert base["p"] != 0.25  # so the override is marked, and only it
    assert "| `p` | `0.25` (set for this run) | centre of the draws, in [0, 1) |" in table.source
    assert f"| `rates` | `{base['rates']}` |" in table.source
    assert table.source.count("(set for this run)") == 1
    assert "This run again: `dropout-study run tiny --profile smoke -p p=0.25`" in table.source
    assert "p = 0.25" in nb.cells[i_inj].source  # papermill injected our value


def test_same_parameters_same_numbers_other_seed_other_numbers(project, tmp_path):
    spec = project.spec("tiny")
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    execute(spec, resolve(spec, "smoke"), a, profile="smoke")
    execute(spec, resolve(spec, "smoke"), b, profile="smoke")
    execute(spec, resolve(spec, "smoke", {"seed": 7}), c, profile="smoke")
    ma, mb, mc = (without_run((d / "metrics.json").read_bytes()) for d in (a, b, c))
    # Other engineers edit this checkout while tests run, which changes the package hash and
    # git state between two kernels; byte identity including provenance is test_report's job.
    pa, pb = ma.pop("provenance"), mb.pop("provenance")
    assert pa["dependencies"] == pb["dependencies"] and pa["version"] == pb["version"]
    assert ma == mb
    assert ma["metrics"]["mean"] != mc["metrics"]["mean"]
    for f in ("draws.png", "draws.svg"):
        assert (a / "figures" / f).read_bytes() == (b / "figures" / f).read_bytes()


def test_a_failed_run_leaves_the_last_good_outputs_untouched(project, tmp_path):
    spec = project.spec("tiny")
    dest = tmp_path / "out" / "tiny"
    execute(spec, resolve(spec, "smoke"), dest, profile="smoke")
    before = snapshot(dest)
    with pytest.raises(
        ChapterFailed,
        match=r"Chapter 'tiny' failed in cell \d+: RuntimeError: the tiny chapter exploded on",
    ):
        execute(spec, resolve(spec, "smoke", {"explode": True, "seed": 5}), dest, profile="smoke")
    assert snapshot(dest) == before
    assert [p.name for p in dest.parent.iterdir()] == ["tiny"]  # papermill's output went away


def test_a_notebook_that_never_finishes_its_report_fails(project, tmp_path):
    text = project.source("tiny").read_text()
    project.source("tiny").write_text(
        text.replace("report.finish(experiment.decide(result.metrics), result.metrics)", "pass")
    )
    spec = project.spec("tiny")
    with pytest.raises(ChapterFailed, match=r"Chapter 'tiny' ran but wrote no metrics.json"):
        execute(spec, resolve(spec, "smoke"), tmp_path / "d", profile="smoke")
    assert not (tmp_path / "d").exists()


def test_cache_key_changes_with_what_the_chapter_depends_on(project, tmp_path):
    pkg = package_copy(tmp_path)
    spec = project.spec("tiny")
    p = resolve(spec, "smoke")
    k = cache_key(spec, p, "smoke", pkg)
    assert cache_key(spec, dict(p), "smoke", pkg) == k
    assert cache_key(spec, {**p, "n": 21}, "smoke", pkg) != k
    assert cache_key(spec, p, "book", pkg) != k
    assert cache_key(project.spec("tiny-two"), p, "smoke", pkg) != k
    (pkg / "nn" / "mlp.py").write_text((pkg / "nn" / "mlp.py").read_text() + "\n# edited\n")
    assert cache_key(spec, p, "smoke", pkg) == k  # a comment is not code
    (pkg / "seeds.py").write_text((pkg / "seeds.py").read_text() + "\nEXTRA = 1\n")
    k2 = cache_key(spec, p, "smoke", pkg)
    assert k2 != k  # code the chapter imports (tiny_experiment -> seeds)
    _set_default(project, "tiny", 'label: str = "draws"', 'label: str = "other"')
    assert cache_key(project.spec("tiny"), p, "smoke", pkg) != k2  # the source text


def test_cache_executes_only_what_changed(project, tmp_path):
    lines = []
    pkg = package_copy(tmp_path)
    project = Project(root=project.root, chapters=project.chapters, package_dir=pkg)

    def executed(results):
        return sorted(r.chapter for r in results if r.executed)

    def run(**kw):
        return executed(build(project, profile="smoke", html=False, log=lines.append, **kw))

    assert run() == ["tiny", "tiny-two"]
    assert lines[0].startswith("[1/2] tiny ") and "executed" in lines[0] and " s  " in lines[0]
    assert run() == []  # nothing changed
    assert all("cached" in ln for ln in lines[-2:])

    _set_default(project, "tiny-two", "p: float = 0.5", "p: float = 0.4")  # a cell default
    assert run() == ["tiny-two"]
    assert run() == []
    _set_default(project, "tiny-two", "smoke: {n: 20}", "smoke: {n: 21}")  # a profile value
    assert run() == ["tiny-two"]
    m = json.loads((project.dest("tiny-two") / "metrics.json").read_text())
    assert m["parameters"]["n"] == 21

    (pkg / "nn" / "losses.py").write_text((pkg / "nn" / "losses.py").read_text() + "\n# edited\n")
    assert run() == []  # a comment re-executes nothing
    (pkg / "seeds.py").write_text((pkg / "seeds.py").read_text() + "\nEXTRA = 1\n")
    assert run() == ["tiny", "tiny-two"]  # code both chapters import invalidates both
    assert run() == []
    assert run(force=True) == ["tiny", "tiny-two"]


def test_is_fresh_needs_every_output(project, tmp_path):
    spec = project.spec("tiny")
    dest = tmp_path / "d"
    assert not is_fresh(dest, "tiny", "k")
    execute(spec, resolve(spec, "smoke"), dest, profile="smoke", key="k")
    assert is_fresh(dest, "tiny", "k") and not is_fresh(dest, "tiny", "other")
    (dest / "metrics.json").unlink()
    assert not is_fresh(dest, "tiny", "k")


def test_a_failing_chapter_fails_the_build_with_its_message(project):
    _set_default(project, "tiny-two", "explode: bool = False", "explode: bool = True")
    lines = []
    with pytest.raises(BuildFailed, match=r"Chapter 'tiny-two' failed in cell \d+: RuntimeError"):
        build(project, profile="book", html=False, log=lines.append)
    assert "FAILED" in lines[1]
    assert not (project.generated / "verdicts.md").exists()


def test_all_parameters_are_validated_before_anything_runs(project):
    _set_default(project, "tiny-two", "p: float = 0.5", "p: float = 1.5")
    with pytest.raises(ValueError, match=r"The 'p' parameter of tiny must be in \[0, 1\)"):
        build(project, profile="smoke", html=False, log=lambda s: None)
    assert not project.generated.exists()  # the valid first chapter did not run either


def test_toc_entries_must_be_registered_chapters_with_sources(tmp_path, monkeypatch):
    use_fixtures(monkeypatch)
    p = make_project(tmp_path / "a", ("tiny",), toc_ids=("tiny", "tiny-two"))
    with pytest.raises(
        BuildFailed,
        match=r"_toc.yml lists chapter 'tiny-two' but its source book/chapters/tiny-two.md does "
        r"not exist",
    ):
        toc_chapters(p)
    q = Project(root=p.root, chapters=("tiny",))
    with pytest.raises(BuildFailed, match=r"a chapter entry must be book/generated/<id>/<id>"):
        toc_chapters(q)
    (p.root / "_toc.yml").unlink()
    with pytest.raises(BuildFailed, match=r"No table of contents: .*_toc.yml does not exist"):
        toc_chapters(p)


def test_generated_tables_and_readme(project):
    build(project, profile="book", html=False, log=lambda s: None)
    verdicts = (project.generated / "verdicts.md").read_text()
    rows = verdict_rows(project)
    assert [r["chapter"] for r in rows] == ["tiny", "tiny-two"]
    for r in rows:
        m = json.loads((project.dest(r["chapter"]) / "metrics.json").read_text())
        assert r["word"] == m["verdict"]["word"]
        badge = f"  - {{bdg-{COLOURS[r['word']]}}}`{SYMBOLS[r['word']]} {r['word']}`\n"
        assert f"{badge}  - —\n  - none recorded\n  - {m['verdict']['sentence']}\n" in verdicts
        link = f"* - {{doc}}`{m['claim']} </book/generated/{r['chapter']}/{r['chapter']}>`"
        assert link in verdicts
    assert "profile `book`" in verdicts
    params_md = (project.generated / "parameters.md").read_text()
    assert "* - `n` (int)\n  - `200`\n  - `20`\n  - `2000`\n  - number of draws\n" in params_md

    readme = project.root / "README.md"
    readme.write_text(
        "# T\n\nbefore\n<!-- verdicts:start (generated by `dropout-study readme`; "
        "do not edit) -->\nold\n<!-- verdicts:end -->\nafter\n"
    )
    update_readme(project)
    text = readme.read_text()
    assert "old" not in text and text.startswith("# T\n\nbefore\n") and text.endswith("after\n")
    word = rows[0]["word"]
    assert f"| {rows[0]['claim']} | `tiny` | **{SYMBOLS[word]} {word}** | — |" in text
    assert "*Generated by `dropout-study readme` from profile `book`" in text

    build(project, profile="smoke", html=False, log=lambda s: None)
    with pytest.raises(BuildFailed, match=r"not from the book profile: run `make book`"):
        update_readme(project)
    readme.write_text("# no markers\n")
    with pytest.raises(BuildFailed, match=r"has no verdict block"):
        update_readme(project)


def test_a_chapter_not_run_yet_shows_as_such(project):
    write_generated(project, ["tiny"])
    assert "*not run yet*" in (project.generated / "verdicts.md").read_text()


# ------------------------------------------------------------------------------------------
# the real chapters
# ------------------------------------------------------------------------------------------


# Every registered chapter, so a chapter whose source is missing fails here instead of being
# skipped.
@pytest.mark.parametrize("chapter_id", CHAPTERS)
def test_real_chapter_runs_at_smoke_profile(chapter_id, tmp_path_factory, monkeypatch):
    src = paths.CHAPTER_SOURCES / f"{chapter_id}.md"
    assert src.is_file(), f"registered chapter {chapter_id!r} has no source {src}"
    project = smoke_book(tmp_path_factory)  # shared with test_book's smoke build
    monkeypatch.setenv("DROPOUT_STUDY_ROOT", str(project.root))  # kernel caches go there
    record = smoke_chapter(project, chapter_id)
    dest = project.dest(chapter_id)
    m = json.loads((dest / "metrics.json").read_text())
    assert m == record
    assert m["verdict"]["word"] in WORDS
    assert m["verdict"]["sentence"]
    assert m["parameters"] == resolve(project.spec(chapter_id), "smoke")
    assert m["profile"] == "smoke" and m["chapter"] == chapter_id
    assert (dest / f"{chapter_id}.ipynb").is_file()
    for label in m["figures"]:
        name = label.removeprefix(f"fig-{chapter_id}-")
        for ext in ("png", "svg", "json"):
            assert (dest / "figures" / f"{name}.{ext}").is_file()


def test_a_full_run_records_its_confirmation_with_the_code_it_ran(project, tmp_path):
    from dropout_study.book import confirm
    from dropout_study.book.cache import chapter_science_hash

    spec = project.spec("tiny")
    full = resolve(spec, "full")
    execute(spec, full, tmp_path / "f", profile="full", confirm_root=tmp_path)
    rec = confirm.load("tiny", tmp_path)
    assert rec["profile"] == "full" and rec["chapter"] == "tiny"
    assert rec["code"] == chapter_science_hash(spec) and rec["parameters"] == full
    assert confirm.status("tiny", rec["code"], tmp_path) == "current"
    assert confirm.status("tiny", "0" * 64, tmp_path) == "other code"
    word = rec["word"]
    assert "other code" not in confirm.sentence("tiny", "book", word, tmp_path, rec["code"])
    assert "other code" in confirm.sentence("tiny", "book", word, tmp_path, "0" * 64)


def test_notebooks_written_for_pages_have_stable_cell_ids(project, tmp_path):
    """nbformat gives every new cell a random id: the executed notebook (with its inserted
    parameter and provenance cells) and the rerun page's downloadable copy (with its
    references cell) must still be byte-identical for identical runs."""
    import nbformat

    from dropout_study.book.render import _with_references

    spec = project.spec("tiny")
    execute(spec, resolve(spec, "smoke"), tmp_path / "a", profile="smoke")
    nb = nbformat.read(tmp_path / "a" / "tiny.ipynb", as_version=4)
    assert [c["id"] for c in nb.cells] == [f"cell-{i:03d}" for i in range(len(nb.cells))]
    text = nbformat.writes(nb)
    one, two = _with_references(text), _with_references(text)
    assert one == two
    page = nbformat.reads(one, as_version=4)
    assert page.cells[-1]["id"] == f"cell-{len(page.cells) - 1:03d}"


def test_the_verdict_table_shows_the_fresh_seed_word_and_marks_a_stale_one():
    from dropout_study.book.generated_pages import STALE, verdicts_markdown

    def row(cid, confirmation):
        return {"chapter": cid, "claim": f"claim {cid}", "word": "inconclusive",
                "answer": "a", "findings": [], "profile": "book", "commit": None,
                "dirty": None, "robustness": None, "confirmation": confirmation}  # fmt: skip

    md = verdicts_markdown(
        [
            row("a", {"word": "partly supported", "state": "current"}),
            row("b", {"word": "supported", "state": "other code"}),
            row("c", {"word": None, "state": "damaged"}),
            row("d", {"word": None, "state": "none"}),
        ]
    )
    cells = [line for line in md.splitlines() if line.startswith("  - ")]
    fresh = cells[2::4][1:]  # the fourth column of each body row (header row first)
    assert fresh[0] == "  - {bdg-warning}`◐ partly supported`"
    assert fresh[1] == f"  - {{bdg-success}}`✔ supported` {STALE}"
    assert fresh[2] == "  - damaged record (not quoted)"
    assert fresh[3] == "  - none recorded"
    assert f"{STALE}: recorded with other science code" in md
