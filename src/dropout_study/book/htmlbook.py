"""The HTML book: one build of a project at a time, and jupyter-book's output swapped in whole.

:func:`build_lock` is the lock a whole ``build`` holds (``_build/.dropout-study-build.lock``,
see :mod:`dropout_study.locks`); a second build stops at once with :class:`BuildBusy` naming
the first (pid, start time, command) instead of racing it inside Sphinx.

:func:`jupyter_book_build` runs ``jupyter-book build <root> -W -n --keep-going`` into a fresh
staging folder (``_build/.html-staging``) and replaces ``_build/html`` with its result in one
atomic exchange, so a build killed or interrupted while pages are written leaves the previous
book (or none), and every page is written afresh: nothing depends on modification times.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from dropout_study import locks
from dropout_study.book import outputs
from dropout_study.book.project import BuildFailed, Project

__all__ = ["BUILD_LOCK", "STAGING", "BuildBusy", "build_lock", "jupyter_book_build"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

BUILD_LOCK = Path("_build") / ".dropout-study-build.lock"
"""The lock one build of a project holds from start to end (relative to the project root)."""

STAGING = Path("_build") / ".html-staging"
"""Where jupyter-book writes a new HTML book before it replaces ``_build/html`` whole."""


class BuildBusy(BuildFailed):
    """Another process is building the same book."""


@contextlib.contextmanager
def build_lock(project: Project):
    """Hold the project's build lock (:data:`BUILD_LOCK`, see :mod:`dropout_study.locks`) for
    the body; :class:`BuildBusy` naming the other build (pid, start time, command) if another
    process holds it."""
    path = Path(project.root) / BUILD_LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(locks.hold(path))
        except locks.Busy as exc:
            raise BuildBusy(
                f"Another dropout-study build of {Path(project.root).resolve()} is running "
                f"({locks.describe(exc.holder)}); wait for it to finish, then build again."
            ) from None
        yield


def _jupyter_book() -> list[str]:
    """The ``jupyter-book`` command of this environment."""
    exe = Path(sys.executable).parent / "jupyter-book"
    return [str(exe) if exe.exists() else "jupyter-book"]


def jupyter_book_build(project: Project, *, log: Callable[[str], None] = print) -> Path:
    """``jupyter-book build <root> -W -n --keep-going`` into :data:`STAGING`, a fresh folder,
    whose ``html`` then replaces ``_build/html`` whole (:func:`dropout_study.book.outputs.swap_in`:
    one atomic exchange). A build that fails or is interrupted leaves the previous book (or
    none) and its staging folder, which the next build deletes before it starts. Every page
    is written afresh, so no page depends on file modification times. Returns
    ``_build/html/index.html``."""
    root = Path(project.root)
    html = root / "_build" / "html"
    staging = root / STAGING
    shutil.rmtree(staging, ignore_errors=True)  # what an interrupted build left
    outputs.recover(html)
    cmd = [*_jupyter_book(), "build", str(root), "-W", "-n", "--keep-going"]
    t0 = time.perf_counter()
    log("building HTML: " + " ".join(["jupyter-book", *cmd[1:]]))
    try:
        proc = subprocess.run(
            [*cmd, "--path-output", str(staging)], capture_output=True, text=True, cwd=root
        )
        built = staging / "_build" / "html"
        if proc.returncode != 0 or not (built / "index.html").is_file():
            lines = _ANSI.sub("", proc.stdout + proc.stderr).splitlines()
            problems = [ln for ln in lines if "WARNING" in ln or "ERROR" in ln] or lines[-30:]
            raise BuildFailed("jupyter-book build failed:\n" + "\n".join(problems))
        outputs.swap_in(built, html)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    dt = time.perf_counter() - t0
    index = html.resolve() / "index.html"
    log(f"built in {dt:.1f} s: {index}")
    return index
