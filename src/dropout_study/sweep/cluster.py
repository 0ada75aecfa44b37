"""Running sweeps on a Dask cluster (the optional ``cluster`` extra: ``dask``, ``distributed``).

The scheduler's address reaches every sweep through the environment variable
``DASK_SCHEDULER_ADDRESS`` (the variable Dask itself reads for ``scheduler-address``):
``dropout-study run|build --scheduler ADDRESS`` checks the address and sets it in its own
environment, which the chapters' kernels inherit, so :func:`dropout_study.sweep.runner.run_sweep`
inside a notebook sends its cells to the cluster through joblib's Dask backend.

Numbers do not depend on where a cell runs: each cell derives its randomness from the seeds
it carries and runs with one BLAS thread (:mod:`dropout_study.sweep.runner`), on a worker as
locally.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
from urllib.parse import urlsplit

from dropout_study.validation import fail

__all__ = [
    "ENV",
    "address",
    "check_scheduler",
    "client",
    "close_clients",
    "joblib_config",
    "use_scheduler",
]

ENV = "DASK_SCHEDULER_ADDRESS"
"""The environment variable that carries the scheduler's address to kernels and sweeps."""

CONNECT_TIMEOUT = 5.0
"""Seconds to wait for the scheduler before giving up (the check and the client)."""

_clients: dict = {}


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


async def _identity(addr: str, timeout: float) -> dict | None:
    """The reply of the server at ``addr`` to Dask's ``identity`` request (``None`` if it
    does not answer as a Dask server within ``timeout`` seconds): Dask's own comm layer
    (``distributed.comm.connect``, with its handshake) and its own request, as
    ``distributed.core.rpc(addr).identity()`` sends it."""
    from distributed.comm import connect
    from distributed.security import Security

    async def ask():
        kwargs = Security().get_connection_args("client")
        comm = await connect(addr, timeout=timeout, **kwargs)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    try:
        reply = await asyncio.wait_for(ask(), timeout)
    except Exception:  # timeout, closed comm, undecodable bytes: not a Dask server
        return None
    return reply if isinstance(reply, dict) else None


def _ask_identity(addr: str, timeout: float) -> dict | None:
    """:func:`_identity` from synchronous code (in a thread of its own when this thread
    already runs an event loop, e.g. inside a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_identity(addr, timeout))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _identity(addr, timeout)).result()


def check_scheduler(addr: str, owner: str = "dropout-study") -> str:
    """Check that ``addr`` names a reachable Dask scheduler and that the ``cluster`` extra is
    installed; return the address in ``tcp://host:port`` form.

    Raises a one-line ValueError before any work starts: an unparsable address (or one with
    anything after the port), an unreachable one, one where a server listens but does not
    answer Dask's ``identity`` request as a Dask *scheduler* within :data:`CONNECT_TIMEOUT`
    seconds (a silent listener, an HTTP server, a Dask worker), or ``distributed`` missing.
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
    reply = _ask_identity(full, CONNECT_TIMEOUT)
    if reply is None or reply.get("type") != "Scheduler":
        what = (
            f"a Dask {reply.get('type')}"
            if reply and reply.get("type")
            else f"no answer as a Dask server within {CONNECT_TIMEOUT:g} s"
        )
        fail(
            "scheduler",
            owner,
            f"a reachable Dask scheduler (something listens there, but: {what})",
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


_BACKEND = "dropout-study-dask"


def joblib_config(addr: str):
    """``joblib.parallel_config`` that sends the tasks of every ``joblib.Parallel`` inside it
    to the cluster at ``addr``: joblib's Dask backend, except that a cluster of one worker
    thread also gets the tasks. (joblib's own backend reports one job there, and
    ``Parallel`` then runs every task in the calling process — its shortcut for
    ``n_jobs == 1`` — so a one-worker cluster was never used.)"""
    import joblib

    if _BACKEND not in joblib.parallel.BACKENDS:
        from joblib._dask import DaskDistributedBackend

        class _AlwaysOnCluster(DaskDistributedBackend):
            def effective_n_jobs(self, n_jobs):
                return max(2, super().effective_n_jobs(n_jobs))

        joblib.register_parallel_backend(_BACKEND, _AlwaysOnCluster)
    return joblib.parallel_config(backend=_BACKEND, client=client(addr))
