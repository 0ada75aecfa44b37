"""Fault class "caches that trust what they read": a sweep-cache entry carries its own key
(cell, function, code, dependency versions, lock hash) and is checked when read; a damaged or
foreign entry is recomputed with one line saying so, never used; a cache that cannot be
written costs only time; no build deletes cache folders another checkout uses, or that a
running sweep holds."""

from __future__ import annotations

import errno
import subprocess
import sys
import time

import joblib
import pytest
from fixtures.cells import square_cell

from dropout_study import provenance
from dropout_study.book import cache
from dropout_study.book.project import Project
from dropout_study.sweep import cellcache, progress
from dropout_study.sweep import runner as sweep


def _cells(n):
    return [{"x": i, "seed": 100 + i} for i in range(n)]


def _fresh(cells):
    return sweep.run_sweep(square_cell, cells, cache_dir=None, n_jobs=1).results


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


# ------------------------------------------------------------------------------------------
# entries are checked when read
# ------------------------------------------------------------------------------------------
def test_an_entry_holding_another_cells_result_is_recomputed_not_used(tmp_path, capsys):
    # the reproducer: a cell's file replaced by another cell's (seed 0's numbers for seed 1)
    cells = _cells(3)
    sweep.run_sweep(square_cell, cells, cache_dir=tmp_path, n_jobs=1)
    capsys.readouterr()
    p0, p1 = (sweep.cell_path(square_cell, c, "", tmp_path) for c in cells[:2])
    p1.write_bytes(p0.read_bytes())
    res = sweep.run_sweep(square_cell, cells, cache_dir=tmp_path, n_jobs=1)
    assert res.results == _fresh(cells)  # the old code returned cell 0's value for cell 1
    assert res.n_computed == 1 and res.n_cached == 2
    err = _one_line(capsys)
    assert str(p1) in err and "another cell" in err
    # and the entry was rewritten: the next sweep reads it, silently
    assert sweep.run_sweep(square_cell, cells, cache_dir=tmp_path, n_jobs=1).n_computed == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: joblib.dump({"hidden": [1, 2]}, p),  # another type: KeyError: 'hidden' once
        lambda p: joblib.dump([0.5], p),
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),  # truncated
        lambda p: p.write_bytes(b""),
    ],
    ids=["a dict of another shape", "a list", "truncated", "empty"],
)
def test_a_damaged_entry_is_recomputed_with_one_line(tmp_path, capsys, damage):
    cells = _cells(2)
    sweep.run_sweep(square_cell, cells, cache_dir=tmp_path, n_jobs=1)
    capsys.readouterr()
    path = sweep.cell_path(square_cell, cells[1], "", tmp_path)
    damage(path)
    res = sweep.run_sweep(square_cell, cells, cache_dir=tmp_path, n_jobs=1)
    assert res.results == _fresh(cells) and res.n_computed == 1
    err = _one_line(capsys)
    assert str(path) in err and "recomputed 1 cell" in err


def test_many_damaged_entries_are_one_line(tmp_path, capsys):
    cells = _cells(5)
    sweep.run_sweep(square_cell, cells, cache_dir=tmp_path, n_jobs=1)
    for c in cells:
        joblib.dump("x", sweep.cell_path(square_cell, c, "", tmp_path))
    capsys.readouterr()
    assert sweep.run_sweep(square_cell, cells, cache_dir=tmp_path, n_jobs=2).n_computed == 5
    assert "recomputed 5 cells" in _one_line(capsys)


@pytest.mark.parametrize("what", ["dependencies", "lock"])
def test_cells_are_keyed_on_dependency_versions_and_the_lock(tmp_path, monkeypatch, what):
    # after a numpy downgrade (or another lock) the pages name the new versions: the cells
    # computed with the old ones must not be reused
    cells = _cells(2)
    assert sweep.run_sweep(square_cell, cells, cache_dir=tmp_path, n_jobs=1).n_computed == 2
    if what == "dependencies":
        old = provenance.dependency_versions()
        monkeypatch.setattr(provenance, "dependency_versions", lambda: {**old, "numpy": "1.0"})
    else:
        monkeypatch.setattr(provenance, "lock_hash", lambda lock_file=None: "0" * 64)
    assert sweep.run_sweep(square_cell, cells, cache_dir=tmp_path, n_jobs=1).n_computed == 2


def test_the_chapter_cache_key_holds_the_lock_hash(monkeypatch):
    project = Project()
    spec = project.spec("linearity")
    from dropout_study.book.params import resolve

    params = resolve(spec, "smoke", check=False)
    before = cache.cache_key(spec, params, "smoke")
    monkeypatch.setattr(cache, "lock_hash", lambda lock_file=None: "0" * 64)
    assert cache.cache_key(spec, params, "smoke") != before


# ------------------------------------------------------------------------------------------
# a cache that cannot be written is a warning
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        OSError(errno.EROFS, "Read-only file system"),
        PermissionError(errno.EACCES, "Permission denied"),
    ],
    ids=["full disk", "read-only", "no permission"],
)
def test_a_cache_that_cannot_be_written_is_one_warning(tmp_path, capsys, monkeypatch, error):
    def refuse(*a, **k):
        raise error

    monkeypatch.setattr(cellcache.joblib, "dump", refuse)
    cells = _cells(4)
    res = sweep.run_sweep(square_cell, cells, cache_dir=tmp_path, n_jobs=1)
    assert res.results == _fresh(cells)  # the sweep (and its chapter) goes on
    err = _one_line(capsys)
    assert "warning" in err and error.strerror in err and str(tmp_path) in err
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob("*.tmp"))


def test_a_cache_folder_that_cannot_be_made_is_one_warning(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    res = sweep.run_sweep(square_cell, _cells(2), cache_dir=blocker / "cells", n_jobs=1)
    assert res.results == _fresh(_cells(2))
    assert "warning" in _one_line(capsys)


# ------------------------------------------------------------------------------------------
# a kernel's notes reach the command, not the notebook
# ------------------------------------------------------------------------------------------
def test_notes_from_a_kernel_are_relayed_to_the_command(tmp_path):
    import io

    stream = io.StringIO()
    script = "from dropout_study.sweep import progress; progress.note('sweep cache: x')"
    with progress.relay_notes(stream):
        subprocess.run([sys.executable, "-c", script], check=True)  # inherits the env
        subprocess.run([sys.executable, "-c", script], check=True)
    assert stream.getvalue() == "dropout-study: sweep cache: x\n"  # once, with the prefix


# ------------------------------------------------------------------------------------------
# shared caches: a build deletes only what it alone used, and nothing in use
# ------------------------------------------------------------------------------------------
def _use(tmp_path, monkeypatch, checkout: str, code: str):
    """A sweep of checkout ``checkout`` at science code ``code`` (one folder of cells)."""
    monkeypatch.setattr(cellcache, "checkout_id", lambda root=None: checkout)
    monkeypatch.setattr(cellcache, "code_version", lambda fn: code * 64)
    sweep.run_sweep(square_cell, _cells(2), cache_dir=tmp_path, n_jobs=1)
    return tmp_path / (code * 16)


def _prune(tmp_path, monkeypatch, checkout: str):
    monkeypatch.setattr(cellcache, "checkout_id", lambda root=None: checkout)
    return cache.prune_sweep_cache(tmp_path, Project())


def test_a_build_never_deletes_another_checkouts_cells(tmp_path, monkeypatch):
    # two checkouts at different code share DROPOUT_STUDY_SWEEP_CACHE
    # (neither code is this checkout's current code: both folders are "stale" to a build)
    a = _use(tmp_path, monkeypatch, "checkout-a", "a")
    b = _use(tmp_path, monkeypatch, "checkout-b", "b")
    assert _prune(tmp_path, monkeypatch, "checkout-b") == [b]  # its own, used by it alone
    assert len(list(a.rglob("*.pkl"))) == 2  # a's cells: not b's to delete
    assert _prune(tmp_path, monkeypatch, "checkout-a") == [a]


def test_a_folder_two_checkouts_used_goes_only_when_both_left_it(tmp_path, monkeypatch):
    shared = _use(tmp_path, monkeypatch, "checkout-a", "c")
    _use(tmp_path, monkeypatch, "checkout-b", "c")  # reads the same cells
    assert _prune(tmp_path, monkeypatch, "checkout-a") == [] and shared.is_dir()
    assert _prune(tmp_path, monkeypatch, "checkout-b") == [shared]


HOLD = r"""
import sys, time
from dropout_study import locks
with locks.hold(sys.argv[1], shared=True):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_folder_a_running_sweep_holds_is_never_deleted(tmp_path, monkeypatch):
    folder = _use(tmp_path, monkeypatch, "checkout-a", "d")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder / cellcache.LOCK)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"  # a sweep of that code runs
        assert _prune(tmp_path, monkeypatch, "checkout-a") == []
        assert len(list(folder.rglob("*.pkl"))) == 2
    finally:
        holder.kill()
        holder.wait()
    t0 = time.monotonic()
    assert _prune(tmp_path, monkeypatch, "checkout-a") == [folder]  # once it has finished
    assert time.monotonic() - t0 < 5


def test_folders_no_checkout_recorded_are_kept(tmp_path, monkeypatch):
    (tmp_path / ("0" * 16) / "f").mkdir(parents=True)  # an older cache, without records
    (tmp_path / "dropout_study.experiments.x.f").mkdir()  # the old flat layout
    (tmp_path / "notes").mkdir()
    assert _prune(tmp_path, monkeypatch, "checkout-a") == []
    assert len(list(tmp_path.iterdir())) == 3
