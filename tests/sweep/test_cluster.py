"""Sweeps on a Dask cluster (the 'cluster' extra): same numbers as the local run, cache kept,
an unreachable scheduler refused in one line before any kernel starts."""

import http.server
import importlib
import json
import os
import socket
import threading
import time

import numpy as np
import pytest

# The 'cluster' extra. Without it these tests skip — unless DROPOUT_STUDY_REQUIRE_CLUSTER=1
# (CI sets it after installing the extra), when a missing 'distributed' fails them instead.
if os.environ.get("DROPOUT_STUDY_REQUIRE_CLUSTER") == "1":
    distributed = importlib.import_module("distributed")
else:
    distributed = pytest.importorskip("distributed")

# A chapter's own sweep, at the size the chapter's tests use.
from fixtures.cells import where_cell
from fixtures.sizes import LINEARITY_TINY as TINY  # noqa: E402

from dropout_study.chapters.linearity import experiment as linearity
from dropout_study.cli import main as cli
from dropout_study.sweep import cluster
from dropout_study.sweep import runner as sweep


@pytest.fixture(scope="module")
def local_cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as lc:
        yield lc.scheduler_address
        cluster.close_clients()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_chapter_sweep_on_dask_equals_local_run_and_fills_the_cache(
    local_cluster, tmp_path, monkeypatch
):
    sweeps = []  # (n_computed, n_cached) of each run_sweep the chapter makes

    def counting(*args, **kwargs):
        res = sweep.run_sweep(*args, **kwargs)
        sweeps.append((res.n_computed, res.n_cached))
        return res

    monkeypatch.setattr(linearity, "run_sweep", counting)
    monkeypatch.setenv(cluster.ENV, "")
    local = linearity.run(dict(TINY), cache_dir=None, n_jobs=1)

    monkeypatch.setenv(cluster.ENV, local_cluster)
    cache = tmp_path / "cells"
    sweeps.clear()
    on_dask = linearity.run(dict(TINY), cache_dir=cache)
    n_cells = sum(c for c, _ in sweeps)
    assert n_cells > 2 and all(cached == 0 for _, cached in sweeps)
    assert json.dumps(on_dask.metrics, default=str) == json.dumps(local.metrics, default=str)
    for ds, arrays in local.arrays.items():
        for name, value in arrays.items():
            np.testing.assert_array_equal(on_dask.arrays[ds][name], value)

    # the cells the cluster computed were cached by this process: a local rerun reads them all
    monkeypatch.setenv(cluster.ENV, "")
    assert len(list(cache.rglob("*.pkl"))) == n_cells
    sweeps.clear()
    again = linearity.run(dict(TINY), cache_dir=cache, n_jobs=1)
    assert sum(c for c, _ in sweeps) == 0 and sum(c for _, c in sweeps) == n_cells
    assert json.dumps(again.metrics, default=str) == json.dumps(local.metrics, default=str)


def test_cells_run_on_the_workers_and_resume_from_the_cache(local_cluster, tmp_path):
    cells = [{"i": i} for i in range(6)]
    first = sweep.run_sweep(where_cell, cells[:3], cache_dir=tmp_path, scheduler=local_cluster)
    assert first.n_computed == 3 and os.getpid() not in first.results
    with distributed.Client(local_cluster, set_as_default=False) as c:
        workers = c.run(os.getpid)
    assert set(first.results) <= set(workers.values())
    second = sweep.run_sweep(where_cell, cells, cache_dir=tmp_path, scheduler=local_cluster)
    assert second.n_cached == 3 and second.n_computed == 3
    assert second.results[:3] == first.results


def test_a_one_worker_cluster_gets_the_cells_too():
    # joblib's own Dask backend runs everything in the calling process when the cluster has
    # one worker thread (its n_jobs == 1 shortcut); the study's backend sends them there.
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as lc:
        try:
            cells = [{"i": i} for i in range(3)]
            got = sweep.run_sweep(where_cell, cells, cache_dir=None, scheduler=lc.scheduler_address)
            with distributed.Client(lc.scheduler_address, set_as_default=False) as c:
                (worker,) = c.run(os.getpid).values()
        finally:
            cluster.close_clients()
    assert got.results == [worker] * 3 and worker != os.getpid()


def test_unreachable_scheduler_fails_in_one_line_before_any_kernel(monkeypatch, capsys):
    started = []
    monkeypatch.setattr(cli, "execute", lambda *a, **k: started.append(a))
    monkeypatch.setattr(cli, "build", lambda *a, **k: started.append(a))
    monkeypatch.setenv(cluster.ENV, "")  # unset for the CLI; restored after the test
    address = f"tcp://127.0.0.1:{_free_port()}"
    for argv in (["run", "linearity", "--scheduler", address], ["build", "--scheduler", address]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1
        assert "'scheduler'" in err and address in err and "reachable" in err
    assert started == []
    assert cluster.address() is None


@pytest.mark.parametrize("bad", ["", "http://host:8786", "tcp://host", "tcp://host:port"])
def test_malformed_scheduler_address_is_refused(bad):
    with pytest.raises(ValueError, match="'scheduler' parameter"):
        cluster.check_scheduler(bad)


@pytest.mark.parametrize("extra", ["/extra", "/", "?x=1", "#frag", "?", "/a?b#c"])
def test_anything_after_the_port_is_refused_before_connecting(local_cluster, extra, monkeypatch):
    # the bare address is a live scheduler: only the extra part can make the check refuse
    assert cluster.check_scheduler(local_cluster) == local_cluster
    monkeypatch.setattr(cluster.socket, "create_connection", _no_connection)
    for addr in (local_cluster + extra, local_cluster.removeprefix("tcp://") + extra):
        with pytest.raises(ValueError) as info:
            cluster.check_scheduler(addr)
        msg = str(info.value)
        assert "\n" not in msg and "'scheduler' parameter" in msg and repr(addr) in msg
        assert "tcp://HOST:PORT" in msg


def test_user_info_before_the_host_is_refused(local_cluster):
    with pytest.raises(ValueError, match="'scheduler' parameter"):
        cluster.check_scheduler(local_cluster.replace("tcp://", "tcp://user@"))


def _no_connection(*a, **k):
    raise AssertionError("the address should have been refused without connecting")


def _silent_listener():
    """A TCP port that accepts connections and never says anything."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    held = []

    def accept():
        while True:
            try:
                held.append(srv.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return srv, f"tcp://127.0.0.1:{srv.getsockname()[1]}"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.mark.parametrize("kind", ["silent", "http", "worker"])
def test_an_open_port_that_is_not_a_scheduler_is_refused_in_one_line(
    kind, local_cluster, monkeypatch, capsys
):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1.0)  # the default (5 s) works the same
    if kind == "silent":
        server, addr = _silent_listener()
        stop = server.close
    elif kind == "http":
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        addr = f"tcp://127.0.0.1:{server.server_address[1]}"
        stop = server.shutdown
    else:  # a Dask worker answers Dask's requests, but it is not the scheduler
        with distributed.Client(local_cluster, set_as_default=False) as c:
            addr = next(iter(c.scheduler_info()["workers"]))
        stop = None
    started = []
    monkeypatch.setattr(cli, "execute", lambda *a, **k: started.append(a))
    monkeypatch.setenv(cluster.ENV, "")
    try:
        with pytest.raises(ValueError) as info:
            cluster.check_scheduler(addr)
        assert cli.main(["run", "linearity", "--scheduler", addr]) == 2
    finally:
        if stop is not None:
            stop()
    msg = str(info.value)
    assert "\n" not in msg and "'scheduler' parameter" in msg and repr(addr) in msg
    assert "Dask scheduler" in msg
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and addr in err
    assert started == [] and cluster.address() is None


def test_a_real_scheduler_passes_the_check(local_cluster):
    assert cluster.check_scheduler(local_cluster) == local_cluster
    assert cluster.check_scheduler(local_cluster.removeprefix("tcp://")) == local_cluster


def test_scheduler_reaches_the_kernel_through_the_environment(local_cluster, monkeypatch):
    seen = {}
    monkeypatch.setenv(cluster.ENV, "")  # the CLI sets it; monkeypatch restores it after

    def fake_execute(*a, **k):
        seen["env"] = os.environ.get(cluster.ENV)
        return {"verdict": {"word": "supported", "sentence": "."}}

    monkeypatch.setattr(cli, "execute", fake_execute)
    assert cli.main(["run", "linearity", "--profile", "smoke", "--scheduler", local_cluster]) == 0
    assert seen["env"] == local_cluster


# ------------------------------------------------------------------------------------------
# a cluster without workers: refused before any kernel; lost mid-sweep: one line, bounded
# ------------------------------------------------------------------------------------------
def test_a_scheduler_without_workers_is_refused_in_one_line_before_any_kernel(monkeypatch, capsys):
    started = []
    monkeypatch.setattr(cli, "execute", lambda *a, **k: started.append(a))
    monkeypatch.setattr(cli, "build", lambda *a, **k: started.append(a))
    monkeypatch.setenv(cluster.ENV, "")
    with distributed.LocalCluster(n_workers=0, dashboard_address=None) as lc:
        addr = lc.scheduler_address
        for argv in (["run", "linearity", "--scheduler", addr], ["build", "--scheduler", addr]):
            assert cli.main(argv) == 2
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1, err
            assert "'scheduler'" in err and addr in err and "at least one worker" in err
    assert started == [] and cluster.address() is None


def test_a_worker_lost_mid_sweep_ends_it_with_one_line_after_the_stated_time(tmp_path, monkeypatch):
    import subprocess
    import sys

    from fixtures.cells import slow_cell

    monkeypatch.setattr(cluster, "LOST_AFTER", 2.0)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with distributed.LocalCluster(n_workers=0, dashboard_address=None) as lc:
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", lc.scheduler_address]
            + ["--no-nanny", "--nthreads", "1", "--no-dashboard"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        outcome = {}

        def sweep_on_cluster():
            try:
                cells = [{"i": i} for i in range(40)]  # 20 s of work on the one worker
                sweep.run_sweep(  # one cell per future, so cells are cached as they finish
                    slow_cell,
                    cells,
                    cache_dir=tmp_path,
                    scheduler=lc.scheduler_address,
                    stack=False,
                )
            except Exception as exc:
                outcome["error"] = exc

        try:
            with distributed.Client(lc.scheduler_address, set_as_default=False) as c:
                c.wait_for_workers(1, timeout=60)
            thread = threading.Thread(target=sweep_on_cluster, daemon=True)
            thread.start()
            deadline = time.monotonic() + 60
            while not list(tmp_path.rglob("*.pkl")) and time.monotonic() < deadline:
                time.sleep(0.2)  # the worker is computing cells
            worker.kill()  # a worker dies mid-sweep (no nanny brings it back)
            killed = time.monotonic()
            thread.join(timeout=30)  # the old code waited for ever here
            waited = time.monotonic() - killed
        finally:
            worker.kill()
            worker.wait()
            cluster.close_clients()
    assert not thread.is_alive(), "the sweep still waits for a lost worker"
    err = outcome.get("error")
    assert isinstance(err, cluster.ClusterLost), err
    msg = str(err)
    assert "\n" not in msg and "no worker for 2 s" in msg and lc.scheduler_address in msg
    assert 2.0 <= waited < 20
    assert list(tmp_path.rglob("*.pkl"))  # the cells that finished are kept
