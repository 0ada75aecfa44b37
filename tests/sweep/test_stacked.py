"""run_sweep with stacked training (nn.deferred): groups of cells per worker, the same results
as one cell at a time, locally and on a 2-worker Dask LocalCluster, cached per cell, resumable.

Oracle: the sweep run with ``stack=False`` (each cell alone in its process), compared bit for
bit. The cells (``fixtures.stack_cells.train_cell``) train networks with ``train`` one after
another, as the chapters' cells do; the workers' stacks are observed through the per-cell
cache and the worker process ids, not assumed.
"""

from __future__ import annotations

import importlib
import os

import pytest
from fixtures.stack_cells import assert_same, batched, spec, train_cell

from dropout_study.sweep import cluster
from dropout_study.sweep import runner as sweep

# The 'cluster' extra: without it the Dask test skips, unless DROPOUT_STUDY_REQUIRE_CLUSTER=1.
if os.environ.get("DROPOUT_STUDY_REQUIRE_CLUSTER") == "1":
    distributed = importlib.import_module("distributed")
else:
    distributed = pytest.importorskip("distributed")


def _cells(n=10, **extra):
    """Cells of two architectures (consecutive, as the chapters list them) and both
    optimisers, some networks stopping early."""
    nets = [
        [spec(), spec(pen="l2", stop=2)],
        [spec(pen="l1-scaled", p=0.5), spec(p=None)],
        [spec(opt="sgd", lr=0.2, pen="l1-prox", batch=None), spec(opt="sgd", mu=0.9, stop=1)],
    ]
    out = []
    for s in range(n):
        c = {"seed": s, "nets": nets[s % 3], **extra}
        if s >= n // 2:
            c["nets"] = [{**x, "sizes": [3, 7, 1]} for x in c["nets"]]
        out.append(c)
    return out


@pytest.fixture(scope="module")
def reference():
    cells = _cells()
    return cells, sweep.run_sweep(train_cell, cells, n_jobs=1, cache_dir=None, stack=False)


def test_stacked_locally_equals_one_cell_at_a_time(reference, monkeypatch):
    cells, ref = reference
    assert ref.n_computed == len(cells) and batched(ref.results) == {False}
    for n_jobs in (1, 2):
        got = sweep.run_sweep(train_cell, cells, n_jobs=n_jobs, cache_dir=None, stack=True)
        assert_same(got.results, ref.results, f"n_jobs={n_jobs}")
        assert batched(got.results) == {True}
    # the default stacks when a process runs more than one cell; the variable turns it off
    default = sweep.run_sweep(train_cell, cells[:3], n_jobs=1, cache_dir=None)
    assert batched(default.results) == {True}
    one_each = sweep.run_sweep(train_cell, cells[:2], n_jobs=2, cache_dir=None)
    assert batched(one_each.results) == {False}
    monkeypatch.setenv("DROPOUT_STUDY_STACK", "off")
    off = sweep.run_sweep(train_cell, cells[:3], n_jobs=1, cache_dir=None)
    assert batched(off.results) == {False}
    assert_same(off.results, ref.results[:3])


def test_stacked_on_a_two_worker_dask_cluster_equals_one_cell_at_a_time(reference, tmp_path):
    cells, ref = reference
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as lc:
        try:
            got = sweep.run_sweep(
                train_cell, cells, cache_dir=tmp_path, scheduler=lc.scheduler_address
            )
        finally:
            cluster.close_clients()
    assert got.n_computed == len(cells) and batched(got.results) == {True}
    assert_same(got.results, ref.results, "dask")
    # cached per cell by this process: a local rerun reads every cell
    again = sweep.run_sweep(train_cell, cells, n_jobs=1, cache_dir=tmp_path, scheduler=None)
    assert again.n_cached == len(cells) and again.n_computed == 0
    assert_same(again.results, ref.results, "from the cache")


def test_a_failing_cell_fails_alone_and_the_sweep_resumes_with_it_only(reference, tmp_path):
    """An interruption (cell 3 raises while a flag file exists): the sweep raises the cell's
    error after storing every other cell of its group; the rerun computes cell 3 only."""
    cells, ref = reference
    flag = tmp_path / "interrupt"
    flag.touch()
    cells = [dict(c) for c in cells]
    cells[3]["fail_if"] = str(flag)  # part of cell 3's key in both runs
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError, match="cell 3 interrupted"):
        sweep.run_sweep(train_cell, cells, n_jobs=1, cache_dir=cache, stack=True)
    assert len(list(cache.rglob("*.pkl"))) == len(cells) - 1
    flag.unlink()
    res = sweep.run_sweep(train_cell, cells, n_jobs=2, cache_dir=cache, stack=True)
    assert res.n_cached == len(cells) - 1 and res.n_computed == 1
    assert_same(res.results, ref.results, "resumed")
