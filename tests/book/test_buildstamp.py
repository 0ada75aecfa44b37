"""The no-change fast path of ``build`` (dropout_study.book.buildstamp).

The fixture chapters are executed once per module; each test copies that book (and a copy of
the package, which keys its cache) to a root of its own, builds it once (every chapter cached)
with a stand-in for jupyter-book that writes a small ``_build/html``, and then checks which
path the next build takes. The stand-in, ``resolve`` and ``execute`` are counted, so "took the
fast path" means: none of them ran.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from fixtures.tinybook import FIXTURES, make_project, package_copy

from dropout_study.book import cache, pipeline
from dropout_study.book import parallel as sidebyside
from dropout_study.book.buildstamp import STAMP, Stamp, input_files
from dropout_study.book.project import BuildFailed, Project
from dropout_study.cli import main as cli


@pytest.fixture(scope="module")
def executed_book(tmp_path_factory):
    """The fixture chapters executed at the smoke profile (no HTML), and the package copy
    that keyed them."""
    base = tmp_path_factory.mktemp("stamp")
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(FIXTURES))
        old = os.environ.get("PYTHONPATH")
        mp.setenv("PYTHONPATH", str(FIXTURES) + (os.pathsep + old if old else ""))
        mp.setenv(sidebyside.ENV, "1")
        project = make_project(base / "root", ("tiny", "tiny-two"))
        pkg = package_copy(base)
        project = Project(root=project.root, chapters=project.chapters, package_dir=pkg)
        pipeline.build(project, profile="smoke", html=False, log=lambda s: None)
    return project


class Calls:
    """Counts of the slow path's steps in one test."""

    def __init__(self):
        self.resolve = self.execute = self.html = 0
        self.html_fails = False


@pytest.fixture
def book(executed_book, tmp_path, monkeypatch):
    """A copy of the executed book with its own package copy, built once (so it has a
    stamp), and the counters of the slow path's steps."""
    monkeypatch.syspath_prepend(str(FIXTURES))
    old = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(FIXTURES) + (os.pathsep + old if old else ""))
    monkeypatch.setenv(sidebyside.ENV, "1")  # chapters execute in this process: counted
    root = tmp_path / "root"
    shutil.copytree(executed_book.root, root, symlinks=True)
    pkg = tmp_path / "pkg"
    shutil.copytree(executed_book.package_dir, pkg)
    monkeypatch.setenv("DROPOUT_STUDY_ROOT", str(root))
    project = Project(root=root, chapters=executed_book.chapters, package_dir=pkg)
    calls = Calls()
    real_resolve = pipeline.resolve

    def resolve(*a, **kw):
        calls.resolve += 1
        return real_resolve(*a, **kw)

    def execute(spec, params, dest, **kw):  # the chapter's last good outputs stand in
        calls.execute += 1
        return json.loads((Path(dest) / "metrics.json").read_text(encoding="utf-8"))

    def jupyter_book_build(project, log=print):
        calls.html += 1
        if calls.html_fails:
            raise BuildFailed("jupyter-book build failed:\nWARNING: made up")
        html = Path(project.root) / "_build" / "html"
        shutil.rmtree(html, ignore_errors=True)  # like the real one: every page afresh
        (html / "_images").mkdir(parents=True, exist_ok=True)
        (html / "_images" / "fig.png").write_bytes(b"png")
        (html / "book").mkdir(parents=True, exist_ok=True)
        (html / "index.html").write_text("<html>index</html>")
        (html / "book" / "intro.html").write_text("<html>intro</html>")
        return html / "index.html"

    monkeypatch.setattr(pipeline, "resolve", resolve)
    monkeypatch.setattr(pipeline, "execute", execute)
    monkeypatch.setattr(pipeline, "jupyter_book_build", jupyter_book_build)
    first = pipeline.build(project, profile="smoke", log=lambda s: None)
    assert (root / STAMP).is_file()
    assert (calls.resolve, calls.execute, calls.html) == (2, 0, 1)
    calls.__init__()
    return project, calls, first


def _build(project, **kw):
    lines = []
    results = pipeline.build(project, log=lines.append, **{"profile": "smoke", **kw})
    return results, lines


def test_nothing_changed_takes_the_fast_path(book):
    project, calls, first = book
    results, lines = _build(project)
    assert (calls.resolve, calls.execute, calls.html) == (0, 0, 0)
    assert [(r.chapter, r.dest, r.executed, r.metrics) for r in results] == [
        (r.chapter, r.dest, False, r.metrics) for r in first
    ]
    for i, r in enumerate(results):
        assert lines[i].startswith(f"[{i + 1}/2] {r.chapter:<8}  cached  ")
        assert lines[i].endswith(r.metrics["verdict"]["word"])  # the label ends with the word
    index = (project.root / "_build" / "html" / "index.html").resolve()
    assert lines[2].startswith("book unchanged since ") and lines[2].endswith(f": {index}")
    assert len(lines) == 3


def test_without_html_the_fast_path_logs_what_the_full_path_logs(book):
    project, calls, _ = book
    _, slow = _build(project, html=False)  # another stamp: html is an input
    assert (calls.resolve, calls.html) == (2, 0)
    _, fast = _build(project, html=False)
    assert (calls.resolve, calls.html) == (2, 0)
    assert len(fast) == 2 and [ln.split()[:3] for ln in fast] == [ln.split()[:3] for ln in slow]


def test_the_command_takes_the_fast_path(book, capsys):
    project, calls, _ = book
    assert cli.main(["build", "--profile", "smoke"], project) == 0
    out = capsys.readouterr().out
    assert (calls.resolve, calls.execute, calls.html) == (0, 0, 0)
    assert "book unchanged since" in out and "time per chapter:" in out


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


# each edit: (what it does to the copy, whether undoing it restores the fast path)
INPUT_EDITS = {
    "a package module (comment only)": lambda p: _append(
        p.package_dir / "nn" / "losses.py", "# x\n"
    ),
    "a chapter source": lambda p: _append(p.source("tiny"), "\nMore text.\n"),
    "_config.yml": lambda p: _append(p.root / "_config.yml", "# x\n"),
    "_toc.yml": lambda p: _append(p.root / "_toc.yml", "# x\n"),
    "the intro page": lambda p: _append(p.book / "intro.md", "\nMore.\n"),
    "the bibliography": lambda p: _append(p.book / "references.bib", "\n"),
    "a static file": lambda p: _append(p.book / "_static" / "dropout-study.css", "\n"),
    "a new confirmation": lambda p: (
        (p.book / "confirmations").mkdir(exist_ok=True),
        (p.book / "confirmations" / "tiny.json").write_text("{}"),
    ),
    "a new file in the root": lambda p: (p.root / "notes.txt").write_text("x"),
}


def _snapshot(project: Project) -> dict[Path, bytes]:
    out = {}
    for base in (project.root, project.package_dir):
        for p in Path(base).rglob("*"):
            if p.is_file() and "_build" not in p.parts and "generated" not in p.parts:
                out[p] = p.read_bytes()
    return out


def _restore(project: Project, snap: dict[Path, bytes]) -> None:
    for base in (project.root, project.package_dir):
        for p in Path(base).rglob("*"):
            if p.is_file() and p not in snap and "_build" not in p.parts:
                if "generated" not in p.parts:
                    p.unlink()
    for p, data in snap.items():
        if p.read_bytes() != data:
            p.write_bytes(data)


def _reusable(project: Project, profile: str = "smoke", html: bool = True) -> bool:
    return Stamp(project, profile=profile, html=html).reuse(lambda s: None) is not None


@pytest.mark.parametrize("edit", sorted(INPUT_EDITS))
def test_any_input_edit_invalidates_the_stamp(book, edit):
    project, _, _ = book
    assert _reusable(project)
    snap = _snapshot(project)
    INPUT_EDITS[edit](project)
    assert not _reusable(project)
    _restore(project, snap)
    assert _reusable(project)  # the edit alone made the difference


def test_an_edited_input_takes_the_full_path(book):
    project, calls, _ = book
    _append(project.package_dir / "nn" / "losses.py", "# a comment: no chapter re-executes\n")
    results, lines = _build(project)
    assert calls.resolve == 2 and calls.html == 1 and calls.execute == 0
    assert not any(r.executed for r in results) and "unchanged" not in "".join(lines)
    calls.__init__()
    _build(project)  # and the new stamp answers the next build
    assert (calls.resolve, calls.html) == (0, 0)


def test_profile_html_and_environment_are_inputs(book, monkeypatch):
    project, _, _ = book
    assert _reusable(project)
    assert not _reusable(project, profile="book")
    assert not _reusable(project, html=False)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # the footer's year
    assert not _reusable(project)
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    path = os.environ["PYTHONPATH"]
    monkeypatch.setenv("PYTHONPATH", path + os.pathsep + "/elsewhere")
    assert not _reusable(project)
    monkeypatch.setenv("PYTHONPATH", path)
    assert _reusable(project)
    # another commit (or a dirty checkout): a cached chapter's page then names it
    monkeypatch.setattr(cache, "git_commit", lambda *a: {"commit": "f" * 40, "dirty": False})
    assert not _reusable(project)


def test_an_experiment_outside_the_package_is_an_input(book):
    project, _, _ = book
    files = dict(input_files(project))
    assert files["experiment/tiny_experiment"] == FIXTURES / "tiny_experiment.py"
    assert files["package/nn/losses.py"] == project.package_dir / "nn" / "losses.py"
    assert "root/book/chapters/tiny.md" in files
    assert not any(name.startswith("root/book/generated") for name in files)


def _html(project: Project) -> Path:
    return project.root / "_build" / "html"


def _same_size_and_time(path: Path) -> None:
    """Change one byte of ``path`` and put back its modification time, as a restore from a
    backup that keeps times can: only the contents tell the difference."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    i = data.index(b"<") if b"<" in data else 0
    data[i] = ord("(") if data[i] != ord("(") else ord(")")
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


OUTPUT_EDITS = {
    "an HTML page deleted": lambda p: (_html(p) / "book" / "intro.html").unlink(),
    "an HTML page rewritten": lambda p: (_html(p) / "index.html").write_text("<p>other</p>"),
    "an HTML page edited, size and time kept": lambda p: _same_size_and_time(
        _html(p) / "index.html"
    ),
    "an executed notebook deleted": lambda p: (p.dest("tiny") / "tiny.ipynb").unlink(),
    "a metrics file edited, size and time kept": lambda p: _same_size_and_time(
        p.dest("tiny") / "metrics.json"
    ),
    "an extra file among the generated pages": lambda p: (p.generated / "extra.md").write_text(
        "# x\n"
    ),
}


@pytest.mark.parametrize("edit", sorted(OUTPUT_EDITS))
def test_any_output_change_invalidates_the_stamp(book, edit):
    project, _, _ = book
    assert _reusable(project)
    OUTPUT_EDITS[edit](project)
    assert not _reusable(project)


def test_a_deleted_html_page_takes_the_full_path(book):
    project, calls, _ = book
    (_html(project) / "book" / "intro.html").unlink()
    _build(project)
    assert calls.resolve == 2 and calls.html == 1
    assert (_html(project) / "book" / "intro.html").is_file()


def test_a_deleted_image_is_written_again_not_certified_missing(book):
    # a damaged _build/html with unchanged inputs takes the full path (which writes every
    # page afresh), so the next stamp is honest
    project, calls, _ = book
    (_html(project) / "_images" / "fig.png").unlink()
    _build(project)
    assert calls.html == 1 and (_html(project) / "_images" / "fig.png").is_file()
    calls.__init__()
    _build(project)
    assert calls.html == 0  # and now the stamp holds


def test_touching_the_outputs_is_not_a_change(book):
    # freshness is decided on contents: new times alone (a copy, a restore) change nothing
    project, calls, _ = book
    for f in (_html(project) / "index.html", project.dest("tiny") / "metrics.json"):
        os.utime(f, ns=(0, 10**9))
    _build(project)
    assert (calls.resolve, calls.execute, calls.html) == (0, 0, 0)


def test_a_failed_build_leaves_no_stamp(book):
    project, calls, _ = book
    calls.html_fails = True
    snap = _snapshot(project)
    _append(project.root / "_config.yml", "# x\n")
    with pytest.raises(BuildFailed, match="jupyter-book build failed"):
        _build(project)
    assert not (project.root / STAMP).exists()
    _restore(project, snap)  # back to the inputs of the last good build
    calls.__init__()
    calls.html_fails = True
    with pytest.raises(BuildFailed):
        _build(project)  # the old stamp cannot claim success: the full path ran again
    assert calls.resolve == 2 and calls.html == 1
    assert not (project.root / STAMP).exists()


def test_a_build_that_stops_early_leaves_no_stamp(book):
    project, calls, _ = book
    assert (project.root / STAMP).exists()
    src = project.source("tiny")
    src.write_text(src.read_text().replace("p: float = 0.5", "p: float = 1.5"))
    with pytest.raises(ValueError, match=r"The 'p' parameter of tiny must be in \[0, 1\)"):
        _build(project)
    assert calls.execute == 0 and not (project.root / STAMP).exists()


def test_force_takes_the_full_path(book):
    project, calls, _ = book
    results, lines = _build(project, force=True)
    assert (calls.resolve, calls.execute, calls.html) == (2, 2, 1)
    assert all(r.executed for r in results)
    assert (project.root / STAMP).is_file()  # rewritten at the end
    calls.__init__()
    calls.html_fails = True
    with pytest.raises(BuildFailed):
        _build(project, force=True)
    assert not (project.root / STAMP).exists()  # removed when the forced build began
