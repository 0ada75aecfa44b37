"""The cache key of an executed chapter and the test of whether a cached copy is fresh."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from dropout_study import chapters, confirm
from dropout_study.provenance import canonical_json, dependency_versions, package_hash, sha256_bytes
from dropout_study.report import RUN_FILE

__all__ = ["cache_key", "is_fresh"]


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
                "package": package_hash(package_dir),
                "dependencies": dependency_versions(),
                # the page says whether the fresh-seed (full) run confirmed its verdict
                "confirmation": confirm.load(spec.id, Path(spec.source).parents[2]),
            }
        ).encode()
    )


def is_fresh(dest: Path, chapter_id: str, key: str) -> bool:
    """True if ``dest`` holds a complete executed copy made with cache key ``key``."""
    dest = Path(dest)
    run = dest / RUN_FILE
    if not (run.is_file() and (dest / f"{chapter_id}.ipynb").is_file()):
        return False
    if not (dest / "metrics.json").is_file():
        return False
    try:
        return json.loads(run.read_text(encoding="utf-8")).get("key") == key
    except ValueError:
        return False
