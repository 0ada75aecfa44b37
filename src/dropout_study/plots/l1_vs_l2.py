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

from dropout_study.figures import COLORS, subplots

__all__ = ["paths", "histograms", "sparsity", "pitfall", "oracle_rows", "oracle_table"]

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


def _star_index(result, pen: str) -> int | None:
    lam = result.metrics[f"lambda_star_{pen}"]
    hits = np.flatnonzero(result.lambdas == lam)
    return int(hits[0]) if hits.size else None


def histograms(result, replicate: int = 0):
    """Weights of one replicate's MLP (all layers, biases excluded): unregularised, L1 and L2
    at their selected λ*, and dropout. Counts on a log scale; exact zeros counted apart."""
    m = result.metrics
    panels = [("none", None, "no regulariser", _GREY)]
    for pen in ("l1", "l2"):
        j = _star_index(result, pen)
        lam = m[f"lambda_star_{pen}"]
        if j is None:
            panels.append(("none", None, f"{_PEN[pen][0]}: no λ > 0 within margin", _GREY))
        else:
            panels.append((pen, j, f"{_PEN[pen][0]}, λ* = {lam:g}", _PEN[pen][1]))
    p = result.params["dropout_rate"]
    panels.append(("dropout", None, f"dropout p = {p:g}", COLORS[2]))
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


def sparsity(result):
    """Versus λ (MLP, means over seeds with 95 % bootstrap bands): the near-zero and exact-zero
    fractions of the weights, the norm ratio ``‖w_λ‖/‖w_0‖``, and validation accuracy with
    the margin that selects λ*."""
    m = result.metrics
    lams = result.lambdas
    fig, axes = subplots(1, 3, height=3.0)
    rel = m["near_zero_rel"]
    drop = m["dropout"]
    for pen in ("l1", "l2"):
        name, color = _PEN[pen]
        _band(axes[0], lams, m[f"{pen}_near_zero"], color, f"{name}: |w| < {rel:g}·max|w|")
        _band(axes[0], lams, m[f"{pen}_exact_zero"], color, f"{name}: exactly 0", ls="--",
              marker="s")  # fmt: skip
        _band(axes[1], lams, m[f"{pen}_norm_ratio"], color, name)
        _band(axes[2], lams, m[f"{pen}_val_acc"], color, name)
        star = m[f"lambda_star_{pen}"]
        if star > 0:
            axes[2].axvline(star, color=color, ls=":", lw=1.2)
    p = result.params["dropout_rate"]
    axes[0].axhline(drop["near_zero"]["mean"], color=COLORS[2], ls=":", label=f"dropout p={p:g}")
    axes[1].axhline(drop["norm_ratio"]["mean"], color=COLORS[2], ls=":", label=f"dropout p={p:g}")
    axes[1].axhline(1.0, color=_GREY, lw=0.8)
    floor = m["acc_none"] - m["acc_margin"]
    axes[2].axhline(m["acc_none"], color="black", lw=1.0, label="no regulariser")
    axes[2].axhline(floor, color="black", lw=1.0, ls="--", label=f"margin −{m['acc_margin']:g}")
    axes[0].set_ylabel("fraction of weights")
    axes[0].set_title("sparsity")
    axes[1].set_ylabel("‖w_λ‖ / ‖w_0‖")
    axes[1].set_title("norm ratio (shrinkage)")
    axes[2].set_ylabel("validation accuracy")
    axes[2].set_title("accuracy; dotted: λ*")
    lo = min(np.min(m["l1_val_acc"]["low"]), np.min(m["l2_val_acc"]["low"]))
    axes[2].set_ylim(max(lo - 0.02, floor - 0.15), 1.0)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("λ")
    axes[0].set_ylim(-0.02, 1.02)
    h0, l0 = axes[0].get_legend_handles_labels()
    h2, l2 = axes[2].get_legend_handles_labels()
    fig.legend(h0 + h2[2:], l0 + l2[2:], loc="outside lower center", ncols=3, frameon=False,
               fontsize=8)  # fmt: skip
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
    ax.set_title(f"L1 at λ = {lam:g}: magnitudes")
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
    ax.set_xticks(x, ["exactly 0", f"|w| < {rel:g}·max"])
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
                    "λ": f"{r['lam']:.3g}",
                    "solver": solver,
                    "iterations": str(r["n_iter"]),
                    "converged": "yes" if r["converged"] else "no",
                    "max |Δw|": f"{r['max_abs_diff']:.1e}" if r["converged"] else "—",
                    "zeros ours / sklearn": f"{r['n_zeros_ours']} / {r['n_zeros_theirs']}",
                    "J ours − J sklearn (nats)": f"{r['objective_gap']:.1e}",
                }
            )
    return rows


def oracle_table(result) -> str:
    """An HTML table of :func:`oracle_rows`: for each oracle λ, scikit-learn's iterations,
    whether it converged, and how our solution compares (largest coefficient difference where
    it converged; the objective gap ours − theirs everywhere)."""
    rows = oracle_rows(result)
    cell = '<{tag} style="white-space: nowrap; padding: 0 0.6em">{text}</{tag}>'
    head = "".join(cell.format(tag="th", text=html.escape(k)) for k in rows[0])
    body = "".join(
        "<tr>" + "".join(cell.format(tag="td", text=html.escape(v)) for v in r.values()) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
