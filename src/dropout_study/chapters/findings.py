"""The findings kit: every sub-outcome a verdict uses is a record, decided by one function.

A *finding* (STUDY.md, "Findings") is a name, an estimate with its 95 % interval over ``n``
seeds, a *margin* with its source, the kind of test, the direction the claim predicts, the
scale, and the outcome. :func:`decide` is the one place where an interval meets a margin; no
chapter compares them itself. ``metrics.json`` holds the list under ``findings``, one object
per finding with exactly the fields of :data:`FIELDS`, and :func:`check_record` re-decides a
stored record (a record whose outcome does not follow from its interval is refused).

Decision rules, on ``x' = direction · x`` (``scale="linear"``) or ``direction · log x``
(``"log"``, a ratio: estimate, interval and margin are ratios, the margin ``m > 1`` enters as
``log m``), with margin ``m'``; "beyond" means strictly beyond (an interval end equal to a
boundary is not beyond it):

- **effect** (the claim says "X is larger / slower / sparser"): ``low' > m'`` → ``yes``;
  ``-m' < low'`` and ``high' < m'`` → ``no`` (no effect worth the name); ``high' < -m'`` →
  ``reversed``; otherwise ``inconclusive``. An interval above 0 but not above the margin is
  not ``yes``: the effect is too small to matter.
- **equivalence** (the claim says "X does not change"): inside ``(-m', m')`` → ``yes``;
  entirely beyond ``m'`` or ``-m'`` → ``no``; otherwise ``inconclusive``.
- **trend** (a Spearman ρ within seeds, averaged): an effect with the margin
  :data:`TREND_MARGIN` = 0.2 on ρ; an interval inside (−0.2, 0.2) is "no trend", a tight null.
- **sign** (only the direction is claimed): ``low' > 0`` → ``yes``; ``high' < 0`` →
  ``reversed``; otherwise ``inconclusive`` (``no`` is unreachable; say on the page that the
  test is of sign only).

``reversed`` counts as ``no`` for the claim. A finding is *not applicable* (``degenerate``,
with its ``reason``) when its per-seed values are tied in at least half the seeds, undefined
in any seed, or fixed by algebra: it is shown, marked, and left out of every count, and a
chapter's rule treats a not-applicable primary finding as inconclusive
(:attr:`Finding.counted`). A constant sample without ties (e.g. ρ = −1 in every seed) is
strong evidence and is decided normally from its interval ``[v, v]``.

Every margin states its source (:data:`SOURCES`): a number from the paper being tested, a
closed form, or a convention of this study — a convention is varied at half and double in the
robustness table (for a ratio margin ``m``: ``√m`` and ``m²``;
:func:`dropout_study.chapters.power.half_and_double`).

Intervals over seeds (:func:`from_seeds`) are :func:`dropout_study.measures.stats.seed_interval`
(Student-t below 20 seeds, BCa from 20) of the per-seed values — of their logarithms for a
ratio, whose estimate is then the geometric mean — clipped to [−1, 1] for a trend. The power
of a finding (:func:`dropout_study.chapters.power.power`) is the interval half-width against its
margin and, when it is inconclusive, the number of seeds a decision would roughly need,
``n ≈ (t · s / d)²`` with ``s`` the per-seed standard deviation and ``d`` the distance from the
estimate to the nearest decision boundary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dropout_study.measures.stats import seed_interval
from dropout_study.validation import check_choice, fail

__all__ = [
    "KINDS",
    "OUTCOMES",
    "ROLES",
    "SCALES",
    "SOURCES",
    "FIELDS",
    "TREND_MARGIN",
    "YES",
    "NO",
    "REVERSED",
    "INCONCLUSIVE",
    "Finding",
    "decide",
    "finding",
    "from_seeds",
    "not_applicable",
    "check_record",
    "as_records",
]

KINDS = ("effect", "equivalence", "trend", "sign")
YES, NO, REVERSED, INCONCLUSIVE = "yes", "no", "reversed", "inconclusive"
OUTCOMES = (YES, NO, REVERSED, INCONCLUSIVE)
ROLES = ("primary", "alternative", "exploratory")
SCALES = ("linear", "log")
SOURCES = ("paper", "closed form", "convention")
"""A margin's source starts with one of these, then a colon and the details, e.g.
``"convention: a 20 % slowdown (ratio 1.2)"`` or ``"paper: Srivastava et al. 2014, Fig. 11"``."""
TREND_MARGIN = 0.2
"""The margin of every trend finding, on Spearman's ρ."""
FIELDS = (
    "name",
    "kind",
    "direction",
    "scale",
    "estimate",
    "low",
    "high",
    "n",
    "margin",
    "margin_source",
    "outcome",
    "degenerate",
    "reason",
    "role",
)
"""The fields of a finding in ``metrics.json``, in this order (STUDY.md, "Findings")."""


def _transform(x: float, direction: int, scale: str) -> float:
    if scale == "log":
        return direction * math.log(x) if x > 0 else (-math.inf * direction)
    return direction * x


def _check_margin(kind: str, scale: str, margin, owner: str) -> float:
    if kind == "sign":
        return 0.0
    if kind == "trend":
        margin = TREND_MARGIN if margin is None else margin
    if isinstance(margin, bool) or not isinstance(margin, int | float) or not math.isfinite(margin):
        fail("margin", owner, "a finite number", margin, TypeError)
    if scale == "log":
        if margin <= 1:
            fail("margin", owner, "a ratio > 1 on the log scale (e.g. 1.2)", margin)
        return math.log(margin)
    if margin <= 0:
        fail("margin", owner, "a number > 0", margin)
    return float(margin)


def decide(kind: str, direction: int, scale: str, low: float, high: float, margin) -> str:
    """The outcome of an interval ``[low, high]`` against ``margin`` (module docstring).

    ``kind``: one of :data:`KINDS`; ``direction``: +1 when the claim predicts a larger value
    than the reference, −1 a smaller one; ``scale``: ``"linear"`` or ``"log"`` (a ratio, margin
    > 1); ``margin``: ignored for ``"sign"``, default 0.2 for ``"trend"``. Raises
    ``ValueError``/``TypeError`` with the project's template for anything else, including a
    ratio margin ≤ 1 and an interval with ``low > high`` or a NaN end."""
    owner = "findings.decide"
    check_choice(kind, "kind", owner, KINDS)
    check_choice(scale, "scale", owner, SCALES)
    if direction not in (1, -1) or isinstance(direction, bool):
        fail("direction", owner, "+1 or -1", direction)
    if kind == "trend" and scale != "linear":
        fail("scale", owner, "'linear' for a trend (ρ is not a ratio)", scale)
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v):
            fail(name, owner, "a number (an end of the interval)", v)
    if low > high:
        fail("high", owner, f"at least low ({low})", high)
    m = _check_margin(kind, scale, margin, owner)
    a, b = sorted((_transform(low, direction, scale), _transform(high, direction, scale)))
    if kind == "sign":
        return YES if a > 0 else REVERSED if b < 0 else INCONCLUSIVE
    if kind == "equivalence":
        if -m < a and b < m:
            return YES
        return NO if (a > m or b < -m) else INCONCLUSIVE
    # effect and trend
    if a > m:
        return YES
    if -m < a and b < m:
        return NO
    if b < -m:
        return REVERSED
    return INCONCLUSIVE


@dataclass(frozen=True)
class Finding:
    """One decided sub-outcome (fields: :data:`FIELDS`; build it with :func:`finding`)."""

    name: str
    kind: str
    direction: int
    scale: str
    estimate: float
    low: float
    high: float
    n: int
    margin: float | None
    margin_source: str
    outcome: str
    degenerate: bool
    reason: str | None
    role: str

    @property
    def applicable(self) -> bool:
        """False for a not-applicable finding (left out of every count)."""
        return not self.degenerate

    @property
    def counted(self) -> str:
        """The outcome a chapter's rule uses: ``inconclusive`` when not applicable."""
        return self.outcome if self.applicable else INCONCLUSIVE

    @property
    def stated_margin(self) -> float:
        """:attr:`margin`, which every finding but a test of sign has."""
        if self.margin is None:
            raise ValueError(f"finding {self.name!r} is a test of sign: it has no margin")
        return self.margin

    @property
    def half_width(self) -> float:
        """Half the interval's width, on the decision scale (log for a ratio)."""
        lo, hi = self.low, self.high
        if self.scale == "log":
            lo, hi = math.log(lo), math.log(hi)
        return (hi - lo) / 2.0

    def as_dict(self) -> dict:
        """The record for ``metrics.json``: exactly :data:`FIELDS`."""
        return {k: getattr(self, k) for k in FIELDS}


def _source(margin_source, kind: str, owner: str) -> str:
    if kind == "sign" and not margin_source:
        return "none: a test of sign only"
    ok = isinstance(margin_source, str) and any(
        margin_source.startswith(f"{s}: ") and len(margin_source) > len(s) + 2 for s in SOURCES
    )
    if kind == "trend" and margin_source in ("", None):
        return "convention: |ρ| < 0.2 is no trend (STUDY.md)"
    if not ok:
        allowed = "a text starting 'paper: ', 'closed form: ' or 'convention: '"
        fail("margin_source", owner, allowed, margin_source)
    return margin_source


def finding(
    name: str,
    kind: str,
    *,
    estimate: float,
    low: float,
    high: float,
    n: int,
    margin=None,
    margin_source: str = "",
    direction: int = 1,
    scale: str = "linear",
    role: str = "primary",
    degenerate: bool = False,
    reason: str | None = None,
) -> Finding:
    """A :class:`Finding` whose outcome is decided by :func:`decide` from its interval (also
    when it is not applicable: the outcome always comes from the interval; ``counted`` is what
    the rules use). ``degenerate`` needs a ``reason``; ``n`` is the number of seeds."""
    owner = f"finding {name!r}"
    if not isinstance(name, str) or not name.strip():
        fail("name", "finding", "a non-empty string", name)
    check_choice(role, "role", owner, ROLES)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        fail("n", owner, "an int >= 1 (seeds)", n)
    if degenerate and not reason:
        fail("reason", owner, "a reason when the finding is not applicable", reason)
    outcome = decide(kind, direction, scale, float(low), float(high), margin)
    if kind == "sign":
        margin = None
    elif kind == "trend" and margin is None:
        margin = TREND_MARGIN
    return Finding(
        name=name,
        kind=kind,
        direction=int(direction),
        scale=scale,
        estimate=float(estimate),
        low=float(low),
        high=float(high),
        n=int(n),
        margin=None if margin is None else float(margin),
        margin_source=_source(margin_source, kind, owner),
        outcome=outcome,
        degenerate=bool(degenerate),
        reason=reason if degenerate else None,
        role=role,
    )


def not_applicable(values, ties=None) -> str | None:
    """Why per-seed ``values`` cannot decide a finding, or ``None``: undefined (NaN) in any
    seed, or tied in at least half the seeds (``ties``: one bool per seed, e.g. the arm and the
    reference equal within that seed)."""
    arr = np.asarray(values, dtype=float)
    n = arr.shape[0]
    undefined = int(np.sum(~np.isfinite(arr)))
    if undefined:
        return f"undefined in {undefined} of {n} seeds"
    if ties is not None:
        tied = int(np.sum(np.asarray(ties, dtype=bool)))
        if 2 * tied >= n:
            return f"tied in {tied} of {n} seeds"
    return None


def from_seeds(
    name: str,
    kind: str,
    values,
    *,
    margin=None,
    margin_source: str = "",
    direction: int = 1,
    scale: str = "linear",
    role: str = "primary",
    ties=None,
    reason: str | None = None,
) -> Finding:
    """A finding from per-seed ``values`` (shape ``(n_seeds,)``): paired differences
    (``scale="linear"``), paired ratios > 0 (``"log"``: geometric mean, interval on the
    logarithms) or within-seed Spearman ρ (``kind="trend"``, interval clipped to [−1, 1]).

    Not applicable when :func:`not_applicable` says so or when ``reason`` is given (a finding
    fixed by algebra); its interval is then taken over the seeds that are defined (or shown as
    NaN when none are)."""
    arr = np.asarray(values, dtype=float).ravel()
    why = reason or not_applicable(arr, ties)
    finite = arr[np.isfinite(arr)]
    if scale == "log":
        if np.any(finite <= 0):
            fail("values", f"finding {name!r}", "ratios > 0 on the log scale", finite.tolist())
        finite = np.log(finite)
    if finite.size == 0:
        est = low = high = math.nan
        return Finding(
            name, kind, direction, scale, est, low, high, int(arr.size), margin,
            _source(margin_source, kind, name), INCONCLUSIVE, True, why or "no seed defined",
            role,
        )  # fmt: skip
    iv = seed_interval(finite)
    est, low, high = iv.estimate, iv.low, iv.high
    if kind == "trend":
        low, high = max(low, -1.0), min(high, 1.0)
    if scale == "log":
        est, low, high = math.exp(est), math.exp(low), math.exp(high)
    return finding(
        name,
        kind,
        estimate=est,
        low=low,
        high=high,
        n=int(arr.size),
        margin=margin,
        margin_source=margin_source,
        direction=direction,
        scale=scale,
        role=role,
        degenerate=why is not None,
        reason=why,
    )


def check_record(record: Mapping) -> Finding:
    """The :class:`Finding` of a ``metrics.json`` record, after checking that it has exactly
    the fields of :data:`FIELDS` and that its outcome is the one :func:`decide` gives its
    interval; ``ValueError`` naming the finding and the field otherwise."""
    if not isinstance(record, Mapping):
        fail("record", "findings.check_record", "a mapping", type(record).__name__, TypeError)
    name = record.get("name", "?")
    owner = f"finding {name!r}"
    if set(record) != set(FIELDS):
        extra = sorted(set(record) - set(FIELDS))
        missing = sorted(set(FIELDS) - set(record))
        fail("record", owner, "exactly the fields " + ", ".join(FIELDS), {"extra": extra,
             "missing": missing})  # fmt: skip
    if not (math.isfinite(record["low"]) and math.isfinite(record["high"])):
        if not record["degenerate"]:
            fail("low", owner, "finite unless the finding is not applicable", record["low"])
        return Finding(**{k: record[k] for k in FIELDS})
    want = decide(
        record["kind"],
        record["direction"],
        record["scale"],
        record["low"],
        record["high"],
        record["margin"],
    )
    if record["outcome"] != want:
        fail("outcome", owner, f"{want!r}, as its interval and margin decide", record["outcome"])
    return Finding(**{k: record[k] for k in FIELDS})


def as_records(findings: Sequence[Finding]) -> list[dict]:
    """``[f.as_dict() ...]`` after checking that names are unique."""
    names = [f.name for f in findings]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        fail("findings", "findings.as_records", "findings with distinct names", dup)
    return [f.as_dict() for f in findings]
