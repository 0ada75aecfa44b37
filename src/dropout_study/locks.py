"""Locks that live next to what they protect and work for every user of a machine.

A lock is a small file beside the thing it guards — ``.<name>.lock`` beside an output folder,
``_build/.dropout-study-build.lock`` in a project, ``.lock`` in a sweep-cache folder — held
with ``flock(2)``:

- never under ``$TMPDIR``: two shells with different temporary directories (or two users)
  see the same lock, because it sits beside the folder they both write;
- created with mode ``0o666`` whatever the umask, so another user who may write the folder
  may take its lock too; an existing lock file is opened without ``O_CREAT`` (Linux's
  ``fs.protected_regular`` refuses ``O_CREAT`` on another user's file in a sticky
  world-writable directory) and read-only when it is not writable for us (``flock`` works on
  a read-only descriptor; the holder is then not recorded);
- released when its holder ends, however it ends: the kernel drops the lock with the last
  descriptor of the open file (a forked child keeps it held until the child ends as well);
- an exclusive holder writes who it is (pid, host, start time, command) into the file, so a
  refused process can name it (:func:`describe`), and deletes the file when it is done, so
  nothing is left beside the user's folder (a waiter that then finds it locked a deleted
  file tries again: :func:`hold` only returns holding the file the path names).

Linux and other POSIX systems only (``fcntl``), as is the rest of the study's machinery.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["Busy", "hold", "holder", "probe", "describe", "MODE"]

MODE = 0o666
"""Permissions of a lock file (umask ignored): any user who can write the folder can lock."""

_POLL = 0.05


class Busy(Exception):
    """The lock at ``path`` is held by another process (``holder``: what it wrote, or None)."""

    def __init__(self, path: Path, holder: dict | None):
        super().__init__(f"{path} is held by {describe(holder)}")
        self.path = path
        self.holder = holder


def _open(path: Path) -> int:
    """A descriptor of the lock file at ``path`` (created if absent, see module docstring)."""
    for _ in range(10):
        try:
            return os.open(path, os.O_RDWR)
        except PermissionError:
            return os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            pass
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, MODE)
        except FileExistsError:  # created by another process meanwhile: open it
            continue
        with contextlib.suppress(OSError):
            os.fchmod(fd, MODE)
        return fd
    raise OSError(errno.EAGAIN, "could not open the lock file", str(path))


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (a holder may delete the lock
    file together with what it guards; a lock on the deleted file guards nothing)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _record(fd: int) -> None:
    """Write this process's description into the lock file (nothing if read-only)."""
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "command": " ".join([os.path.basename(sys.argv[0] or "python"), *sys.argv[1:]])[:200],
    }
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)


@contextlib.contextmanager
def hold(path, *, shared: bool = False, wait: float = 0.0) -> Iterator[Path]:
    """Hold the lock at ``path`` (its folder must exist) for the body: exclusive, or
    ``shared`` with other shared holders. Waits up to ``wait`` seconds for it, then raises
    :class:`Busy` naming the holder."""
    path = Path(path)
    mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
    deadline = time.monotonic() + max(0.0, wait)
    while True:
        fd = _open(path)
        try:
            fcntl.flock(fd, mode)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                raise Busy(path, holder(path)) from None
            time.sleep(_POLL)
            continue
        if _same_file(fd, path):
            break
        os.close(fd)  # deleted (or replaced) by its holder meanwhile: lock the new one
    try:
        if not shared:
            _record(fd)
        yield path
    finally:
        if not shared and _same_file(fd, path):
            with contextlib.suppress(OSError):
                os.unlink(path)  # still held: a waiter retries on the path
        os.close(fd)  # releases the lock


def holder(path) -> dict | None:
    """What the last exclusive holder of the lock at ``path`` wrote about itself, or None."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def probe(path) -> dict | None:
    """``None`` if nobody holds the lock at ``path`` right now, else what its holder wrote
    (``{}`` when it wrote nothing). The lock is taken and released at once; a process that
    must be sure takes it with :func:`hold`."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with hold(path, wait=0.0):
            pass
    except Busy as exc:
        return exc.holder or {}
    except OSError:
        return None
    return None


def describe(info: dict | None) -> str:
    """``"pid 123 on host, started 2027-01-02T10:00:00+00:00 (dropout-study build)"``."""
    if not info:
        return "another process"
    text = f"pid {info.get('pid', '?')}"
    if info.get("host") and info.get("host") != socket.gethostname():
        text += f" on {info['host']}"
    if info.get("started"):
        text += f", started {info['started']}"
    if info.get("command"):
        text += f" ({info['command']})"
    return text
