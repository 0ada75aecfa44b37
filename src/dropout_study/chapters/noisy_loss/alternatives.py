"""The alternative analyses of chapter 3 (``noisy-loss``), each a row of the robustness table:
the findings it replaces among the primary ones (:mod:`dropout_study.chapters.noisy_loss.evidence`)
— other noise measures, the clock's variants (targets, absolute targets set per seed, the
budget halved, a coarser evaluation grid), the trend over every p, the per-p best learning
rate, the compared rate, every conventional margin at its square root and its square, each
data set alone, the control's variants — and the sensitivity scan of those knobs.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from dropout_study.chapters.findings import Finding, finding
from dropout_study.chapters.noisy_loss.evidence import (
    KEY_WORDS,
    LEFT_MARGIN,
    MARGIN_SOURCES,
    NOISE_MARGIN,
    SLOWER_MARGIN,
    _g,
    _name,
    budget_reason,
    control_findings,
    flatten,
    primary,
    ratio,
    record_budget_reason,
    slower,
    trend,
)
from dropout_study.chapters.power import half_and_double

__all__ = ["Row", "rows", "sensitivity", "best_lr_label", "reestimates", "clock_label"]


@dataclass(frozen=True)
class Row:
    """One alternative analysis: its ``choice`` and the primary findings it replaces
    (``replace``: keys of :func:`primary`, with a dict per data set for noisier/slower);
    ``exploratory`` rows measure another quantity (shown, not counted); ``reason`` makes the
    whole row not applicable."""

    choice: str
    replace: dict = field(default_factory=dict)
    exploratory: bool = False
    reason: str | None = None

    def findings(self) -> list[Finding]:
        out = []
        for k, v in self.replace.items():
            if k != "only":
                out += list(v.values()) if isinstance(v, dict) else [v]
        return out


def clock_label(m: Mapping, key: str) -> str:
    """The robustness row's name of the alternative clock ``key`` (of ``clock_variants``)."""
    if key.startswith("fraction "):
        return f"target: {_g(100 * float(key.split()[1]))} % of the p = 0 improvement"
    if key.startswith("offset "):
        return f"absolute target per seed: the p = 0 best + {key.split()[1]} nats"
    if key == "budget halved":
        return f"budget halved ({m['max_steps'] // 2} steps)"
    return "evaluations every 5th step only (crossings interpolated)"


def best_lr_label(m: Mapping) -> str:
    """The best-learning-rate row's choice, naming the rate each compared arm used per data
    set (the grid may leave one choice: then both arms use the same rate)."""
    cr = _g(m["control_rate"])
    grid = ", ".join(_g(v) for v in m["lr_grid"])
    used = "; ".join(
        f"{_name(d)}: p = 0 at {_g(r['lr_p0'])}, p = {cr} at {_g(r['lr_arm'])}"
        for d in m["datasets"]
        for r in [m["by_dataset"][d]["clock_best_lr"]]
    )
    return f"each p at the learning rate of {{{grid}}} with the lowest early-stopped loss ({used})"


def rows(m: Mapping) -> list[Row]:
    """Every alternative analysis the chapter names, in the order of the robustness table."""
    ds, by = m["datasets"], m["by_dataset"]
    cd = m["control_datasets"][0]
    last = m["checkpoints"][-1]
    alt = "alternative"
    out = [
        Row(
            "noise: loss spread averaged over the slice",
            {
                "noisier": {
                    d: trend(
                        f"noisier ({_name(d)}): ρ(p, spread averaged over the slice)",
                        by[d]["noise"]["spread_avg"],
                        alt,
                    )
                    for d in ds
                }
            },
        ),
        Row(
            "noise: the spread at the end of the budget instead of θ*",
            {
                "noisier": {
                    d: trend(
                        f"noisier ({_name(d)}): ρ(p, loss spread at the end of the budget)",
                        by[d]["noise"]["spread0_end"],
                        alt,
                    )
                    for d in ds
                }
            },
        ),
        Row(
            "noise: the spread at θ* of the stopping rule with twice the patience",
            {
                "noisier": {
                    d: trend(
                        f"noisier ({_name(d)}): ρ(p, loss spread at θ*, patience doubled)",
                        by[d]["noise"]["spread0_patience2"],
                        alt,
                    )
                    for d in ds
                }
            },
        ),
        Row(
            "noise: gradient variance across masks at initialisation",
            {
                "noisier": {
                    d: trend(
                        f"noisier ({_name(d)}): ρ(p, gradient variance at step 0)",
                        by[d]["noise"]["variance_init"],
                        alt,
                        reason="fixed by algebra: at the shared initial θ the variance across "
                        "masks grows with p (p/(1 − p) times a constant for one layer)",
                    )
                    for d in ds
                }
            },
        ),
        Row(
            f"noise: gradient variance across masks at step {last}",
            {
                "noisier": {
                    d: trend(
                        f"noisier ({_name(d)}): ρ(p, gradient variance at step {last})",
                        by[d]["noise"]["variance_last"],
                        alt,
                    )
                    for d in ds
                }
            },
        ),
        Row(
            f"noise: gradient SNR at step {last} (noisier = lower)",
            {
                "noisier": {
                    d: trend(
                        f"noisier ({_name(d)}): ρ(p, gradient SNR at step {last})",
                        by[d]["noise"]["snr_last"],
                        alt,
                        direction=-1,
                    )
                    for d in ds
                }
            },
        ),
    ]
    for key in by[ds[0]]["clock"]:
        if key == "primary":
            continue
        label = clock_label(m, key)
        tag = f" [{label}]"
        rep = {
            "slower": {
                d: slower(m, d, by[d]["clock"][key]["slower"], alt, tag, budget_reason(m, d, key))
                for d in ds
            }
        }
        rep.update(control_findings(m, cd, key, alt, tag))
        out.append(Row(label, rep))
    label = "trend ρ(p, restricted time) over every p"
    out.append(
        Row(
            label,
            {
                "slower": {
                    d: trend(
                        f"slower ({_name(d)}): ρ(p, restricted time)",
                        by[d]["clock"]["primary"]["trend"],
                        alt,
                        reason=budget_reason(m, d, "primary"),
                    )
                    for d in ds
                }
            },
        )
    )
    lrs = {d: by[d]["clock_best_lr"] for d in ds}
    label = best_lr_label(m)
    tag = " [each p at the rate of the grid with the lowest early-stopped loss]"
    out.append(
        Row(
            label,
            {
                "slower": {
                    d: slower(
                        m, d, lrs[d]["slower"], alt, tag, record_budget_reason(lrs[d], _name(d))
                    )
                    for d in ds
                }
            },
        )
    )
    second = [p for p in m["dropout_rates"] if 0 < p < m["control_rate"]]
    if second:
        p2 = second[-1]
        label = f"compared rate p = {_g(p2)} instead of {_g(m['control_rate'])}"
        out.append(
            Row(
                label,
                {
                    "slower": {
                        d: ratio(
                            f"slower ({_name(d)}): time ratio p = {_g(p2)} / p = 0",
                            by[d]["clock"]["primary"]["by_rate"][f"{p2:g}"],
                            SLOWER_MARGIN,
                            MARGIN_SOURCES["slower"],
                            alt,
                            budget_reason(m, d, "primary"),
                        )
                        for d in ds
                    }
                },
            )
        )
    prim = primary(m)
    for key, margin in (("slower", SLOWER_MARGIN), ("noise", NOISE_MARGIN), ("left", LEFT_MARGIN)):
        for new, word in zip(half_and_double(margin, "log"), ("√", "²"), strict=True):
            text = f"√{_g(margin)}" if word == "√" else f"{_g(margin)}²"
            label = f"margin of {key if key == 'slower' else KEY_WORDS[key]}: {text}"
            out.append(Row(label, {key: _with_margin(prim[key], new, f" [margin {text}]")}))
    if len(ds) > 1:
        for d in ds:
            out.append(Row(f"data set: {_name(d)} alone", {"only": d}))
    if len(m["control_ks"]) > 2:
        out.append(
            Row(
                f"control: K = {m['control_ks'][-2]} instead of {m['control_ks'][-1]}",
                control_findings(m, cd, "primary", alt, f" [K = {m['control_ks'][-2]}]", arm="K2"),
            )
        )
    for d in m["control_datasets"][1:]:
        out.append(Row(f"control on {_name(d)}", control_findings(m, d, "primary", alt, "")))
    for d in m["control_datasets"]:
        if "surrogate_noise" in m["control"][d]["variants"]["primary"]:
            out.append(
                Row(
                    f"control on {_name(d)}: the fixed-mask surrogate instead of K",
                    control_findings(m, d, "primary", alt, "", arm="surrogate"),
                )
            )
    ext = m["control"][cd]["variants"]["primary"].get("extrapolated", [])
    if len(m["control_ks"]) >= 3 and ext:
        rec = {"values": ext}
        out.append(
            Row(
                "control: K → ∞, per-seed fit a + b/K (exploratory)",
                {
                    "noise": ratio(
                        f"noise speeds it up ({_name(cd)}): time ratio K = 1 / (K → ∞ fit)",
                        rec,
                        NOISE_MARGIN,
                        MARGIN_SOURCES["noise"],
                        "exploratory",
                    )
                },
                exploratory=True,
            )
        )
    return out


def _with_margin(f, margin: float, tag: str):
    """The finding(s) ``f`` (one, or a dict per data set) decided at another margin."""
    if isinstance(f, dict):
        return {d: _with_margin(v, margin, tag) for d, v in f.items()}
    return finding(
        f.name + tag,
        f.kind,
        estimate=f.estimate,
        low=f.low,
        high=f.high,
        n=f.n,
        margin=margin,
        margin_source=f.margin_source.split(":")[0] + f": {tag.strip(' []')} (half or double)",
        direction=f.direction,
        scale=f.scale,
        role="alternative",
        degenerate=f.degenerate,
        reason=f.reason,
    )


def _pairs(prim: Mapping, key: str, v) -> list[tuple[Finding, Finding]]:
    """``(primary finding, the row's finding)`` for a row's replacement ``v`` of ``key``
    (one finding, or one per data set)."""
    if isinstance(v, dict):
        return [(prim[key][d], f) for d, f in v.items()]
    return [(prim[key], v)]


def sensitivity(m: Mapping) -> list[dict]:
    """The sensitivity scan: for every row that replaces a primary finding by one of the same
    kind and scale, how far it moves the estimate, in half-widths of the primary's interval
    (decision scale); STUDY.md asks for a row for every knob that moves it by more than ½."""
    prim = primary(m)
    flat = {f.name: f for f in flatten(prim)}
    out = []
    for row in rows(m):
        if "only" in row.replace:
            continue
        for key, v in row.replace.items():
            for p, f in _pairs(prim, key, v):
                if f.kind != p.kind or f.margin != p.margin or p.name not in flat:
                    continue
                if not (math.isfinite(f.estimate) and math.isfinite(p.estimate)):
                    continue
                x = math.log if p.scale == "log" else (lambda a: a)
                hw = p.half_width
                shift = abs(x(f.estimate) - x(p.estimate)) / hw if hw > 0 else math.inf
                out.append({"knob": row.choice, "primary": p, "alternative": f, "shift": shift})
    return out


def reestimates(m: Mapping, uncounted: Collection[str] = ()) -> list[dict]:
    """Per primary finding, the robustness rows that re-estimate it (a row replacing it by
    another finding; a data-set-alone row re-estimates nothing): ``{"finding": F,
    "counted": [(choice, F'), ...], "not_applicable": int}`` — counted rows are applicable
    (none of their findings not applicable, no row reason, their choice not in
    ``uncounted``: the rows the robustness table leaves out for another reason, e.g. fixed by
    the rule) and not exploratory, as in the robustness count. Rows that vary other findings
    leave F as it is."""
    prim = primary(m)
    out: dict[str, dict[str, Any]] = {
        f.name: {"finding": f, "counted": [], "not_applicable": 0} for f in flatten(prim)
    }
    for row in rows(m):
        if row.exploratory or "only" in row.replace:
            continue
        ok = row.reason is None and all(f.applicable for f in row.findings())
        ok = ok and row.choice not in uncounted
        for key, v in row.replace.items():
            for p, f in _pairs(prim, key, v):
                slot = out[p.name]
                if ok:
                    slot["counted"].append((row.choice, f))
                else:
                    slot["not_applicable"] += 1
    return list(out.values())
