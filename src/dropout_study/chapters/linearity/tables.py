"""Markdown tables of chapter 5 (``linearity``), one row per data set, built from the metrics
of :func:`dropout_study.chapters.linearity.summary.summarise` (the page glues them with
``{glue:md}``). Every side word ("lies below 0", ...) comes from
:func:`dropout_study.chapters.linearity.verdict.side`, the verdict rule's own comparison."""

from __future__ import annotations

import math

from dropout_study.chapters.linearity.verdict import label, side
from dropout_study.numfmt import general

__all__ = ["tables"]


def _iv(c: dict, fmt: str = "z.3f") -> str:
    est = c.get("rho", c.get("estimate"))
    if est is None or not math.isfinite(est):
        return "—"
    flag = " (degenerate)" if c.get("degenerate") else ""
    return f"{est:{fmt}} [{c['low']:{fmt}}, {c['high']:{fmt}}]{flag}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def _median(values) -> str:
    v = sorted(x for x in values if x is not None)
    if not v:
        return "—"
    mid = v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])
    return f"{general(mid)}"


def tables(metrics: dict) -> dict[str, str]:
    """``{"trend", "training", "helped", "own_best", "matched"}`` → Markdown tables."""
    ds = metrics["datasets"]
    cap, budget = metrics["max_steps"], metrics["budget"]
    out: dict[str, str] = {}
    rows = []
    for n, m in ds.items():
        rows.append([
            label(n), _iv(m["rho_z"], "+z.2f"), side(m["rho_z"]),
            _iv(m["by_rate_z"][0], "z.2f"), _iv(m["by_rate_z"][-1], "z.2f"),
            _iv(m["rho_d2"], "+z.2f"), _iv(m["rho_d1"], "+z.2f"), _iv(m["rho_misfit"], "+z.2f"),
        ])  # fmt: skip
    p_last = next(iter(ds.values()))["rates"][-1]
    out["trend"] = _table(
        ["data set", "ρ(p, Z)", "ρ interval", "Z at p = 0", f"Z at p = {general(p_last)}",
         "ρ(p, mean\\|D2\\|)", "ρ(p, mean\\|D1\\|)", "ρ(p, 1 − R²)"],
        rows,
    )  # fmt: skip
    rows = []
    for n, m in ds.items():
        t = m["training"]
        rows.append([
            label(n), t["n_runs"], f"{t['n_capped']} of {t['n_runs']}",
            f"{general(t['steps_median'])} [{t['steps_min']}–{t['steps_max']}]", t["steps_total"],
            f"{t['n_capped_budget']} of {t['n_runs']}",
        ])  # fmt: skip
    out["training"] = _table(
        ["data set", "networks", f"capped at {cap} steps", "steps trained: median [range]",
         "steps in total", f"capped at the {budget}-step budget"],
        rows,
    )  # fmt: skip
    rows = []
    for n, m in ds.items():
        o, h = m["overfit"], m["dropout_helped"]
        rows.append([
            label(n), _iv(o["train_loss_p0"]), _iv(o["test_loss_p0"]), _iv(o["gap_p0"]),
            _iv(o["val_rise_p0"]), f"{h['n_chose_dropout']} of {h['n']}",
            _iv(h), f"**{h['word']}**",
        ])  # fmt: skip
    out["helped"] = _table(
        ["data set", "p = 0: training loss", "p = 0: test loss", "p = 0: test − training",
         "p = 0: validation-loss rise after its best step", "seeds whose own-best p > 0",
         "test loss: own-best dropout − p = 0", "dropout's effect on test loss"],
        rows,
    )  # fmt: skip
    rows = []
    for n, m in ds.items():
        b = m["own_best"]
        d2, d1 = b["l2"]["diff"], b["l1"]["diff"]
        rows.append([
            label(n), _median(b["dropout"]["chosen"]), _median(b["l2"]["chosen"]),
            _median(b["l1"]["chosen"]), _iv(b["dropout"]["z"], "z.2f"), _iv(b["l2"]["z"], "z.2f"),
            _iv(b["l1"]["z"], "z.2f"), _iv(d2, "+z.3f"), side(d2),
            f"{d2['n_dropout_lower']} of {d2['n']}", _iv(d1, "+z.3f"), side(d1),
        ])  # fmt: skip
    out["own_best"] = _table(
        ["data set", "p (median)", "L2 λ (median)", "L1 λ (median)", "Z dropout", "Z L2",
         "Z L1", "Z(dropout) − Z(L2)", "interval", "dropout lower in", "Z(dropout) − Z(L1)",
         "interval"],
        rows,
    )  # fmt: skip
    rows = []
    for n, m in ds.items():
        mm = m["matched"]
        row = [label(n), _iv(mm["target_val_loss"])]
        for fam in ("l2", "l1"):
            f = mm[fam]
            row += [
                f"{f['n_matched']} of {f['n_seeds']} ({f['n_never_reached']} never reached, "
                f"{f['n_always_below']} always below)",
                _iv(f["diff"], "+z.3f") if f["n_matched"] else "—",
                _iv(f["diff_fill"], "+z.3f"),
            ]
        rows.append(row)
    out["matched"] = _table(
        ["data set", "target validation loss", "L2 matched", "Z(dropout) − Z(L2)",
         "with nearest-point fill", "L1 matched", "Z(dropout) − Z(L1)",
         "with nearest-point fill"],
        rows,
    )  # fmt: skip
    return out
