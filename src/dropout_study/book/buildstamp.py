"""A warm ``build`` with nothing changed, answered from a stamp in well under a second.

After a successful build :meth:`Stamp.finish` writes ``_build/.dropout-study-stamp.json``
(atomically) holding

- the **inputs digest** (:func:`inputs_digest`), taken when that build *started*: the profile,
  the ``html`` flag, the project's root, registered chapters and package directory, the Python
  version, the installed distributions (the names of the ``*.dist-info`` folders of
  site-packages, which carry the versions), the git commit and ``dirty`` flag of the package's
  checkout (a cached chapter's page names them, see :func:`dropout_study.book.cache.mark_reused`),
  the environment variables in :data:`ENV_VARS`, the year the footer shows
  (:func:`dropout_study.book.sphinxext.build_year`), and the SHA-256 of every file under the
  project root (:func:`input_files`) and under the package directory, plus any experiment
  module a chapter names outside the package (a test fixture's);
- the **outputs' signature**: the SHA-256 of every file under ``book/generated`` and, with
  ``html``, under ``_build/html`` (contents, never modification times: a folder restored from
  a backup that keeps old times is still seen as changed; lock files are left out);
- each chapter's id and destination, and the time the build finished.

:meth:`Stamp.reuse` answers the next ``build`` (not ``--force``) before any chapter spec is
read or experiment imported when the digest matches and the files under the output folders
are exactly the recorded ones with their recorded contents: an extra file counts as a change
too (an extra page under ``book/generated`` would enter the book). It
prints each chapter's "cached" line with the verdict from its ``metrics.json`` (and, with
``html``, "book unchanged since <time>: <index.html>") and returns the
:class:`~dropout_study.book.project.RunResult` list the full path would return. Otherwise it
deletes the stamp and the build takes its full path, which writes a new stamp only at its very
end: a failed or interrupted build leaves none.

What the digest leaves out, and why it cannot change the book: ``.git`` (the commit and dirty
flag are in), ``.venv`` (the distributions are in), ``_build``, the outputs, the caches
(``.cache``, ``__pycache__``, ``.pytest_cache``, ``.ruff_cache``, ``.mypy_cache``,
``*.egg-info``), the run folders ``runs/`` and ``results/``, and ``tests/`` and
``benchmarks/`` — jupyter-book excludes all of these (``_config.yml``), no chapter imports
from them (an experiment outside the package is hashed by its own file), and an edit of a
tracked file there shows in the dirty flag. Environment variables that only change *where* or
*how fast* a chapter runs (``DASK_SCHEDULER_ADDRESS``, ``DROPOUT_STUDY_JOBS``,
``DROPOUT_STUDY_CHAPTER_JOBS``, ``DROPOUT_STUDY_SWEEP_CACHE``, ``DROPOUT_STUDY_DEBUG``) are not
in it: a build with every chapter cached does not read them.

This module imports no numpy, scikit-learn, matplotlib, nbformat or jupytext.
"""

from __future__ import annotations

import hashlib
import json
import os
import site
import sys
import sysconfig
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from dropout_study import paths
from dropout_study.book import cache
from dropout_study.book.project import Project, RunResult
from dropout_study.book.records import DamagedRecord, read_metrics
from dropout_study.chapters.verdicts import label

__all__ = ["STAMP", "ENV_VARS", "Stamp", "inputs_digest", "input_files", "output_signature"]

STAMP = Path("_build") / ".dropout-study-stamp.json"
"""Where the stamp lives, relative to the project root."""

ENV_VARS = ("PYTHONPATH", "DROPOUT_STUDY_ROOT", "SOURCE_DATE_EPOCH")
"""Environment variables that can change what a build with every chapter cached produces:
which modules a chapter's code resolves to, which checkout is the project, the footer's year."""

SKIP_TOP = {".git", ".venv", "_build", ".cache", "runs", "results", "tests", "benchmarks"}
"""Top-level entries of the project root that are not inputs of the book (module docstring)."""

SKIP_ANY = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
"""Folders skipped at any depth: caches of Python and the tools."""


def _walk_files(root: Path, skip_top: Iterable[str] = (), skip_rel: Iterable[str] = ()):
    """Relative POSIX paths and ``os.stat_result`` of the files under ``root`` (sorted),
    skipping :data:`SKIP_ANY`, ``*.egg-info`` and ``*.pyc`` everywhere, the names
    ``skip_top`` directly under ``root`` and the relative paths ``skip_rel``."""
    root = Path(root)
    skip_top, skip_rel = set(skip_top), set(skip_rel)
    out: list[tuple[str, os.stat_result | None]] = []
    stack = [("", str(root))]
    while stack:
        rel_dir, abs_dir = stack.pop()
        try:
            entries = list(os.scandir(abs_dir))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for e in entries:
            rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
            if (not rel_dir and e.name in skip_top) or rel in skip_rel:
                continue
            if e.is_dir():  # follows symlinks, as reading the files would
                if e.name in SKIP_ANY or e.name.endswith(".egg-info"):
                    continue
                stack.append((rel, e.path))
            elif not e.name.endswith(".pyc"):
                try:
                    out.append((rel, e.stat()))
                except OSError:  # a dangling link
                    out.append((rel, None))
    return sorted(out, key=lambda t: t[0])


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def _output_dirs(project: Project, html: bool) -> list[Path]:
    dirs = [project.generated]
    if html:
        dirs.append(Path(project.root) / "_build" / "html")
    return dirs


def input_files(project: Project) -> list[tuple[str, Path]]:
    """``(label, path)`` of every file the book can depend on: the project root's files (see
    the module docstring for what is left out), the package directory's, and experiment
    modules outside the package that a chapter's front matter names."""
    root = Path(project.root)
    generated = Path(project.generated)
    skip_rel = set()
    try:
        skip_rel.add(generated.relative_to(root).as_posix())
    except ValueError:
        pass
    files = [(f"root/{rel}", root / rel) for rel, _ in _walk_files(root, SKIP_TOP, skip_rel)]
    pkg = Path(project.package_dir) if project.package_dir is not None else paths.PACKAGE
    try:  # the package of a checkout is hashed with the root already
        inside = pkg.resolve().relative_to(root.resolve()).parts
    except ValueError:
        inside = None
    if not inside or inside[0] in SKIP_TOP or SKIP_ANY.intersection(inside):
        files += [(f"package/{rel}", pkg / rel) for rel, _ in _walk_files(pkg)]
    for module, path in _outside_experiments(project):
        files.append((f"experiment/{module}", path))
    return files


def _outside_experiments(project: Project) -> list[tuple[str, Path]]:
    """Experiment modules outside the package named in the chapters' front matter (the test
    fixtures' ``tiny_experiment``), found without importing them."""
    import importlib.util

    import yaml  # already imported by dropout_study.book.project

    out = []
    for src in sorted(Path(project.sources).glob("*.md")):
        text = src.read_text(encoding="utf-8")
        if not text.startswith("---"):
            continue
        end = text.find("\n---", 3)
        if "experiment:" not in text[:end]:  # the default, inside the package
            continue
        try:
            meta = yaml.safe_load(text[3:end]) if end > 0 else None
        except yaml.YAMLError:
            meta = None
        module = ((meta or {}).get("dropout_study") or {}).get("experiment")
        if not isinstance(module, str) or module.split(".")[0] == "dropout_study":
            continue
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin and os.path.isfile(spec.origin):
            out.append((module, Path(spec.origin)))
        else:
            out.append((module, Path("/nonexistent") / module))
    return out


def _distributions() -> list[str]:
    """Names of the ``*.dist-info`` folders (name and version) in site-packages."""
    dirs = {*site.getsitepackages(), sysconfig.get_paths()["purelib"]}
    dirs.add(sysconfig.get_paths()["platlib"])
    if site.ENABLE_USER_SITE:
        dirs.add(site.getusersitepackages())
    names = []
    for d in sorted(dirs):
        try:
            names += [f"{d}/{n}" for n in os.listdir(d) if n.endswith(".dist-info")]
        except OSError:
            continue
    return sorted(names)


def _footer_year() -> int:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), tz=UTC).year
        except (ValueError, OverflowError, OSError):
            return -1
    return datetime.now(tz=UTC).year


def inputs_digest(project: Project, *, profile: str, html: bool) -> str:
    """SHA-256 of everything a build's result depends on (see the module docstring)."""
    h = hashlib.sha256()

    def add(*parts) -> None:
        h.update(json.dumps(parts, default=str).encode())
        h.update(b"\n")

    add("profile", profile, "html", bool(html))
    add("root", str(Path(project.root).resolve()), "chapters", list(project.chapters or ()))
    add("package_dir", str(project.package_dir), str(paths.PACKAGE))
    add("python", sys.version, sys.executable)
    add("distributions", _distributions())
    add("git", cache.git_commit())  # the very call whose answer mark_reused writes on pages
    add("env", {k: os.environ.get(k) for k in ENV_VARS}, "year", _footer_year())
    for name, path in input_files(project):
        add(name, _sha256(path))
    return h.hexdigest()


def output_signature(project: Project, html: bool) -> dict[str, str]:
    """``{path: SHA-256}`` of every file under the output folders (lock files left out)."""
    out = {}
    for d in _output_dirs(project, html):
        base = d.as_posix()
        for rel, _ in _walk_files(d):
            if rel.rsplit("/", 1)[-1].endswith(".lock"):
                continue
            out[f"{base}/{rel}"] = _sha256(d / rel)
    return out


class Stamp:
    """The stamp of one build of ``project`` (see the module docstring)."""

    def __init__(self, project: Project, *, profile: str, html: bool):
        self.project = project
        self.profile = profile
        self.html = bool(html)
        self.path = Path(project.root) / STAMP
        self.digest = inputs_digest(project, profile=profile, html=html)  # as the build starts

    @classmethod
    def begin(
        cls,
        project: Project,
        *,
        profile: str,
        html: bool,
        force: bool,
        log: Callable[[str], None] = print,
    ) -> tuple[list[RunResult] | None, Stamp]:
        """The hook at the start of ``pipeline.build``: ``(results, stamp)`` where
        ``results`` is the answer from an intact stamp (nothing to do) or ``None``, after
        which the stamp file is gone and the build must take its full path."""
        stamp = cls(project, profile=profile, html=html)
        results = None if force else stamp.reuse(log)
        if results is None:
            stamp.clear()
        return results, stamp

    def clear(self) -> None:
        """Delete the stamp file: until the next successful build there is none."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def _load(self) -> dict | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def reuse(self, log: Callable[[str], None] = print) -> list[RunResult] | None:
        """The build's results if the stamp is intact and matches (logging what the full path
        would log for cached chapters), else ``None``."""
        data = self._load()
        if data is None or data.get("inputs") != self.digest:
            return None
        try:
            if output_signature(self.project, self.html) != data.get("outputs"):
                return None
            chapters = [(c["chapter"], Path(c["dest"])) for c in data["chapters"]]
        except (ValueError, KeyError, TypeError):
            return None
        results = []
        width = max((len(c) for c, _ in chapters), default=0)
        for i, (cid, dest) in enumerate(chapters, 1):
            t0 = time.perf_counter()
            try:
                record = read_metrics(dest)
                word = label(record["verdict"]["word"])
            except (DamagedRecord, KeyError, TypeError):
                return None
            dt = time.perf_counter() - t0
            results.append(RunResult(cid, dest, False, dt, record))
            log(f"[{i}/{len(chapters)}] {cid:<{width}}  {'cached':<8}  {dt:6.1f} s  {word}")
        if self.html:  # where the full path would say "built in …"
            where = Path(self.project.root).resolve() / "_build" / "html" / "index.html"
            log(f"book unchanged since {data.get('finished_at')}: {where}")
        return results

    def finish(self, results: Iterable[RunResult]) -> Path | None:
        """The hook at the end of a successful ``pipeline.build``: write the stamp
        atomically (digest from the start of the build, outputs as they are now). Writes
        nothing (returns ``None``) if the HTML build left no ``index.html``."""
        index = Path(self.project.root) / "_build" / "html" / "index.html"
        if self.html and not index.is_file():
            return None
        data = {
            "inputs": self.digest,
            "profile": self.profile,
            "html": self.html,
            "finished_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "chapters": [{"chapter": r.chapter, "dest": str(r.dest)} for r in results],
            "outputs": output_signature(self.project, self.html),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)
        return self.path
