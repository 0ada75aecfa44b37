"""Time and memory of a chapter run, estimated from its resolved parameters before it starts.

Each chapter's experiment module exports ``estimate(params) -> (work, memory)``
(:mod:`dropout_study.chapters.cost`): the **work** in multiply-adds and the **memory** of its
largest arrays (bytes). A module without one, or a parameter of a shape its function does not
expect, gets :func:`dropout_study.chapters.cost.generic`, which multiplies what it can
recognise (``n_seeds``, ``*steps``, rate lists, ``hidden`` widths).

**The time comes from a measured run when there is one** (:func:`for_run`). Every run that
ends well records what it took (:func:`measure`, :func:`remember`): its wall-clock seconds and
the part that does not grow with the work (kernel start, imports, figures), its work, and what
it ran on — the chapter's science hash (the numpy core with its stacked training, the measures,
the chapter's code), the hash of ``sweep/`` (how cells are grouped into stacks), stacking on or
off, the cores, whether a Dask scheduler ran the cells, how many chapters ran beside it. They
are kept in ``.cache/timings/<chapter>.json`` of the project, and a ``full`` run that records
a confirmation keeps its own in the committed record (``timing``), so a fresh clone has one
too. An estimate uses the measured run of the same code and engine whose work is closest to
the new run's, and scales the part that grows: ``fixed + (seconds − fixed) × work / its
work``. A run whose sweep cells may have come from the cache does not count (fewer cells
written than the chapter's cache folder held before it: at most half its cells can have been
read, never all of them).

Without such a run the estimate is **rough**: ``FIXED_SECONDS + work / MACS_PER_SECOND``, one
rate for every chapter (chapters differ from it by up to 3× either way). :func:`check` refuses
a run whose largest arrays do not fit in the available memory and one above
:data:`CONFIRM_SECONDS` without ``--yes``; both before any kernel starts.
"""

from __future__ import annotations

import importlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dropout_study import paths
from dropout_study.book.source import default_experiment
from dropout_study.chapters import cost
from dropout_study.numfmt import sci
from dropout_study.validation import described, fail

__all__ = [
    "Estimate",
    "estimate",
    "for_run",
    "measure",
    "remember",
    "measured",
    "engine",
    "cache_cells",
    "check",
    "MACS_PER_SECOND",
    "CONFIRM_SECONDS",
    "available_memory",
]

MACS_PER_SECOND = 1e10
"""The rough rate: multiply-adds (as the chapters' ``estimate`` functions count them) per
second of wall-clock time on the study's 2-core machine with the stacked engine. From the
``full`` profile's stacked build in ``benchmarks/README.md`` (six chapters, two at a time):
work ÷ (seconds − 20) has a geometric mean of 1.2e10 per second, from 3.8e9
(cost-under-dropout) to 2.2e10 (l1-vs-l2)."""

FIXED_SECONDS = 20.0
"""Kernel start, imports, figures and notebook post-processing of any chapter."""

CONFIRM_SECONDS = 2 * 3600.0
"""A run estimated above this needs ``--yes``."""


KEEP = 20
"""Measured runs kept per chapter in ``.cache/timings/<chapter>.json`` (the newest)."""


@dataclass(frozen=True)
class Estimate:
    """``work``: multiply-adds; ``memory``: bytes of the largest arrays; ``basis``: the
    measured run (:func:`measure`) the time is scaled from, or ``None`` (rough)."""

    chapter: str
    work: float
    memory: float
    basis: Mapping | None = None

    @property
    def scale(self) -> float:
        """This run's work over the measured run's (1 without a measured run)."""
        return 1.0 if self.basis is None else self.work / self.basis["work"]

    @property
    def seconds(self) -> float:
        if self.basis is None:
            return FIXED_SECONDS + self.work / MACS_PER_SECOND
        total = float(self.basis["seconds"])
        fixed = min(float(self.basis["fixed"]), total)
        return fixed + (total - fixed) * self.scale

    def text(self) -> str:
        how = "rough" if self.basis is None else "from a measured run"
        return (
            f"estimate for {self.chapter}: about {_fmt_time(self.seconds)} ({how}), "
            f"largest arrays about {_fmt_bytes(self.memory)}"
        )

    def based_on(self) -> str:
        """What the time is based on, in one line."""
        if self.basis is None:
            return (
                f"rough: {sci(self.work)} multiply-adds at a typical {sci(MACS_PER_SECOND, 0)} "
                f"a second (no run of {self.chapter} measured with this code and engine yet; "
                "chapters differ from that rate by up to 3× either way)"
            )
        b = self.basis
        what = _describe(b)
        if abs(self.scale - 1) <= 0.01:
            return f"measured: {what}, of the same work"
        far = "; rough: that is far from this run" if not 0.1 <= self.scale <= 10 else ""
        return (
            f"measured: {what}, scaled ×{self.scale:.2g} by the work ({sci(self.work)} "
            f"against {sci(b['work'])} multiply-adds{far})"
        )


def _describe(b: Mapping) -> str:
    """``"the run of dropout-paper at the full profile on 2026-12-07 (244 s)"``."""
    where = "recorded with its confirmation" if b.get("source") == "confirmation" else ""
    notes = [f"{b['seconds']:.0f} s"]
    if b.get("at_once", 1) > 1:
        notes.append(f"in a build, up to {b['at_once']} chapters at a time")
    if b.get("cores") != os.cpu_count():
        notes.append(f"on {b.get('cores')} cores")
    day = str(b.get("finished_at", ""))[:10]
    return " ".join(
        w
        for w in (
            f"the run of {b.get('chapter')} at the {b.get('profile')} profile",
            f"on {day}" if day else "",
            where,
            f"({', '.join(notes)})",
        )
        if w
    )


def _fmt_time(s: float) -> str:
    if s < 90:
        return f"{max(s, 1):.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    if s < 48 * 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


def _fmt_bytes(b: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if b < 1000 or unit == "TB":
            return f"{b:.0f} {unit}" if unit == "B" else f"{b:.1f} {unit}"
        b /= 1000
    return f"{b:.1f} TB"  # pragma: no cover


def estimate(chapter_id: str, params: Mapping, experiment: str | None = None) -> Estimate:
    """The :class:`Estimate` of one run of ``chapter_id`` with resolved ``params``: the
    ``estimate`` function of its experiment module (``experiment``, default the chapter's
    folder), or :func:`dropout_study.chapters.cost.generic` for a module without one."""
    module = experiment or default_experiment(chapter_id)
    try:
        func = getattr(importlib.import_module(module), "estimate", cost.generic)
    except ImportError:
        func = cost.generic
    try:
        work, memory = func(params)
    except (TypeError, ValueError, KeyError):  # a parameter of a new shape: fall back
        work, memory = cost.generic(params)
    return Estimate(chapter_id, float(work), float(memory))


def engine(spec) -> dict:
    """What a run's time depends on besides its work: the chapter's science hash (its code,
    the numpy core and its stacked training, the measures), the hash of ``sweep/`` (how cells
    are grouped into stacks), stacking on or off, the cores, and whether a Dask scheduler runs
    the cells (``DASK_SCHEDULER_ADDRESS``)."""
    from dropout_study.book.cache import chapter_science_hash
    from dropout_study.codehash import package_code_hash
    from dropout_study.sweep import cluster

    return {
        "code": chapter_science_hash(spec),
        "sweep": package_code_hash(paths.PACKAGE / "sweep"),
        "stack": os.environ.get("DROPOUT_STUDY_STACK", "on") != "off",
        "cores": os.cpu_count(),
        "scheduler": cluster.address() is not None,
    }


def cache_cells(spec) -> int | None:
    """How many cells the sweep cache holds for the chapter's code (the folder its sweeps
    write, ``<cache>/<science hash of its experiment module>[:16]``, found as the kernel will:
    ``DROPOUT_STUDY_SWEEP_CACHE``, else ``.cache/sweeps`` of ``DROPOUT_STUDY_ROOT`` or this
    checkout); ``None`` with the cache off."""
    from dropout_study.codehash import science_hash

    env = os.environ.get("DROPOUT_STUDY_SWEEP_CACHE")
    if env == "off":
        return None
    root = Path(os.environ.get("DROPOUT_STUDY_ROOT", paths.ROOT))
    base = Path(env).expanduser() if env else root / ".cache" / "sweeps"
    folder = base / science_hash(spec.experiment, paths.PACKAGE)[:16]
    try:
        return sum(1 for _ in folder.rglob("*.pkl"))
    except OSError:
        return 0


def measure(spec, params: Mapping, profile: str, run_dir, cells_before, at_once: int = 1):
    """The record of a run that ended well in ``run_dir`` (its ``run.json`` timing), or
    ``None`` without one: chapter, profile, work, wall-clock ``seconds`` and the ``fixed``
    part of them (kernel, imports, figures), the :func:`engine`, the sweep ``cells`` the
    chapter's cache folder held ``before`` the run (``cells_before``: :func:`cache_cells`
    before the kernel started) and how many it ``written``, ``at_once`` (chapters executing
    side by side) and when it finished."""
    from dropout_study.provenance import timestamp
    from dropout_study.sweep import timing

    b = timing.read(run_dir)
    if b is None:
        return None
    after = cache_cells(spec)
    cells = None
    if cells_before is not None and after is not None:
        cells = {"before": cells_before, "written": max(0, after - cells_before)}
    return {
        "chapter": spec.id,
        "profile": profile,
        "work": estimate(spec.id, params, spec.experiment).work,
        "seconds": round(float(b["total"]), 1),
        "fixed": round(sum(float(b.get(k, 0.0)) for k in ("kernel", "imports", "figures")), 1),
        **engine(spec),
        "cells": cells,
        "at_once": at_once,
        "finished_at": timestamp(),
    }


def _log(chapter_id: str, root) -> Path:
    return Path(root) / ".cache" / "timings" / f"{chapter_id}.json"


def remember(run: Mapping | None, root) -> None:
    """Keep the measured ``run`` (:func:`measure`) among the last :data:`KEEP` of its chapter
    under ``root`` (the project); a file that cannot be written is left as it is: the next
    estimate is then only rougher."""
    if run is None:
        return
    f = _log(run["chapter"], root)
    try:
        kept = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        kept = []
    kept = [m for m in kept if isinstance(m, dict)] if isinstance(kept, list) else []
    try:
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_name(f".{f.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps([*kept, dict(run)][-KEEP:], indent=1) + "\n", encoding="utf-8")
        tmp.replace(f)
    except OSError:
        pass


def measured(spec, root) -> list[dict]:
    """The measured runs of the chapter of ``spec`` known under ``root``: those kept by
    :func:`remember`, then the one its confirmation record carries (``source``:
    ``"confirmation"``; only from a sound record, :func:`dropout_study.book.confirm.read_for`)."""
    from dropout_study.book import confirm

    try:
        kept = json.loads(_log(spec.id, root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        kept = []
    runs = [dict(m) for m in kept if isinstance(m, dict)] if isinstance(kept, list) else []
    rec = confirm.read_for(spec, root).record
    if rec is not None and isinstance(rec.get("timing"), dict):
        runs.append({**rec["timing"], "source": "confirmation"})
    return runs


def _usable(run: Mapping, now: Mapping) -> bool:
    """A measured run of the same code and engine as ``now``, not through a scheduler, whose
    sweep cells cannot all have come from the cache (see the module docstring)."""
    try:
        cells = run["cells"]
        cold = cells is None or cells["before"] <= cells["written"]
        same = all(run[k] == now[k] for k in ("code", "sweep", "stack"))
        return bool(
            cold and same and not run["scheduler"] and not now["scheduler"]
            and float(run["work"]) > 0 and float(run["seconds"]) > 0
        )  # fmt: skip
    except (KeyError, TypeError, ValueError):
        return False


def for_run(spec, params: Mapping, root) -> Estimate:
    """The :class:`Estimate` of a run of the chapter of ``spec`` with resolved ``params``:
    its time scaled from the usable measured run (:func:`measured`) whose work is closest to
    this run's (the newest of equals), else rough."""
    est = estimate(spec.id, params, spec.experiment)
    now = engine(spec)
    runs = sorted(
        (r for r in measured(spec, root) if _usable(r, now)),
        key=lambda r: str(r.get("finished_at", "")),
        reverse=True,
    )
    if not runs or est.work <= 0:
        return est
    best = min(runs, key=lambda r: abs(math.log(est.work / float(r["work"]))))
    return Estimate(est.chapter, est.work, est.memory, best)


def available_memory() -> float:
    """Bytes of memory available now (``MemAvailable``), or ``inf`` if unknown."""
    try:
        import psutil

        return float(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - psutil missing or unreadable /proc
        try:
            return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError):
            return math.inf


def check(est: Estimate, *, yes: bool = False, owner: str = "dropout-study run") -> None:
    """Refuse (``ValueError``, one line) a run whose arrays cannot fit in memory, or one
    estimated above :data:`CONFIRM_SECONDS` unless ``yes``."""
    avail = available_memory()
    if est.memory > avail:
        fail(
            "parameters",
            owner,
            f"small enough to fit in memory ({_fmt_bytes(avail)} available)",
            described(f"arrays of about {_fmt_bytes(est.memory)}"),
        )
    if est.seconds > CONFIRM_SECONDS and not yes:
        raise ValueError(
            f"{est.text()}: above {_fmt_time(CONFIRM_SECONDS)}; "
            "add --yes to run it anyway, or choose smaller parameters."
        )
