"""Progress of a long run, shown where the user is watching: the CLI's standard error.

The kernel that executes a chapter must not print progress into the notebook (executed
notebooks stay byte-identical between identical runs). Instead:

- the CLI (:func:`watch`) creates a side file and names it in the environment variable
  :data:`ENV` before the kernels start (they inherit the environment);
- in the kernel, :func:`sweep_bar` wraps a sweep's own (disabled) ``tqdm`` bar: every finished
  cell rewrites the side file with ``{"chapter", "sweep", "n", "done", "total"}`` (atomically);
- a thread of the CLI polls the file and draws one ``tqdm`` bar per sweep, with its ETA, on
  standard error.

Without :data:`ENV` (a notebook opened by hand, the tests) :func:`sweep_bar` returns the bar
unchanged. :func:`summary` formats the per-chapter times printed at the end of ``build``.

:func:`note` is the same idea for one-line warnings from inside a kernel (a damaged cache
entry recomputed, a cache that cannot be written): the pipeline names a notes file in
:data:`NOTES_ENV` before the kernel starts and prints what the kernel appended to it on the
command's standard error (:func:`relay_notes`); without it the line goes to standard error.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

__all__ = ["ENV", "FORCE_ENV", "NOTES_ENV", "note", "relay_notes", "sweep_bar", "watch", "summary"]

ENV = "DROPOUT_STUDY_PROGRESS"
"""Path of the side file a kernel reports finished sweep cells to."""

FORCE_ENV = "DROPOUT_STUDY_PROGRESS_BAR"
"""``always``: draw the bar even when standard error is not a terminal."""


NOTES_ENV = "DROPOUT_STUDY_NOTES"
"""Path of the file a kernel appends its one-line notes to (see :func:`note`)."""


def note(text: str) -> None:
    """Tell the user ``text`` (one line) where they are watching: appended to the notes file
    named by :data:`NOTES_ENV` (a kernel: the command relays it), else standard error. A
    note never fails the caller."""
    line = " ".join(str(text).split()) + "\n"
    path = os.environ.get(NOTES_ENV)
    try:
        if path:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
            return
    except OSError:
        pass
    with contextlib.suppress(Exception):
        sys.stderr.write(line)
        sys.stderr.flush()


@contextlib.contextmanager
def relay_notes(stream=None):
    """Around a kernel's run: name a fresh notes file in :data:`NOTES_ENV` (the kernel
    inherits it) and afterwards print each distinct line the kernel noted on ``stream``
    (default standard error) with the command's prefix."""
    stream = sys.stderr if stream is None else stream
    fd, path = tempfile.mkstemp(prefix="dropout-study-notes-")
    os.close(fd)
    old = os.environ.get(NOTES_ENV)
    os.environ[NOTES_ENV] = path
    try:
        yield Path(path)
    finally:
        if old is None:
            os.environ.pop(NOTES_ENV, None)
        else:
            os.environ[NOTES_ENV] = old
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
            os.unlink(path)
        except OSError:
            lines = []
        for line in dict.fromkeys(ln for ln in lines if ln.strip()):
            with contextlib.suppress(Exception):
                print(f"dropout-study: {line}", file=stream, flush=True)


def _chapter() -> str:
    try:
        return json.loads(Path("run.json").read_text(encoding="utf-8")).get("chapter", "")
    except (OSError, ValueError):
        return ""


class _Reporting:
    """A ``tqdm`` bar whose updates are also written to the side file."""

    _count = 0

    def __init__(self, bar, desc: str, path: Path):
        self._bar, self._path = bar, path
        _Reporting._count += 1
        self._state: dict[str, Any] = {
            "chapter": _chapter(),
            "sweep": desc,
            "n": _Reporting._count,
            "done": 0,
            "total": int(bar.total or 0),
            "pid": os.getpid(),
        }
        self._write()

    def _write(self) -> None:
        try:
            fd, tmp = tempfile.mkstemp(dir=self._path.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump(self._state, f)
            os.replace(tmp, self._path)
        except OSError:  # progress is a courtesy; never fail a run over it
            pass

    def update(self, n: int = 1):
        self._state["done"] += n
        self._write()
        return self._bar.update(n)

    def close(self):
        return self._bar.close()

    def __getattr__(self, name):
        return getattr(self._bar, name)


def sweep_bar(bar, desc: str | None = None):
    """Wrap a sweep's ``tqdm`` bar so that, under :func:`watch`, each finished cell is
    reported to the CLI; otherwise return ``bar`` itself."""
    path = os.environ.get(ENV)
    if not path:
        return bar
    return _Reporting(bar, desc or str(getattr(bar, "desc", "")), Path(path))


def _show(stream) -> bool:
    if os.environ.get(FORCE_ENV) == "always":
        return True
    if os.environ.get(FORCE_ENV) == "never":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


@contextlib.contextmanager
def watch(stream=None, interval: float = 0.25):
    """While the body runs, kernels started from this process report finished sweep cells;
    a thread draws them as ``tqdm`` bars (with ETA) on ``stream`` (default stderr)."""
    stream = sys.stderr if stream is None else stream
    if not _show(stream):
        yield None
        return
    from tqdm import tqdm

    tmpdir = tempfile.mkdtemp(prefix="dropout-study-progress-")
    path = Path(tmpdir) / "progress.json"
    old = os.environ.get(ENV)
    os.environ[ENV] = str(path)
    stop = threading.Event()

    def poll():
        bar, key, mtime = None, None, None
        while not stop.is_set():
            stop.wait(interval)
            try:
                st = path.stat().st_mtime_ns
                if st == mtime:
                    continue
                mtime = st
                state = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            this = (state.get("pid"), state.get("n"))
            if this != key:
                if bar is not None:
                    bar.close()
                key = this
                chapter, sweep = state.get("chapter") or "", state.get("sweep") or "sweep"
                label = sweep if not chapter or chapter in sweep else f"{chapter}: {sweep}"
                bar = tqdm(total=state.get("total", 0), desc=label, unit="cell", file=stream)
            bar.update(max(0, state.get("done", 0) - bar.n))
        if bar is not None:
            bar.close()

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        stop.set()
        thread.join(timeout=5)
        if old is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = old
        with contextlib.suppress(OSError):
            for f in Path(tmpdir).iterdir():
                f.unlink()
            os.rmdir(tmpdir)


def summary(results, html_seconds: float | None = None) -> str:
    """The time table printed at the end of ``build``: one line per chapter (executed or
    cached, seconds), the total, and the HTML build if given."""
    if not results:
        return "no chapters"
    width = max(len("chapters"), *(len(r.chapter) for r in results))
    lines = ["time per chapter:"]
    for r in results:
        state = "executed" if r.executed else "cached"
        lines.append(f"  {r.chapter:<{width}}  {state:<8}  {r.seconds:7.1f} s")
    total = sum(r.seconds for r in results)
    lines.append(f"  {'chapters':<{width}}  {'':<8}  {total:7.1f} s")
    if html_seconds is not None:
        lines.append(f"  {'HTML':<{width}}  {'':<8}  {html_seconds:7.1f} s")
    return "\n".join(lines)
