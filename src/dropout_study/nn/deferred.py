"""Sweeps that stack: cells whose ``train`` calls train together, without changing the cells.

A chapter's cell function trains its networks one at a time with
:func:`dropout_study.nn.training.train`. :func:`run_cells` runs many cells so that those calls
train in stacks (:mod:`dropout_study.nn.stack`), where a small network's step costs a fraction
of its cost alone:

- each cell ``fn(cell)`` runs in a thread of its own, **one thread at a time** (cooperatively:
  a cell runs until it calls ``train`` or ends, then the next one runs; nothing of the cells'
  own code runs concurrently, so it need not be thread-safe);
- inside a cell, ``train(...)`` checks its arguments as always, then hands its job
  (:class:`~dropout_study.nn.stack_jobs.Job`) to the scheduler and waits;
- when every cell waits in ``train`` or has ended, the waiting jobs are grouped by their stack
  key (:meth:`~dropout_study.nn.stack_jobs.Job.key`: architecture, dtype, optimiser type and
  step count, data shapes, step budget, batch size, ``eval_every``, ``mask_average``, fixed
  masks or not, divergence limit), each group is trained as one stack
  (:func:`~dropout_study.nn.stack_jobs.run_jobs`), and each waiting call returns its History —
  or raises its ``TrainingDiverged`` — in its own cell; then the cells resume, in cell order.

Numbers: a network's numbers do not depend on the stack it trains in and a cell's randomness
comes from its own generators, so every cell's result is bit for bit what ``fn(cell)`` returns
run alone. Jobs that cannot share a stack although their keys agree (a model or a generator
used by two cells) train one at a time. Exceptions: a cell that raises ends alone; its outcome
carries the exception (with the cell's traceback as a note) and the other cells go on. An error
inside a stack's training (not a divergence: a bug, memory) is raised in every cell of that
stack. Timing measured inside a cell (``time.perf_counter``) spans the other cells' work too.

:func:`plan` cuts a sweep's cells into such groups for worker processes and :func:`unpack`
reads their outcomes back (the hook in :func:`dropout_study.sweep.runner.run_sweep`).
"""

from __future__ import annotations

import contextvars
import functools
import math
import threading
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from dropout_study.nn.stack_jobs import Job, run_jobs
from dropout_study.validation import check_int, fail

__all__ = ["MAX_STACK", "Outcome", "current", "plan", "run_cells", "unpack"]

MAX_STACK = 64
"""Cells run together by :func:`run_cells` (and so the largest stack it forms)."""

_local = threading.local()


def current() -> Callable[[Job], object] | None:
    """In a cell run by :func:`run_cells`: the function ``train`` hands its job to (it waits,
    then returns the History or the exception); elsewhere None."""
    return getattr(_local, "submit", None)


@dataclass(frozen=True)
class Outcome:
    """What ``fn(cell)`` gave: its ``value``, or the ``error`` it raised (then ``value`` is
    None)."""

    value: object = None
    error: BaseException | None = None


class _Aborted(BaseException):
    """Ends the threads of an interrupted :func:`run_cells` (not an error of a cell)."""


def run_cells(fn: Callable[[dict], object], cells: Sequence, max_stack: int = MAX_STACK) -> list:
    """``[Outcome of fn(cell) for cell in cells]``, the cells' ``train`` calls trained in
    stacks (see the module docstring); ``max_stack`` cells run together at most."""
    if not callable(fn):
        fail("fn", "run_cells", "a callable", fn, TypeError)
    max_stack = check_int(max_stack, "max_stack", "run_cells", low=1)
    cells = list(cells)
    out: list = []
    for start in range(0, len(cells), max_stack):
        out += _Scheduler(fn, cells[start : start + max_stack]).run()
    return out


class _Scheduler:
    """Threads of the cells, run one at a time, and the stacks of their waiting jobs."""

    def __init__(self, fn, cells) -> None:
        self.fn, self.cells = fn, cells
        n = len(cells)
        self.outcomes: list = [None] * n
        self.jobs: dict[int, Job] = {}  # cell → its job, while it waits in train
        self.answers: dict[int, object] = {}  # cell → History or exception, to resume with
        self.go = [threading.Event() for _ in range(n)]
        self.back = threading.Event()  # the running cell waits in train or has ended
        self.aborted = False

    def run(self) -> list:
        threads = [
            threading.Thread(
                target=contextvars.copy_context().run,
                args=(self._cell, i),
                daemon=True,
                name=f"dropout-study-cell-{i}",
            )  # fmt: skip
            for i in range(len(self.cells))
        ]
        ready = list(range(len(self.cells)))
        try:
            for t in threads:
                t.start()
            while ready:
                for i in ready:  # one cell at a time, until it waits in train or ends
                    self.back.clear()
                    self.go[i].set()
                    self.back.wait()
                ready = self._train_waiting()
        except BaseException:
            self.aborted = True  # wake every thread still waiting, so that it ends
            for g in self.go:
                g.set()
            raise
        return self.outcomes

    def _cell(self, i: int) -> None:
        self.go[i].wait()
        self.go[i].clear()
        if self.aborted:
            return
        _local.submit = functools.partial(self._submit, i)
        try:
            self.outcomes[i] = Outcome(value=self.fn(self.cells[i]))
        except _Aborted:
            return
        except BaseException as exc:  # noqa: BLE001 - the cell's outcome, whatever it is
            exc.add_note("In the cell (run by dropout_study.nn.deferred):\n" + "".join(
                traceback.format_exception(exc)))  # fmt: skip
            self.outcomes[i] = Outcome(error=exc)
        finally:
            _local.submit = None
            self.back.set()

    def _submit(self, i: int, job: Job):
        self.jobs[i] = job
        self.back.set()
        self.go[i].wait()
        self.go[i].clear()
        if self.aborted:
            raise _Aborted
        return self.answers.pop(i)

    def _train_waiting(self) -> list[int]:
        """Train every waiting job, in stacks by key; the cells to resume, in order."""
        waiting = sorted(self.jobs)
        groups: dict[tuple, list[int]] = {}
        for i in waiting:
            groups.setdefault(self.jobs[i].key(), []).append(i)
        for cells in groups.values():
            for part in _parts(cells, self.jobs):
                try:
                    results = run_jobs([self.jobs[i] for i in part], on_divergence="return")
                except Exception as exc:  # noqa: BLE001 - raised in each of these cells
                    results = [exc] * len(part)
                self.answers.update(zip(part, results, strict=True))
        self.jobs.clear()
        return waiting


def _parts(cells: list[int], jobs: dict) -> list[list[int]]:
    """``cells`` as one stack, or one cell each if two of them share a model or a generator."""
    for name in ("model", "mask_rng", "batch_rng"):
        used = [id(getattr(jobs[i], name)) for i in cells if getattr(jobs[i], name) is not None]
        if len(set(used)) != len(used):
            return [[i] for i in cells]
    return [cells]


def plan(n_cells: int, workers: int, max_stack: int = MAX_STACK) -> list[range]:
    """Cut ``n_cells`` cells (in order) into consecutive groups for ``workers`` processes:
    ``workers · ⌈n / (workers · max_stack)⌉`` groups (at most ``n``) of sizes differing by at
    most one, so every worker gets work and no group exceeds ``max_stack`` cells.
    Consecutive cells tend to share an architecture (chapters list data sets outermost), so
    their networks stack."""
    n_cells = check_int(n_cells, "n_cells", "plan", low=0)
    workers = check_int(workers, "workers", "plan", low=1)
    if n_cells == 0:
        return []
    n_groups = min(n_cells, workers * math.ceil(n_cells / (workers * max_stack)))
    cuts = [-(-g * n_cells // n_groups) for g in range(n_groups + 1)]
    return [range(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


def unpack(groups: Iterable[Sequence[int]], outcomes: Iterable[list]):
    """``(index, value)`` for each cell of each group, in order, from each group's list of
    :class:`Outcome`; after a group's successful cells, the first error among its cells is
    raised (so the caller keeps every finished cell before the sweep stops)."""
    for group, outs in zip(groups, outcomes, strict=True):
        error = None
        for i, o in zip(group, outs, strict=True):
            if o.error is None:
                yield i, o.value
            elif error is None:
                error = o.error
        if error is not None:
            raise error
