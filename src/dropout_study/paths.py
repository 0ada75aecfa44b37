"""Every path the study uses, in one place.

``ROOT`` is the project checkout (``DROPOUT_STUDY_ROOT`` overrides it). Generated outputs
live under ``book/generated`` (git-ignored) and caches under ``.cache`` (git-ignored).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ROOT", "BOOK", "CHAPTER_SOURCES", "CACHE", "SWEEP_CACHE", "PACKAGE"]

PACKAGE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("DROPOUT_STUDY_ROOT", PACKAGE.parent.parent)).resolve()
BOOK = ROOT / "book"
CHAPTER_SOURCES = BOOK / "chapters"
CACHE = ROOT / ".cache"
SWEEP_CACHE = CACHE / "sweeps"
