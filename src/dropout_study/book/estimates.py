"""Work and memory of a chapter run, estimated from its resolved parameters before it starts.

Each chapter's experiment module exports ``estimate(params) -> (work, memory)``
(:mod:`dropout_study.chapters.cost`): the **work** in multiply-adds and the **memory** of its
largest arrays (bytes). A module without one, or a parameter of a shape its function does not
expect, gets :func:`dropout_study.chapters.cost.generic`, which multiplies what it can
recognise (``n_seeds``, ``*steps``, rate lists, ``hidden`` widths).

The time is ``FIXED_SECONDS + work / MACS_PER_SECOND``, a rate for the study's small float64
matrix products on this 2-core machine (order of magnitude only: the estimate is meant to tell a
minute from a day). :func:`check` refuses a run whose largest arrays do not fit in the
available memory and one above :data:`CONFIRM_SECONDS` without ``--yes``; both before any
kernel starts.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from dropout_study.book.source import default_experiment
from dropout_study.chapters import cost
from dropout_study.validation import described, fail

__all__ = [
    "Estimate",
    "estimate",
    "check",
    "MACS_PER_SECOND",
    "CONFIRM_SECONDS",
    "available_memory",
]

MACS_PER_SECOND = 3e9
"""Multiply-adds per second of the study's small products on this 2-core machine (order of
magnitude: the book profile's chapters take 20–90 s of CPU time for 5e10–3.3e11 multiply-adds
counted by their ``estimate`` functions)."""

FIXED_SECONDS = 20.0
"""Kernel start, imports, figures and notebook post-processing of any chapter."""

CONFIRM_SECONDS = 2 * 3600.0
"""A run estimated above this needs ``--yes``."""


@dataclass(frozen=True)
class Estimate:
    """``work``: multiply-adds; ``memory``: bytes of the largest arrays; ``seconds``."""

    chapter: str
    work: float
    memory: float

    @property
    def seconds(self) -> float:
        return FIXED_SECONDS + self.work / MACS_PER_SECOND

    def text(self) -> str:
        return (
            f"estimate for {self.chapter}: about {_fmt_time(self.seconds)} "
            f"({self.work:.2g} multiply-adds), largest arrays about {_fmt_bytes(self.memory)}"
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
