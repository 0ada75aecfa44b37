"""One way to print numbers in the book's prose (for ``report.text``).

:func:`sci` writes small and large magnitudes as ``3.2 × 10⁻⁹`` — never ``0.0e+00`` — and an
exact zero as ``0``; :func:`plain` writes ordinary magnitudes with fixed decimals and a true
minus sign. Use them where a ``{glue:text}`` format spec like ``:.1e`` would print Python's
exponent notation.
"""

from __future__ import annotations

import math

__all__ = ["sci", "plain", "MINUS"]

MINUS = "\u2212"
_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def plain(value: float, decimals: int = 3) -> str:
    """``value`` with ``decimals`` decimals and a typographic minus (``−0.083``)."""
    text = f"{float(value):.{decimals}f}"
    if text.startswith("-") and float(text) == 0.0:
        text = text[1:]  # no "−0.000"
    return text.replace("-", MINUS)


def sci(value: float, digits: int = 1) -> str:
    """``value`` as ``m × 10ⁿ`` with ``digits`` decimals in the mantissa; ``0`` for an exact
    zero; ``nan``/``∞`` spelled out. Raises ``TypeError`` for a non-number."""
    x = float(value)
    if x == 0.0:
        return "0"
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return ("" if x > 0 else MINUS) + "∞"
    mantissa, exponent = f"{x:.{digits}e}".split("e")
    exponent = int(exponent)
    if exponent == 0:
        return mantissa.replace("-", MINUS)
    return f"{mantissa.replace('-', MINUS)} × 10{str(exponent).translate(_SUP)}"
