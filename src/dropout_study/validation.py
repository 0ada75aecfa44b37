"""Checks at the boundary, all with one message template.

Every message reads ``The '<name>' parameter of <owner> must be <what is allowed>; got <value>.``
so a user sees the parameter, its value and what is allowed before any work is done.
Booleans are not accepted where numbers are expected (``True`` is an ``int`` in Python).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import NoReturn

import numpy as np

__all__ = [
    "fail",
    "require",
    "bound",
    "described",
    "check_int",
    "check_float",
    "check_choice",
    "check_bool",
    "check_base",
    "check_probabilities",
    "check_labels",
    "check_float_list",
    "check_int_list",
    "as_generator",
    "check_float_dtype",
    "check_increasing",
    "INCREASING",
    "did_you_mean",
    "short_repr",
]

MAX_ITEMS = 8
"""Lists longer than this are cut in messages (``[0.1, 0.2, …, 0.9] (20 items)``)."""
MAX_CHARS = 120


class _Described(str):
    """A description standing in for a value in a message; shown without quotes."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


def described(text: str) -> str:
    """Wrap ``text`` (e.g. ``"shape (3, 2)"``) so that :func:`fail` shows it without quotes:
    for a value too large to print (an array), where a summary is clearer."""
    return _Described(text)


def fail(name: str, owner: str, allowed: str, value, exc: type[Exception] = ValueError) -> NoReturn:
    """Raise ``exc``: ``The '<name>' parameter of <owner> must be <allowed>; got <value>.`` — a
    value made with :func:`described` is shown as its text; long lists and strings are cut
    (:func:`short_repr`)."""
    raise exc(f"The '{name}' parameter of {owner} must be {allowed}; got {short_repr(value)}.")


def require(
    ok,
    name: str,
    owner: str,
    allowed: str,
    value,
    exc: type[Exception] = ValueError,
    *,
    detail: str | None = None,
):
    """:func:`fail` unless ``ok``: a rule beyond a ``check_*`` range (``"increasing and
    without repeats"``, ``"one of dropout_rates"``). ``allowed`` names other parameters, not
    their values: ``dropout_study.book.catalog`` records it (on every call, met or not) and shows
    it as part of what the parameter allows, so the listing and the check are one text.
    ``detail`` (e.g. ``"dropout_rates = [0.0, 0.5]"``) is added in brackets to the message
    only."""
    if not ok:
        fail(name, owner, f"{allowed} ({detail})" if detail else allowed, value, exc)


class _Bound(float):
    """A bound that is another parameter's value (:func:`bound`)."""

    name: str

    def __format__(self, spec: str) -> str:
        return f"{self.name} = {float(self):{spec}}"


def bound(value, name: str) -> float:
    """``value`` as a ``low``/``high`` of a ``check_*`` call that comes from other
    parameters: messages read ``[1, max_steps = 3000]`` and the parameter listing
    (``dropout_study.book.catalog``) shows ``[1, max_steps]``, not the value of one profile."""
    b = _Bound(value)
    b.name = name
    return b


def short_repr(value) -> str:
    """``repr(value)``, with lists/tuples of more than :data:`MAX_ITEMS` items shown as their
    first and last items and the count, and any text cut at :data:`MAX_CHARS` characters."""
    if isinstance(value, list | tuple) and len(value) > MAX_ITEMS:
        head = ", ".join(short_repr(v) for v in value[: MAX_ITEMS - 2])
        text = f"[{head}, …, {short_repr(value[-1])}] ({len(value)} items)"
    elif isinstance(value, list | tuple):
        inner = ", ".join(short_repr(v) for v in value)
        tail = "," if isinstance(value, tuple) and len(value) == 1 else ""
        text = f"[{inner}]" if isinstance(value, list) else f"({inner}{tail})"
    else:
        text = repr(value)
    if len(text) > MAX_CHARS and not isinstance(value, _Described):  # our summaries stay whole
        text = text[: MAX_CHARS - 1] + "…"
    return text


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest of ``choices`` (difflib), or ``""``."""
    import difflib

    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


INCREASING = "increasing and without repeats"
"""What a grid parameter (rates, λs, Ks, steps) must be: the one order rule of the study."""


def check_increasing(values, name: str, owner: str, raw=None):
    """Return ``values`` if each item is larger than the one before (a grid: increasing and
    without repeats); ``ValueError`` with the template otherwise, showing ``raw`` (the value
    as given) if passed. :func:`check_float_list` and :func:`check_int_list` call it for every
    list whose order is not declared free."""
    seq = list(values)
    ok = all(b > a for a, b in zip(seq, seq[1:], strict=False))
    require(ok, name, owner, INCREASING, seq if raw is None else raw)
    return values


def _check_order(order: str, name: str, owner: str, values, raw) -> None:
    """``order`` is ``"increasing"`` (a grid) or ``"any: <why order is free>"``."""
    if order == "increasing":
        check_increasing(values, name, owner, raw)
    elif not (isinstance(order, str) and order.startswith("any: ") and len(order) > 5):
        raise TypeError(
            f"order of {name!r} ({owner}) must be 'increasing' or 'any: <why order is free>'; "
            f"got {order!r}."
        )


def _interval(low, high, low_open, high_open) -> str:
    """The interval as text, e.g. ``[0, 1)``; a ``None`` bound is an open infinite end,
    written ``−∞`` or ``∞`` (``[10, ∞)``)."""
    lo = "(" if low is None or low_open else "["
    hi = ")" if high is None or high_open else "]"
    low_s = "−∞" if low is None else _bound(low)
    high_s = "∞" if high is None else _bound(high)
    return f"{lo}{low_s}, {high_s}{hi}"


def _bound(x) -> str:
    """A bound as text: whole numbers in full below 1e12, else ``:g`` (and a :func:`bound`)."""
    plain = type(x) in (int, float) and float(x).is_integer() and abs(x) < 1e12
    return str(int(x)) if plain else f"{x:g}"


def _outside(v, low, high, low_open: bool = False, high_open: bool = False) -> bool:
    """True if ``v`` is not in the interval (``None`` bounds are infinite)."""
    below = low is not None and (v < low or (low_open and v == low))
    above = high is not None and (v > high or (high_open and v == high))
    return below or above


def check_float(
    value,
    name: str,
    owner: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float after checking it is a real number in the interval."""
    interval = _interval(low, high, low_open, high_open)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(name, owner, f"a float in the range {interval}", value, TypeError)
    v = float(value)
    if not np.isfinite(v):
        fail(name, owner, f"a finite float in the range {interval}", value)
    if _outside(v, low, high, low_open, high_open):
        fail(name, owner, f"in {interval}", value)
    return v


def check_int(
    value, name: str, owner: str, *, low: int | None = None, high: float | None = None
) -> int:
    """Return ``value`` as an int after checking it is an integer in ``[low, high]``."""
    interval = _interval(low, high, False, False)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        fail(name, owner, f"an int in the range {interval}", value, TypeError)
    v = int(value)
    if _outside(v, low, high):
        fail(name, owner, f"an int in the range {interval}", value)
    return v


def check_bool(value, name: str, owner: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        fail(name, owner, "a bool", value, TypeError)
    return bool(value)


def check_choice(value, name: str, owner: str, choices: Iterable[str]) -> str:
    """Check that ``value`` is one of ``choices`` (strings)."""
    choices = list(choices)
    if not isinstance(value, str) or value not in choices:
        allowed = "one of " + ", ".join(repr(c) for c in choices)
        exc_type = ValueError if isinstance(value, str) else TypeError
        try:
            fail(name, owner, allowed, value, exc_type)
        except exc_type as exc:
            hint = did_you_mean(value, choices) if isinstance(value, str) else ""
            raise exc_type(str(exc) + hint) from None
    return value


def check_float_list(
    value,
    name: str,
    owner: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    min_len: int = 1,
    order: str = "increasing",
) -> list[float]:
    """A list of at least ``min_len`` floats, each in the interval; ``order``: ``"increasing"``
    (a grid, :func:`check_increasing`) or ``"any: <why order is free>"``."""
    interval = _interval(low, high, low_open, high_open)
    allowed = f"{_list_of(min_len, 'float')}, each in {interval}"
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        fail(name, owner, allowed, value, TypeError)
    if len(value) < min_len:
        fail(name, owner, allowed, value)
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            fail(name, owner, allowed, value, TypeError)
        fv = float(v)
        if not np.isfinite(fv) or _outside(fv, low, high, low_open, high_open):
            fail(name, owner, allowed, value)
        out.append(fv)
    _check_order(order, name, owner, out, value)
    return out


def _list_of(min_len: int, noun: str) -> str:
    """``"a list of at least 2 floats"``; ``"a list of floats (possibly empty)"`` for 0."""
    if min_len <= 0:
        return f"a list of {noun}s (possibly empty)"
    return f"a list of at least {min_len} {noun}{'s' if min_len != 1 else ''}"


def check_int_list(
    value,
    name: str,
    owner: str,
    *,
    low: int | None = None,
    high: float | None = None,
    min_len: int = 1,
    order: str = "increasing",
) -> list[int]:
    """A list of at least ``min_len`` ints, each ``>= low`` (and ``<= high``); ``order`` as in
    :func:`check_float_list`."""
    each = f", each >= {low}" if low is not None else ""
    each = f", each in {_interval(low, high, False, False)}" if high is not None else each
    allowed = f"{_list_of(min_len, 'int')}{each}"
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        fail(name, owner, allowed, value, TypeError)
    if len(value) < min_len:
        fail(name, owner, allowed, value)
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            fail(name, owner, allowed, value, TypeError)
        if _outside(v, low, high):
            fail(name, owner, allowed, value)
        out.append(int(v))
    _check_order(order, name, owner, out, value)
    return out


def check_base(base, owner: str) -> float:
    """A logarithm base: a real number > 0 and != 1."""
    if isinstance(base, bool) or not isinstance(base, numbers.Real):
        fail("base", owner, "a float > 0 and != 1", base, TypeError)
    value = float(base)
    if not (value > 0) or value == 1 or not np.isfinite(value):
        fail("base", owner, "a float > 0 and != 1", base)
    return value


def check_probabilities(
    p: np.ndarray, name: str, owner: str, *, rows_sum_to_one: bool = True, atol: float = 1e-6
) -> None:
    """Check entries in [0, 1] and, if asked, that the last axis sums to 1 (within ``atol``)."""
    if p.size == 0:
        fail(name, owner, "non-empty", described(f"shape {p.shape}"))
    if np.any(p < 0) or np.any(p > 1):
        got = described(f"values in [{p.min():g}, {p.max():g}]")
        fail(name, owner, "probabilities in [0, 1]", got)
    if rows_sum_to_one:
        sums = np.atleast_1d(p.sum(axis=-1))
        off = np.abs(sums - 1.0)
        if np.any(off > atol):
            bad = float(sums[np.argmax(off)])
            fail(name, owner, "rows that sum to 1", described(f"a row summing to {bad:g}"))


def check_labels(labels, name: str, owner: str, *, n: int | None, n_classes: int) -> np.ndarray:
    """Integer class labels of shape ``(n,)`` in ``[0, n_classes)``; returned as ``intp``."""
    lab = np.asarray(labels)
    if lab.ndim != 1:
        fail(name, owner, "a 1-D array of integer labels", described(f"shape {lab.shape}"))
    if lab.dtype == np.bool_ or not (
        np.issubdtype(lab.dtype, np.integer) or np.issubdtype(lab.dtype, np.floating)
    ):
        fail(name, owner, "integer class labels", described(f"dtype {lab.dtype}"), TypeError)
    if n is not None and lab.shape[0] != n:
        got = described(f"length {lab.shape[0]}")
        fail(name, owner, f"of length {n} (one label per sample)", got)
    if lab.size == 0:
        fail(name, owner, "non-empty", described("0 labels"))
    # checks on the values as given, before any cast (a label of 1e20 is reported as 1e20)
    if np.issubdtype(lab.dtype, np.floating) and not (
        np.all(np.isfinite(lab)) and np.all(lab == np.round(lab))
    ):
        bad = lab[~np.isfinite(lab) | (lab != np.round(lab))][0]
        fail(
            name,
            owner,
            "integer class labels",
            described(f"dtype {lab.dtype} with the label {float(bad):g}"),
            TypeError,
        )
    lo, hi = lab.min(), lab.max()
    if lo < 0 or hi >= n_classes:
        lo_s, hi_s = (f"{v:g}" if isinstance(v, np.floating) else f"{v}" for v in (lo, hi))
        fail(
            name, owner, f"labels in [0, {n_classes - 1}]", described(f"labels in [{lo_s}, {hi_s}]")
        )
    return lab.astype(np.intp, copy=False)


def as_generator(rng, name: str, owner: str) -> np.random.Generator:
    """Accept a ``numpy.random.Generator``, a ``SeedSequence`` or an int seed ``>= 0``; never
    the legacy global state."""
    # A negative seed is reported as a TypeError, like any other non-seed (callers rely on it).
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and int(rng) >= 0:
        return np.random.default_rng(int(rng))
    fail(name, owner, "a numpy.random.Generator or a non-negative int seed", rng, TypeError)


def check_float_dtype(dtype, owner: str) -> np.dtype:
    """``dtype`` as ``numpy.dtype``: float32 or float64 only (``None`` is not a dtype here)."""
    try:
        dt = None if dtype is None else np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt not in (np.float32, np.float64):
        fail("dtype", owner, "float32 or float64", dtype, TypeError)
    return dt
