"""Running sweeps on a Dask cluster (the optional ``cluster`` extra: ``dask``, ``distributed``).

The scheduler's address reaches every sweep through the environment variable
``DASK_SCHEDULER_ADDRESS`` (the variable Dask itself reads for ``scheduler-address``):
``dropout-study run|build --scheduler ADDRESS`` checks the address and sets it in its own
environment, which the chapters' kernels inherit, so :func:`dropout_study.sweep.runner.run_sweep`
inside a notebook sends its cells to the cluster (:func:`map_cells`).

Only Dask's public API: the check connects a ``distributed.Client`` and asks it for the
scheduler's identity and its workers (:func:`check_scheduler`: before any kernel starts, a
scheduler with no workers is refused in one line); the cells are ``Client.submit`` futures, so
a cluster of one worker thread gets them too (joblib's public Dask backend runs every task in
the calling process when the cluster has one thread: its ``n_jobs == 1`` shortcut), and a
sweep whose cluster has had no worker for :data:`LOST_AFTER` seconds (the worker that had its
cells died) stops with one line instead of waiting for ever.

Numbers do not depend on where a cell runs: each cell derives its randomness from the seeds
it carries and runs with one BLAS thread (:mod:`dropout_study.sweep.runner`), on a worker as
locally.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import queue
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from urllib.parse import urlsplit

from dropout_study.validation import fail

__all__ = [
    "ENV",
    "address",
    "check_scheduler",
    "client",
    "close_clients",
    "map_cells",
    "ClusterLost",
    "LOST_AFTER",
    "use_scheduler",
]

ENV = "DASK_SCHEDULER_ADDRESS"
"""The environment variable that carries the scheduler's address to kernels and sweeps."""

CONNECT_TIMEOUT = 5.0
"""Seconds to wait for the scheduler before giving up (the check and the client)."""

LOST_AFTER = 60.0
"""Seconds a sweep waits while its cluster has no worker (all were lost) before it gives up."""

POLL = 1.0
"""Seconds between looks at the cluster while no cell finishes."""

_clients: dict = {}


class ClusterLost(RuntimeError):
    """The cluster has had no worker for :data:`LOST_AFTER` seconds during a sweep."""


def address() -> str | None:
    """The scheduler address from ``DASK_SCHEDULER_ADDRESS`` (``None`` if unset or empty)."""
    value = os.environ.get(ENV, "").strip()
    return value or None


def _host_port(addr: str, owner: str) -> tuple[str, int]:
    """``tcp://host:port`` (or ``host:port``) → ``(host, port)``; one-line ValueError if not.

    Nothing may follow the port (no path, not even ``/``, no ``?query`` or ``#fragment``) and
    nothing may precede the host (no ``user@``): Dask would take such an address apart
    differently, and only inside a kernel."""
    allowed = "a Dask scheduler address tcp://HOST:PORT (nothing before HOST or after PORT)"
    if not isinstance(addr, str) or not addr.strip():
        fail("scheduler", owner, allowed, addr)
    text = addr.strip()
    parts = urlsplit(text if "://" in text else f"tcp://{text}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if (
        parts.scheme not in ("tcp", "tls")
        or not parts.hostname
        or port is None
        or "@" in parts.netloc
        or any(c.isspace() for c in text)
        or parts.path
        or parts.query
        or parts.fragment
        or text.endswith(("?", "#"))
    ):
        fail("scheduler", owner, allowed, addr)
    return parts.hostname, port


async def _scheduler(addr: str, timeout: float) -> tuple[str | None, int]:
    """``(server type, number of workers)`` of the Dask scheduler at ``addr``, asked through a
    ``distributed.Client`` (``(None, 0)`` if it does not answer as a Dask scheduler within
    ``timeout`` seconds: a silent listener, an HTTP server, a Dask worker)."""
    from distributed import Client

    client = Client(addr, asynchronous=True, timeout=timeout, set_as_default=False)
    try:
        await asyncio.wait_for(client, timeout)  # awaiting a Client connects it
        kind = client.scheduler_info().get("type")
        workers = await asyncio.wait_for(client.nthreads(), timeout)
        return kind, len(workers)
    except Exception:  # timeout, refused handshake, unknown request: not a Dask scheduler
        return None, 0
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), timeout)


def _ask_scheduler(addr: str, timeout: float) -> tuple[str | None, int]:
    """:func:`_scheduler` from synchronous code (in a thread of its own when this thread
    already runs an event loop, e.g. inside a notebook), with Dask's own log lines about the
    failed attempt kept off the terminal."""
    log = logging.getLogger("distributed")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(_scheduler(addr, timeout))
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, _scheduler(addr, timeout)).result()
    finally:
        log.setLevel(level)


def check_scheduler(addr: str, owner: str = "dropout-study") -> str:
    """Check that ``addr`` names a reachable Dask scheduler and that the ``cluster`` extra is
    installed; return the address in ``tcp://host:port`` form.

    Raises a one-line ValueError before any work starts: an unparsable address (or one with
    anything after the port), an unreachable one, one where a server listens but a
    ``distributed.Client`` cannot connect to it as a Dask *scheduler* within
    :data:`CONNECT_TIMEOUT` seconds (a silent listener, an HTTP server, a Dask worker), a
    scheduler with no workers (the cells would wait for ever), or ``distributed`` missing.
    """
    host, port = _host_port(addr, owner)
    try:
        import distributed  # noqa: F401
    except ImportError:
        fail(
            "scheduler",
            owner,
            "used with the 'cluster' extra installed (pip install 'dropout-study[cluster]')",
            addr,
        )
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        fail("scheduler", owner, f"a reachable Dask scheduler ({reason})", addr)
    text = addr.strip()
    full = text if "://" in text else f"tcp://{text}"
    kind, n_workers = _ask_scheduler(full, CONNECT_TIMEOUT)
    if kind != "Scheduler":
        what = (
            f"a Dask {kind}"
            if kind
            else f"no answer as a Dask scheduler within {CONNECT_TIMEOUT:g} s"
        )
        fail(
            "scheduler",
            owner,
            f"a reachable Dask scheduler (something listens there, but: {what})",
            addr,
        )
    if n_workers == 0:
        fail(
            "scheduler",
            owner,
            "a Dask scheduler with at least one worker (it has none; start one with "
            "'dask worker ADDRESS')",
            addr,
        )
    return full


def use_scheduler(addr: str, owner: str = "dropout-study") -> str:
    """Check ``addr`` and put it into ``DASK_SCHEDULER_ADDRESS`` of this process, so the
    kernels it starts (which inherit its environment) and their sweeps use the cluster."""
    checked = check_scheduler(addr, owner)
    os.environ[ENV] = checked
    return checked


def client(addr: str):
    """A ``distributed.Client`` connected to ``addr``, made once per process and address."""
    c = _clients.get(addr)
    if c is None or c.status not in ("running", "connecting", "newly-created"):
        from distributed import Client

        c = Client(addr, timeout=CONNECT_TIMEOUT, set_as_default=False)
        _clients[addr] = c
    return c


def close_clients() -> None:
    """Close the clients :func:`client` made (e.g. before the cluster they talk to stops)."""
    while _clients:
        _, c = _clients.popitem()
        c.close()


def n_threads(addr: str) -> int:
    """Threads the cluster at ``addr`` offers now over all its workers (at least 1): how
    many cells it runs at once, to cut a sweep into that many groups or more."""
    try:
        return max(1, sum(client(addr).nthreads().values()))
    except Exception:
        return 1


def _n_workers(c) -> int:
    """Workers the client's cluster has now (0 when the client lost its scheduler)."""
    if c.status != "running":
        return 0
    try:
        return len(c.nthreads())
    except Exception:
        return 0


def map_cells(
    compute: Callable, fn: Callable, cells: Sequence[dict], addr: str
) -> Iterator[tuple[int, object]]:
    """``(i, compute(fn, cells[i]))`` for every cell, computed on the cluster at ``addr``
    (one future per cell) and yielded as each finishes; a cell's exception is raised as
    itself. Raises :class:`ClusterLost` (one line) when the cluster has had no worker for
    :data:`LOST_AFTER` seconds while cells were left, and cancels what is left whenever it
    stops early."""
    c = client(addr)
    finished: queue.Queue = queue.Queue()
    futures = [c.submit(compute, fn, cell, pure=False) for cell in cells]
    for i, f in enumerate(futures):
        f.add_done_callback(lambda _f, i=i: finished.put(i))
    left = len(futures)
    alone_since: float | None = None
    try:
        while left:
            try:
                i = finished.get(timeout=POLL)
            except queue.Empty:
                if _n_workers(c) > 0:
                    alone_since = None
                    continue
                alone_since = alone_since or time.monotonic()
                if time.monotonic() - alone_since >= LOST_AFTER:
                    raise ClusterLost(
                        f"The Dask cluster at {addr} has had no worker for {LOST_AFTER:g} s "
                        f"({left} of {len(futures)} cells unfinished): a worker was lost; "
                        "gave up (finished cells are kept in the sweep cache)."
                    ) from None
                continue
            left -= 1
            yield i, futures[i].result()
    finally:
        if left:
            with contextlib.suppress(Exception):
                c.cancel([f for f in futures if not f.done()])
