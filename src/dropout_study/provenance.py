"""Where a result came from: package version and source hash, git commit, dependency versions
and the hash of the lock file they were installed from.

Everything here is deterministic for a given checkout and environment (no clocks), so two runs
with the same parameters write byte-identical provenance. A time stamp, where one is wanted,
goes in a separate field (see :func:`timestamp`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from dropout_study import __version__, paths
from dropout_study.codehash import package_code_hash

__all__ = [
    "DEPENDENCIES",
    "dependency_versions",
    "git_commit",
    "lock_hash",
    "provenance",
    "canonical_json",
    "sha256_bytes",
    "timestamp",
]

DEPENDENCIES = (
    "numpy",
    "scipy",
    "scikit-learn",
    "matplotlib",
    "joblib",
    "pyyaml",
    "papermill",
    "jupytext",
    "ipykernel",
    "myst-nb",
    "jupyter-book",
)
"""Distributions whose versions can change a result or its rendering."""


@functools.cache
def dependency_versions() -> dict[str, str]:
    """``{distribution: version}`` for :data:`DEPENDENCIES` plus ``python``."""
    out = {"python": platform.python_version()}
    for name in DEPENDENCIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit(where: Path | None = None) -> dict:
    """``{"commit": sha or None, "dirty": bool or None}`` of the checkout holding ``where``
    (default: the package's own source). ``dirty`` is true when tracked files differ from the
    commit; both are ``None`` outside a git checkout or without git."""
    where = Path(where) if where is not None else paths.PACKAGE

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(where), *args], capture_output=True, text=True, check=True, timeout=20
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


LOCK_FILE = paths.PACKAGE.parent.parent / "requirements.lock"
"""The lock of the checkout the package is imported from (``make book`` installs it)."""


def lock_hash(lock_file: Path | None = None) -> str | None:
    """SHA-256 of the lock file's bytes (default :data:`LOCK_FILE`), or ``None`` where there is
    no lock (a package installed without its checkout)."""
    try:
        return hashlib.sha256(Path(lock_file or LOCK_FILE).read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


@functools.cache
def _provenance() -> str:
    return canonical_json(
        {
            "package": "dropout-study",
            "version": __version__,
            "package_hash": package_code_hash(paths.PACKAGE),
            "git": git_commit(),
            "dependencies": dependency_versions(),
            "lock_sha256": lock_hash(),
        }
    )


def provenance() -> dict:
    """Package version, package source hash, git commit (with ``dirty``), dependency
    versions and the lock's hash (``lock_sha256``). Computed once per process (a kernel runs
    one chapter), so every file of a run records the code that was imported, even if the
    checkout is edited meanwhile."""
    return json.loads(_provenance())


def canonical_json(obj) -> str:
    """JSON with sorted keys and no spaces: the form that is hashed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def timestamp() -> str:
    """The current UTC time, ISO 8601 to the second (kept apart from deterministic fields)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()
