"""Where a chapter's time goes: kernel start, imports, sweeps, figures, and the rest.

Two sides write it down:

- in the kernel, :func:`timed` wraps :func:`dropout_study.sweep.runner.run_sweep` (phase ``sweeps``)
  and :func:`dropout_study.book.report.figure` (phase ``figures``: drawing, saving svg + png and
  gluing), :func:`mark` ``("start")`` is called by :func:`dropout_study.book.report.start`, and
  :func:`save` (from :func:`dropout_study.book.report.finish`) writes them to ``timing.json`` in
  the run directory;
- the process that executes the notebook (:func:`dropout_study.book.pipeline.execute`) calls
  :func:`finish_run`, which reads (and removes) that file, adds the wall-clock total and the
  start of the first cell (from papermill's cell metadata) and stores the breakdown under
  ``"timing"`` in the run directory's ``run.json``.

Phases (wall-clock seconds): ``kernel`` — from the start of the execution to the first cell
(reading the source, starting the kernel); ``imports`` — from the first cell to
``report.start`` (parameters and import cells); ``sweeps``; ``figures``; ``other`` — the rest
(analysis, glue, verdict, writing the notebook). :func:`summary` formats them on one line.
Timings are measurements, not results: they are never part of a chapter's metrics or cache key.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

__all__ = [
    "FILE",
    "PHASES",
    "timed",
    "mark",
    "save",
    "first_cell_start",
    "finish_run",
    "read",
    "summary",
]

FILE = "timing.json"
RUN_FILE = (
    "run.json"  # dropout_study.book.report.RUN_FILE (not imported: report imports this module)
)
PHASES = ("kernel", "imports", "sweeps", "figures", "other")

_phases: dict[str, float] = {}
_marks: dict[str, float] = {}
_depth: dict[str, int] = {}


def timed(phase: str) -> Callable:
    """Decorator: add the wall time of each call to ``phase`` (nested calls counted once)."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            if _depth.get(phase):
                return fn(*args, **kwargs)
            _depth[phase] = 1
            t0 = time.time()
            try:
                return fn(*args, **kwargs)
            finally:
                _phases[phase] = _phases.get(phase, 0.0) + time.time() - t0
                _depth[phase] = 0

        return inner

    return wrap


def mark(name: str) -> None:
    """Remember the wall-clock time (seconds since the epoch) of event ``name``."""
    _marks[name] = time.time()


def save(directory) -> Path:
    """Write this process's phases and marks to ``<directory>/timing.json``."""
    path = Path(directory) / FILE
    path.write_text(json.dumps({"phases": _phases, "marks": _marks}, indent=1), encoding="utf-8")
    return path


def first_cell_start(notebook: Path) -> float | None:
    """When the first cell of an executed notebook started (papermill's cell metadata,
    seconds since the epoch), or ``None``; read it before that metadata is stripped."""
    try:
        nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for cell in nb.get("cells", []):
        stamp = (cell.get("metadata", {}).get("papermill") or {}).get("start_time")
        if stamp:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    return None


def finish_run(run_dir, notebook, started: float, first_cell: float | None = None) -> dict:
    """Complete ``<run_dir>/timing.json`` with the breakdown of a run that began at
    ``started`` (``time.time()``) and executed ``notebook``; returns the breakdown.
    ``first_cell``: when the first cell started (:func:`first_cell_start`, read before the
    pipeline strips papermill's metadata); read from ``notebook`` when not given."""
    run_dir = Path(run_dir)
    now = time.time()
    try:
        kernel_side = json.loads((run_dir / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        kernel_side = {"phases": {}, "marks": {}}
    (run_dir / FILE).unlink(missing_ok=True)
    first = first_cell if first_cell is not None else first_cell_start(notebook)
    start_mark = kernel_side.get("marks", {}).get("start")
    total = now - started
    b = {"total": total}
    b["kernel"] = max(0.0, first - started) if first is not None else 0.0
    b["imports"] = max(0.0, start_mark - first) if first and start_mark else 0.0
    b["sweeps"] = kernel_side.get("phases", {}).get("sweeps", 0.0)
    b["figures"] = kernel_side.get("phases", {}).get("figures", 0.0)
    b["other"] = max(0.0, total - sum(b[p] for p in PHASES[:-1]))
    run_file = run_dir / RUN_FILE
    try:
        context = json.loads(run_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        context = {}
    context["timing"] = b
    run_file.write_text(json.dumps(context, indent=2) + "\n", encoding="utf-8")
    return b


def read(directory) -> dict | None:
    """The breakdown :func:`finish_run` stored in ``<directory>/run.json``, if any."""
    try:
        b = json.loads((Path(directory) / RUN_FILE).read_text(encoding="utf-8")).get("timing")
    except (OSError, ValueError, AttributeError):
        return None
    return b if isinstance(b, dict) and "total" in b else None


def summary(directory) -> str:
    """``"ran 22.7 s: kernel 2.1 s · imports 3.0 s · sweeps 12.4 s · figures 4.2 s · other
    1.0 s"``, or ``""`` when the directory holds no breakdown."""
    b = read(directory)
    if b is None:
        return ""
    return f"ran {b['total']:.1f} s: " + " · ".join(f"{p} {b.get(p, 0.0):.1f} s" for p in PHASES)
