"""The findings of the ``linearity`` chapter, built from the per-seed values the summary keeps
(:mod:`dropout_study.chapters.linearity.summary`) with the shared findings kit
(:mod:`dropout_study.chapters.findings`): per data set the trend ρ(p, Z) and the analogy
Z(dropout) − Z(L2) under any analysis variant (:func:`parts_of`), and the exploratory
findings (:func:`exploratory`). The rule that reads them is in
:mod:`dropout_study.chapters.linearity.verdict`.
"""

from __future__ import annotations

from dropout_study.chapters.findings import (
    INCONCLUSIVE as F_INCONCLUSIVE,
)
from dropout_study.chapters.findings import (
    REVERSED,
    YES,
    Finding,
    from_seeds,
)
from dropout_study.numfmt import general
from dropout_study.validation import fail

__all__ = [
    "TREND_SOURCE",
    "LABELS",
    "ANALOGY_WORDS",
    "label",
    "names",
    "trend",
    "sign",
    "variants",
    "parts_of",
    "exploratory",
    "page_findings",
]

TREND_SOURCE = "convention: |ρ| < 0.2 is no trend (this study; varied at 0.1 and 0.4)"
LABELS = {
    "breast_cancer": "breast cancer",
    "noisy_moons": "noisy moons",
    "digits_small": "digits (small split)",
}
ANALOGY_WORDS = {YES: "shown", F_INCONCLUSIVE: "not shown", REVERSED: "reversed"}
"""Per-data-set words of the analogy's sign finding (a null is "not shown")."""


def label(name: str) -> str:
    return LABELS.get(name, name.replace("_", " "))


def names(xs) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"`` of data-set labels."""
    xs = [label(x) for x in xs]
    return xs[0] if len(xs) == 1 else ", ".join(xs[:-1]) + " and " + xs[-1]


def _values(block, key: str, owner: str):
    if not isinstance(block, dict) or key not in block:
        fail("metrics", "linearity", f"a block holding {key!r} for {owner}", block)
    return [float("nan") if v is None else float(v) for v in block[key]]


def trend(name: str, block: dict, *, role="primary", margin=None) -> Finding:
    """The trend finding of a ρ block (``per_seed``): direction −1, margin 0.2 by default."""
    return from_seeds(
        name,
        "trend",
        _values(block, "per_seed", name),
        margin=margin,
        margin_source=TREND_SOURCE,
        direction=-1,
        role=role,
    )


def sign(name: str, block: dict, *, role="primary") -> Finding:
    """The sign finding (direction −1) of a paired difference (``per_seed``, ``ties``).

    With ``n_required`` (a matched comparison) only the matched seeds count, and fewer than
    ``n_required`` of them make it not applicable."""
    values = _values(block, "per_seed", name)
    ties = block.get("ties")
    need = block.get("n_required")
    if need is not None:
        keep = [i for i, v in enumerate(values) if v == v]
        values = [values[i] for i in keep]
        ties = None if ties is None else [ties[i] for i in keep]
        if len(values) < need:
            reason = f"{len(values)} matched seeds, {need} required"
            padded = values if len(values) >= 1 else [float("nan")]
            return from_seeds(name, "sign", padded, direction=-1, role=role, reason=reason)
    return from_seeds(name, "sign", values, direction=-1, role=role, ties=ties)


def variants(metrics) -> dict:
    if not isinstance(metrics, dict) or not metrics.get("datasets"):
        got = type(metrics).__name__ if not isinstance(metrics, dict) else "no 'datasets'"
        fail("metrics", "linearity", "a dict with a non-empty 'datasets'", got)
    out = {}
    for ds, m in metrics["datasets"].items():
        if not isinstance(m, dict) or "primary" not in m.get("variants", {}):
            fail("metrics", "linearity", f"variants.primary for data set {ds!r}", "no 'variants'")
        out[ds] = m["variants"]
    return out


def parts_of(metrics, key: str = "primary", *, trend_margin=None, role="primary",
             only=None) -> dict:  # fmt: skip
    """``{data set: {"trend": Finding, "sign": Finding}}`` under the analysis variant ``key``
    (``only``: a subset of data sets)."""
    out = {}
    tag = "" if key == "primary" else f" [{key}]"
    if trend_margin is not None:
        tag += f" [trend margin {general(trend_margin)}]"
    for ds, v in variants(metrics).items():
        if only is not None and ds not in only:
            continue
        var = v[key]
        out[ds] = {
            "trend": trend(
                f"ρ(p, Z), {label(ds)}{tag}", var["rho"], role=role, margin=trend_margin
            ),  # fmt: skip
            "sign": sign(
                f"Z(dropout) − Z(L2) at own best, {label(ds)}{tag}", var["l2"], role=role
            ),  # fmt: skip
        }
    return out


def exploratory(metrics) -> dict:
    """The exploratory findings: ρ(λ, Z) under L2 and L1 and dropout's test-loss change per
    data set (``{"l2": {ds: F}, "l1": {ds: F}, "helped": {ds: F}}``) and the toy's ``toy``."""
    out: dict = {"l2": {}, "l1": {}, "helped": {}}
    for ds, m in metrics["datasets"].items():
        for fam in ("l2", "l1"):
            out[fam][ds] = trend(
                f"ρ(λ, Z) under {fam.upper()}, {label(ds)}", m[f"rho_z_{fam}"], role="exploratory"
            )
        h = m["dropout_helped"]
        f = from_seeds(
            f"test loss, own-best dropout − none, {label(ds)}",
            "sign",
            _values(h, "per_seed", ds),
            direction=-1,
            role="exploratory",
            ties=h.get("ties"),
        )
        out["helped"][ds] = f
    toy = metrics.get("toy") or {}
    if "change_z" in toy:
        rates = toy["rates"]
        out["toy"] = sign(
            f"toy: Z(p = {general(rates[-1])}) − Z(p = {general(rates[0])})",
            toy["change_z"],
            role="exploratory",
        )
    return out


def page_findings(metrics) -> list[Finding]:
    """Every finding the page lists: the primary ones per data set, then the exploratory."""
    parts = parts_of(metrics)
    ex = exploratory(metrics)
    out = [p[k] for p in parts.values() for k in ("trend", "sign")]
    for key in ("l2", "l1", "helped"):
        out += list(ex[key].values())
    if "toy" in ex:
        out.append(ex["toy"])
    return out
