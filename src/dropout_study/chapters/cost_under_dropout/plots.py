"""Figures of chapter 2 (``cost-under-dropout``); each function takes the experiment's
:class:`~dropout_study.chapters.cost_under_dropout.experiment.Result` and returns a Figure."""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import NullFormatter, ScalarFormatter

from dropout_study.chapters.cost_under_dropout.cells import up_fraction
from dropout_study.chapters.cost_under_dropout.evidence import RISE_FLOOR
from dropout_study.chapters.figures import COLORS, subplots
from dropout_study.numfmt import general, sci

__all__ = ["loss_curves", "theory", "along_training", "up_fractions", "control"]

_TRAIN = "training mode $J(\\theta_t, m_t)$"
_EVAL = "evaluation mode $J(\\theta_t)$"


def _pct(x: float) -> str:
    return f"{100 * x:z.0f}%"


def _col(cis, key):
    return np.array([np.nan if c is None else c[key] for c in cis], dtype=float)


def loss_curves(result, replicate: int = 0):
    """One panel per dropout rate (replicate ``replicate``): the loss computed in each
    training step, ``J(θ_t, m_t)``, and the evaluation-mode cost ``J(θ_t)`` of the same
    parameters (nats, training set), up to the step where early stopping ended the run; a
    dotted line marks the restored best step ``θ*_p``."""
    cell = result.cells[replicate]
    rates = result.rates
    n = len(rates)
    fig, axes = subplots(1, n, width=7.0, height=2.9, sharey=True)
    axes = np.atleast_1d(axes)
    for i, (ax, p) in enumerate(zip(axes, rates, strict=True)):
        tc, ec = np.asarray(cell["train_curve"][i]), np.asarray(cell["eval_curve"][i])
        ax.plot(np.arange(tc.size), tc, color=COLORS[1], lw=0.6, alpha=0.8, label=_TRAIN)
        ax.plot(np.arange(ec.size), ec, color=COLORS[0], lw=1.6, label=_EVAL)
        ax.axvline(
            cell["best_step"][i], color="0.3", lw=0.8, ls=":", label="restored $\\theta^*_p$"
        )
        ax.set_title(f"p = {general(p)}", fontsize=9)
        ax.text(
            0.96,
            0.95,
            f"up: {_pct(up_fraction(tc))} (train)\n{_pct(up_fraction(ec))} (eval)",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=7.5,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )
        ax.set_xlabel("step t")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_yticks([0.1, 0.2, 0.3, 0.5, 0.7])
    axes[0].set_ylabel("cost on training set (nats)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, frameon=False)
    return fig


def theory(result):
    """Top: the explicit regulariser ``R(p)`` (nats, log–log) at ``θ*₀`` (left) and at
    ``θ*_{primary}`` (right): Monte Carlo mean over seeds with its 95 % interval, the
    second-order formula and the single-drop slope ``p · S``; squares on the right: R at
    each ``θ*_p`` at its own p. Bottom: theory ÷ measured (mean of per-seed ratios with
    95 % intervals); 1 is exact."""
    m = result.metrics
    cr = np.asarray(m["curve_rates"])
    fig, axes = subplots(2, 2, width=7.0, height=5.2, sharex=True)
    titles = {
        "at_theta0": "at $\\theta^*_0$ (trained without dropout)",
        "at_primary": f"at $\\theta^*_p$ trained with p = {general(m['primary_rate'])}",
    }
    for j, key in enumerate(("at_theta0", "at_primary")):
        d = m[key]
        ax, bx = axes[0, j], axes[1, j]
        meas = d["measured"]
        ax.fill_between(cr, _col(meas, "low"), _col(meas, "high"), color=COLORS[0], alpha=0.2, lw=0)
        ax.plot(
            cr,
            _col(meas, "mean"),
            color=COLORS[0],
            marker="o",
            ms=3,
            label="measured (Monte Carlo)",
        )
        ax.plot(cr, _col(d["second_order"], "mean"), color=COLORS[3], ls="--", label="second order")
        ax.plot(
            cr,
            _col(d["slope"], "mean"),
            color=COLORS[2],
            ls="-.",
            label="single-drop slope $p\\,S$",
        )
        if key == "at_primary":
            rates = np.asarray(m["rates"])
            own = m["r_own"]
            pos = rates > 0
            mean = _col(own, "mean")[pos]
            err = np.vstack([mean - _col(own, "low")[pos], _col(own, "high")[pos] - mean])
            ax.errorbar(
                rates[pos],
                mean,
                yerr=err,
                fmt="s",
                color="black",
                ms=4,
                capsize=2,
                label="at $\\theta^*_p$, own p",
            )
        ax.axhline(m["abs_margin"], color="0.5", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(titles[key], fontsize=9)
        ticks = [t for t in (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5) if cr[0] <= t <= cr[-1]]
        bx.set_xticks(ticks or [cr[0], cr[-1]])
        bx.xaxis.set_major_formatter(ScalarFormatter())
        bx.xaxis.set_minor_formatter(NullFormatter())
        for name, color, ls in (
            ("ratio_second_order", COLORS[3], "--"),
            ("ratio_slope", COLORS[2], "-."),
        ):
            r = d[name]
            bx.fill_between(cr, _col(r, "low"), _col(r, "high"), color=color, alpha=0.15, lw=0)
            bx.plot(cr, _col(r, "mean"), color=color, ls=ls, marker=".")
        bx.axhline(1.0, color="0.3", lw=0.8)
        bx.set_xlabel("dropout rate p (last hidden layer)")
    axes[0, 0].set_ylabel("R(p) (nats)")
    axes[1, 0].set_ylabel("theory ÷ measured")
    axes[0, 1].text(
        0.02, 0.02, "dotted: absolute margin δ", transform=axes[0, 1].transAxes, fontsize=7.5
    )
    handles, labels = [], []
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside lower center", ncol=4, frameon=False, fontsize=8)
    return fig


def along_training(result):
    """Left: R at the primary rate (nats, log scale) at the checkpoints of the run trained
    without dropout and of the run trained at the primary rate (mean over seeds, 95 %
    interval). Right: replicate 0, at ``θ*_p`` of the primary rate: histogram of
    ``J(θ, m)`` over masks, with ``J(θ)`` and the mean over masks."""
    m = result.metrics
    fig, (ax, bx) = subplots(1, 2, width=7.0, height=2.9)
    steps = np.asarray(m["checkpoints"], dtype=float)
    x = np.where(steps == 0, 1.0, steps)
    for key, label, color in (
        ("along_p0", "trained without dropout", COLORS[0]),
        ("along_primary", f"trained with p = {general(m['primary_rate'])}", COLORS[1]),
    ):
        c = m[key]
        mean = _col(c, "mean")
        ax.fill_between(x, _col(c, "low"), _col(c, "high"), color=color, alpha=0.2, lw=0)
        ax.plot(x, mean, color=color, marker="o", ms=3, label=label)
    ax.axhline(m["abs_margin"], color="0.5", lw=0.8, ls=":", label="absolute margin δ")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("checkpoint step t (step 0 drawn at 1)")
    ax.set_ylabel(f"R at p = {general(m['primary_rate'])} (nats)")
    ax.legend(frameon=False, fontsize=7.5)
    s = np.asarray(result.cells[0]["hist"]["samples"])
    ev = result.cells[0]["hist"]["eval"]
    bx.hist(s, bins=40, color=COLORS[1], alpha=0.75, label=f"$J(\\theta, m)$, {s.size} masks")
    bx.axvline(ev, color=COLORS[0], lw=2.0, label="$J(\\theta)$")
    bx.axvline(s.mean(), color="black", lw=1.2, ls="--", label="mean over masks")
    bx.set_xlabel("cost on training set (nats)")
    bx.set_ylabel("number of masks")
    bx.set_title(f"replicate 0, $\\theta^*_p$, p = {general(m['primary_rate'])}", fontsize=9)
    bx.legend(loc="upper left", bbox_to_anchor=(0.05, 1.0), frameon=False, fontsize=7.5)
    return fig


def up_fractions(result):
    """Left: share of steps in which each curve went up, against p (mean over seeds, 95 %
    intervals). Right: the p = 0 cost (replicate 0, nats, log scale) under the chapter's
    step, a large step and Adam, with the share of steps it went up."""
    m = result.metrics
    fig, (ax, bx) = subplots(1, 2, width=7.0, height=2.9)
    rates = np.asarray(m["rates"])
    for key, label, color, marker in (
        ("train_up", _TRAIN, COLORS[1], "o"),
        ("eval_up", _EVAL, COLORS[0], "s"),
    ):
        v = m[key]
        mean = _col(v, "mean")
        err = np.vstack([mean - _col(v, "low"), _col(v, "high") - mean])
        ax.errorbar(rates, mean, yerr=err, color=color, marker=marker, capsize=3, label=label)
    ax.set_xlabel("dropout rate p")
    ax.set_ylabel("share of steps the curve went up")
    ax.set_ylim(-0.03, 0.75)
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    ax.set_title("full-batch gradient descent", fontsize=9)
    pit = m["pitfall"]
    cell = result.cells[0]
    n = pit["steps"] + 1
    curves = (
        (
            np.asarray(cell["eval_curve"][0])[:n],
            f"GD, lr = {general(result.params['lr'])}",
            COLORS[0],
        ),
        (cell["pitfall_curve"]["large_step"], f"GD, lr = {general(pit['lr'])}", COLORS[2]),
        (cell["pitfall_curve"]["adam"], f"Adam, lr = {general(pit['adam_lr'])}", COLORS[3]),
    )
    for c, label, color in curves:
        c = np.asarray(c)
        bx.plot(
            np.arange(c.size), c, color=color, lw=1.2, label=f"{label} (up {_pct(up_fraction(c))})"
        )
    bx.set_yscale("log")
    bx.yaxis.set_major_formatter(ScalarFormatter())
    bx.yaxis.set_minor_formatter(NullFormatter())
    bx.set_yticks([0.1, 0.2, 0.5, 1.0])
    bx.set_xlabel("step t")
    bx.set_ylabel("$J(\\theta_t)$, p = 0 (nats)")
    bx.set_title("the pitfall: no dropout, other optimisers", fontsize=9)
    bx.legend(loc="upper right", frameon=False, fontsize=7.5)
    return fig


def control(result, replicate: int = 0):
    """The K-mask control. Left, replicate ``replicate``: the change of the evaluation-mode
    cost per step, ``J(θ_{t+1}) − J(θ_t)`` (nats), over the window (the steps before the
    primary run's θ*), for ``K = 1`` and the largest ``K``; above 0 is a rise; the axis is cut
    at 1.5 × the 98th percentile of the absolute changes (the first steps lie below it).
    Right, every seed: the summed rises over the window (nats, log scale) against ``K``."""
    m = result.metrics
    ks = m["control"]["ks"]
    cell = result.cells[replicate]
    w = int(cell["control_window"])
    fig, (ax, bx) = subplots(1, 2, width=7.0, height=2.9)
    changes = []
    for i, color in ((0, COLORS[1]), (len(ks) - 1, COLORS[0])):
        d = np.diff(np.asarray(cell["control_curves"][i])[: w + 1])
        changes.append(d)
        ax.plot(np.arange(d.size), d, color=color, lw=0.8, label=f"K = {ks[i]}")
    ax.axhline(0.0, color="0.3", lw=0.8)
    # the first steps change J by orders of magnitude more than the rest: cut the axis at
    # 1.5 × the 98th percentile of |change| so that the rises are visible
    spread = np.concatenate(changes)
    if spread.size:
        lim = 1.5 * float(np.quantile(np.abs(spread), 0.98)) or 1.0
        ax.set_ylim(-lim, lim)
    ax.set_xlabel("step t")
    ax.set_ylabel("$J(\\theta_{t+1}) - J(\\theta_t)$ (nats)")
    ax.set_title(f"replicate {replicate}, p = {general(m['primary_rate'])}", fontsize=9)
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    rises = np.asarray(m["control"]["per_seed"]["best"]["rises"], dtype=float)
    floor = RISE_FLOOR
    for r, row in enumerate(rises):
        kw = {"color": COLORS[0], "lw": 1.8, "zorder": 3} if r == replicate else {"color": "0.6"}
        bx.plot(ks, np.maximum(row, floor), "o-", ms=3, **kw)
    bx.axhline(floor, color="0.5", lw=0.8, ls=":")
    bx.set_xscale("log", base=2)
    bx.set_yscale("log")
    bx.set_xticks(ks, [str(k) for k in ks])
    bx.set_xlabel("masks averaged per step, K")
    bx.set_ylabel("summed rises of J (nats)")
    bx.set_title(f"every seed (dotted: the floor {sci(floor, 0)} nats)", fontsize=9)
    return fig
