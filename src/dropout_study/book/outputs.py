"""Output destinations: which directories a run may replace, the atomic swap, the lock.

A run writes into a fresh *run directory* ``.<name>.run-XXXX`` beside the destination
``<name>`` and, only when it succeeded, swaps it in:

- :func:`check_destination` — before any kernel starts: the destination must be absent, an
  empty directory, or a previous output of the same chapter (its ``run.json`` names it); its
  nearest existing parent must be a writable directory. Anything else is refused with the
  one-line template naming the option (``--out``), so a folder of the user's files is never
  emptied.
- :func:`swap_in` — ``renameat2(RENAME_EXCHANGE)`` exchanges the run directory and the
  destination in one atomic step (Linux ≥ 3.15, on the file systems that support it); the old
  result then sits in the run directory's name and is deleted. Where the exchange is not
  available, two renames are used (``dest → .<name>.old-XXXX``, ``run → dest``) and the next run
  restores the old result if a kill fell between them. At every instant the destination holds
  exactly one complete result (or, on first use, none).
- :func:`recover` — run under the lock before each run: deletes leftover ``.<name>.run-*``
  directories (runs killed before or after their swap) and restores or deletes
  ``.<name>.old-*`` ones.
- :func:`locked` — a lock beside the destination (``.<name>.lock`` in its parent, see
  :mod:`dropout_study.locks`: not under ``$TMPDIR``, usable by every user who may write the
  parent) held for the whole run; a second writer waits up to :data:`LOCK_WAIT` seconds, then
  stops with :class:`OutputBusy` (one line naming the holder).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from dropout_study import locks
from dropout_study.book.project import ChapterFailed
from dropout_study.validation import described, fail

__all__ = [
    "OutputBusy",
    "LOCK_WAIT",
    "check_destination",
    "inside",
    "make_run_dir",
    "swap_in",
    "recover",
    "leftovers",
    "lock_path",
    "locked",
    "busy",
]

RUN_FILE = "run.json"
LOCK_WAIT = 2.0
"""Seconds a second writer of the same destination waits for the lock before giving up."""

_RENAME_EXCHANGE = 2
_HOOK: Callable[[str], None] | None = None
"""Tests set this to a function called at named points of :func:`swap_in` (kill tests)."""


class OutputBusy(ChapterFailed):
    """Another run holds the destination's lock."""


def _hook(point: str) -> None:
    if _HOOK is not None:
        _HOOK(point)


def inside(path: Path, directory: Path) -> bool:
    """True if ``path`` is ``directory`` or lies under it (after resolving symlinks)."""
    try:
        Path(path).resolve().relative_to(Path(directory).resolve())
    except ValueError:
        return False
    return True


def _is_previous_output(dest: Path, chapter_id: str) -> bool:
    run = dest / RUN_FILE
    try:
        return json.loads(run.read_text(encoding="utf-8")).get("chapter") == chapter_id
    except (OSError, ValueError, AttributeError):
        return False


def _listing(dest: Path, limit: int = 3) -> str:
    names = sorted(p.name for p in dest.iterdir())
    shown = ", ".join(names[:limit]) + (
        f", … ({len(names) - limit} more)" if len(names) > limit else ""
    )
    return shown


def check_destination(
    dest, chapter_id: str, *, option: str = "--out", owner: str = "dropout-study run"
) -> Path:
    """Return ``dest`` resolved if a run of ``chapter_id`` may replace it (see module
    docstring); raise ``ValueError`` naming ``option`` otherwise. Nothing is written."""
    dest = Path(dest).expanduser().absolute()
    allowed = f"absent, an empty directory or a previous output of chapter '{chapter_id}'"
    # the nearest existing ancestor must be a writable directory
    parent = dest.parent
    while not parent.exists() and not parent.is_symlink() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        fail(
            option,
            owner,
            "a path whose parents are directories",
            described(f"'{dest}', where {parent} is a file"),
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        fail(
            option,
            owner,
            "in a writable directory",
            described(f"'{dest}', where {parent} is not writable"),
        )
    if dest.is_symlink() and not dest.exists():
        fail(option, owner, allowed, described(f"'{dest}' (a broken symbolic link)"))
    if not dest.exists():
        return dest
    if not dest.is_dir():
        fail(option, owner, allowed, described(f"'{dest}' (a file)"))
    try:
        empty = not any(dest.iterdir())
    except OSError as exc:
        fail(option, owner, allowed, described(f"'{dest}' (unreadable: {exc.strerror})"))
    if empty or _is_previous_output(dest, chapter_id):
        return dest
    fail(option, owner, allowed, described(f"'{dest}', which holds {_listing(dest)}"))


def lock_path(dest) -> Path:
    """The destination's lock file: ``.<name>.lock`` beside it (in the folder a run writes
    its run directory into anyway)."""
    dest = Path(dest).absolute()
    return dest.parent / f".{dest.name}.lock"


@contextlib.contextmanager
def locked(dest, wait: float | None = None, *, option: str = "--out"):
    """Hold the destination's lock (creating its parent); raise :class:`OutputBusy` naming
    the holder if another process holds it for more than ``wait`` seconds (default
    :data:`LOCK_WAIT`). ``option``: how the user named the destination (``--out`` suggests
    choosing another)."""
    dest = Path(dest).absolute()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(
                locks.hold(lock_path(dest), wait=LOCK_WAIT if wait is None else wait)
            )
        except locks.Busy as exc:
            hint = " or choose another --out" if option == "--out" else ""
            raise OutputBusy(
                f"Another dropout-study process ({locks.describe(exc.holder)}) is writing "
                f"{dest}; wait for it to finish{hint}."
            ) from None
        yield


def busy(dest) -> dict | None:
    """What the process holding ``dest``'s lock right now wrote about itself, or ``None`` if
    none holds it (a probe: the lock is taken and released at once). Lets a command refuse a
    busy ``--out`` before any work; the run still takes the lock itself (:func:`locked`), so
    two runs that pass the probe together are still kept apart."""
    return locks.probe(lock_path(dest))


def leftovers(dest) -> list[Path]:
    """``.<name>.run-*`` and ``.<name>.old-*`` entries beside ``dest``."""
    dest = Path(dest)
    if not dest.parent.is_dir():
        return []
    return sorted(
        p
        for p in dest.parent.iterdir()
        if p.name.startswith((f".{dest.name}.run-", f".{dest.name}.old-"))
    )


def recover(dest) -> None:
    """Clean up after killed runs (call with the lock held): an ``.old-*`` result is put back
    if the destination is missing, every other leftover is deleted."""
    dest = Path(dest)
    for path in leftovers(dest):
        if ".old-" in path.name and not dest.exists():
            os.rename(path, dest)
        else:
            shutil.rmtree(path, ignore_errors=True)


def make_run_dir(dest: Path) -> Path:
    """A new empty ``.<name>.run-XXXX`` directory beside ``dest`` (same file system)."""
    run_dir = Path(tempfile.mkdtemp(prefix=f".{dest.name}.run-", dir=dest.parent))
    run_dir.chmod(0o755)
    return run_dir


def _renameat2():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        func = libc.renameat2
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


_AT_FDCWD = -100
EXCHANGE: bool | None = None
"""``None``: try ``renameat2``; tests set ``False`` to exercise the two-rename fallback."""


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange ``a`` and ``b``; False if the system cannot."""
    if EXCHANGE is False:
        return False
    func = _renameat2()
    if func is None:
        return False
    rc = func(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap_in(run_dir: Path, dest: Path) -> None:
    """Make ``run_dir`` the destination atomically and delete the previous result."""
    run_dir, dest = Path(run_dir), Path(dest)
    _hook("before-swap")
    if not dest.exists():
        os.rename(run_dir, dest)
        _hook("after-swap")
        return
    if _exchange(run_dir, dest):
        _hook("after-swap")  # run_dir now holds the previous result
        shutil.rmtree(run_dir, ignore_errors=True)
        return
    old = dest.parent / f".{dest.name}.old-{run_dir.name.rsplit('-', 1)[-1]}"
    os.rename(dest, old)
    _hook("between-renames")
    try:
        os.rename(run_dir, dest)
    except OSError:
        os.rename(old, dest)
        raise
    _hook("after-swap")
    shutil.rmtree(old, ignore_errors=True)
