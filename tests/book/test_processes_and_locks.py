"""Fault class "processes and locks that outlive or miss each other": chapter workers die
with their parent; locks live beside what they protect, work for every user and do not
depend on ``$TMPDIR``."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import pytest
from fixtures.tinybook import make_project, use_fixtures

from dropout_study import locks
from dropout_study.book import outputs
from dropout_study.cli import main as cli

SLEEP = 'if params["explode"]:'
SLEEPING = 'import time\ntime.sleep(300)\nif params["explode"]:'


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "root"
    use_fixtures(monkeypatch, root)
    return make_project(root, ("tiny", "tiny-two"))


BUILD = r"""
import sys
from pathlib import Path
from dropout_study.cli import main as cli
from dropout_study.book.project import Project
project = Project(root=Path(sys.argv[1]), chapters=("tiny", "tiny-two"))
cli.entry(["build", "--profile", "smoke"], project)
"""


def _family(pid):
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_kill_9_of_build_alone_ends_its_chapter_workers_and_frees_stdout(project):
    # `build | cat` never ended: the two chapter workers outlived a kill -9 of build (not of
    # its group), ran two more chapters and held the pipe
    import psutil

    for cid in ("tiny", "tiny-two"):
        src = project.source(cid)
        src.write_text(src.read_text().replace(SLEEP, SLEEPING))
    env = {**os.environ, "DROPOUT_STUDY_CHAPTER_JOBS": "2"}
    proc = subprocess.Popen(
        [sys.executable, "-c", BUILD, str(project.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            kernels = [p for p in _family(proc.pid) if "ipykernel" in " ".join(p.cmdline())]
            if len(kernels) >= 2:
                break
            time.sleep(0.5)
        assert len(kernels) >= 2, "the two chapters never started"
        family = _family(proc.pid)
        proc.kill()  # SIGKILL to build alone
        proc.wait()
        t0 = time.monotonic()
        rest = proc.stdout.read()  # EOF only once no process holds the pipe
        assert time.monotonic() - t0 < 30
        assert b"executed" not in rest
        gone, alive = psutil.wait_procs(family, timeout=20)
        alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
        assert not alive, [" ".join(p.cmdline())[:80] for p in alive]
    finally:
        for p in _family(proc.pid):
            p.kill()
    for cid in ("tiny", "tiny-two"):
        assert not (project.dest(cid) / "metrics.json").exists()


HOLD = r"""
import sys, time
from dropout_study.book import outputs
with outputs.locked(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def test_the_output_lock_does_not_depend_on_tmpdir(project, tmp_path, capsys, monkeypatch):
    # a second run of the same --out from a shell with another TMPDIR was not blocked and
    # deleted the first run's working folder
    out = tmp_path / "o"
    a, b = tmp_path / "tmp-a", tmp_path / "tmp-b"
    a.mkdir()
    b.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(a)},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("TMPDIR", str(b))
        import tempfile

        monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
        assert tempfile.gettempdir() == str(b)
        assert cli.main(["run", "tiny", "--profile", "smoke", "--out", str(out)], project) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(out) in err and f"pid {holder.pid}" in err
        with pytest.raises(outputs.OutputBusy):
            with outputs.locked(out, wait=0.1):
                pass
    finally:
        holder.kill()
        holder.wait()
    assert outputs.lock_path(out).parent == out.parent  # beside what it protects


def test_a_lock_file_is_usable_by_every_user_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        path = tmp_path / ".x.lock"
        with locks.hold(path):
            assert stat.S_IMODE(path.stat().st_mode) == locks.MODE == 0o666
            assert locks.probe(path) is not None  # held: a second opener is refused
    finally:
        os.umask(old)


def test_a_lock_file_that_is_not_writable_still_locks(tmp_path):
    # another user's lock file we may not write: flock works on a read-only descriptor
    path = tmp_path / ".x.lock"
    path.write_text("")
    path.chmod(0o444)
    with locks.hold(path, shared=True):
        assert locks.probe(path) == {}


def test_a_waiter_never_holds_a_deleted_lock_file(tmp_path):
    # the holder deletes its lock file on release; a waiter that had opened the old file
    # must end up holding the file the path names
    path = tmp_path / ".x.lock"
    with locks.hold(path):
        fd = os.open(path, os.O_RDONLY)
    os.close(fd)
    assert not path.exists()
    with locks.hold(path):
        assert path.exists()
        assert locks.holder(path)["pid"] == os.getpid()


def test_workers_ask_to_die_with_their_parent():
    # the mechanism of the first test, directly: a child that asked for PDEATHSIG gets it
    script = r"""
import os, signal, sys, time
from dropout_study.book.parallel import die_with_parent
if os.fork() == 0:
    die_with_parent(os.getppid(), signal.SIGKILL)
    print(os.getpid(), flush=True)
    time.sleep(60)
    os._exit(0)
time.sleep(1)
os._exit(0)  # the parent ends; the child must follow
"""
    import psutil

    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    child = int(proc.stdout.split()[0])
    deadline = time.monotonic() + 10
    while psutil.pid_exists(child) and time.monotonic() < deadline:
        try:
            if psutil.Process(child).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.1)
    alive = psutil.pid_exists(child) and psutil.Process(child).status() != psutil.STATUS_ZOMBIE
    assert not alive
