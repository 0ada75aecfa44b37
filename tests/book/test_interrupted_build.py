"""Fault class "an interrupted book build that later builds call good": the HTML is written
into a staging folder and swapped in whole, so a build killed (or interrupted) while pages
are written leaves the previous book and the next build rebuilds; freshness is decided on
contents, not times; one lock guards a whole build and names the other build.

jupyter-book is real, except where a build must be caught *while it writes pages*: there a
stand-in (``SLOW_JB``) writes part of a book where jupyter-book would and then waits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures.tinybook import make_project, snapshot, use_fixtures

from dropout_study.book import pipeline
from dropout_study.book.cache import file_hashes
from dropout_study.cli import main as cli

SLOW_JB = r"""
import pathlib, sys, time
args = sys.argv[1:]  # build ROOT -W -n --keep-going [--path-output DIR]
out = pathlib.Path(args[args.index("--path-output") + 1] if "--path-output" in args else args[1])
html = out / "_build" / "html"
html.mkdir(parents=True, exist_ok=True)
for i in range(7):  # 7 of the book's pages, then it hangs while writing the rest
    (html / f"page-{i}.html").write_text("<p>half a book</p>")
(html / "index.html").write_text("<p>half a book</p>")
pathlib.Path(args[1], ".writing-pages").touch()
time.sleep(300)
"""

# The command, as a user runs it, with jupyter-book replaced by SLOW_JB when asked.
BUILD = r"""
import signal, subprocess, sys
from pathlib import Path
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
signal.signal(signal.SIGINT, signal.default_int_handler)
root, slow = Path(sys.argv[1]), sys.argv[2]
if slow:
    real_run = subprocess.run
    def run(cmd, *a, **k):
        if isinstance(cmd, list) and str(cmd[0]).endswith("jupyter-book"):
            cmd = [sys.executable, slow, *cmd[1:]]
        return real_run(cmd, *a, **k)
    subprocess.run = run
from dropout_study.cli import main as cli
from dropout_study.book.project import Project
cli.entry(["build", "--profile", "smoke"], Project(root=root, chapters=("tiny",)))
"""


@pytest.fixture
def book(tmp_path, monkeypatch):
    """A fixture book built once, for real (chapter executed, HTML written)."""
    root = tmp_path / "root"
    use_fixtures(monkeypatch, root)
    monkeypatch.setenv("DROPOUT_STUDY_CHAPTER_JOBS", "1")
    project = make_project(root, ("tiny",))
    lines = []
    pipeline.build(project, profile="smoke", log=lines.append)
    assert lines[-1].startswith("built in")
    return project


def _html(project) -> Path:
    return Path(project.root) / "_build" / "html"


def _complete(project) -> None:
    html = _html(project)
    assert (html / "search.html").is_file() and (html / "searchindex.js").is_file()
    assert list((html / "_images").iterdir()), "no figures in _build/html/_images"
    assert not list(html.glob("page-*.html"))  # nothing of a killed build


def _start(project, tmp_path, *, slow: bool, session: bool):
    script = tmp_path / "slow_jb.py"
    script.write_text(SLOW_JB)
    return subprocess.Popen(
        [sys.executable, "-c", BUILD, str(project.root), str(script) if slow else ""],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=session,
    )


def _wait_for_pages(project, proc) -> None:
    marker = Path(project.root) / ".writing-pages"
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the build never reached its pages"
        time.sleep(0.2)
    marker.unlink()


def _edit_an_input(project) -> None:
    intro = Path(project.root) / "book" / "intro.md"
    intro.write_text(intro.read_text() + "\nOne more sentence.\n")


def test_a_build_killed_while_writing_pages_leaves_the_previous_book(book, tmp_path):
    before = snapshot(_html(book))
    _edit_an_input(book)  # so that the next build writes the HTML again
    proc = _start(book, tmp_path, slow=True, session=True)
    try:
        _wait_for_pages(book, proc)
        os.killpg(proc.pid, signal.SIGKILL)  # kill -9 of the build's process group
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert snapshot(_html(book)) == before  # the previous book, whole
    # the next build rebuilds (the old code said "built in 1.1 s" with no figures), and
    # the one after finds it complete
    lines = []
    pipeline.build(book, profile="smoke", log=lines.append)
    assert lines[-1].startswith("built in")
    _complete(book)
    assert "One more sentence" in (_html(book) / "book" / "intro.html").read_text()
    again = []
    pipeline.build(book, profile="smoke", log=again.append)
    assert again[-1].startswith("book unchanged")
    assert not (Path(book.root) / pipeline.STAGING).exists()


def test_ctrl_c_while_writing_pages_says_what_was_kept(book, tmp_path):
    before = snapshot(_html(book))
    _edit_an_input(book)
    proc = _start(book, tmp_path, slow=True, session=False)
    try:
        _wait_for_pages(book, proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err.count("\n") == 1 and "interrupted" in err
    assert "nothing was written" not in err  # chapters that finished were kept
    assert "HTML" in err
    assert snapshot(_html(book)) == before


def test_a_page_restored_with_old_times_is_not_left_stale(book):
    # a backup of book/generated that keeps modification times, restored after a build
    # that changed the page: the content decides, never the times
    dest = book.dest("tiny")
    page = _html(book) / "book" / "generated" / "tiny" / "tiny.html"
    assert "A tiny chapter" in page.read_text()
    nb = dest / "tiny.ipynb"
    st = nb.stat()
    text = nb.read_text()
    assert "A tiny chapter" in text
    restored = text.replace("A tiny chapter", "A tiny chapter, restored")
    nb.write_text(restored)
    ctx = json.loads((dest / "run.json").read_text())  # a consistent backup: hashes match
    ctx["files"] = file_hashes(dest)
    (dest / "run.json").write_text(json.dumps(ctx, indent=2) + "\n")
    os.utime(nb, ns=(st.st_atime_ns, st.st_mtime_ns))
    lines = []
    pipeline.build(book, profile="smoke", log=lines.append)
    assert lines[-1].startswith("built in")
    assert "A tiny chapter, restored" in page.read_text()


HOLD_BUILD = r"""
import sys, time
from pathlib import Path
from dropout_study.book import pipeline
from dropout_study.book.project import Project
with pipeline.build_lock(Project(root=Path(sys.argv[1]), chapters=("tiny",))):
    print("building", flush=True)
    time.sleep(60)
"""


def test_a_second_build_stops_at_once_naming_the_first(book, capsys):
    other = subprocess.Popen(
        [sys.executable, "-c", HOLD_BUILD, str(book.root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert other.stdout.readline().strip() == "building"
        t0 = time.monotonic()
        assert cli.main(["build", "--profile", "smoke"], book) == 1
        assert time.monotonic() - t0 < 10
    finally:
        other.kill()
        other.wait()
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"pid {other.pid}" in err and "started" in err and "build" in err
    assert "--out" not in err
    assert cli.main(["build", "--profile", "smoke"], book) == 0  # free again
