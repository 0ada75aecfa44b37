"""Chapter 2's findings, decided from the run's metrics by the findings kit
(:mod:`dropout_study.chapters.findings`); :mod:`.verdict` turns them into the verdict.

Every margin and its source, stated on the page before the results:

- **exact checks** (part (a) of the rule): the number of values that differ between training at
  ``p = 0`` with dropout layers and without them, and between evaluation mode and the network
  without dropout layers, equivalence with margin ½ (closed form: bit-identical means no value
  differs, so the margin admits none).
- **R (primary)**: ``R(θ*_p)`` at the primary rate, nats, per seed, equivalence with the
  absolute margin ``abs_margin`` (δ = 0.01 nats: STUDY.md, chapter 2, rule (b); a convention,
  varied at half and double). The relative margin ``margin`` (``R / J(θ*_p)`` against 5 %,
  v3) and its half and double are robustness rows.
- **the K-mask control (primary)**: the per-seed ratio of the summed rises of ``J(θ_t)`` with
  the largest ``K`` over ``K = 1``, ``(rises_K + f) / (rises_1 + f)`` with the floor
  ``f =`` :data:`RISE_FLOOR` nats (keeps a run without any rising step finite; it understates a
  reduction, never overstates it), effect on the log scale, direction −1, margin
  ``control_margin`` (a convention: at least halved by ``K``-fold less gradient-noise
  variance), varied at ``√m`` and ``m²``.

Alternatives of the primary R (each re-decides the verdict, :func:`verdict.robustness`):
the other trained rates, ``θ*₀`` instead of ``θ*_p``, the absolute margin at half and double,
the relative margin ``R / J(θ*_p)`` (and its half and double), the price ``J(θ*_p) − J(θ*₀)``
under the absolute and the relative margin, the primary rate retrained on other data sets and
widths (``alt_settings``), and ``R`` at the checkpoints of the primary run that every seed
reached, all under δ unless named relative. Alternatives of the control (findings only): the
next-largest ``K``, the share of rising steps (counts with ½ added, a continuity correction),
the two other windows, the floor ×100, the control retrained on the other data sets, and the
margin at ``√m`` and ``m²``; exploratory: ``J`` at the window's end, largest ``K`` ÷ ``K = 1``
(equivalence, margin 1.05: the same objective should end at the same cost). A control ratio
is not applicable when its numerator or denominator is exactly zero (no rise, or no rising
step) in at least half the seeds: those seeds' ratios are then set by the floor (or the ½),
not by the data (:func:`floor_set`).
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np

from dropout_study.chapters.findings import Finding, finding, from_seeds
from dropout_study.chapters.power import half_and_double
from dropout_study.chapters.reach import reachable
from dropout_study.numfmt import general, ratio

__all__ = [
    "MARGIN",
    "RISE_FLOOR",
    "J_END_MARGIN",
    "EXACT",
    "exact_checks",
    "primary",
    "relative",
    "alternatives",
    "floor_set",
    "control",
    "control_values",
    "control_ties",
    "control_agreement",
    "all_findings",
]

MARGIN = 0.05
"""Default relative equivalence margin of R / J(θ*_p)."""
RISE_FLOOR = 1e-6
"""Nats added to both summed rises of a control ratio (module docstring)."""
J_END_MARGIN = 1.05
"""Equivalence margin (a ratio) of the exploratory comparison of J at the window's end."""
EXACT = ("p = 0 equals no dropout layers", "evaluation mode equals no dropout layers")
"""Names of the two exact-check findings."""

_EXACT_SOURCE = "closed form: bit-identical means no value differs, so the margin ½ admits none"


def _share(x: float) -> str:
    """A relative margin as the findings' numbers read it, with its percentage: ``0.05 (5 %)``
    (the page's tables give the same ratio in %)."""
    return f"{general(x)} ({general(100 * x)} %)"


def _rate(p) -> str:
    return general(p)


def exact_checks(m) -> list[Finding]:
    """The two exact checks as equivalence findings on counts of differing values."""
    out = []
    for name, key in zip(EXACT, ("p0_differences", "eval_differences"), strict=True):
        v = float(m[key])
        out.append(
            finding(
                name,
                "equivalence",
                estimate=v,
                low=v,
                high=v,
                n=int(m["n_seeds"]),
                margin=0.5,
                margin_source=_EXACT_SOURCE,
            )
        )
    return out


def _rel_source(margin: float) -> str:
    return (
        f"convention: a regulariser below {general(100 * margin)} % of the cost leaves the "
        "objective J for practical purposes"
    )


def _abs_source(margin: float) -> str:
    return f"convention: an absolute margin of {general(margin)} nats on R (STUDY.md, chapter 2)"


def _ratio(num, den) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _index(m, rate) -> tuple[float, int]:
    p = float(m["primary_rate"]) if rate is None else float(rate)
    return p, [float(r) for r in m["rates"]].index(p)


def primary(m, *, margin=None, rate=None, role="primary", name=None) -> Finding:
    """``R(θ*_p)`` in nats at ``rate`` (default: the primary rate) against the absolute
    ``margin`` (default: ``m["abs_margin"]``), named ``name`` (default:
    ``"R at p = <rate>, δ = <margin> nats"``)."""
    p, i = _index(m, rate)
    margin = float(m["abs_margin"]) if margin is None else float(margin)
    values = np.asarray(m["per_seed"]["r_own"], dtype=float)[:, i]
    if name is None:
        name = f"R at p = {_rate(p)}, δ = {general(margin)} nats"
    return from_seeds(
        name, "equivalence", values, margin=margin, margin_source=_abs_source(margin), role=role
    )


def relative(m, *, margin=None, rate=None, role="alternative", name=None) -> Finding:
    """``R(θ*_p) / J(θ*_p)`` at ``rate`` (default: the primary rate) against the relative
    ``margin`` (default: ``m["margin"]``)."""
    p, i = _index(m, rate)
    margin = float(m["margin"]) if margin is None else float(margin)
    ps = m["per_seed"]
    values = _ratio(np.asarray(ps["r_own"])[:, i], np.asarray(ps["j_star"])[:, i])
    if name is None:
        name = f"R ÷ J(θ*_p) at p = {_rate(p)} (a fraction), margin {_share(margin)}"
    return from_seeds(
        name, "equivalence", values, margin=margin, margin_source=_rel_source(margin), role=role
    )


def alternatives(m) -> list[tuple[str, Finding]]:
    """``(choice, finding)`` for every alternative of the primary finding (module
    docstring), in the order of the robustness table."""
    rates = [float(r) for r in m["rates"]]
    prim, rel, ab = float(m["primary_rate"]), float(m["margin"]), float(m["abs_margin"])
    ps = m["per_seed"]
    out = []

    def alt(choice, name, values, margin, source):
        f = from_seeds(
            name, "equivalence", values, margin=margin, margin_source=source, role="alternative"
        )
        out.append((choice, f))

    for p in rates[1:]:
        if p != prim:
            f = primary(m, rate=p, role="alternative")
            out.append((f"p = {_rate(p)} at θ*_p (trained with dropout at p)", f))
    r0, j0 = np.asarray(ps["r_theta0"]), np.asarray(ps["j_theta0"])
    for k, p in enumerate(rates):
        if p > 0:
            alt(
                f"p = {_rate(p)} at θ*₀ (trained without dropout)",
                f"R(θ*₀) at p = {_rate(p)}, δ = {general(ab)} nats",
                r0[:, k],
                ab,
                _abs_source(ab),
            )
    for d in half_and_double(ab):
        f = primary(m, margin=d, role="alternative")
        out.append((f"absolute margin δ = {general(d)} nats", f))
    for d in (rel, *half_and_double(rel)):
        f = relative(m, margin=d)
        out.append((f"relative margin: R ÷ J(θ*_p) against {general(100 * d)} %", f))
    price = np.asarray(ps["price"])[:, _index(m, None)[1]]
    for d in (ab, *half_and_double(ab)):  # the borrowed margins varied like R's own
        alt(
            f"the price J(θ*_p) − J(θ*₀), δ = {general(d)} nats",
            f"price at p = {_rate(prim)}, δ = {general(d)} nats",
            price,
            d,
            f"convention: borrowed from R — STUDY.md's absolute margin for R ({general(ab)} "
            "nats, here at "
            f"{general(d / ab)}×), applied to the price J(θ*_p) − J(θ*₀), a difference of "
            "costs (no margin of its own is published)",
        )
    for d in (rel, *half_and_double(rel)):
        alt(
            f"the price ÷ J(θ*₀), margin {general(100 * d)} %",
            f"price ÷ J(θ*₀) at p = {_rate(prim)} (a fraction), margin {_share(d)}",
            _ratio(price, j0),
            d,
            "convention: borrowed from R — the relative margin for a regulariser "
            f"({general(100 * rel)} % of the cost, here at {general(d / rel)}×), applied to the "
            "price as a share of J(θ*₀) (no margin of its own is published)",
        )
    n = len(ps["r_own"])
    alt_r = np.asarray(ps["alt_r"], dtype=float).reshape(n, -1)
    for c, what in enumerate(m["alt_settings"]):
        alt(
            f"{what} (retrained at p = {_rate(prim)})",
            f"R at p = {_rate(prim)}, {what}, δ = {general(ab)} nats",
            alt_r[:, c],
            ab,
            _abs_source(ab),
        )
    ar = np.asarray(ps["along_r"], dtype=float)
    for c, step in enumerate(m["checkpoints"]):
        if np.all(np.isfinite(ar[:, c])):
            what = "at initialisation" if step == 0 else f"at step {step}"
            alt(
                f"R along training: {what}",
                f"R(θ_t), {what}, δ = {general(ab)} nats",
                ar[:, c],
                ab,
                _abs_source(ab),
            )
    return out


def control_ties(m, window: str, num: int) -> np.ndarray:
    """Per seed, whether ``ks[num]`` and ``K = 1`` rose by exactly the same amount in
    ``window`` (e.g. neither rose at all): a tie, which carries no evidence."""
    v = np.asarray(m["control"]["per_seed"][window]["rises"], dtype=float)
    return v[:, num] == v[:, 0]


def floor_set(top, bottom, k_top, *, measure: str = "rises") -> str | None:
    """Why a control ratio ``(top + f) / (bottom + f)`` cannot decide, or ``None``: its
    numerator (``K = k_top``) or denominator (``K = 1``) is exactly zero in at least half the
    seeds, whose ratios are then set by the floor ``f`` (or the ½ added to counts of rising
    steps), not by the data."""
    top, bottom = np.asarray(top, dtype=float), np.asarray(bottom, dtype=float)
    at = [f"K = {k}" for k, v in ((k_top, top), (1, bottom)) if np.any(v == 0)]
    zero = int(np.sum((top == 0) | (bottom == 0)))
    if 2 * zero < top.size:
        return None
    what, by = ("rises", "floor") if measure == "rises" else ("rising steps", "½ added")
    return f"no {what} at {' or '.join(at)} in {zero} of {top.size} seeds: the ratio is the {by}'s"


def control_values(m, window: str, num: int, *, floor: float, measure: str = "rises"):
    """Per-seed control ratios, ``ks[num]`` over ``K = 1``, in ``window``: summed rises with
    ``floor`` nats added to both (``measure="rises"``) or rising steps with ½ added
    (``"steps"``)."""
    c = m["control"]["per_seed"][window]
    if measure == "rises":
        v = np.asarray(c["rises"], dtype=float)
        return (v[:, num] + floor) / (v[:, 0] + floor)
    v = np.asarray(c["up_steps"], dtype=float)
    return (v[:, num] + 0.5) / (v[:, 0] + 0.5)


def _floor_reason(m, window: str, num: int, measure: str) -> str | None:
    c = m["control"]["per_seed"][window]
    v = np.asarray(c["rises" if measure == "rises" else "up_steps"], dtype=float)
    return floor_set(v[:, num], v[:, 0], m["control"]["ks"][num], measure=measure)


def _control_source(margin: float, ks) -> str:
    return (
        f"convention: at least {'halved' if margin == 2 else f'÷ {general(margin, 3)}'} by "
        f"{ks[-1]}× less gradient-noise variance"
    )


class _ControlTest(TypedDict):
    """The test of every control finding (keywords of :func:`from_seeds`)."""

    kind: str
    direction: int
    scale: str


def control(m) -> list[Finding]:
    """The control's primary finding, its alternatives and the exploratory end-cost one."""
    ks = m["control"]["ks"]
    mg = float(m["control_margin"])
    top = len(ks) - 1
    kw: _ControlTest = {"kind": "effect", "direction": -1, "scale": "log"}
    out = [
        from_seeds(
            f"summed rises of J, K = {ks[-1]} ÷ K = 1",
            values=control_values(m, "best", top, floor=RISE_FLOOR),
            margin=mg,
            margin_source=_control_source(mg, ks),
            role="primary",
            ties=control_ties(m, "best", top),
            reason=_floor_reason(m, "best", top, "rises"),
            **kw,
        )
    ]

    def alt(name, window="best", num=top, margin=mg, **how):
        how.setdefault("floor", RISE_FLOOR)
        out.append(
            from_seeds(
                name,
                values=control_values(m, window, num, **how),
                margin=margin,
                margin_source=_control_source(margin, ks),
                role="alternative",
                ties=control_ties(m, window, num),
                reason=_floor_reason(m, window, num, how.get("measure", "rises")),
                **kw,
            )
        )

    if len(ks) > 2:
        alt(f"summed rises, K = {ks[-2]} ÷ K = 1", num=top - 1)
    alt(f"rising steps (+½), K = {ks[-1]} ÷ K = 1", floor=0.0, measure="steps")
    alt("summed rises up to the stopping step", window="stop")
    alt("summed rises over the first half of the window", window="half")
    alt(f"summed rises, floor {general(100 * RISE_FLOOR)} nats", floor=100 * RISE_FLOOR)
    alt_rises = np.asarray(m["control"]["alt_rises"], dtype=float)  # (seeds, data sets, 2)
    for c, name in enumerate(m["control"]["alt_datasets"]):
        r = alt_rises[:, c, :]
        out.append(
            from_seeds(
                f"summed rises on {name} (retrained)",
                values=(r[:, 1] + RISE_FLOOR) / (r[:, 0] + RISE_FLOOR),
                margin=mg,
                margin_source=_control_source(mg, ks),
                role="alternative",
                ties=r[:, 1] == r[:, 0],
                reason=floor_set(r[:, 1], r[:, 0], ks[-1]),
                **kw,
            )
        )
    for d in half_and_double(mg, "log"):
        alt(f"summed rises, margin ×/÷ {ratio(d)}", margin=d)
    j_end = np.asarray(m["control"]["per_seed"]["best"]["j_end"], dtype=float)
    out.append(
        from_seeds(
            f"J at the window's end, K = {ks[-1]} ÷ K = 1",
            "equivalence",
            j_end[:, top] / j_end[:, 0],
            margin=J_END_MARGIN,
            scale="log",
            role="exploratory",
            margin_source="convention: the same objective should end within 5 % of the same cost",
        )
    )
    return out


def control_agreement(findings) -> str:
    """How the control's alternative findings (``role == "alternative"``) compare with its
    primary (the first of ``findings``, as :func:`control` orders them): ``"k of n give the
    same outcome"``, leaving out — and naming how many — those that are not applicable and
    those that only move the primary's margin the way that cannot change its outcome
    (:func:`~dropout_study.chapters.reach.reachable`: a narrower margin keeps a "yes")."""
    prim = findings[0]
    alts = [f for f in findings if f.role == "alternative"]
    na = [f for f in alts if not f.applicable]
    fixed = [f for f in alts if f.applicable and set(reachable(prim, f)) <= {prim.outcome}]
    counted = [f for f in alts if f not in na and f not in fixed]
    agree = sum(f.outcome == prim.outcome for f in counted)
    left = [f"{len(na)} not applicable"] if na else []
    left += [f"{len(fixed)} fixed by its margin"] if fixed else []
    tail = f" (not counted: {', '.join(left)})" if left else ""
    return f"{agree} of {len(counted)} give the same outcome{tail}"


def all_findings(m) -> list[Finding]:
    """Every finding of the chapter, in the order of the page's table."""
    return [
        *exact_checks(m),
        primary(m),
        *[f for _, f in alternatives(m)],
        *control(m),
    ]
