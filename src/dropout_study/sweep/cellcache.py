"""The sweep's cell cache: every entry carries its own key and is checked when it is read.

Where a cell lives: ``<cache_dir>/<science hash[:16]>/<fn>/<digest>.pkl``. The *key* of a cell
is ``fn``'s qualified name, the sweep's ``key`` string, the cell, the science hash of ``fn``'s
code (:func:`code_version`), the versions of the dependencies that can change a number
(:func:`dropout_study.provenance.dependency_versions`) and the hash of the lock file they were
installed from (:func:`dropout_study.provenance.lock_hash`); the digest is a SHA-256 of it.

An entry is ``{"format", "key", "result"}`` written with ``joblib.dump``. :meth:`CellCache.read`
uses it only if it loads, is in that format and holds exactly this cell's key: an entry that
is truncated, of another type, or another cell's result (copied, or from a bug) is recomputed
and overwritten, and the sweep says so in one line (:func:`dropout_study.sweep.progress.note`)
— never used. :meth:`CellCache.write` is atomic; when it fails (read-only folder, full disk)
the sweep says so once and goes on without keeping its cells: the cache only saves time.

**Shared caches** (``DROPOUT_STUDY_SWEEP_CACHE`` used by several checkouts). Each code
folder records who used it (``.users/<checkout id>``, one file per checkout that read or wrote
cells there) and has a lock (``.lock``) that every sweep using the folder holds shared while
it runs. :func:`release` — what ``build`` calls for the folders of code it no longer runs —
deletes this checkout's record and deletes the folder only if no other checkout recorded it
and no process holds it; folders without records (older caches, other tools) are never
deleted.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import joblib

from dropout_study import locks, paths, provenance
from dropout_study.codehash import science_hash
from dropout_study.sweep.progress import note

__all__ = [
    "FORMAT",
    "CellCache",
    "cell_key",
    "checkout_id",
    "environment",
    "code_version",
    "fn_name",
    "release",
]

FORMAT = "dropout-study sweep cell 1"
"""Marks an entry written by :meth:`CellCache.write`."""

LOCK = ".lock"
USERS = ".users"
WAIT = 60.0
"""Seconds a sweep waits for a folder another build is deleting (then runs without cache)."""


@functools.cache
def _science(module: str) -> str:
    return science_hash(module, paths.PACKAGE)


def code_version(fn: Callable) -> str:
    """The science hash of the code ``fn`` belongs to
    (:func:`dropout_study.codehash.science_hash` of its module: the numpy core, the measures,
    the shared chapter code and ``fn``'s own chapter folder; comments and docstrings do not
    count), computed once per process and module."""
    return _science(fn.__module__)


def fn_name(fn: Callable) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def checkout_id(root: Path | None = None) -> str:
    """Who uses a shared cache folder: a hash of this checkout's root (:data:`paths.ROOT`)."""
    where = str(Path(root or paths.ROOT).resolve())
    return hashlib.sha256(where.encode()).hexdigest()[:16]


def environment() -> dict:
    """The installed environment a cell's result depends on: dependency versions and the
    lock file's hash (read once per sweep)."""
    return {"dependencies": provenance.dependency_versions(), "lock": provenance.lock_hash()}


def cell_key(fn: Callable, cell: dict, key: str, env: dict | None = None) -> str:
    """The canonical text of a cell's key (see the module docstring); ``env``: the
    :func:`environment` (read now if not given)."""
    return json.dumps(
        {
            "fn": fn_name(fn),
            "key": key,
            "cell": cell,
            "code": code_version(fn),
            **(environment() if env is None else env),
        },
        sort_keys=True,
        default=str,
    )


class CellCache:
    """The cells of one sweep (``fn`` and its ``key``) under ``cache_dir``; use as a context
    manager around the sweep (holds the code folder's lock shared, records this checkout)."""

    def __init__(self, cache_dir, fn: Callable, key: str):
        self.fn, self.key = fn, key
        self.folder = Path(cache_dir) / code_version(fn)[:16]
        self.env = environment()
        self.damaged: list[tuple[Path, str]] = []
        self.write_error: str | None = None
        self._stack = contextlib.ExitStack()

    def path(self, cell: dict, key: str | None = None) -> Path:
        """Where ``cell``'s entry lives (``key``: its :func:`cell_key`, if known)."""
        key = cell_key(self.fn, cell, self.key, self.env) if key is None else key
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return self.folder / fn_name(self.fn) / f"{digest}.pkl"

    # -- use of the folder --------------------------------------------------------------
    def __enter__(self) -> CellCache:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._stack.enter_context(locks.hold(self.folder / LOCK, shared=True, wait=WAIT))
            users = self.folder / USERS
            users.mkdir(exist_ok=True)
            with contextlib.suppress(OSError):
                users.chmod(0o1777)  # every user records itself; only its own record goes
            mark = users / checkout_id()
            if not mark.exists():
                mark.write_text(str(paths.ROOT) + "\n", encoding="utf-8")
        except (OSError, locks.Busy) as exc:
            self._failed_write(exc)
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()
        self.report()

    # -- entries ------------------------------------------------------------------------
    def read(self, cell: dict) -> tuple[bool, object]:
        """``(True, result)`` for a sound entry of this cell, else ``(False, None)`` (an
        unsound one is remembered for :meth:`report`)."""
        key = cell_key(self.fn, cell, self.key, self.env)
        path = self.path(cell, key)
        if not path.exists():
            return False, None
        try:
            entry = joblib.load(path)
        except Exception as exc:  # truncated, unpicklable, unreadable: recompute it
            self.damaged.append((path, f"unreadable ({type(exc).__name__})"))
            return False, None
        if not isinstance(entry, dict) or entry.get("format") != FORMAT or "result" not in entry:
            self.damaged.append((path, f"not a cell entry (a {type(entry).__name__})"))
            return False, None
        if entry.get("key") != key:
            self.damaged.append((path, "it holds another cell's result"))
            return False, None
        return True, entry["result"]

    def write(self, cell: dict, result) -> None:
        """Keep ``result`` (atomically); a failure is reported once and never raised."""
        if self.write_error is not None:
            return
        key = cell_key(self.fn, cell, self.key, self.env)
        path = self.path(cell, key)
        entry = {"format": FORMAT, "key": key, "result": result}
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            os.close(fd)
            joblib.dump(entry, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except OSError as exc:
            self._failed_write(exc)
        finally:
            if tmp is not None and os.path.exists(tmp):
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def _failed_write(self, exc: BaseException) -> None:
        if self.write_error is None:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            self.write_error = f"{self.folder} ({reason})"
            note(
                f"warning: the sweep cache cannot be written: {self.write_error}; the cells "
                "are computed but not kept."
            )

    def report(self) -> None:
        """One line for the entries that were not used (damaged or another cell's)."""
        if not self.damaged:
            return
        path, why = self.damaged[0]
        n = len(self.damaged)
        more = f" (and {n - 1} more)" if n > 1 else ""
        note(f"sweep cache: recomputed {n} cell{'s' if n > 1 else ''}: {path}: {why}{more}.")
        self.damaged.clear()


def release(folder) -> bool:
    """This checkout no longer needs the code folder ``folder``: delete its record there and,
    if no other checkout recorded the folder and no process holds it, the folder. Returns
    whether the folder was deleted; a folder this checkout never recorded is left alone."""
    folder = Path(folder)
    mark = folder / USERS / checkout_id()
    if not mark.is_file():
        return False
    try:
        with locks.hold(folder / LOCK):  # exclusive: no sweep is using the folder
            mark.unlink()
            if any((folder / USERS).iterdir()):
                return False  # another checkout uses it
            shutil.rmtree(folder)
            return True
    except (locks.Busy, OSError):
        return False
