"""Speed-up of 2 Dask workers over 1 on one chapter's sweep (the linearity chapter's cells).

Each round runs the same cells (the chapter's main sweep, as ``linearity.run`` builds it from
the ``book`` parameters with ``--seeds`` replicates) on a ``distributed.LocalCluster`` of 1
worker and of 2 workers (one thread each, processes), in alternating order, through
:func:`dropout_study.sweep.runner.run_sweep` with the cell cache off, one cluster at a time; each is
started, and its workers have imported the package (a warm-up sweep of one cell per worker),
before the clock starts. Both runs are on Dask: the one-worker cluster gets its cells too
(:func:`dropout_study.sweep.cluster.map_cells` submits one future per cell; joblib's own Dask
backend would run them in this process, which until 2026-11-30 made the baseline here a plain
local run). It checks
that both give identical results, then prints each round's times and the speed-up
``t(1 worker) / t(2 workers)`` of the best rounds (and the median of the per-round ratios).
On a machine shared with other work, the second worker may not get a core of its own: read
the speed-up with the machine's load beside it.

Run: ``.venv/bin/python benchmarks/bench_dask.py [--seeds N] [--rounds R]`` (needs the
``cluster`` extra).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from distributed import LocalCluster

from dropout_study.book import params
from dropout_study.book import source as chapters
from dropout_study.chapters.linearity import experiment as linearity
from dropout_study.sweep import cluster
from dropout_study.sweep import runner as sweep


class _Captured(Exception):
    pass


def cells(n_seeds: int) -> tuple:
    """``(fn, cells)`` of the chapter's main sweep with its ``book`` parameters and
    ``n_seeds`` replicates: what ``linearity.run`` hands to ``run_sweep`` first."""
    spec = chapters.load("linearity")
    p = params.resolve(spec, "book") | {"n_seeds": n_seeds}

    def capture(fn, todo, **kwargs):
        raise _Captured(fn, list(todo))

    original = linearity.run_sweep
    linearity.run_sweep = capture
    try:
        linearity.run(p, cache_dir=None)
    except _Captured as got:
        return got.args
    finally:
        linearity.run_sweep = original
    raise AssertionError("linearity.run made no sweep")


def timed_run(fn, address: str, todo: list[dict]) -> tuple[float, list]:
    t0 = time.perf_counter()
    res = sweep.run_sweep(fn, todo, cache_dir=None, scheduler=address)
    return time.perf_counter() - t0, res.results


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=4, help="replicates per setting")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    args = ap.parse_args(argv)
    fn, todo = cells(args.seeds)
    kw = dict(threads_per_worker=1, processes=True, dashboard_address=None)
    times: dict[int, list[float]] = {1: [], 2: []}
    reference = None
    for r in range(args.rounds):
        for n in (1, 2) if r % 2 == 0 else (2, 1):
            # one cluster at a time: an idle cluster's processes (heartbeats, the nanny's
            # memory monitor) would take CPU from the two cores the timed one needs
            with LocalCluster(n_workers=n, **kw) as lc:
                addr = lc.scheduler_address
                sweep.run_sweep(fn, todo[:n], cache_dir=None, scheduler=addr)  # imports
                dt, results = timed_run(fn, addr, todo)
                cluster.close_clients()
            times[n].append(dt)
            if reference is None:
                reference = results
            elif repr(results) != repr(reference):
                raise AssertionError("results differ between the clusters")
        print(
            f"round {r + 1}: 1 worker {times[1][-1]:.1f} s, 2 workers {times[2][-1]:.1f} s "
            f"(load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )
    ratios = [a / b for a, b in zip(times[1], times[2], strict=True)]
    print(
        f"{len(todo)} cells of the linearity sweep (book parameters, {args.seeds} seeds): "
        f"speed-up of 2 workers over 1 = {min(times[1]) / min(times[2]):.2f} "
        f"(best rounds; median of per-round ratios {statistics.median(ratios):.2f}); "
        "results identical"
    )


if __name__ == "__main__":
    main()
