"""Sweeps over a grid of cells, in parallel processes, resumable from disk.

A *cell* is a dict of JSON-able values (e.g. ``{"dataset": "moons", "p": 0.3, "replicate": 4,
"seed": 0, ...}``) and ``fn(cell)`` computes its result (any picklable object). :func:`run_sweep`

- evaluates the cells not already on disk with :class:`joblib.Parallel` (processes) — or, when
  ``DASK_SCHEDULER_ADDRESS`` names a Dask scheduler (:mod:`dropout_study.sweep.cluster`), on that
  cluster's workers through Dask's futures — each cell with single-threaded BLAS, showing a
  ``tqdm`` progress bar when standard error is a terminal (never inside an executed notebook);
- writes each finished cell at once, atomically, into the cell cache
  (:mod:`dropout_study.sweep.cellcache`: ``<cache_dir>/<code hash>/<fn name>/<hash>.pkl``, each
  entry holding its own key — ``key``, ``fn``'s qualified name, the cell, :func:`code_version`,
  the dependency versions and the lock file's hash — checked when it is read), so an
  interrupted sweep resumes with only the missing cells, and any edit of the code the cell's
  chapter computes with (not of its comments or docstrings, nor of the book machinery)
  invalidates old cells; a damaged entry is recomputed with one line saying so, and a cache
  that cannot be written costs only time;
- returns the results in the order of ``cells``.

Results must depend only on the cell (derive all randomness from the seeds it carries), so
that the parallel order never changes a number.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
from threadpoolctl import threadpool_limits
from tqdm import tqdm  # not tqdm.auto: in a kernel without ipywidgets it warns on stderr

from dropout_study import paths
from dropout_study.nn import deferred
from dropout_study.sweep import cluster, timing
from dropout_study.sweep import progress as _progress
from dropout_study.sweep.cellcache import CellCache, code_version
from dropout_study.sweep.cellcache import fn_name as _fn_name
from dropout_study.validation import check_int, fail

__all__ = ["SweepResult", "run_sweep", "code_version", "cell_path"]


@dataclass(frozen=True)
class SweepResult:
    """``results[i]`` is ``fn(cells[i])``; ``n_computed`` cells ran now, ``n_cached`` were read."""

    results: list
    n_computed: int
    n_cached: int


def cell_path(fn: Callable, cell: dict, key: str, cache_dir: Path) -> Path:
    """Where the result of ``fn(cell)`` is kept."""
    return CellCache(cache_dir, fn, key).path(cell)


def _ungroup(groups: list[list[int]], done: Iterable[tuple[int, Any]]):
    """``(index into todo, value)`` per cell from ``(group, outcomes)`` pairs in any order;
    a group's first failing cell raises after its finished cells are yielded."""
    for g, outcomes in done:
        yield from deferred.unpack([groups[g]], [outcomes])


def _compute(fn: Callable, cell: dict):
    # One BLAS thread per cell: the study's matrices are small, cells already run in
    # parallel, and a second BLAS thread fighting for two shared cores was measured to make
    # small matrix products 10-50x slower here. The same on a Dask worker, so that a cell's
    # numbers do not depend on where it runs.
    with threadpool_limits(limits=1, user_api="blas"):
        return fn(cell)


IN_PROCESS_BELOW = 20_000
"""With no ``n_jobs`` and no ``DROPOUT_STUDY_JOBS``, a sweep whose cells take fewer training
steps than this in all runs in this process: starting worker processes costs 1-7 s here,
more than such a sweep (the smoke profiles) takes."""


def _default_jobs(steps: int | None) -> int:
    env = os.environ.get("DROPOUT_STUDY_JOBS")
    if not env:
        if steps is not None and steps < IN_PROCESS_BELOW:
            return 1
        return os.cpu_count() or 1
    try:
        jobs = int(env)
    except ValueError:
        fail("DROPOUT_STUDY_JOBS", "run_sweep", "an int in the range [1, ∞)", env)
    return check_int(jobs, "DROPOUT_STUDY_JOBS", "run_sweep", low=1)


@timing.timed("sweeps")
def run_sweep(
    fn: Callable[[dict], object],
    cells: Sequence[dict],
    *,
    key: str = "",
    n_jobs: int | None = None,
    desc: str | None = None,
    cache_dir: str | os.PathLike | None = "default",
    progress: bool | None = None,
    steps: int | None = None,
    scheduler: str | None = "default",
    stack: bool | None = None,
) -> SweepResult:
    """Evaluate ``fn`` on every cell, reusing finished cells from ``cache_dir``.

    Parameters
    ----------
    fn : module-level function ``cell -> result`` (picklable, deterministic given the cell)
    cells : sequence of dicts of JSON-able values
    key : str
        Anything else the results depend on that is not in the cell (e.g. a chapter id and
        a version tag of the experiment).
    n_jobs : int >= 1, optional
        Worker processes; default ``DROPOUT_STUDY_JOBS`` or, for a sweep of fewer than
        :data:`IN_PROCESS_BELOW` ``steps``, one; else the number of CPUs. With one job (or
        one missing cell) the cells run in this process. With a Dask scheduler (below) and no
        explicit ``n_jobs = 1``, the missing cells run on the cluster's workers instead.
    desc : str, optional
        Label of the progress bar.
    cache_dir : path, None or "default"
        Where finished cells are kept; ``None`` keeps nothing. ``"default"`` is the
        environment variable ``DROPOUT_STUDY_SWEEP_CACHE`` (a path, or ``off``) if set, else
        ``.cache/sweeps`` in the project.
    progress : bool, optional
        Show a progress bar; default: only when standard error is a terminal.
    steps : int, optional
        The training steps all cells take together (the sweep's size, for the default
        ``n_jobs``).
    scheduler : str, None or "default"
        Address of a Dask scheduler to run the missing cells on (one future per cell);
        ``"default"`` is ``DASK_SCHEDULER_ADDRESS`` if set (see :mod:`dropout_study.sweep.cluster`),
        ``None`` runs locally. Workers return results; this process writes the cell cache,
        so a cluster without a shared file system still resumes. A cluster that has had no
        worker for :data:`dropout_study.sweep.cluster.LOST_AFTER` seconds ends the sweep with
        one line.
    stack : bool, optional
        Send the missing cells to the workers in groups (:func:`dropout_study.nn.deferred.plan`)
        whose ``train`` calls train together (:func:`dropout_study.nn.deferred.run_cells`):
        the same results, each cell cached as without groups. Default: on when more cells
        run than there are workers, unless ``DROPOUT_STUDY_STACK=off``.
    """
    owner = "run_sweep"
    if not callable(fn):
        fail("fn", owner, "a callable", fn, TypeError)
    cells = list(cells)
    for c in cells:
        if not isinstance(c, dict):
            fail("cells", owner, "a sequence of dicts", c, TypeError)
    explicit_one = n_jobs is not None and check_int(n_jobs, "n_jobs", owner, low=1) == 1
    n_jobs = _default_jobs(steps) if n_jobs is None else check_int(n_jobs, "n_jobs", owner, low=1)
    if isinstance(scheduler, str) and scheduler == "default":
        scheduler = cluster.address()
    if progress is None:
        progress = sys.stderr.isatty()
    if isinstance(cache_dir, str) and cache_dir == "default":
        env = os.environ.get("DROPOUT_STUDY_SWEEP_CACHE")
        cache_dir = None if env == "off" else (env or paths.SWEEP_CACHE)
    cache = None if cache_dir is None else CellCache(cache_dir, fn, key)

    results: list = [None] * len(cells)
    todo: list[int] = []
    with cache if cache is not None else contextlib.nullcontext():
        for i, c in enumerate(cells):
            if cache is not None:
                hit, value = cache.read(c)
                if hit:
                    results[i] = value
                    continue
            todo.append(i)
        if cache is not None:
            cache.report()  # before the work: what was found damaged is recomputed now

        label = desc or _fn_name(fn)
        bar = tqdm(total=len(todo), desc=label, disable=not progress or not todo)
        bar = _progress.sweep_bar(bar, label)  # finished cells to the CLI's bar
        address = scheduler if todo and not explicit_one else None
        workers = cluster.n_threads(address) if address else n_jobs
        if stack is None:
            stack = os.environ.get("DROPOUT_STUDY_STACK", "on") != "off" and len(todo) > workers
        # the unit of work: one cell, or (stacked) a group of cells whose networks train
        # together (nn.deferred) and come back as one outcome per cell
        if stack and todo:
            groups = [list(g) for g in deferred.plan(len(todo), workers)]
            work_fn: Callable = functools.partial(deferred.run_cells, fn)
            units: list = [[cells[todo[k]] for k in g] for g in groups]
        else:
            groups, work_fn, units = [], fn, [cells[i] for i in todo]
        done: Iterable[tuple[int, Any]]  # (index into units, result), as units finish
        if address:
            done = cluster.map_cells(_compute, work_fn, units, address)
        elif len(units) <= 1 or n_jobs == 1:
            done = ((u, _compute(work_fn, unit)) for u, unit in enumerate(units))
        else:
            parallel = joblib.Parallel(n_jobs=min(n_jobs, len(units)), return_as="generator")
            done = enumerate(parallel(joblib.delayed(_compute)(work_fn, u) for u in units))
        outs = _ungroup(groups, done) if stack and todo else done
        for k, out in outs:
            i = todo[k]
            if cache is not None:
                cache.write(cells[i], out)  # at once: an interrupted sweep resumes from here
            results[i] = out
            bar.update()
        bar.close()
    return SweepResult(results, n_computed=len(todo), n_cached=len(cells) - len(todo))
