"""Chapters side by side: a build executes the chapters that changed a few at a time.

A chapter spends much of its time on one core — starting its kernel, importing, drawing and
saving figures (see :mod:`dropout_study.sweep.timing`) — so while one chapter does that, another can
use the second core. :class:`Ahead` starts the executions of the stale chapters, in the
build's order, in up to ``workers`` worker processes (each starts its own kernel); the
build then collects each chapter's outcome in order with :meth:`Ahead.result`, so its log,
its failure handling and everything after the executions are as in a serial build. The
chapters write into their own directories and their sweeps' cells into a cache whose writes
are atomic, so running side by side changes no number.

Ctrl-C ends them all: :func:`stop_all` (called by the command line on an interrupt) cancels
the chapters not started and stops each worker with SIGTERM, on which the worker ends its
kernels and exits; a worker that gets the interrupt itself (a terminal sends it to the whole
process group) does the same instead of going on with the next chapter. A stopped execution
writes nothing (its outputs are swapped in only when it finishes).

Workers die with the build: each asks Linux for SIGTERM when its parent ends
(``prctl(PR_SET_PDEATHSIG)``), so a ``kill -9`` of the build alone (not its process group)
ends them and their kernels too, and nothing keeps running or holds the build's standard
output. Each worker reports its pid when it starts (through a pipe), which is how
:meth:`Ahead.stop` reaches them without the executor's private attributes.

``DROPOUT_STUDY_CHAPTER_JOBS`` sets ``workers`` (default: 2 on a machine with at least two
cores, else 1; ``1`` executes each chapter only when the build asks for it, as before).
"""

from __future__ import annotations

import ctypes
import functools
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from dropout_study.validation import check_int, fail

__all__ = ["Ahead", "default_workers", "start", "stop_all"]

_RUNNING: list = []  # the Ahead objects of this process with workers (for stop_all)

ENV = "DROPOUT_STUDY_CHAPTER_JOBS"


def default_workers() -> int:
    """``DROPOUT_STUDY_CHAPTER_JOBS`` if set, else ``min(2, cores)``."""
    env = os.environ.get(ENV)
    if not env:
        return min(2, os.cpu_count() or 1)
    try:
        jobs = int(env)
    except ValueError:
        fail(ENV, "dropout-study build", "an int in the range [1, ∞)", env)
    return check_int(jobs, ENV, "dropout-study build", low=1)


class Ahead:
    """Run ``jobs`` (``(chapter id, zero-argument picklable callable)`` pairs, in build order)
    up to ``workers`` at a time in forked worker processes (each execution needs a process of
    its own: papermill changes the working directory of its process while it runs);
    :meth:`result` returns a chapter's value or raises its exception.

    With one worker (or one job) nothing runs in the background: :meth:`result` calls the
    chapter's function itself.
    """

    def __init__(self, jobs: Sequence[tuple[str, Callable]], workers: int | None = None):
        self.workers = default_workers() if workers is None else workers
        self._jobs = dict(jobs)
        self._futures: dict[str, Future] = {}
        self._pids: list[int] = []
        self._started = None  # the pipe the workers report their pids through
        self._n = 0
        if self.workers > 1 and len(self._jobs) > 1:
            # fork: the workers inherit this process's state (imports, environment, a
            # project's registered chapters) and start in well under a second
            context = multiprocessing.get_context("fork")
            self._n = min(self.workers, len(self._jobs))
            self._started = context.SimpleQueue()  # each worker puts its pid when it starts
            pool = ProcessPoolExecutor(
                self._n,
                mp_context=context,
                initializer=_in_worker,
                initargs=(os.getpid(), self._started),
            )
            for cid, fn in self._jobs.items():
                self._futures[cid] = pool.submit(_job, fn)
            pool.shutdown(wait=False)  # workers exit when the queue is done
            _RUNNING.append(self)

    def pids(self, wait: float = 2.0) -> list[int]:
        """The workers' pids (all forked by the first submit; each reports when it starts,
        waiting up to ``wait`` seconds for the ones not heard from yet)."""
        deadline = time.monotonic() + wait
        while self._started is not None and len(self._pids) < self._n:
            if self._started.empty():
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)
                continue
            self._pids.append(self._started.get())
        return list(self._pids)

    def stop(self) -> None:
        """Cancel the chapters not started and stop the workers (each ends its kernels)."""
        import psutil

        for f in self._futures.values():
            f.cancel()
        procs = []
        for pid in self.pids():
            try:
                procs.append(psutil.Process(pid))
            except psutil.NoSuchProcess:
                continue
        for p in procs:
            with _gone():
                p.terminate()  # SIGTERM: _end_worker
        _, alive = psutil.wait_procs(procs, timeout=10)
        for p in alive:
            with _gone():
                p.kill()

    def __contains__(self, chapter_id: str) -> bool:
        """Whether ``chapter_id`` is one of the jobs (a chapter this build executes)."""
        return chapter_id in self._jobs

    def result(self, chapter_id: str):
        """The value of ``chapter_id``'s job (waiting for it), or its exception raised."""
        if chapter_id in self._futures:
            return self._futures[chapter_id].result()
        return self._jobs[chapter_id]()


def stop_all() -> None:
    """Stop every :class:`Ahead` of this process that has workers (see the module docstring)."""
    while _RUNNING:
        _RUNNING.pop().stop()


class _gone:
    """Ignore a process that ended meanwhile."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        import psutil

        return kind is not None and issubclass(kind, psutil.NoSuchProcess)


_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send ``sig`` to this process when its parent thread ends (and end now if
    the parent ``parent`` already has); nothing on other systems."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
            pass
    if os.getppid() != parent:  # the parent died before the request was made
        os.kill(os.getpid(), sig)


def _in_worker(parent: int, started) -> None:
    """A worker's set-up: SIGTERM ends its kernels, then the worker; the parent's end sends
    SIGTERM; the worker's pid goes to the parent."""
    signal.signal(signal.SIGTERM, _end_worker)
    die_with_parent(parent)
    started.put(os.getpid())


def _end_worker(signum=signal.SIGTERM, frame=None) -> None:
    from dropout_study.book import kernel

    try:
        kernel.end_kernels()
    finally:
        os._exit(128 + signum)


def _job(fn: Callable):
    """Run one chapter in a worker; an interrupt ends the worker (not only this chapter)."""
    try:
        return fn()
    except KeyboardInterrupt:
        _end_worker(signal.SIGINT)


def start(plan, project, execute: Callable, *, force: bool, **kwargs) -> Ahead:
    """An :class:`Ahead` for the stale chapters of a build's ``plan`` (``(spec, params, key)``
    triples): each job is ``execute(spec, params, project.dest(spec.id), key=key, **kwargs)``.
    """
    from dropout_study.book.cache import is_fresh

    jobs = []
    for spec, params, key in plan:
        dest = project.dest(spec.id)
        if force or not is_fresh(dest, spec.id, key):
            run = functools.partial(execute, spec, params, dest, key=key, **kwargs)
            jobs.append((spec.id, run))
    return Ahead(jobs)
