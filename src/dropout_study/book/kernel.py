"""The chapter's kernel: a clean environment, and a record of its process so it can be ended.

:func:`kernel_env` is the environment a chapter's kernel starts with: the caller's, minus what
would change the study's output — matplotlib's backend (``MPLBACKEND``), rc files
(``MATPLOTLIBRC``; ``MPLCONFIGDIR`` points at an empty directory, so no user
``matplotlibrc`` or style is read), IPython's profile and start-up files (``IPYTHONDIR`` points
at an empty directory), Jupyter's configuration (``JUPYTER_CONFIG_DIR``), ``PYTHONSTARTUP``
and ``PYTHONWARNINGS``. The backend is set to matplotlib-inline's.

:func:`manager_class` is papermill's kernel manager talking over local IPC sockets, which
records every kernel it starts; :func:`end_kernels` kills those kernels and their process
groups (jupyter-client starts each kernel in its own session, so its joblib workers are in
its group) — used on Ctrl-C and on any failure.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping

__all__ = ["ISOLATED", "kernel_env", "manager_class", "end_kernels"]

ISOLATED = (
    "MPLBACKEND",
    "MATPLOTLIBRC",
    "MPLCONFIGDIR",
    "IPYTHONDIR",
    "JUPYTER_CONFIG_DIR",
    "PYTHONSTARTUP",
    "PYTHONWARNINGS",
    "PYTHONINSPECT",
)
"""Variables the kernel never inherits."""

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"

_LIVE: dict[int, int] = {}  # kernel pid -> process group id
_EMPTY: dict[str, str] = {}


def _empty_dir(kind: str) -> str:
    """A directory of this process for the kernels' ``kind`` configuration, removed at exit.
    Only our kernels use it: they may leave caches there (matplotlib's font list, IPython's
    history), but no configuration — any rc, style or start-up file found is deleted."""
    path = _EMPTY.get(kind)
    if path is None or not os.path.isdir(path):
        path = tempfile.mkdtemp(prefix=f"dropout-study-{kind}-")
        _EMPTY[kind] = path
        atexit.register(shutil.rmtree, path, True)
    for sub in (
        "matplotlibrc",
        "stylelib",
        "profile_default/startup",
        "profile_default/ipython_config.py",
        "profile_default/ipython_kernel_config.py",
        "jupyter_config.json",
        "jupyter_config.py",
    ):
        target = os.path.join(path, sub)
        if os.path.isdir(target):
            shutil.rmtree(target, ignore_errors=True)
        elif os.path.exists(target):
            os.remove(target)
    return path


def kernel_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The kernel's environment (see module docstring)."""
    env = {
        k: v for k, v in (os.environ if environ is None else environ).items() if k not in ISOLATED
    }
    env["MPLBACKEND"] = INLINE_BACKEND
    env["MPLCONFIGDIR"] = _empty_dir("mpl")
    env["IPYTHONDIR"] = _empty_dir("ipython")
    env["JUPYTER_CONFIG_DIR"] = _empty_dir("jupyter")
    return env


def manager_class():
    """An ``AsyncKernelManager`` over IPC sockets with a clean environment that records its
    kernel's process (see :func:`end_kernels`).

    Only jupyter-client's public API: ``start_kernel(**kw)`` passes its keyword arguments
    down to the kernel's ``Popen`` (documented since jupyter-client 7: the environment, and
    here standard output and error), and ``provisioner.pid``/``pgid`` name the process it
    started (``LocalProvisioner``)."""
    from jupyter_client.manager import AsyncKernelManager

    class _StudyKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.transport = "ipc"

        async def start_kernel(self, **kw):
            kw["env"] = kernel_env(kw.get("env"))
            # The kernel's own chatter (e.g. ZMQ errors while it is being ended on Ctrl-C)
            # never reaches the user's terminal: a failure is reported as one line by the
            # pipeline. DROPOUT_STUDY_DEBUG=1 keeps it.
            if not os.environ.get("DROPOUT_STUDY_DEBUG"):
                kw.setdefault("stdout", subprocess.DEVNULL)
                kw.setdefault("stderr", subprocess.DEVNULL)
            try:
                return await super().start_kernel(**kw)
            finally:  # recorded even when the start is interrupted after the launch
                pid = getattr(self.provisioner, "pid", None) if self.provisioner else None
                if pid:
                    _LIVE[pid] = getattr(self.provisioner, "pgid", None) or pid

        async def shutdown_kernel(self, *args, **kw):
            pid = getattr(self.provisioner, "pid", None) if self.provisioner else None
            try:
                return await super().shutdown_kernel(*args, **kw)
            finally:
                _LIVE.pop(pid, None)

    return _StudyKernelManager


def end_kernels() -> None:
    """Kill every recorded kernel and its process group (workers included)."""
    for pid, pgid in list(_LIVE.items()):
        try:
            if pgid and pgid != os.getpgrp():
                os.killpg(pgid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        _LIVE.pop(pid, None)
