"""What ``dropout-study run`` and ``build`` check before a kernel starts, and how errors
become one line.

- :func:`run_destination`: ``--out`` may not lie inside ``book/generated`` (that is
  ``build``'s) and must pass :func:`dropout_study.book.outputs.check_destination`, then
  :func:`check_space`.
- :func:`build_destinations`: ``book/generated`` and ``_build`` must be writable with
  :data:`MIN_FREE` bytes free (:func:`check_space`).
- :func:`cache_warning`: the sweep cache is only an optimisation: one warning line when it
  cannot be written or its disk is nearly full, and the work goes on.
- :func:`oserror_line`: an ``OSError`` as one line naming the path (read-only or immutable
  destination, a path through a file, a full disk).
- :func:`interrupted`: the one line Ctrl-C prints, saying what was kept.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dropout_study import locks, paths
from dropout_study.book import outputs
from dropout_study.book.project import Project
from dropout_study.validation import described, fail

__all__ = [
    "MIN_FREE",
    "build_destinations",
    "cache_warning",
    "check_space",
    "interrupted",
    "oserror_line",
    "run_destination",
]

MIN_FREE = 200 * 2**20
"""Bytes that must be free where a run or a build writes, checked before any work (a chapter
writes a few MB of figures and notebook; the book's HTML with its MathJax some tens of MB)."""


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing ancestor."""
    probe = Path(path).expanduser().absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _free(probe: Path) -> int | None:
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return None


def check_space(path, option: str, owner: str, need: int | None = None) -> Path:
    """``path`` (to be written) must lie in a writable folder on a file system with ``need``
    bytes free (default :data:`MIN_FREE`); ``ValueError`` naming ``option`` otherwise."""
    need = MIN_FREE if need is None else need
    probe = _existing(path)
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        fail(
            option,
            owner,
            "in a writable folder",
            described(f"'{path}', where {probe} is not a writable folder"),
        )
    free = _free(probe)
    if free is not None and free < need:
        fail(
            option,
            owner,
            f"on a file system with at least {need / 2**20:.0f} MB free",
            described(f"'{path}' ({free / 2**20:.0f} MB free)"),
        )
    return Path(path)


def build_destinations(project: Project, owner: str = "dropout-study build") -> None:
    """Before a build: its destinations (``book/generated``, ``_build``) writable, with room."""
    check_space(project.generated, "book/generated", owner)
    check_space(Path(project.root) / "_build", "_build", owner)


def cache_warning() -> str | None:
    """One line if the sweep cache (``DROPOUT_STUDY_SWEEP_CACHE`` or ``.cache/sweeps``)
    cannot be written or has less than :data:`MIN_FREE` bytes free, else ``None``."""
    env = os.environ.get("DROPOUT_STUDY_SWEEP_CACHE")
    if env == "off":
        return None
    cache = Path(env).expanduser() if env else paths.SWEEP_CACHE
    probe = _existing(cache)
    free = _free(probe)
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        why = f"{probe} is not writable"
    elif free is not None and free < MIN_FREE:
        why = f"{free / 2**20:.0f} MB free"
    else:
        return None
    return (
        f"warning: the sweep cache {cache} cannot keep cells ({why}): they will be "
        "computed, not kept."
    )


def interrupted(command: str, written: Path | None = None) -> str:
    """What Ctrl-C prints (one line): what was stopped and what was kept."""
    if command == "build":
        return (
            "interrupted; the chapters' kernels and workers were stopped. Chapters that had "
            "finished are kept; the book's HTML is replaced only by a complete build (the "
            "next build finishes it)."
        )
    if written is not None:
        return (
            f"interrupted; the chapter's results were written to {written}; its rerun page was not."
        )
    return "interrupted; the chapter's kernel and workers were stopped and nothing was written."


def check_environment(owner: str) -> None:
    """Check the study's environment variables before any kernel starts (``ValueError``
    naming the variable): ``DROPOUT_STUDY_JOBS`` an int >= 1; ``DROPOUT_STUDY_SWEEP_CACHE``
    ``off`` or a path whose nearest existing ancestor is a writable directory."""
    jobs = os.environ.get("DROPOUT_STUDY_JOBS")
    if jobs:
        try:
            ok = int(jobs.strip()) >= 1 and jobs.strip().lstrip("+").isdigit()
        except ValueError:
            ok = False
        if not ok:
            fail("DROPOUT_STUDY_JOBS", owner, "an int >= 1 (worker processes)", jobs)
    cache = os.environ.get("DROPOUT_STUDY_SWEEP_CACHE")
    if cache and cache != "off":
        path = Path(cache).expanduser()
        probe = path
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not (probe.is_dir() and os.access(probe, os.W_OK)) or str(path).startswith("/proc"):
            fail(
                "DROPOUT_STUDY_SWEEP_CACHE",
                owner,
                "'off' or a path under a writable directory",
                cache,
            )


def run_destination(out, chapter_id: str, project: Project) -> Path:
    """The checked ``--out`` of ``dropout-study run`` (``ValueError`` naming ``--out``)."""
    if str(out).strip() == "":
        fail("--out", "dropout-study run", "a directory path (not empty)", out)
    if str(Path(out).expanduser().resolve()).startswith("/proc"):
        fail("--out", "dropout-study run", "a path outside /proc", out)
    out = Path(out).expanduser()
    if outputs.inside(out, project.generated):
        fail(
            "--out",
            "dropout-study run",
            "outside book/generated (that folder is written by 'dropout-study build')",
            described(f"'{out}'"),
        )
    out = outputs.check_destination(out, chapter_id, option="--out")
    check_space(out, "--out", "dropout-study run")
    holder = outputs.busy(out)
    if holder is not None:
        fail(
            "--out",
            "dropout-study run",
            "a folder no other dropout-study run is writing (wait for it, or choose another)",
            described(f"'{out}', written by {locks.describe(holder)}"),
        )
    return out


def oserror_line(exc: OSError) -> str:
    """``<reason>: <path>`` for an ``OSError`` (both paths for a rename)."""
    reason = exc.strerror or type(exc).__name__
    paths = [p for p in (exc.filename, exc.filename2) if p]
    if paths:
        return f"{reason}: " + " -> ".join(str(p) for p in paths)
    return f"{reason} ({exc})"
