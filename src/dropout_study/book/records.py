"""``metrics.json`` as JSON: numpy values converted, NaN written as ``null``, infinite or absurd
(|x| > 1e12) values refused so that a chapter built on overflowed numbers fails instead of
deciding; and read back only when it is the file the run wrote (:func:`read_metrics`: its
SHA-256 against the one recorded beside it in ``run.json``), so a hand-edited number never
reaches the intro's table or the README.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from dropout_study.book.project import BuildFailed
from dropout_study.validation import fail

__all__ = [
    "ABSURD",
    "DamagedRecord",
    "check_finite",
    "dumps",
    "read_metrics",
    "to_jsonable",
]

ABSURD = 1e12
"""Metrics larger than this in magnitude are taken as overflow, not as results."""


def check_finite(obj, where: str) -> None:
    """Raise ``ValueError`` for an infinite or absurd number anywhere in ``obj``."""
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            check_finite(v, f"{where}.{k}")
    elif isinstance(obj, np.ndarray) and obj.dtype.kind in "fiu":
        finite = obj[~np.isnan(obj)] if obj.dtype.kind == "f" else obj
        if finite.size and not (np.all(np.isfinite(finite)) and np.max(np.abs(finite)) <= ABSURD):
            bad = finite[~np.isfinite(finite) | (np.abs(finite) > ABSURD)][0]
            fail(where, "report.finish", f"finite and at most {ABSURD:g} in magnitude", float(bad))
    elif isinstance(obj, list | tuple | np.ndarray):
        for i, v in enumerate(obj):
            check_finite(v, f"{where}[{i}]")
    elif isinstance(obj, numbers.Real) and not isinstance(obj, bool | np.bool_):
        v = float(obj)
        if not math.isnan(v) and (math.isinf(v) or abs(v) > ABSURD):
            fail(where, "report.finish", f"finite and at most {ABSURD:g} in magnitude", v)


def to_jsonable(obj):
    """A copy of ``obj`` with numpy scalars/arrays as Python numbers/lists, tuples as lists,
    mapping keys as strings, and non-finite floats as ``None``."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        v = float(obj)
        return v if math.isfinite(v) else None
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, Path):
        return obj.as_posix()
    fail(
        "metrics",
        "report",
        "JSON-able values (numbers, strings, lists, dicts)",
        type(obj).__name__,
        TypeError,
    )


def dumps(obj) -> str:
    return json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


class DamagedRecord(BuildFailed):
    """A published record does not match the hash recorded beside it (edited or damaged);
    the message is one line naming the file."""


def read_metrics(dest) -> dict:
    """The ``metrics.json`` of an executed chapter in ``dest``, after checking its SHA-256
    against the one its ``run.json`` recorded when the run wrote it; :class:`DamagedRecord`
    (one line naming the file) if it was edited or damaged, or has no hash beside it."""
    from dropout_study.chapters.verdicts import WORDS

    f = Path(dest) / "metrics.json"
    fix = "rebuild it with `dropout-study build`"
    try:
        data = f.read_bytes()
    except OSError as exc:
        raise DamagedRecord(f"{f} cannot be read ({exc.strerror}); {fix}.") from None
    try:
        ctx = json.loads((Path(dest) / "run.json").read_text(encoding="utf-8"))
        recorded = ctx["files"]["metrics.json"]
    except (OSError, ValueError, KeyError, TypeError):
        raise DamagedRecord(
            f"{f} has no SHA-256 recorded beside it (its run.json is missing or damaged); {fix}."
        ) from None
    if hashlib.sha256(data).hexdigest() != recorded:
        raise DamagedRecord(
            f"{f} does not match the SHA-256 its run.json recorded (edited or damaged); {fix}."
        )
    try:
        record = json.loads(data)
        if record["verdict"]["word"] not in WORDS:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise DamagedRecord(f"{f} is not a chapter's metrics record; {fix}.") from None
    return record
