"""Figures (and the oracle table) of chapter 4 (``l1-vs-l2``).

Each figure function takes the experiment's ``Result`` and returns a matplotlib figure (saved
and glued by ``report.figure``). λ is the penalty strength of the objective
``mean log-loss (nats) + λ‖w‖₁`` or ``+ (λ/2)‖w‖²``; weights are dimensionless (standardised
inputs).
"""

from __future__ import annotations

import html

import matplotlib as mpl
import numpy as np
from matplotlib.lines import Line2D

from dropout_study.chapters.figures import COLORS, subplots
from dropout_study.numfmt import general, sci

__all__ = [
    "paths",
    "histograms",
    "sparsity",
    "balance",
    "pitfall",
    "oracle_rows",
    "oracle_table",
    "primary",
]

_GREY = "0.55"
_PEN = {"l1": ("L1 (proximal)", COLORS[0]), "l2": ("L2", COLORS[1])}


def _lam_axis(ax) -> None:
    ax.set_xscale("log")
    ax.set_xlabel("λ (strong ← → weak)")
    ax.invert_xaxis()


def paths(result):
    """Logistic-regression coefficient paths for L1 and L2, scikit-learn's solutions at the
    oracle λ values on top, and the number of exactly-zero coefficients."""
    fig, axes = subplots(1, 3, height=2.9)
    cmap = mpl.colormaps["viridis"]
    lmax = result.metrics["logistic"]["lambda_max"]
    for ax, pen in zip(axes[:2], ("l1", "l2"), strict=True):
        lg = result.logistic[pen]
        d = lg["coefs"].shape[1]
        for j in range(d):
            ax.plot(lg["lams"], lg["coefs"][:, j], color=cmap(0.9 * j / (d - 1)), lw=0.9)
        conv = [r for r in result.oracle[pen] if r["converged"]]
        unconv = [r for r in result.oracle[pen] if not r["converged"]]
        for rows, marker, label in (
            (conv, "o", "scikit-learn (converged)"),
            (unconv, "x", "scikit-learn (hit max_iter)"),
        ):
            if rows:
                lam = np.repeat([r["lam"] for r in rows], d)
                coef = np.concatenate([r["coef"] for r in rows])
                style = {"facecolors": "none", "edgecolors": "black"} if marker == "o" else {}
                ax.scatter(lam, coef, s=16, marker=marker, c="black" if not style else None,
                           lw=0.8, zorder=3, label=label, **style)  # fmt: skip
        ax.axvline(lmax, color=_GREY, ls=":", lw=1.0)
        _lam_axis(ax)
        ax.set_title(f"{_PEN[pen][0]} paths")
    axes[0].set_ylabel("coefficient (per standard deviation)")
    axes[0].annotate("λ_max", (lmax, 0.03), xycoords=("data", "axes fraction"), xytext=(4, 0),
                     textcoords="offset points", fontsize=8, color="0.3")  # fmt: skip
    ax = axes[2]
    for pen in ("l1", "l2"):
        lg = result.logistic[pen]
        name, color = _PEN[pen]
        ax.plot(lg["lams"], np.sum(lg["coefs"] == 0, axis=1), color=color, marker=".", label=name)
    ax.axvline(lmax, color=_GREY, ls=":", lw=1.0)
    _lam_axis(ax)
    n_features = result.logistic["l1"]["coefs"].shape[1]
    ax.set_ylabel("coefficients exactly 0")
    ax.set_ylim(-1, n_features + 1)
    ax.set_title(f"exact zeros (of {n_features})")
    ax.legend(loc="center right", frameon=False)
    handles, labels = axes[0].get_legend_handles_labels()
    ours = Line2D([], [], color=cmap(0.5), lw=0.9, label="ours (one line per coefficient)")
    fig.legend([ours, *handles], [ours.get_label(), *labels], loc="outside lower center",
               ncols=3, frameon=False)  # fmt: skip
    return fig


def primary(result) -> dict:
    """The primary evaluation of the verdict rule (λ*, the matched pair, the intervals)."""
    from dropout_study.chapters.l1_vs_l2.verdict import evaluate

    return evaluate(result.metrics)


def histograms(result, replicate: int = 0):
    """Weights of one replicate's MLP (all layers, biases excluded): unregularised, L1 at
    λ*(L1) and L2 at the λ matched to it in validation loss, and dropout. Counts on a log
    scale; exact zeros counted apart."""
    e = primary(result)
    panels = [("none", None, "no regulariser", _GREY)]
    if "j1" in e:
        panels.append(
            ("l1", e["j1"], f"{_PEN['l1'][0]}, λ*(L1) = {general(e['lam_l1'])}", _PEN["l1"][1])
        )
        panels.append(("l2", e["j2"], f"L2, matched λ = {general(e['lam_l2'])}", _PEN["l2"][1]))
    else:
        panels += [("none", None, f"{_PEN[p][0]}: no λ > 0 within margin", _GREY) for p in _PEN]
    p = result.params["dropout_rate"]
    panels.append(("dropout", None, f"dropout p = {general(p)}", COLORS[2]))
    weights = [
        result.mlp[reg]["weights"][replicate, 0 if j is None else j] for reg, j, _, _ in panels
    ]
    top = max(float(np.max(np.abs(w))) for w in weights)
    bins = np.linspace(-top, top, 61)
    fig, axes = subplots(2, 2, sharex=True, sharey=True, height=4.6)
    for ax, (_, _, title, color), w in zip(axes.ravel(), panels, weights, strict=True):
        zeros = int(np.sum(w == 0))
        ax.hist(w[w != 0], bins=bins, color=color, alpha=0.85)
        if zeros:
            ax.bar(0.0, zeros, width=bins[1] - bins[0], color="black", label="exactly 0")
        ax.set_yscale("log")
        ax.set_title(title)
        ax.text(0.98, 0.95, f"{zeros} of {w.size} exactly 0", transform=ax.transAxes,
                ha="right", va="top", fontsize=8)  # fmt: skip
    for ax in axes[1]:
        ax.set_xlabel("weight value")
    for ax in axes[:, 0]:
        ax.set_ylabel("number of weights")
    return fig


def _band(ax, lams, ci: dict, color, label, ls="-", marker="o"):
    mean, low, high = (np.asarray(ci[k]) for k in ("mean", "low", "high"))
    ax.plot(lams, mean, color=color, ls=ls, marker=marker, ms=3.5, label=label)
    ax.fill_between(lams, low, high, color=color, alpha=0.2, lw=0)


def _path_band(ax, lams, values, color, label, ls="-", marker="o"):
    """Mean over seeds (NaN-aware) with a min–max band, for measures that may be undefined."""
    v = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        mean = np.array([np.nanmean(c) if np.isfinite(c).any() else np.nan for c in v.T])
        low = np.array([np.nanmin(c) if np.isfinite(c).any() else np.nan for c in v.T])
        high = np.array([np.nanmax(c) if np.isfinite(c).any() else np.nan for c in v.T])
    ax.plot(lams, mean, color=color, ls=ls, marker=marker, ms=3.5, label=label)
    ax.fill_between(lams, low, high, color=color, alpha=0.15, lw=0)


_STAR_STYLE = {"l1": ("-.", "λ*(L1)"), "l2": ((0, (1, 1.5)), "λ*(L2)")}


def sparsity(result):
    """Versus λ (MLP; lines: means over seeds, bands: min–max over seeds): Hoyer index over
    living units, exact and near zeros, norm ratio against the path's smallest λ, dead hidden
    units, validation accuracy over its whole range (the collapse shows) with the margin and
    both λ* lines (distinct styles, in the legend), and the steps each run trained."""
    m = result.metrics
    e = primary(result)
    lams = result.lambdas
    fig, axes = subplots(3, 2, sharex=True, height=7.6)
    ax_h, ax_z, ax_n, ax_d, ax_a, ax_s = axes.ravel()
    rel = m["near_zero_rel"]
    drop = result.mlp["dropout"]
    none = result.mlp["none"]
    for pen in ("l1", "l2"):
        name, color = _PEN[pen]
        mp = result.mlp[pen]
        _path_band(ax_h, lams, mp["hoyer"], color, name)
        _path_band(ax_z, lams, mp["exact_zero"], color, f"{name}: exactly 0", ls="--", marker="s")
        _path_band(ax_z, lams, mp["near_zero"], color, f"{name}: |w| < {general(rel)}·max|w|")
        _path_band(ax_n, lams, mp["norm_ratio_ref"], color, name)
        _path_band(ax_d, lams, mp["dead"], color, name)
        _path_band(ax_a, lams, mp["val_acc"], color, name)
        _path_band(ax_s, lams, mp["steps"], color, name)
    p = result.params["dropout_rate"]
    for ax, key in ((ax_h, "hoyer"), (ax_d, "dead"), (ax_s, "steps")):
        ax.axhline(np.nanmean(none[key]), color="black", lw=0.9, label="no regulariser")
        ax.axhline(
            np.nanmean(drop[key]), color=COLORS[2], ls=":", label=f"dropout p = {general(p)}"
        )
    floor = m["acc_none"] - m["acc_margin"]
    ax_a.axhline(m["acc_none"], color="black", lw=0.9, label="no regulariser")
    ax_a.axhline(floor, color="black", lw=0.9, ls="--", label=f"margin −{general(m['acc_margin'])}")
    for ax in axes.ravel():
        for pen in ("l1", "l2"):
            star = e.get(f"star_{pen}")
            if star:
                ls, lab = _STAR_STYLE[pen]
                ax.axvline(star, color=_PEN[pen][1], ls=ls, lw=1.3, label=lab)
    if "lam_l2" in e:
        j2 = e["j2"]
        ax_h.plot([e["lam_l2"]], [np.nanmean(result.mlp["l2"]["hoyer"][:, j2])], marker="D",
                  ms=7, mfc="none", mec=_PEN["l2"][1], ls="none",
                  label="L2 matched to λ*(L1)")  # fmt: skip
    ax_h.set_ylabel("Hoyer index")
    ax_h.set_title("sparseness (living units)")
    ax_z.set_ylabel("fraction of weights")
    ax_z.set_title("zeros")
    ax_z.set_ylim(-0.02, 1.02)
    ax_n.set_ylabel("‖w_λ‖ / ‖w_λmin‖")
    ax_n.set_title("norm ratio (shrinkage)")
    ax_d.set_ylabel("dead hidden units")
    ax_d.set_title(f"dead units (of {sum(result.params['hidden'])})")
    ax_a.set_ylabel("validation accuracy")
    ax_a.set_title("accuracy (whole range)")
    ax_s.set_ylabel("steps trained")
    ax_s.set_title(f"stopping rule (cap {m['steps']['cap']})")
    ax_s.set_yscale("log")
    for ax in axes.ravel():
        ax.set_xscale("log")
    for ax in axes[-1]:
        ax.set_xlabel("λ")
    handles, labels = [], []
    for ax in (ax_z, ax_a, ax_h, ax_s):
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels and lab not in ("L1 (proximal)", "L2"):
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False, fontsize=8)
    return fig


def balance(result):
    """The balance of hidden units, ``ln(‖u_j‖ / ‖v_j‖)`` (incoming over outgoing weight norm,
    living units): left, every unit of every seed without a penalty and under L2 at the λ
    matched to λ*(L1); right, the median over units per seed along the L2 path (line: mean over
    seeds, band: range over seeds) with the unregularised networks' for reference. 0 is balance,
    where weight decay equals the per-unit penalty λ Σ ‖u_j‖·‖v_j‖."""
    e = primary(result)
    lams = result.lambdas
    fig, axes = subplots(1, 2, height=3.0, width_ratios=[1.0, 1.25])
    ax = axes[0]
    j2 = e.get("j2")
    groups = [("none", 0, "no regulariser", _GREY)]
    if j2 is not None:
        groups.append(("l2", j2, f"L2, matched λ = {general(e['lam_l2'])}", _PEN["l2"][1]))
    pooled = {
        reg: np.concatenate([row[j] for row in result.mlp[reg]["log_balance"]])
        for reg, j, _, _ in groups
    }
    every = np.concatenate(list(pooled.values()))
    lo, hi = min(float(every.min()), -0.5), max(float(every.max()), 0.5)
    bins = np.linspace(lo, hi, 41)
    for reg, _, label, color in groups:
        v = pooled[reg]
        ax.hist(v, bins=bins, color=color, alpha=0.6, label=f"{label} ({v.size} units)")
    ax.axvline(0.0, color="black", lw=1.0, ls=":")
    ax.set_xlabel("ln(‖u_j‖ / ‖v_j‖), per living unit")
    ax.set_ylabel("hidden units (all seeds)")
    ax.set_title("balance of each unit")
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    ax = axes[1]
    _path_band(ax, lams, result.mlp["l2"]["balance_median"], _PEN["l2"][1], "L2")
    none = result.mlp["none"]["balance_median"][:, 0]
    ax.axhline(float(np.nanmean(none)), color="black", lw=0.9, label="no regulariser")
    ax.axhline(0.0, color="black", lw=1.0, ls=":", label="balance (ratio 1)")
    if j2 is not None:
        ax.axvline(e["lam_l2"], color=_PEN["l2"][1], ls=(0, (1, 1.5)), lw=1.2,
                   label="L2 matched to λ*(L1)")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("λ")
    ax.set_ylabel("median ln(‖u_j‖ / ‖v_j‖)")
    ax.set_title("along the L2 path (median over units)")
    ax.legend(loc="center right", frameon=False, fontsize=8)
    return fig


def pitfall(result):
    """Proximal L1 versus sub-gradient L1 at the same λ (all seeds pooled): the magnitudes of
    the non-zero weights (log scales, with the proximal threshold lr·λ marked), and the
    fractions exactly zero and near zero."""
    m = result.metrics
    lam = m["pitfall_lambda"]
    j = int(np.flatnonzero(result.lambdas == lam)[0])
    prox = result.mlp["l1"]["weights"][:, j, :].ravel()
    sub = result.mlp["l1-sub"]["weights"][:, 0, :].ravel()
    fig, axes = subplots(1, 2, height=2.9, width_ratios=[1.7, 1.0])
    ax = axes[0]
    nz = np.abs(np.concatenate([prox[prox != 0], sub[sub != 0]]))
    bins = np.linspace(np.floor(np.log10(nz.min())), np.ceil(np.log10(nz.max())), 50)
    for w, name, color in ((prox, "proximal", COLORS[0]), (sub, "sub-gradient", COLORS[3])):
        ax.hist(np.log10(np.abs(w[w != 0])), bins=bins, histtype="step", lw=1.6, color=color,
                label=f"{name} L1: {np.sum(w == 0)} of {w.size} weights exactly 0 "
                "(not in the histogram)")  # fmt: skip
    thr = m["pitfall_threshold"]
    ax.axvline(np.log10(thr), color="black", ls=":", lw=1.0)
    ax.annotate("threshold lr·λ", (np.log10(thr), 0.95), xycoords=("data", "axes fraction"),
                xytext=(4, 0), textcoords="offset points", fontsize=8)  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("log₁₀ |w| (non-zero weights)")
    ax.set_ylabel("number of weights (all seeds)")
    ax.set_title(f"L1 at λ = {general(lam)}: magnitudes")
    handles, labels = ax.get_legend_handles_labels()
    ax = axes[1]
    rel = m["near_zero_rel"]
    x = np.arange(2)
    for k, (key, color) in enumerate((("prox", COLORS[0]), ("sub", COLORS[3]))):
        vals = [m[f"pitfall_{key}_exact_zero"], m[f"pitfall_{key}_near_zero"]]
        mean = np.array([v["mean"] for v in vals])
        err = np.array(
            [[v["mean"] - v["low"] for v in vals], [v["high"] - v["mean"] for v in vals]]
        )
        ax.bar(x + (k - 0.5) * 0.38, mean, width=0.38, yerr=err, color=color, capsize=3)
    ax.set_xticks(x, ["exactly 0", f"|w| < {general(rel)}·max"])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("fraction of weights")
    ax.set_title("sparsity (mean, 95 % CI)")
    fig.legend(handles, labels, loc="outside lower center", ncols=1, frameon=False, fontsize=8)
    return fig


def oracle_rows(result) -> list[dict]:
    """One dict of strings per oracle fit (L1 with saga, then L2 with lbfgs), keyed by the
    column names of :func:`oracle_table`."""
    rows = []
    for pen, solver in (("l1", "saga"), ("l2", "lbfgs")):
        for r in result.oracle[pen]:
            rows.append(
                {
                    "penalty": pen.upper(),
                    "λ": general(r["lam"], 3),
                    "solver": solver,
                    "iterations": str(r["n_iter"]),
                    "converged": "yes" if r["converged"] else "no",
                    "max |Δw|": sci(r["max_abs_diff"]) if r["converged"] else "—",
                    "zeros ours / sklearn": f"{r['n_zeros_ours']} / {r['n_zeros_theirs']}",
                    "J ours − J sklearn (nats)": sci(r["objective_gap"]),
                }
            )
    return rows


def oracle_table(result) -> str:
    """An HTML table of :func:`oracle_rows`: for each oracle λ, scikit-learn's iterations,
    whether it converged, and how our solution compares (largest coefficient difference where
    it converged; the objective gap ours − theirs everywhere)."""
    rows = []
    for r in oracle_rows(result):  # penalty and solver share a column: the table fits the page
        r = dict(r)
        r = {"penalty (solver)": f"{r.pop('penalty')} ({r.pop('solver')})", **r}
        rows.append(r)
    # headings wrap at their spaces, numbers never do
    th = '<th style="padding: 0 0.45em; vertical-align: bottom">{text}</th>'
    td = '<td style="white-space: nowrap; padding: 0 0.45em">{text}</td>'
    head = "".join(th.format(text=html.escape(k)) for k in rows[0])
    body = "".join(
        "<tr>" + "".join(td.format(text=html.escape(v)) for v in r.values()) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
