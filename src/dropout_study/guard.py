"""What ``dropout-study run`` checks before a kernel starts, and how errors become one line.

- :func:`run_destination`: ``--out`` may not lie inside ``book/generated`` (that is
  ``build``'s) and must pass :func:`dropout_study.outputs.check_destination`.
- :func:`oserror_line`: an ``OSError`` as one line naming the path (read-only or immutable
  destination, a path through a file, a full disk).
"""

from __future__ import annotations

from pathlib import Path

from dropout_study import outputs
from dropout_study.project import Project
from dropout_study.validation import described, fail

__all__ = ["run_destination", "oserror_line", "INTERRUPTED"]

INTERRUPTED = "interrupted; the chapter's kernel and workers were stopped and nothing was written."


def run_destination(out, chapter_id: str, project: Project) -> Path:
    """The checked ``--out`` of ``dropout-study run`` (``ValueError`` naming ``--out``)."""
    out = Path(out).expanduser()
    if outputs.inside(out, project.generated):
        fail(
            "--out",
            "dropout-study run",
            "outside book/generated (that folder is written by 'dropout-study build')",
            described(f"'{out}'"),
        )
    return outputs.check_destination(out, chapter_id, option="--out")


def oserror_line(exc: OSError) -> str:
    """``<reason>: <path>`` for an ``OSError`` (both paths for a rename)."""
    reason = exc.strerror or type(exc).__name__
    paths = [p for p in (exc.filename, exc.filename2) if p]
    if paths:
        return f"{reason}: " + " -> ".join(str(p) for p in paths)
    return f"{reason} ({exc})"
