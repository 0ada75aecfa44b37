"""Figures of chapter 6 (``dropout-paper``). Each function takes the experiment's ``Result``
and returns a matplotlib Figure built with :func:`dropout_study.chapters.figures.subplots`.

Bands and error bars are 95 % :func:`dropout_study.measures.stats.seed_interval` intervals of the
mean
over replicates. Rates on the x axes are the study's drop probability p; the top axis of the
Fig. 9 panels gives Srivastava's retention probability q = 1 − p.
"""

from __future__ import annotations

import numpy as np

from dropout_study.chapters.dropout_paper.experiment import ACT_BINS, UNIT_BINS
from dropout_study.chapters.dropout_paper.paper_findings import THEORY_RATIO_MARGIN, binomial_se
from dropout_study.chapters.figures import COLORS, subplots
from dropout_study.measures.stats import seed_interval
from dropout_study.numfmt import general

__all__ = ["mc_vs_weight_scaling", "baldi", "ridge", "wager", "rates", "sparsity"]


def _ci(table):
    """Mean, low, high of each column of a (seeds, m) table."""
    t = np.asarray(table, dtype=float)
    ivs = [seed_interval(t[:, j]) for j in range(t.shape[1])]
    return (
        np.array([i.estimate for i in ivs]),
        np.array([i.low for i in ivs]),
        np.array([i.high for i in ivs]),
    )


def _band(ax, x, table, color, label, marker="o", scale=100.0):
    est, lo, hi = _ci(np.asarray(table, dtype=float) * scale)
    ax.fill_between(x, lo, hi, color=color, alpha=0.22, linewidth=0)
    ax.plot(x, est, color=color, marker=marker, markersize=4, label=label)


def _retention_axis(ax):
    top = ax.secondary_xaxis("top", functions=(lambda p: 1 - p, lambda q: 1 - q))
    top.set_xlabel("Srivastava's retention q = 1 − p")


def mc_vs_weight_scaling(result):
    """Fig. 11 analogue on digits: (a) test error of MC averaging over k thinned networks and
    of the weight-scaled network (means over replicates; thin lines: replicates); (b) the
    paired difference MC − weight scaling with its interval and the margin."""
    m = result.metrics["digits"]
    g = m["groups"]["main"]
    ks = np.asarray(m["ks"])
    mc, ws = 100 * np.asarray(g["mc_err"]), 100 * np.asarray(g["err_ws"])
    fig, (ax1, ax2) = subplots(1, 2, aspect=0.6)
    for i, row in enumerate(mc):
        ax1.plot(ks, row, color=COLORS[0], alpha=0.3, linewidth=0.8)
        ax1.axhline(ws[i], color=COLORS[1], alpha=0.3, linewidth=0.8)
    ax1.plot(
        ks,
        mc.mean(axis=0),
        color=COLORS[0],
        marker="o",
        markersize=4,
        label=f"MC average (p = {general(m['mc_rate'])})",
    )
    ax1.axhline(ws.mean(), color=COLORS[1], label="weight-scaled")
    ax1.axhline(
        100 * np.mean(g["err_none"]), color="0.4", linestyle="--", linewidth=1, label="no dropout"
    )
    ax1.set_ylabel("test error (%)")
    ax1.set_title("(a) error", fontsize=9.5)
    ax1.legend(loc="upper right")
    _band(ax2, ks, mc - ws[:, None], COLORS[0], "MC − weight-scaled", scale=1.0)
    se = binomial_se(g["err_ws"], g["n_test"])
    ax2.axhspan(-se, se, color="0.88", zorder=0, label=f"± {se:z.2f} points (the margin)")
    ax2.axhline(0, color="0.3", linewidth=0.8)
    ax2.set_ylabel("paired difference (points)")
    ax2.set_title("(b) MC − weight scaling, 95 % interval", fontsize=9.5)
    ax2.legend(loc="upper right")
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_xlabel("thinned networks averaged, k")
    return fig


def baldi(result):
    """The measured gap E σ(S) − σ(E S) against Baldi & Sadowski's first-order estimate and
    the delta method, per test input (replicate 0), one panel per width."""
    arrays = result.arrays["baldi"]
    b = result.metrics["baldi"]
    widths = b["widths"]
    fig, axes = subplots(1, len(widths), aspect=0.42 if len(widths) > 1 else 0.6)
    axes = np.atleast_1d(axes)
    for ax, w in zip(axes, widths, strict=True):
        a = arrays[w]
        ax.scatter(a["first"], a["gap"], s=5, alpha=0.45, color=COLORS[0], linewidths=0,
                   label="first-order (B & S)")  # fmt: skip
        ax.scatter(a["delta"], a["gap"], s=5, alpha=0.45, color=COLORS[2], linewidths=0,
                   marker="s", label="delta method")  # fmt: skip
        # the axes cover 99.5 % of the points; the few beyond are counted in the title
        values = np.abs(np.concatenate([a["gap"], a["first"], a["delta"]]))
        lim = 1.1 * float(np.quantile(values, 0.995))
        out = int(np.sum(np.max(np.abs([a["gap"], a["first"], a["delta"]]), axis=0) > lim))
        ax.plot([-lim, lim], [-lim, lim], color="0.3", linewidth=0.8)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.axhline(0, color="0.7", linewidth=0.6)
        ax.axvline(0, color="0.7", linewidth=0.6)
        how = "all masks" if b["by_width"][str(w)]["exact"] else f"{b['masks']} masks"
        beyond = f", {out} beyond the axes" if out else ""
        ax.set_title(f"{w} units\n({how}{beyond})", fontsize=8.5)
        ax.set_xlabel("estimated gap")
    axes[0].set_ylabel("measured gap E σ(S) − σ(E S)")
    axes[0].legend(loc="upper left", fontsize=7.5, markerscale=2)
    return fig


def ridge(result):
    """§9.1: Monte-Carlo minus closed form in standard errors (both forms, and the wrong
    formula), and SGD's relative excess objective over steps."""
    r = result.metrics["ridge"]
    fig, (ax1, ax2) = subplots(1, 2, aspect=0.55)
    rates = np.asarray(r["rates"])
    for form, c, mk in (("inverted", COLORS[0], "o"), ("retention", COLORS[2], "s")):
        ax1.plot(
            rates,
            r[form]["z"],
            marker=mk,
            color=c,
            linestyle="none",
            label=f"{form} masks, matching formula",
        )
    ax1.plot(
        rates,
        r["inverted"]["z_wrong"],
        marker="x",
        color=COLORS[3],
        linestyle="none",
        label="inverted masks, paper's formula (q = 1 − p)",
    )
    ax1.set_yscale("symlog", linthresh=3)
    ax1.set_yticks([-300, -100, -30, -10, -3, 0, 3], ["−300", "−100", "−30", "−10", "−3", "0", "3"])
    ax1.axhspan(-3, 3, color="0.85", zorder=0)
    ax1.set_xlabel("drop rate p (q = 1 − p)")
    ax1.set_ylabel("(MC − closed form) / s.e.")
    ax1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), fontsize=8, frameon=False)
    tr = result.arrays["sgd_trace"]
    steps = np.linspace(0, r["sgd"]["steps"], tr.shape[1] + 1)[1:]
    for row in tr:
        ax2.plot(steps, np.maximum(row, 1e-7), color=COLORS[0], alpha=0.5, linewidth=0.8)
    ax2.set_yscale("log")
    ax2.set_xlabel("SGD step")
    ax2.set_ylabel("relative excess objective")
    ax2.set_title(f"SGD, input dropout p = {general(r['sgd']['rate'])}", fontsize=9.5)
    return fig


def wager(result):
    """Quadratic over Monte-Carlo dropout penalty, and the single-drop slope over Monte Carlo,
    versus p, at the dropout minimiser (breast cancer)."""
    w = result.metrics["wager"]
    p = np.asarray(w["rates"])
    fig, ax = subplots(aspect=0.45)
    _band(ax, p, w["ratio"], COLORS[0], r"quadratic $R_\mathrm{quad}$ / $R_\mathrm{MC}$", scale=1.0)
    _band(
        ax,
        p,
        w["slope_ratio"],
        COLORS[2],
        r"single drop $p\cdot S$ / $R_\mathrm{MC}$",
        marker="s",
        scale=1.0,
    )
    ax.axhspan(
        1 / THEORY_RATIO_MARGIN, THEORY_RATIO_MARGIN, color="0.88", zorder=0, label="the margin"
    )
    ax.axhline(1, color="0.3", linewidth=0.8)
    ax.set_xlabel("drop rate p")
    ax.set_ylabel("ratio to the Monte-Carlo penalty")
    ax.legend(loc="best")
    return fig


def rates(result):
    """Fig. 9a and 9b analogues: test error versus p at fixed width, and with (1 − p)·n
    fixed."""
    m = result.metrics["digits"]
    fig, (ax1, ax2) = subplots(1, 2, aspect=0.6, sharey=True)
    _band(ax1, m["rates"], m["err_fixed"], COLORS[0], "test")
    _band(ax1, m["rates"], m["train_err_fixed"], COLORS[1], "training", marker="s")
    pair = [0.0, m["mc_rate"]]
    for g, mk, label in (("stop_fixed", "s", "test, no early stopping"),
                         ("paper", "D", "test, paper's protocol")):  # fmt: skip
        if g in m["groups"]:
            x = m["groups"][g]
            est, lo, hi = _ci(100 * np.column_stack([x["err_none"], x["err_ws"]]))
            ax1.errorbar(
                pair,
                est,
                yerr=[est - lo, hi - est],
                color=COLORS[3 if g == "paper" else 4],
                marker=mk,
                linestyle=":",
                markersize=5,
                capsize=3,
                label=label,
            )
    ax1.set_title(f"(a) width n = {m['width']}", fontsize=9.5)
    ax1.set_ylabel("error (%)")
    ax1.legend(loc="best")
    _band(ax2, m["pn_rates"], m["err_pn"], COLORS[0], "test")
    if m["groups"].get("paper", {}).get("err_pn") is not None:
        _band(ax2, m["pn_rates"], m["groups"]["paper"]["err_pn"], COLORS[3], "paper's protocol",
              marker="D")  # fmt: skip
        ax2.legend(loc="best")
    for p, n, e in zip(m["pn_rates"], m["pn_widths"], np.mean(m["err_pn"], axis=0), strict=True):
        ax2.annotate(
            f"n={n}",
            (p, 100 * e),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
            fontsize=7.5,
        )
    ax2.set_title(f"(b) (1 − p)·n = {m['pn_units']}", fontsize=9.5)
    for ax in (ax1, ax2):
        ax.set_xlabel("drop rate p")
        _retention_axis(ax)
    return fig


def sparsity(result):
    """Fig. 8 analogue: histograms of hidden activations and of each unit's mean activation on
    the test inputs, without dropout and with dropout at ``mc_rate`` (all replicates pooled)."""
    m = result.metrics["digits"]
    a = result.arrays
    fig, (ax1, ax2) = subplots(1, 2, aspect=0.55)
    for k, (p, c) in enumerate(zip((0.0, m["mc_rate"]), (COLORS[3], COLORS[0]), strict=True)):
        label = "no dropout" if p == 0 else f"dropout p = {general(p)}"
        for ax, key, bins in ((ax1, "act_hist", ACT_BINS), (ax2, "unit_mean_hist", UNIT_BINS)):
            centres, width = 0.5 * (bins[1:] + bins[:-1]), bins[1] - bins[0]
            h = np.asarray(a[key][p], dtype=float)
            ax.bar(
                centres + (k - 0.5) * width / 2, h / h.sum(), width=width / 2, color=c, label=label
            )
    ax1.set_yscale("log")
    ax1.set_xlabel("activation of a hidden unit")
    ax1.set_ylabel("fraction of (input, unit) pairs")
    ax2.set_xlabel("mean activation of a unit over test inputs")
    ax2.set_ylabel("fraction of units")
    ax2.legend(loc="upper right")
    return fig
