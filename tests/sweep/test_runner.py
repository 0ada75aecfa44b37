"""sweep.run_sweep: order, parallel = serial, resume recomputes only missing cells."""

import os

import numpy as np
import pytest
from fixtures.cells import counting_cell, pid_cell, square_cell

from dropout_study.sweep import cellcache
from dropout_study.sweep import runner as sweep


def _cells(n, **extra):
    return [{"x": i, "seed": 100 + i, **extra} for i in range(n)]


def test_results_follow_cell_order_and_parallel_equals_serial():
    cells = _cells(7)
    serial = sweep.run_sweep(square_cell, cells, n_jobs=1, cache_dir=None)
    parallel = sweep.run_sweep(square_cell, cells, n_jobs=2, cache_dir=None)
    assert [r["value"] for r in serial.results] == [r["value"] for r in parallel.results]
    expected = [i**2 + np.random.default_rng(100 + i).standard_normal() for i in range(7)]
    assert [r["value"] for r in serial.results] == expected
    assert serial.n_computed == 7 and serial.n_cached == 0


def test_resume_after_interruption_recomputes_only_missing_cells(tmp_path):
    log = tmp_path / "log"
    log.mkdir()
    cache = tmp_path / "cache"
    cells = [{"x": i, "log": str(log), "fail_at": 5} for i in range(8)]
    # one cell after another (stacked groups run a failing cell's neighbours to the end:
    # tests/sweep/test_stacked.py)
    with pytest.raises(RuntimeError, match="interrupted"):
        sweep.run_sweep(counting_cell, cells, n_jobs=1, cache_dir=cache, stack=False)
    assert len(list(log.iterdir())) == 6  # cells 0..4 finished, cell 5 failed
    for f in log.iterdir():
        f.unlink()
    fixed = [{**c, "fail_at": -1} for c in cells]
    # the fixed cells differ in 'fail_at', so use a key-only change instead: same cells
    res = sweep.run_sweep(
        counting_cell, cells[:5] + fixed[5:], n_jobs=1, cache_dir=cache, stack=False
    )
    assert res.n_cached == 5 and res.n_computed == 3
    assert len(list(log.iterdir())) == 3
    assert res.results == [10 * i for i in range(8)]
    again = sweep.run_sweep(counting_cell, cells[:5] + fixed[5:], n_jobs=2, cache_dir=cache)
    assert again.n_computed == 0 and again.results == res.results


def test_key_and_code_hash_separate_caches(tmp_path, monkeypatch):
    cells = _cells(3)
    a = sweep.run_sweep(square_cell, cells, key="a", cache_dir=tmp_path, n_jobs=1)
    b = sweep.run_sweep(square_cell, cells, key="b", cache_dir=tmp_path, n_jobs=1)
    assert a.n_computed == 3 and b.n_computed == 3
    monkeypatch.setattr(cellcache, "code_version", lambda fn: "edited")
    c = sweep.run_sweep(square_cell, cells, key="a", cache_dir=tmp_path, n_jobs=1)
    assert c.n_computed == 3


def test_truncated_cache_file_is_recomputed(tmp_path):
    cells = _cells(2)
    sweep.run_sweep(square_cell, cells, cache_dir=tmp_path, n_jobs=1)
    p = sweep.cell_path(square_cell, cells[0], "", tmp_path)
    p.write_bytes(b"garbage")
    res = sweep.run_sweep(square_cell, cells, cache_dir=tmp_path, n_jobs=1)
    assert res.n_computed == 1


def test_env_var_turns_cache_off(monkeypatch):
    monkeypatch.setenv("DROPOUT_STUDY_SWEEP_CACHE", "off")
    res = sweep.run_sweep(square_cell, _cells(2), n_jobs=1)
    again = sweep.run_sweep(square_cell, _cells(2), n_jobs=1)
    assert res.n_computed == again.n_computed == 2


@pytest.mark.parametrize(
    "fn, cells, kwargs, exc, match",
    [
        ("nope", [], {}, TypeError, "'fn' parameter of run_sweep"),
        (square_cell, [1], {}, TypeError, "'cells' parameter of run_sweep"),
        (square_cell, [], {"n_jobs": 0}, ValueError, "'n_jobs' parameter of run_sweep"),
    ],
)
def test_validation(fn, cells, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        sweep.run_sweep(fn, cells, cache_dir=None, **kwargs)


def test_small_sweeps_run_in_process_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("DROPOUT_STUDY_JOBS", raising=False)
    cells = _cells(4)
    small = sweep.run_sweep(pid_cell, cells, cache_dir=None, steps=sweep.IN_PROCESS_BELOW - 1)
    assert set(small.results) == {os.getpid()}
    if (os.cpu_count() or 1) > 1:
        big = sweep.run_sweep(pid_cell, cells, cache_dir=None, steps=sweep.IN_PROCESS_BELOW)
        assert os.getpid() not in set(big.results)
        forced = sweep.run_sweep(pid_cell, cells, cache_dir=None, steps=1, n_jobs=2)
        assert os.getpid() not in set(forced.results)
    monkeypatch.setenv("DROPOUT_STUDY_JOBS", "1")
    env = sweep.run_sweep(pid_cell, cells, cache_dir=None, steps=10**9)
    assert set(env.results) == {os.getpid()}
    monkeypatch.setenv("DROPOUT_STUDY_JOBS", "two")
    with pytest.raises(ValueError, match="'DROPOUT_STUDY_JOBS' parameter of run_sweep"):
        sweep.run_sweep(pid_cell, cells, cache_dir=None)
