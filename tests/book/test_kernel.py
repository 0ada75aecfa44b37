"""The seam with jupyter-client (book/kernel.py): the kernel's clean environment and quiet
output pass through the public ``start_kernel(**kw)`` (Popen keyword arguments) and its
process is known through ``provisioner.pid``. If a jupyter-client release stops honouring
either, this test fails loudly — the chapters would otherwise run with the user's
matplotlib and IPython settings, or leak kernels on Ctrl-C."""

from __future__ import annotations

import asyncio
import inspect
import os
from pathlib import Path

from dropout_study.book import kernel


def test_the_manager_overrides_only_public_methods():
    from jupyter_client.manager import AsyncKernelManager

    cls = kernel.manager_class()
    own = {n for n, v in vars(cls).items() if callable(v) and n != "__init__"}
    assert own == {"start_kernel", "shutdown_kernel"}
    for name in own:
        assert not name.startswith("_") and inspect.iscoroutinefunction(getattr(cls, name))
        assert hasattr(AsyncKernelManager, name)


def test_the_clean_environment_and_quiet_output_reach_the_kernel_process(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # a user's setting the kernel must not inherit
    monkeypatch.setenv("PYTHONSTARTUP", "/nonexistent/startup.py")
    monkeypatch.delenv("DROPOUT_STUDY_DEBUG", raising=False)

    async def start_and_look():
        km = kernel.manager_class()(kernel_name="python3")
        await km.start_kernel()
        try:
            pid = km.provisioner.pid
            assert kernel._LIVE.get(pid), "the kernel's process was not recorded"
            raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            env = dict(e.decode().split("=", 1) for e in raw if b"=" in e)
            outs = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in (1, 2)]
            return pid, env, outs
        finally:
            await km.shutdown_kernel(now=True)

    pid, env, outs = asyncio.run(start_and_look())
    assert env["MPLBACKEND"] == kernel.INLINE_BACKEND
    assert "PYTHONSTARTUP" not in env
    assert env["MPLCONFIGDIR"] == kernel.kernel_env({})["MPLCONFIGDIR"]
    assert outs == ["/dev/null", "/dev/null"]
    assert pid not in kernel._LIVE  # forgotten once shut down
