"""How well a finding was measured, and the margins a convention is varied at.

:func:`power`: the interval half-width against the margin and, for an inconclusive finding,
roughly how many seeds a decision would need, ``n ≈ (t · s / d)²`` (STUDY.md, "Power");
:func:`half_and_double`: ``m/2`` and ``2m`` (``√m`` and ``m²`` for a ratio margin).
"""

from __future__ import annotations

import math

from scipy import stats as sps

from dropout_study.chapters.findings import INCONCLUSIVE, Finding

__all__ = ["power", "half_and_double"]


def half_and_double(margin: float, scale: str = "linear") -> tuple[float, float]:
    """The margins a convention is varied at: ``m/2`` and ``2m``, or ``√m`` and ``m²`` for a
    ratio margin."""
    if scale == "log":
        return math.sqrt(margin), margin**2
    return margin / 2.0, margin * 2.0


def power(f: Finding, sd: float, level: float = 0.95) -> dict:
    """How well ``f`` was measured: ``half_width`` and ``margin`` on the decision scale and,
    when ``f`` is inconclusive, ``seeds_needed`` ≈ (t · s / d)² with ``s = sd`` (the per-seed
    standard deviation on the decision scale) and ``d`` the distance from the estimate to the
    nearest decision boundary (``None`` when decided, or when ``d`` is 0)."""
    m = (
        0.0
        if f.kind == "sign"
        else (math.log(f.stated_margin) if f.scale == "log" else f.stated_margin)
    )
    est = math.log(f.estimate) if f.scale == "log" else f.estimate
    est *= f.direction
    t = float(sps.t.ppf(0.5 + level / 2.0, max(f.n - 1, 1)))
    bounds = [0.0] if f.kind == "sign" else [m, -m]
    d = min(abs(est - b) for b in bounds)
    needed = None
    if f.outcome == INCONCLUSIVE and d > 0 and sd > 0:
        needed = int(math.ceil((t * sd / d) ** 2))
    return {"half_width": f.half_width, "margin": m, "seeds_needed": needed}
