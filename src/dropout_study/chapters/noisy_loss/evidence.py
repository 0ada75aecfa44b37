"""The findings of chapter 3 (``noisy-loss``), made from the per-seed values in its metrics
with the findings kit (:mod:`dropout_study.chapters.findings`): the six primary findings, the
findings of every alternative analysis (each a robustness row), the exploratory ones, the
power of each primary finding (the alternatives and the sensitivity scan are in
:mod:`dropout_study.chapters.noisy_loss.alternatives`).

Primary findings (margins stated before the results; ratios on the log scale):

- ``noisier`` per data set — trend: per-seed Spearman ρ(p, loss spread across fixed masks at
  α = 0) over p > 0, margin 0.2 (the kit's trend margin);
- ``slower`` per data set — effect, direction +1: ratio of restricted times
  p = ``control_rate`` / p = 0 on the paired clock, geometric mean over the seeds with a
  reference, margin :data:`SLOWER_MARGIN` (a convention);
- ``noise`` (noise speeds it up) — effect, +1: ratio K = 1 / K = K_max on the first control
  data set, margin :data:`NOISE_MARGIN` (a convention);
- ``left`` (what is left) — effect, +1: ratio K = K_max / p = 0, margin :data:`LEFT_MARGIN`.

Not applicable (the kit's rule, plus three of this chapter): fewer than 2 seeds with a
reference; a budget below 10 × the median p = 0 time-to-target (STUDY.md, "Clocks"); a median
p = 0 time-to-target under :data:`FIRST_STEPS` steps (such a clock times the first drop of the
loss, not a run: STUDY.md's "Clocks" interpolates crossings so that "a run of 5–7 steps" is
timed, and a clock shorter than that is below what it calls a run) — both checked for every
clock, the rows that change the target, the budget or the learning rate included; the
gradient variance at initialisation (fixed by algebra at the shared θ: the masks' variance
grows with p — for one dropout layer it is p/(1 − p) times a constant).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import stats as sps

from dropout_study.chapters.findings import Finding, from_seeds
from dropout_study.chapters.power import power
from dropout_study.numfmt import general, plain

__all__ = [
    "SLOWER_MARGIN",
    "NOISE_MARGIN",
    "LEFT_MARGIN",
    "MARGIN_SOURCES",
    "BUDGET_MULTIPLE",
    "FIRST_STEPS",
    "NAMES",
    "PRIMARY_KEYS",
    "KEY_WORDS",
    "ratio",
    "trend",
    "budget_reason",
    "record_budget_reason",
    "seed_ids",
    "leave_one_out",
    "control_findings",
    "slower",
    "primary",
    "exploratory",
    "power_rows",
    "flatten",
]

SLOWER_MARGIN = 1.2
NOISE_MARGIN = 1.1
LEFT_MARGIN = 1.2
MARGIN_SOURCES = {
    "slower": "convention: a 20 % slowdown (ratio 1.2) is the smallest called slower",
    "noise": "convention: less noise must save at least 10 % of the time (ratio 1.1)",
    "left": "convention: a 20 % slowdown (ratio 1.2), as for slower",
}
BUDGET_MULTIPLE = 10
"""A timed run's budget must be at least this many times the median p = 0 time-to-target."""
FIRST_STEPS = 5
"""Steps: STUDY.md's "Clocks" interpolates crossings so that "a run of 5–7 steps" is timed
without whole-step jumps; a clock whose median p = 0 time is shorter than that times the
first drop of the loss rather than a run, and is not applicable."""
NAMES = {"moons": "moons", "breast_cancer": "breast cancer"}
PRIMARY_KEYS = ("noisier", "slower", "noise", "left")
KEY_WORDS = {"noise": "noise speeds it up", "left": "what is left"}


def _name(d: str) -> str:
    return NAMES.get(d, d)


def _g(x: float) -> str:
    return general(x)


def ratio(name: str, rec: Mapping, margin: float, source: str, role: str, reason=None) -> Finding:
    """An effect finding (log scale, direction +1) from a ratio record of
    :func:`dropout_study.chapters.noisy_loss.clock.ratio_record`."""
    values = list(rec["values"])
    if len(values) < 2 and reason is None:
        reason = f"{len(values)} seed(s) with a reference (at least 2 needed)"
    return from_seeds(
        name,
        "effect",
        values if values else [math.nan],
        margin=margin,
        margin_source=source,
        direction=1,
        scale="log",
        role=role,
        ties=rec.get("ties"),
        reason=reason,
    )


def trend(name: str, values, role: str, direction: int = 1, reason=None) -> Finding:
    """A trend finding (margin 0.2) from per-seed Spearman ρ values."""
    return from_seeds(name, "trend", values, direction=direction, role=role, reason=reason)


def budget_reason(m: Mapping, d: str, key: str) -> str | None:
    """Why clock ``key`` on data set ``d`` cannot time a run (:func:`record_budget_reason`)."""
    return record_budget_reason(m["by_dataset"][d]["clock"][key], _name(d))


def record_budget_reason(rec: Mapping, where: str = "") -> str | None:
    """Whether a clock record with ``budget`` and ``p0_median`` (its own p = 0 median time
    under that clock) can time runs: a reason when the median is under :data:`FIRST_STEPS`
    steps (it times the first drop of the loss) or the budget is shorter than
    :data:`BUDGET_MULTIPLE` times it (STUDY.md, "Clocks"), else ``None`` (also when the record
    has no median). ``where``: the data set, named at the reason's start (``"moons: ..."``)."""
    med = rec.get("p0_median")
    on = f"{where}: " if where else ""
    if med is None:
        return None
    if med < FIRST_STEPS:
        return (
            f"{on}the median p = 0 time, {plain(med, 1)} steps, is under {FIRST_STEPS}: this "
            "clock times the first drop of the loss, not a run"
        )
    if rec.get("budget") is None:
        return None
    if rec["budget"] < BUDGET_MULTIPLE * med:
        return (
            f"{on}budget {rec['budget']} steps is below {BUDGET_MULTIPLE} × the median p = 0 "
            f"time ({plain(med, 1)} steps)"
        )
    return None


def control_findings(m: Mapping, d: str, key: str, role: str, tag: str, *, arm="K") -> dict:
    """``noise`` and ``left`` on data set ``d`` under clock ``key`` (``arm``: ``"K"`` the
    largest K, ``"K2"`` the next-largest, ``"surrogate"`` the fixed-mask surrogate)."""
    v = m["control"][d]["variants"][key]
    ks = m["control_ks"]
    why = budget_reason(m, d, key)
    what, nk, lk = {
        "K": (f"K = {ks[-1]}", "noise", "left"),
        "K2": (f"K = {ks[-2]}" if len(ks) > 2 else "", "noise_2nd", "left_2nd"),
        "surrogate": ("the fixed-mask surrogate", "surrogate_noise", "surrogate_left"),
    }[arm]
    return {
        "noise": ratio(
            f"noise speeds it up ({_name(d)}): time ratio K = 1 / {what}{tag}",
            v[nk],
            NOISE_MARGIN,
            MARGIN_SOURCES["noise"],
            role,
            why,
        ),
        "left": ratio(
            f"what is left ({_name(d)}): time ratio {what} / p = 0{tag}",
            v[lk],
            LEFT_MARGIN,
            MARGIN_SOURCES["left"],
            role,
            why,
        ),
    }


def slower(m: Mapping, d: str, rec: Mapping, role: str, tag: str, reason=None) -> Finding:
    cr = _g(m["control_rate"])
    return ratio(
        f"slower ({_name(d)}): time ratio p = {cr} / p = 0{tag}",
        rec,
        SLOWER_MARGIN,
        MARGIN_SOURCES["slower"],
        role,
        reason,
    )


def primary(m: Mapping) -> dict:
    """The primary findings: ``{"noisier": {d: F}, "slower": {d: F}, "noise": F, "left": F}``."""
    ds = m["datasets"]
    by = m["by_dataset"]
    cd = m["control_datasets"][0]
    ctl = control_findings(m, cd, "primary", "primary", "")
    return {
        "noisier": {
            d: trend(
                f"noisier ({_name(d)}): ρ(p, loss spread across masks at α = 0), p > 0",
                by[d]["noise"]["spread0"],
                "primary",
            )
            for d in ds
        },
        "slower": {
            d: slower(
                m,
                d,
                by[d]["clock"]["primary"]["slower"],
                "primary",
                "",
                budget_reason(m, d, "primary"),
            )
            for d in ds
        },
        "noise": ctl["noise"],
        "left": ctl["left"],
    }


def exploratory(m: Mapping) -> list[Finding]:
    """ "Converges higher", reported apart: per data set the trend of the early-stopped and of
    the final (end of budget) validation loss in p (exploratory: never in the verdict)."""
    out = []
    for d in m["datasets"]:
        lv = m["by_dataset"][d]["levels"]
        out.append(
            trend(
                f"converges higher ({_name(d)}): ρ(p, early-stopped validation loss)",
                lv["best"],
                "exploratory",
            )
        )
        out.append(
            trend(
                f"converges higher ({_name(d)}): ρ(p, final validation loss)",
                lv["final"],
                "exploratory",
            )
        )
    return out


def _sd(values, scale: str) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if scale == "log":
        v = np.log(v[v > 0])
    return float(np.std(v, ddof=1)) if v.size >= 2 else float("nan")


def power_rows(m: Mapping) -> list[dict]:
    """For each primary finding: seeds, half-width and margin on the decision scale, the
    seeds a decision would roughly need when it is inconclusive (:func:`power`), and the seeds
    for about 80 % power, ``((z_0.975 + z_0.8) · s / m)²`` — the same for "yes" when the true
    effect is twice the margin and for "no" when it is zero (the truth is one margin away
    from the boundary either way)."""
    prim, by = primary(m), m["by_dataset"]
    cd = m["control_datasets"][0]
    items = [(prim["noisier"][d], by[d]["noise"]["spread0"]) for d in m["datasets"]]
    items += [
        (prim["slower"][d], by[d]["clock"]["primary"]["slower"]["values"]) for d in m["datasets"]
    ]
    v = m["control"][cd]["variants"]["primary"]
    items += [(prim["noise"], v["noise"]["values"]), (prim["left"], v["left"]["values"])]
    z = float(sps.norm.ppf(0.975) + sps.norm.ppf(0.8))
    out = []
    for f, values in items:
        sd = _sd(values, f.scale)
        ok = math.isfinite(sd) and math.isfinite(f.low)
        pw = (
            power(f, sd)
            if ok
            else {"half_width": math.nan, "margin": math.nan, "seeds_needed": None}
        )
        m_dec = math.log(f.margin) if f.scale == "log" else f.margin
        n80 = int(math.ceil((z * sd / m_dec) ** 2)) if ok else None
        out.append({"finding": f, "sd": sd, "n80": n80, **pw})
    return out


def flatten(prim: dict) -> list[Finding]:
    out = []
    for v in prim.values():
        out += list(v.values()) if isinstance(v, dict) else [v]
    return out


def seed_ids(m: Mapping, d: str) -> list[int]:
    """The replicates (0-based) with a reference on data set ``d``'s primary clock, in the
    order of its ratio records' ``values``; without ``targets`` in the record, all of them."""
    rec = m["by_dataset"][d]["clock"]["primary"]
    tg = rec.get("targets")
    if tg is None:
        return list(range(len(rec["slower"]["values"])))
    return [i for i, t in enumerate(tg) if t is not None and math.isfinite(t)]


def _per_seed(m: Mapping) -> list[tuple[Finding, list, list[int], list | None]]:
    """Each primary finding with its per-seed values, their replicates and ties."""
    prim, by = primary(m), m["by_dataset"]
    cd = m["control_datasets"][0]
    out: list[tuple[Finding, list, list[int], list | None]] = []
    for d in m["datasets"]:
        v = by[d]["noise"]["spread0"]
        out.append((prim["noisier"][d], list(v), list(range(len(v))), None))
    for d in m["datasets"]:
        r = by[d]["clock"]["primary"]["slower"]
        out.append((prim["slower"][d], list(r["values"]), seed_ids(m, d), r.get("ties")))
    v = m["control"][cd]["variants"]["primary"]
    for key in ("noise", "left"):
        r = v[key]
        out.append((prim[key], list(r["values"]), seed_ids(m, cd), r.get("ties")))
    return out


def leave_one_out(m: Mapping) -> list[dict]:
    """For each applicable primary finding, the same finding re-made with each seed left out
    in turn (same kind, margin, direction and scale; the kit decides it): ``{"finding": F,
    "changed": [(replicate, F without it), ...]}``, ``changed`` listing the seeds whose
    removal changes the counted outcome (empty: no single seed decides it)."""
    out = []
    for f, values, ids, ties in _per_seed(m):
        if not f.applicable or len(values) < 3:
            out.append({"finding": f, "changed": []})
            continue
        changed = []
        for i, seed in enumerate(ids):
            g = from_seeds(
                f"{f.name} [without seed {seed}]",
                f.kind,
                values[:i] + values[i + 1 :],
                margin=f.margin,
                margin_source=f.margin_source,
                direction=f.direction,
                scale=f.scale,
                role=f.role,
                ties=None if ties is None else list(ties[:i]) + list(ties[i + 1 :]),
            )
            if g.counted != f.counted:
                changed.append((seed, g))
        out.append({"finding": f, "changed": changed})
    return out
