"""The cache key of an executed chapter and the test of whether a cached copy is fresh.

The key (SHA-256, stored in ``run.json``) covers:

- the chapter's source file (bytes) and its id;
- the resolved parameters and the profile;
- the **code** it runs: :func:`dropout_study.codehash.code_hash` — the normalised hashes
  (AST without comments and docstrings) of the package modules its code cells and experiment
  module import, followed transitively. A comment or docstring edit re-executes nothing; an
  edit of a module no chapter imports re-executes only the chapters that import it;
- the versions of the dependencies that can change a number or its rendering, and the hash
  of the lock file they were installed from (:func:`dropout_study.provenance.lock_hash`).

The git commit is *not* in the key: a result is reused across commits whose code is
identical, and :func:`mark_reused` then records (in ``run.json`` and on the page) "ran at
commit X; code identical to commit Y".

A cached copy is fresh (:func:`is_fresh`) only if its key matches **and** every file listed
in its ``run.json`` (notebook, metrics, figures) is present with the SHA-256 recorded when it
was written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from dropout_study import paths
from dropout_study.book import confirm
from dropout_study.book import source as chapters
from dropout_study.book.report import RUN_FILE
from dropout_study.codehash import code_hash, experiment_file, science_hash
from dropout_study.provenance import (
    canonical_json,
    dependency_versions,
    git_commit,
    lock_hash,
    sha256_bytes,
)
from dropout_study.sweep import cellcache

__all__ = [
    "cache_key",
    "chapter_code_hash",
    "chapter_science_hash",
    "is_fresh",
    "file_hashes",
    "mark_reused",
    "provenance_cell",
    "provenance_text",
    "prune_sweep_cache",
]

PROVENANCE_TAG = "dropout-study-provenance"


def _code_cells(source: Path) -> list[str]:
    import jupytext

    nb = jupytext.read(source)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def chapter_code_hash(spec: chapters.ChapterSpec, package_dir: Path | None = None) -> str:
    """The normalised hash of the code the chapter runs (see module docstring)."""
    pkg = Path(package_dir) if package_dir is not None else paths.PACKAGE
    extra = experiment_file(spec.experiment)
    return code_hash(
        ["dropout_study.book.report", spec.experiment],
        pkg,
        sources=_code_cells(Path(spec.source)),
        extra_files=[extra] if extra else [],
    )


def chapter_science_hash(spec: chapters.ChapterSpec, package_dir: Path | None = None) -> str:
    """The hash of the chapter's *science* (:func:`dropout_study.codehash.science_hash` of its
    experiment module and its notebook's code cells): what a confirmation is keyed on, so an
    edit of the book machinery leaves it current."""
    pkg = Path(package_dir) if package_dir is not None else paths.PACKAGE
    return science_hash(spec.experiment, pkg, _code_cells(Path(spec.source)))


def cache_key(
    spec: chapters.ChapterSpec, params: Mapping, profile: str, package_dir: Path | None = None
) -> str:
    """SHA-256 of everything an executed chapter depends on (see module docstring)."""
    return sha256_bytes(
        canonical_json(
            {
                "chapter": spec.id,
                "source": sha256_bytes(Path(spec.source).read_bytes()),
                "parameters": dict(params),
                "profile": profile,
                "code": chapter_code_hash(spec, package_dir),
                "dependencies": dependency_versions(),
                "lock": lock_hash(),
                # the page says whether the fresh-seed (full) run confirmed its verdict
                "confirmation": confirm.load(spec.id, Path(spec.source).parents[2]),
            }
        ).encode()
    )


def file_hashes(directory: Path) -> dict[str, str]:
    """``{relative path: SHA-256}`` of every file under ``directory`` except ``run.json``."""
    directory = Path(directory)
    out = {}
    for p in sorted(directory.rglob("*")):
        if p.is_file() and p.name != RUN_FILE:
            out[p.relative_to(directory).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _context(dest: Path) -> dict | None:
    try:
        ctx = json.loads((Path(dest) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return ctx if isinstance(ctx, dict) else None


def is_fresh(dest: Path, chapter_id: str, key: str) -> bool:
    """True if ``dest`` holds a complete, intact executed copy made with cache key ``key``."""
    dest = Path(dest)
    ctx = _context(dest)
    if ctx is None or ctx.get("key") != key or ctx.get("chapter", chapter_id) != chapter_id:
        return False
    files = ctx.get("files")
    if not isinstance(files, dict):
        return False
    for name in (f"{chapter_id}.ipynb", "metrics.json"):
        if name not in files:
            return False
    for rel, digest in files.items():
        f = dest / rel
        try:
            if hashlib.sha256(f.read_bytes()).hexdigest() != digest:
                return False
        except OSError:
            return False
    return True


def _short(git: Mapping | None) -> str | None:
    if not git or not git.get("commit"):
        return None
    return git["commit"][:10] + (" with uncommitted changes" if git.get("dirty") else "")


def provenance_text(ran: Mapping | None, reused: Mapping | None = None, version: str = "") -> str:
    """ "Ran with dropout-study V at commit X[; code identical to commit Y]."."""
    ran_s = _short(ran) or "an unknown commit"
    text = f"Ran with dropout-study {version} at commit {ran_s}".replace("  ", " ")
    reused_s = _short(reused)
    if reused_s and reused_s != _short(ran):
        text += f"; code identical to commit {reused_s}"
    return text + "."


def provenance_cell(nbformat, reused: Mapping | None = None):
    """The markdown cell under the parameters table that names the version and commit."""
    from dropout_study import __version__

    cell = nbformat.v4.new_markdown_cell(
        provenance_text(git_commit(), reused, __version__), metadata={"tags": [PROVENANCE_TAG]}
    )
    return cell


def mark_reused(dest: Path, chapter_id: str) -> None:
    """A fresh cached copy is being reused: if the checkout's commit differs from the one it
    ran at, record ``code_identical_to`` in ``run.json`` and say so on the page; if it is the
    one it ran at again, drop such a note."""
    import nbformat

    dest = Path(dest)
    ctx = _context(dest)
    now = git_commit()
    if ctx is None or not now.get("commit"):
        return
    ran = (ctx.get("provenance") or {}).get("git")
    back_home = bool(ran) and ran == now  # the checkout is where it ran again
    if back_home and "code_identical_to" not in ctx:
        return
    if not back_home and ctx.get("code_identical_to") == now:
        return
    from dropout_study import __version__

    nb_path = dest / f"{chapter_id}.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    for c in nb.cells:
        if PROVENANCE_TAG in c.metadata.get("tags", []):
            c.source = provenance_text(ran, now, __version__)
    nbformat.write(nb, nb_path)
    if back_home:  # an earlier note ("identical to … with uncommitted changes") is stale
        ctx.pop("code_identical_to", None)
    else:
        ctx["code_identical_to"] = now
    ctx["files"] = file_hashes(dest)
    (dest / RUN_FILE).write_text(json.dumps(ctx, indent=2) + "\n", encoding="utf-8")


def prune_sweep_cache(cache_dir=None, project=None) -> list[Path]:
    """Release the sweep-cache folders of code no chapter of ``project`` (default: this
    checkout) runs any more (``<cache_dir>/<code hash>/``, see
    :mod:`dropout_study.sweep.cellcache`; a chapter's cells live under its science hash):
    this checkout's record of using each goes, and a folder goes with it only when no other
    checkout recorded it and no process holds it (:func:`~dropout_study.sweep.cellcache.release`).
    Folders this checkout never recorded — another checkout's, or older caches — are kept.
    Returns the folders deleted. ``cache_dir`` defaults to where
    :func:`~dropout_study.sweep.runner.run_sweep` keeps cells."""
    import os
    import re

    from dropout_study.book.project import Project

    if cache_dir is None:
        env = os.environ.get("DROPOUT_STUDY_SWEEP_CACHE")
        if env == "off":
            return []
        cache_dir = env or paths.SWEEP_CACHE
    cache_dir = Path(cache_dir)
    if not cache_dir.is_dir():
        return []
    project = project if project is not None else Project()
    pkg = project.package_dir or paths.PACKAGE
    current = set()
    for cid in project.chapters:
        module = chapters.chapter_package(cid) + ".experiment"
        if project.source(cid).is_file():
            module = project.spec(cid).experiment
        current.add(science_hash(module, pkg)[:16])
    gone = []
    for d in sorted(cache_dir.iterdir()):
        if d.is_dir() and re.fullmatch(r"[0-9a-f]{16}", d.name) and d.name not in current:
            if cellcache.release(d):
                gone.append(d)
    return gone
