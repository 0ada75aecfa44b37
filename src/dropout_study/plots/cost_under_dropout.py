"""Figures of chapter 2 (``cost-under-dropout``); each function takes the experiment's
:class:`~dropout_study.experiments.cost_under_dropout.Result` and returns a Figure."""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import NullFormatter, ScalarFormatter

from dropout_study.experiments.cost_under_dropout import up_fraction
from dropout_study.figures import COLORS, subplots

__all__ = ["loss_curves", "mask_histograms", "gap_curve", "up_fractions"]

_TRAIN = "training mode $J(\\theta_t, m_t)$"
_EVAL = "evaluation mode $J(\\theta_t)$"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def loss_curves(result, replicate: int = 0):
    """Top row, one panel per dropout rate: the loss computed in each training step,
    ``J(θ_t, m_t)``, and the evaluation-mode cost ``J(θ_t)`` of the same parameters (nats,
    training set), for one replicate, with the share of steps each curve went up. Bottom
    row: ``J(θ_t)`` alone over the last third of the steps, on its own scale."""
    rates = result.rates
    n = len(rates)
    fig, axes = subplots(2, n, width=7.0, height=4.6, gridspec_kw={"height_ratios": [1.5, 1]})
    axes = np.asarray(axes).reshape(2, n)
    for i in range(1, n):
        axes[0, i].sharey(axes[0, 0])
    train_curve = result.train_curve[replicate]
    eval_curve = result.eval_curve[replicate]
    t_train = np.arange(train_curve.shape[1])
    t_eval = np.arange(eval_curve.shape[1])
    tail = t_eval >= (2 * t_eval[-1]) // 3
    for i, p in enumerate(rates):
        ax, bx = axes[0, i], axes[1, i]
        ax.plot(t_train, train_curve[i], color=COLORS[1], lw=0.8, alpha=0.9, label=_TRAIN)
        ax.plot(t_eval, eval_curve[i], color=COLORS[0], lw=1.8, label=_EVAL)
        up_t, up_e = result.train_up[replicate, i], result.eval_up[replicate, i]
        ax.set_title(f"p = {p:g}" + (" (the two curves coincide)" if p == 0 else ""), fontsize=9)
        ax.text(
            0.97,
            0.95,
            f"went up in\n{_pct(up_t)} of steps (train)\n{_pct(up_e)} of steps (eval)",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=8,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )
        bx.plot(t_eval[tail], eval_curve[i][tail], color=COLORS[0], lw=1.2)
        ax.set_xlabel("step t")
        bx.set_xlabel("step t")
    axes[0, 0].set_ylabel("cost (nats)")
    axes[1, 0].set_ylabel("$J(\\theta_t)$ (nats)")
    axes[1, 0].set_title("last third, evaluation mode only (own scale)", fontsize=8, loc="left")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, frameon=False)
    return fig


def mask_histograms(result):
    """For each rate p > 0 (replicate 0, parameters at the end of its own run): histogram of
    ``J(θ, m)`` over the masks, with ``J(θ)`` (evaluation mode) and the mean over masks."""
    rates = [p for p in result.rates if p > 0]
    fig, axes = subplots(1, len(rates), width=7.0, height=2.6)
    axes = np.atleast_1d(axes)
    for ax, p in zip(axes, rates, strict=True):
        h = result.hist[p]
        s = np.asarray(h["samples"])
        ax.hist(s, bins=40, color=COLORS[1], alpha=0.75, label=f"$J(\\theta, m)$, {s.size} masks")
        ax.axvline(h["eval"], color=COLORS[0], lw=2.0, label="$J(\\theta)$ (evaluation mode)")
        ax.axvline(s.mean(), color="black", lw=1.2, ls="--", label="mean over masks")
        ax.set_title(f"p = {p:g}")
        ax.set_xlabel("cost on training set (nats)")
        ax.set_ylabel("number of masks")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, frameon=False)
    return fig


def gap_curve(result):
    """The gap ``E_m J(θ, m) − J(θ)`` (nats) against the dropout rate: at the end of the
    p = 0 run (mean over seeds with a 95 % bootstrap band; replicate 0 with its Monte Carlo
    95 % interval), and at the end of each dropout run at its own rate."""
    m = result.metrics
    fig, ax = subplots(width=5.0, height=3.0)
    gr = np.asarray(m["gap_rates"])
    gc = m["gap_curve"]
    ax.fill_between(gr, gc["low"], gc["high"], color=COLORS[0], alpha=0.2, lw=0)
    ax.plot(gr, gc["mean"], color=COLORS[0], marker="o", ms=3, label="at θ trained without dropout")
    ax.errorbar(
        gr,
        result.gap_curve[0],
        yerr=1.96 * result.gap_curve_se[0],
        fmt="none",
        ecolor=COLORS[0],
        elinewidth=0.8,
        capsize=2,
        alpha=0.8,
    )
    rates = np.asarray(m["rates"])
    g = m["gap"]
    pos = rates > 0
    mean = np.asarray(g["mean"])[pos]
    err = np.vstack([mean - np.asarray(g["low"])[pos], np.asarray(g["high"])[pos] - mean])
    ax.errorbar(
        rates[pos],
        mean,
        yerr=err,
        fmt="s",
        color=COLORS[3],
        capsize=3,
        label="at θ trained with dropout at that p",
    )
    ax.axhline(0.0, color="0.3", lw=0.8)
    ax.set_xlabel("dropout rate p")
    ax.set_ylabel("$E_m J(\\theta, m) - J(\\theta)$ (nats)")
    ax.legend(loc="upper left", frameon=False)
    return fig


def up_fractions(result):
    """Left: share of steps in which each curve went up, against p (mean over seeds, 95 %
    bootstrap intervals). Right: the p = 0 cost under the chapter's small step, a large step
    and Adam (replicate 0), log scale."""
    m = result.metrics
    fig, (ax, bx) = subplots(1, 2, width=7.0, height=2.9)
    rates = np.asarray(m["rates"])
    for key, label, color, marker in (
        ("train_up", _TRAIN, COLORS[1], "o"),
        ("eval_up", _EVAL, COLORS[0], "s"),
    ):
        v = m[key]
        mean = np.asarray(v["mean"])
        err = np.vstack([mean - np.asarray(v["low"]), np.asarray(v["high"]) - mean])
        ax.errorbar(rates, mean, yerr=err, color=color, marker=marker, capsize=3, label=label)
    ax.set_xlabel("dropout rate p")
    ax.set_ylabel("share of steps the curve went up")
    ax.set_ylim(-0.03, 0.75)
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    ax.set_title("plain gradient descent, full batch")

    pit = m["pitfall"]
    colors = (COLORS[0], COLORS[2], COLORS[3])
    curves = (
        (result.eval_curve[0, 0], f"gradient descent, lr = {result.params['lr']:g}", colors[0]),
        (
            result.pitfall_curve["large_step"][0],
            f"gradient descent, lr = {pit['lr']:g}",
            colors[1],
        ),
        (result.pitfall_curve["adam"][0], f"Adam, lr = {pit['adam_lr']:g}", colors[2]),
    )
    for c, label, color in curves:
        up = _pct(up_fraction(c))
        bx.plot(np.arange(c.size), c, color=color, lw=1.2, label=f"{label} (up {up})")
    bx.set_yscale("log")
    bx.yaxis.set_major_formatter(ScalarFormatter())
    bx.yaxis.set_minor_formatter(NullFormatter())
    bx.set_yticks([0.05, 0.1, 0.2, 0.5, 1.0])
    bx.set_xlabel("step t")
    bx.set_ylabel("$J(\\theta_t)$, p = 0 (nats)")
    bx.set_title("the pitfall: no dropout, other optimisers")
    bx.legend(loc="upper right", frameon=False, fontsize=8)
    return fig
