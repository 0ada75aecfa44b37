"""Running sweeps on a Dask cluster (the optional ``cluster`` extra: ``dask``, ``distributed``).

The scheduler's address reaches every sweep through the environment variable
``DASK_SCHEDULER_ADDRESS`` (the variable Dask itself reads for ``scheduler-address``):
``dropout-study run|build --scheduler ADDRESS`` checks the address and sets it in its own
environment, which the chapters' kernels inherit, so :func:`dropout_study.sweep.run_sweep`
inside a notebook sends its cells to the cluster through joblib's Dask backend.

Numbers do not depend on where a cell runs: each cell derives its randomness from the seeds
it carries and runs with one BLAS thread (:mod:`dropout_study.sweep`), on a worker as locally.
"""

from __future__ import annotations

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
    """``tcp://host:port`` (or ``host:port``) → ``(host, port)``; one-line ValueError if not."""
    allowed = "a Dask scheduler address tcp://HOST:PORT"
    if not isinstance(addr, str) or not addr.strip():
        fail("scheduler", owner, allowed, addr)
    text = addr.strip()
    parts = urlsplit(text if "://" in text else f"tcp://{text}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or port is None:
        fail("scheduler", owner, allowed, addr)
    return parts.hostname, port


def check_scheduler(addr: str, owner: str = "dropout-study") -> str:
    """Check that ``addr`` names a reachable Dask scheduler and that the ``cluster`` extra is
    installed; return the address in ``tcp://host:port`` form.

    Raises a one-line ValueError (unparsable or unreachable address, within
    :data:`CONNECT_TIMEOUT` seconds) or ImportError-as-ValueError (``distributed`` missing)
    before any work starts.
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
    return text if "://" in text else f"tcp://{text}"


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
