"""One way to print numbers in the book's prose (for ``report.text``).

:func:`sci` writes small and large magnitudes as ``3.2 × 10⁻⁹`` — never ``0.0e+00`` — and an
exact zero as ``0``; :func:`plain` writes ordinary magnitudes with fixed decimals and a true
minus sign; :func:`general` is Python's ``:g`` (shortest of fixed and exponent form) with the
exponent written the same way. Use them where a ``{glue:text}`` format spec like ``:.1e`` or
``:g`` would print Python's exponent notation (``1e-05``): glue the string with
``report.text`` and write the role without a format spec.
"""

from __future__ import annotations

import math

__all__ = [
    "sci",
    "plain",
    "general",
    "significant",
    "distinct",
    "bracket",
    "mean_interval",
    "shortest",
    "ratio",
    "percent",
    "MINUS",
]

MINUS = "\u2212"
_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def plain(value: float, decimals: int = 3, sign: bool = False) -> str:
    """``value`` with ``decimals`` decimals and a typographic minus (``−0.083``);
    ``sign=True`` puts ``+`` before a positive value (``+0.083``; a value that rounds to zero
    has no sign). For text glued as markdown (``{glue:md}``), which the book's number
    typography does not reach."""
    text = f"{float(value):{'+' if sign else ''}.{decimals}f}"
    if text[0] in "+-" and float(text) == 0.0:
        text = text[1:]  # no "−0.000", no "+0.000"
    return text.replace("-", MINUS)


def sci(value: float, digits: int = 1) -> str:
    """``value`` as ``m × 10ⁿ`` with ``digits`` decimals in the mantissa (``10ⁿ`` when the
    mantissa is exactly ``1``, as with ``digits=0``); ``0`` for an exact zero; ``nan``/``∞``
    spelled out. Raises ``TypeError`` for a non-number."""
    x = float(value)
    if x == 0.0:
        return "0"
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return ("" if x > 0 else MINUS) + "∞"
    mantissa, exponent_text = f"{x:.{digits}e}".split("e")
    exponent = int(exponent_text)
    if exponent == 0:
        return mantissa.replace("-", MINUS)
    return _power(mantissa, exponent)


def _power(mantissa: str, exponent: int) -> str:
    """``m × 10ⁿ``, or ``10ⁿ`` for a mantissa of exactly 1 (``1e-06`` → ``10⁻⁶``)."""
    power = f"10{str(exponent).translate(_SUP)}"
    sign = mantissa[0] if mantissa.startswith(("-", "+")) else ""
    if mantissa[len(sign) :] == "1":
        return (sign + power).replace("-", MINUS)
    return f"{mantissa} × {power}".replace("-", MINUS)


def general(value: float, digits: int = 6, sign: bool = False, zeros: bool = False) -> str:
    """``value`` as Python's ``f"{value:.{digits}g}"`` would write it (``0.5``, ``0.0003``,
    ``300``), except that an exponent form is written ``2.5 × 10⁻⁵`` (``10⁻⁵`` for 1e-05)
    and a minus sign is ``−``; ``sign=True`` puts ``+`` before a positive value;
    ``zeros=True`` keeps trailing zeros (``#g``: ``5.00``, ``1.10``, not ``5``, ``1.1``), so
    that values printed side by side show the same precision. ``nan``/``∞`` spelled out.
    Raises ``TypeError`` for a non-number."""
    x = float(value)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return ("" if x > 0 else MINUS) + "∞"
    if x == 0.0:
        return "0"  # no "−0", no "+0"
    text = f"{x:{'+' if sign else ''}{'#' if zeros else ''}.{digits}g}"
    if zeros:
        text = text.replace(".e", "e").rstrip(".")
    if "e" in text:
        mantissa, exponent = text.split("e")
        return _power(mantissa, int(exponent))
    return text.replace("-", MINUS)


def significant(value: float, digits: int = 3, sign: bool = False) -> str:
    """``value`` by :func:`general` with ``digits`` significant digits *and their trailing
    zeros* (``0.0110``, ``+0.100``, ``5.00``): the form for values printed side by side, whose
    precision must read the same. The ``fmt`` of :func:`distinct` and :func:`bracket` where an
    interval keeps its zeros."""
    return general(value, digits, sign=sign, zeros=True)


def distinct(values, digits: int = 3, fmt=general, extra: int = 3, against=()) -> list[str]:
    """``values`` written by ``fmt(value, d)`` (:func:`general`: ``d`` significant digits;
    :func:`plain`: ``d`` decimals) with the least ``d`` from ``digits`` to ``digits + extra``
    at which values that differ are written differently — from each other and from the
    reference values ``against`` (e.g. a margin the bounds are decided against, which is not
    printed here) — so that an interval such as ``1.0213 [1.0198, 1.0229]`` never reads
    ``1.02 [1.02, 1.02]`` and a bound of ``1.1988`` never reads as a margin of ``1.2``; equal
    values are written equally. Non-finite values as ``fmt`` writes them."""
    vals = [float(v) for v in values]
    refs = [float(v) for v in against if math.isfinite(float(v))]
    texts: list[str] = []
    for d in range(digits, digits + extra + 1):
        texts = [fmt(v, d) for v in vals]
        ok = all(
            texts[i] != texts[j]
            for i in range(len(vals))
            for j in range(i)
            if vals[i] != vals[j] and math.isfinite(vals[i]) and math.isfinite(vals[j])
        ) and all(t != fmt(r, d) for v, t in zip(vals, texts, strict=True) for r in refs if v != r)
        if ok:
            break
    return texts


RESIDUE = 1e-9
"""A value at most this fraction of the largest magnitude printed beside it (or decided against)
is the rounding residue of an exact zero (a mean of differences of k/n fractions that cancel
comes out as ``−1.85e-17``): :func:`bracket` writes it ``0``."""


def bracket(estimate, low, high, digits: int = 3, fmt=general, against=(), unit: str = "") -> str:
    """``"e [lo, hi]"`` (``unit`` after ``e``, as in ``"1.50× [1.30, 1.80]"``), the three
    written by :func:`distinct` from ``digits`` (so they, and the references ``against``,
    never read alike); a value within :data:`RESIDUE` of the largest magnitude among them and
    ``against`` is written ``0``; a missing or non-finite value ``—``, a missing interval
    (``estimate`` None) ``—`` alone."""
    if estimate is None:
        return "—"
    vals = [math.nan if v is None else float(v) for v in (estimate, low, high)]
    finite = [abs(v) for v in (*vals, *(float(r) for r in against)) if math.isfinite(v)]
    big = max(finite, default=0.0)
    vals = [0.0 if math.isfinite(v) and abs(v) <= RESIDUE * big else v for v in vals]
    texts = distinct(vals, digits, fmt, against=against)
    e, lo, hi = (t if math.isfinite(v) else "—" for v, t in zip(vals, texts, strict=True))
    return f"{e}{unit} [{lo}, {hi}]"


def mean_interval(c, decimals: int = 3, scale: float = 1.0, sign: bool = False, form=None) -> str:
    """A ``{"mean", "low", "high"}`` mapping (:func:`dropout_study.measures.stats.mean_ci`)
    times ``scale`` as ``"7.41 [6.90, 7.92]"`` by :func:`bracket`: ``decimals`` decimals
    (more where values that differ would read alike), ``sign=True`` for ``+`` before positive
    values; ``form=sci`` writes each in :func:`sci` form with ``decimals`` in the mantissa.
    ``None`` → ``—``."""
    if c is None:
        return "—"

    def fmt(x: float, d: int) -> str:
        return sci(x, d) if form is sci else plain(x, d, sign)

    e, lo, hi = (math.nan if c[k] is None else scale * float(c[k]) for k in ("mean", "low", "high"))
    return bracket(e, lo, hi, decimals, fmt)


def shortest(value: float, digits: int = 3, most: int = 6) -> str:
    """``value`` by :func:`general` with the fewest significant digits from ``digits`` to
    ``most`` that write it exactly (to 1e-12 relative, so ``100·(1.1025 − 1)`` is ``10.25``),
    else with ``digits`` and its trailing zeros: a value someone typed, such as a margin of
    ``1.1025``, is never shown rounded (``×/÷ 1.1``), while a computed one such as ``√1.2``
    reads ``1.10`` — with the zero that says it is rounded."""
    x = float(value)
    for d in range(digits, most + 1):
        if math.isfinite(x) and abs(float(f"{x:.{d}g}") - x) <= 1e-12 * abs(x):
            return general(x, d)
    return significant(x, digits)


def ratio(value: float) -> str:
    """A ratio margin ``m > 1`` (``×/÷ m``) by :func:`shortest`, with enough digits that its
    excess ``m − 1`` has three significant ones (``1.0247``, not ``1.02``: the 2.47 % a
    source states), at least three in all; other values as ``shortest`` writes them."""
    x = float(value)
    if not (math.isfinite(x) and x > 1):
        return shortest(x)
    whole = math.floor(math.log10(x)) + 1
    return shortest(x, max(3, whole + 2 - math.floor(math.log10(x - 1))))


def percent(share: float, decimals: int = 0, extra: int = 3) -> str:
    """A share in [0, 1] as ``"99.9 %"``: ``100·share`` by :func:`plain` with ``decimals``
    decimals, more (up to ``extra`` more) while a share that is not exactly 0 or 1 would read
    ``0 %`` or ``100 %`` (a stored 0.999 is never "100 %": every mask is not all masks).
    Non-finite values as :func:`plain` writes them."""
    x = float(share)
    text = plain(100 * x, decimals)
    for d in range(decimals, decimals + extra + 1):
        text = plain(100 * x, d)
        if x in (0.0, 1.0) or not math.isfinite(x):
            break
        if float(text.replace(MINUS, "-")) not in (0.0, 100.0):
            break
    return f"{text} %"
