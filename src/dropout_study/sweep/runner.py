"""Sweeps over a grid of cells, in parallel processes, resumable from disk.

A *cell* is a dict of JSON-able values (e.g. ``{"dataset": "moons", "p": 0.3, "replicate": 4,
"seed": 0, ...}``) and ``fn(cell)`` computes its result (any picklable object). :func:`run_sweep`

- evaluates the cells not already on disk with :class:`joblib.Parallel` (processes) — or, when
  ``DASK_SCHEDULER_ADDRESS`` names a Dask scheduler (:mod:`dropout_study.sweep.cluster`), on that
  cluster's workers through joblib's Dask backend — each cell with single-threaded BLAS,
  showing a
  ``tqdm`` progress bar when standard error is a terminal (never inside an executed notebook);
- writes each finished cell at once, atomically, to
  ``<cache_dir>/<code hash>/<fn name>/<hash>.pkl`` where the hash covers ``key``, ``fn``'s
  qualified name, the cell and :func:`code_version` — so an interrupted sweep resumes
  with only the missing cells, and any edit of the code the cell's chapter computes with (not
  of its comments or docstrings, nor of the book machinery) invalidates old cells, which
  ``cache.prune_sweep_cache`` then deletes;
- returns the results in the order of ``cells``.

Results must depend only on the cell (derive all randomness from the seeds it carries), so
that the parallel order never changes a number.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import joblib
from threadpoolctl import threadpool_limits
from tqdm import tqdm  # not tqdm.auto: in a kernel without ipywidgets it warns on stderr

from dropout_study import paths
from dropout_study.codehash import science_hash
from dropout_study.nn import deferred
from dropout_study.sweep import cluster, timing
from dropout_study.sweep import progress as _progress
from dropout_study.validation import check_int, fail

__all__ = ["SweepResult", "run_sweep", "code_version", "cell_path"]


@dataclass(frozen=True)
class SweepResult:
    """``results[i]`` is ``fn(cells[i])``; ``n_computed`` cells ran now, ``n_cached`` were read."""

    results: list
    n_computed: int
    n_cached: int


@functools.cache
def _science(module: str) -> str:
    return science_hash(module, paths.PACKAGE)


def code_version(fn: Callable) -> str:
    """The science hash of the code ``fn`` belongs to
    (:func:`dropout_study.codehash.science_hash` of its module: the numpy core, the measures,
    the shared chapter code and ``fn``'s own chapter folder; comments and docstrings do not
    count), computed once per process and module."""
    return _science(fn.__module__)


def _fn_name(fn: Callable) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def cell_path(fn: Callable, cell: dict, key: str, cache_dir: Path) -> Path:
    """Where the result of ``fn(cell)`` is kept."""
    payload = json.dumps(
        {"fn": _fn_name(fn), "key": key, "cell": cell, "code": code_version(fn)},
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(payload.encode()).hexdigest()[:32]
    # one folder per code version, so cache.prune_sweep_cache can drop the unusable ones
    return Path(cache_dir) / code_version(fn)[:16] / _fn_name(fn) / f"{digest}.pkl"


def _compute(fn: Callable, cell: dict):
    # One BLAS thread per cell: the study's matrices are small, cells already run in
    # parallel, and a second BLAS thread fighting for two shared cores was measured to make
    # small matrix products 10-50x slower here. The same on a Dask worker, so that a cell's
    # numbers do not depend on where it runs.
    with threadpool_limits(limits=1, user_api="blas"):
        return fn(cell)


def _compute_and_store(fn: Callable, cell: dict, path: Path | None):
    result = _compute(fn, cell)
    _store(result, path)
    return result


def _store(result, path: Path | None) -> None:
    """Write ``result`` to ``path`` atomically (nothing for ``None``)."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        try:
            joblib.dump(result, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


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
        fail("DROPOUT_STUDY_JOBS", "run_sweep", "an int in the range [1, inf)", env)
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
        Address of a Dask scheduler to run the missing cells on (joblib's Dask backend);
        ``"default"`` is ``DASK_SCHEDULER_ADDRESS`` if set (see :mod:`dropout_study.sweep.cluster`),
        ``None`` runs locally. Workers return results; this process writes the cell cache,
        so a cluster without a shared file system still resumes.
    stack : bool, optional
        Send the missing cells to the workers in groups (:func:`dropout_study.nn.deferred.plan`)
        whose ``train`` calls train together (:func:`dropout_study.nn.deferred.run_cells`):
        the same results, each cell cached as without groups. Default: on when more than one
        cell runs in a process, unless ``DROPOUT_STUDY_STACK=off``.
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
    cache = None if cache_dir is None else Path(cache_dir)

    results: list = [None] * len(cells)
    todo: list[int] = []
    cell_paths: list[Path | None] = []
    for i, c in enumerate(cells):
        p = None if cache is None else cell_path(fn, c, key, cache)
        cell_paths.append(p)
        if p is not None and p.exists():
            try:
                results[i] = joblib.load(p)
                continue
            except Exception:  # a truncated or stale file: recompute it
                p.unlink(missing_ok=True)
        todo.append(i)

    bar = tqdm(total=len(todo), desc=desc or _fn_name(fn), disable=not progress or not todo)
    bar = _progress.sweep_bar(bar, desc or _fn_name(fn))  # finished cells to the CLI's bar
    # -- stacked training (nn.deferred): groups of cells per worker task, one result per cell
    on_cluster = bool(scheduler and todo and not explicit_one)
    workers = (sum(cluster.client(scheduler).nthreads().values()) or 1) if on_cluster else n_jobs
    if stack is None:
        stack = os.environ.get("DROPOUT_STUDY_STACK", "on") != "off" and len(todo) > workers
    groups = [[todo[k] for k in g] for g in deferred.plan(len(todo), workers)] if stack else []
    if groups:
        with cluster.joblib_config(scheduler) if on_cluster else contextlib.nullcontext():
            run_group = functools.partial(deferred.run_cells, fn)
            parallel = joblib.Parallel(n_jobs=-1 if on_cluster else min(n_jobs, len(groups)),
                                       return_as="generator")  # fmt: skip
            outs = parallel(joblib.delayed(_compute)(run_group, [cells[i] for i in g])
                            for g in groups)  # fmt: skip
            for i, out in deferred.unpack(groups, outs):
                _store(out, cell_paths[i])
                results[i] = out
                bar.update()
    # -- end of stacked training
    elif scheduler and todo and not explicit_one:
        with cluster.joblib_config(scheduler):
            outs = joblib.Parallel(n_jobs=-1, return_as="generator")(
                joblib.delayed(_compute)(fn, cells[i]) for i in todo
            )
            for i, out in zip(todo, outs, strict=True):
                _store(out, cell_paths[i])
                results[i] = out
                bar.update()
    elif len(todo) <= 1 or n_jobs == 1:
        for i in todo:
            results[i] = _compute_and_store(fn, cells[i], cell_paths[i])
            bar.update()
    else:
        parallel = joblib.Parallel(n_jobs=min(n_jobs, len(todo)), return_as="generator")
        outs = parallel(
            joblib.delayed(_compute_and_store)(fn, cells[i], cell_paths[i]) for i in todo
        )
        for i, out in zip(todo, outs, strict=True):
            results[i] = out
            bar.update()
    bar.close()
    return SweepResult(results, n_computed=len(todo), n_cached=len(cells) - len(todo))
