"""What ``dropout-study run`` checks before a kernel starts, and how errors become one line.

- :func:`run_destination`: ``--out`` may not lie inside ``book/generated`` (that is
  ``build``'s) and must pass :func:`dropout_study.book.outputs.check_destination`.
- :func:`oserror_line`: an ``OSError`` as one line naming the path (read-only or immutable
  destination, a path through a file, a full disk).
"""

from __future__ import annotations

import os
from pathlib import Path

from dropout_study import locks
from dropout_study.book import outputs
from dropout_study.book.project import Project
from dropout_study.validation import described, fail

__all__ = ["run_destination", "oserror_line", "INTERRUPTED"]

INTERRUPTED = "interrupted; the chapter's kernel and workers were stopped and nothing was written."


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
