"""Fault class "failures reported late or wrongly": the writability and free space of every
destination (``--out``, ``book/generated``, ``_build``, the sweep cache) are checked before
work starts; a full disk while copying the rerun page is one line naming the path that says
the results were written."""

from __future__ import annotations

import errno
import shutil
from collections import namedtuple

import pytest
from fixtures.tinybook import make_project, use_fixtures
from helpers import one_line

from dropout_study import paths
from dropout_study.book import pipeline, preflight, render
from dropout_study.cli import main as cli

Usage = namedtuple("Usage", "total used free")


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "root"
    use_fixtures(monkeypatch, root)
    return make_project(root, ("tiny",))


def _nearly_full(monkeypatch, where):
    """The file system holding ``where`` has 3 MB free; others are roomy."""
    real = shutil.disk_usage

    def usage(path):
        u = real(path)
        if str(path).startswith(str(where)):
            return Usage(u.total, u.total - 3 * 2**20, 3 * 2**20)
        return u

    monkeypatch.setattr(preflight.shutil, "disk_usage", usage)


def _no_kernel(monkeypatch):
    started = []
    monkeypatch.setattr(cli, "execute", lambda *a, **k: started.append(a))
    monkeypatch.setattr(cli, "build", lambda *a, **k: started.append(a))
    return started


def test_a_full_disk_under_out_is_refused_before_a_kernel(project, tmp_path, capsys, monkeypatch):
    started = _no_kernel(monkeypatch)
    (tmp_path / "full").mkdir()
    _nearly_full(monkeypatch, tmp_path / "full")
    out = tmp_path / "full" / "o"
    assert cli.main(["run", "tiny", "--profile", "smoke", "--out", str(out)], project) == 2
    err = one_line(capsys.readouterr().err)
    assert "'--out'" in err and str(out) in err and "3 MB free" in err
    assert started == []


@pytest.mark.parametrize("where", ["book/generated", "_build"])
def test_a_full_disk_under_a_build_destination_is_refused_before_work(
    project, capsys, monkeypatch, where
):
    started = _no_kernel(monkeypatch)
    _nearly_full(monkeypatch, project.root / where)
    (project.root / where).mkdir(parents=True, exist_ok=True)
    assert cli.main(["build", "--profile", "smoke"], project) == 2
    err = one_line(capsys.readouterr().err)
    assert f"'{where}'" in err and "MB free" in err and started == []


def test_an_unwritable_build_destination_is_refused_before_work(project, capsys, monkeypatch):
    started = _no_kernel(monkeypatch)
    (project.root / "_build").write_text("a file where the build folder should be")
    assert cli.main(["build", "--profile", "smoke"], project) == 2
    err = one_line(capsys.readouterr().err)
    assert "'_build'" in err and "writable" in err and started == []


def test_a_default_cache_that_cannot_be_written_is_one_warning_and_the_run_goes_on(
    project, tmp_path, capsys, monkeypatch
):
    # it failed the chapter in cell 4 with OSError: [Errno 28] naming no path
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.delenv("DROPOUT_STUDY_SWEEP_CACHE", raising=False)
    monkeypatch.setattr(paths, "SWEEP_CACHE", blocker / "sweeps")
    out = tmp_path / "o"
    assert cli.main(["run", "tiny", "--profile", "smoke", "--out", str(out)], project) == 0
    err = capsys.readouterr().err
    warned = [ln for ln in err.splitlines() if "sweep cache" in ln]
    assert len(warned) == 1 and str(blocker) in warned[0] and "warning" in warned[0]
    assert (out / "metrics.json").is_file()


def test_a_full_disk_while_copying_the_rerun_page_is_one_line(
    project, tmp_path, capsys, monkeypatch
):
    # exit 1 with one 18 kB line of 46 copy errors, although the results were written
    def full(src, dst, *a, **k):
        errors = [
            (f"{src}/f{i}", f"{dst}/f{i}", f"[Errno 28] No space left on device: '{dst}/f{i}'")
            for i in range(46)
        ]
        raise shutil.Error(errors)

    monkeypatch.setattr(render.shutil, "copytree", full)
    out = tmp_path / "o"
    assert cli.main(["run", "tiny", "--profile", "smoke", "--out", str(out)], project) == 0
    captured = capsys.readouterr()
    notes = [ln for ln in captured.out.splitlines() if ln.startswith("note:")]
    assert len(notes) == 1 and len(notes[0]) < 400
    assert str(out / "page") in notes[0] and "No space left on device" in notes[0]
    assert "results" in notes[0] and "written" in notes[0]
    assert (out / "metrics.json").is_file() and not (out / "page").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".page")]


def test_a_page_copy_that_fails_halfway_leaves_no_half_page(project, tmp_path, monkeypatch):
    real = shutil.copytree

    def half(src, dst, *a, **k):
        real(src, dst, *a, **k)
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(render.shutil, "copytree", half)
    out = tmp_path / "o"
    assert cli.main(["run", "tiny", "--profile", "smoke", "--out", str(out)], project) == 0
    assert not (out / "page").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".page")]


def test_preflight_leaves_a_roomy_writable_book_alone(project, monkeypatch):
    monkeypatch.setattr(pipeline, "jupyter_book_build", lambda p, log: None)
    preflight.build_destinations(project)
    assert preflight.cache_warning() is None or "sweep cache" in preflight.cache_warning()
