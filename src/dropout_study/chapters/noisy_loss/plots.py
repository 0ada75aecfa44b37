"""Figures of chapter 3 (``noisy-loss``); each function takes the experiment's ``Result`` and
returns a matplotlib figure (saved and glued by ``report.figure``).

Losses are mean binary cross-entropies in nats; steps are full-batch gradient-descent updates;
``α`` is the step along a filter-normalised direction (``α = 1`` moves every unit's incoming
weights by their own norm). Intervals over seeds are
:func:`dropout_study.measures.stats.seed_interval`.
"""

from __future__ import annotations

import numpy as np

from dropout_study.chapters.figures import PAGE_WIDTH, rate_colors, subplots
from dropout_study.measures.stats import seed_interval
from dropout_study.measures.time_to_target import reached_fraction
from dropout_study.numfmt import general

__all__ = ["slices", "spread", "gradient_noise", "time_to_target", "levels", "control", "surrogate"]

_GREY = "0.6"
NAMES = {"moons": "moons", "breast_cancer": "breast cancer"}


def _name(d: str) -> str:
    return NAMES.get(d, d)


def _mean_ci(ax, x, values, **kw):
    """Mean over seeds (rows of ``values``) with its seed interval as error bars."""
    ivs = [seed_interval(values[:, j]) for j in range(values.shape[1])]
    mean = np.array([iv.estimate for iv in ivs])
    err = np.array([[iv.estimate - iv.low for iv in ivs], [iv.high - iv.estimate for iv in ivs]])
    ax.errorbar(x, mean, yerr=err, marker="o", ms=4, capsize=3, **kw)


def _rho_title(name: str, r: dict, what: str) -> str:
    return f"{name}: ρ{what} = {r['rho']:z.2f} [{r['low']:z.2f}, {r['high']:z.2f}]"


def slices(result, replicate: int = 0):
    """1-D slices of one replicate per data set: evaluation mode and the fixed-mask curves,
    at ``p = 0``, a middle rate and the largest rate."""
    rates = result.rates
    which = sorted({0, len(rates) // 2, len(rates) - 1})
    ds = result.params["datasets"]
    fig, axes = subplots(len(ds), len(which), sharex=True, height=2.2 * len(ds) + 0.6)
    axes = np.atleast_2d(axes)
    colors = rate_colors(rates)
    for i, d in enumerate(ds):
        r = result.runs[d]
        a = r["alphas"]
        for ax, j in zip(axes[i], which, strict=True):
            for k, curve in enumerate(r["slice_masks"][replicate, j]):
                label = "one fixed mask each" if k == 0 else None
                ax.plot(a, curve, color=colors[j], lw=0.9, alpha=0.8, label=label)
            ax.plot(
                a, r["slice_eval"][replicate, j], color="black", lw=1.8, label="evaluation mode"
            )
            ax.set_title(f"{_name(d)}, p = {general(rates[j])}")
            ax.axvline(0.0, color=_GREY, lw=0.6, ls=":")
        axes[i, 0].set_ylabel("training loss (nats)")
    for ax in axes[-1]:
        ax.set_xlabel("step α along d")
    handles, labels = axes[0, -1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
    return fig


def spread(result):
    """Spread across fixed masks at α = 0 and averaged over the slice, versus p (paired)."""
    return _paired_panels(
        result,
        ("spread0", "at α = 0 (primary)"),
        ("spread_avg", "averaged over α", "#D55E00"),
        ("rho_spread0", "(p>0)"),
        "SD of the loss across masks (nats)",
    )


def gradient_noise(result):
    """Gradient SNR (symmetric-log axis: negative values are shown) and variance across masks
    at the shared checkpoints, medians over seeds with quartiles."""
    ds = result.params["datasets"]
    ck = result.params["checkpoints"]
    rates = result.rates
    pos = rates > 0
    fig, axes = subplots(2, len(ds), sharex=True, height=5.0)
    axes = np.atleast_2d(axes).reshape(2, len(ds))
    colors = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#000000"]
    for i, d in enumerate(ds):
        r = result.runs[d]
        for c, step in enumerate(ck):
            for row, key in ((0, "snr"), (1, "grad_variance")):
                v = r[key][:, pos, c]
                ax = axes[row, i]
                q1, med, q3 = np.nanpercentile(v, [25, 50, 75], axis=0)
                col = colors[c % len(colors)]
                label = "step 0 (initialisation)" if step == 0 else f"step {step}"
                ax.plot(rates[pos], med, marker="o", ms=3, color=col, label=label)
                ax.fill_between(rates[pos], q1, q3, color=col, alpha=0.15, lw=0)
        axes[0, i].set_yscale("symlog", linthresh=0.1)
        axes[0, i].axhline(0.0, color="black", lw=0.6)
        axes[1, i].set_yscale("log")
        axes[0, i].set_title(_name(d))
        axes[1, i].set_xlabel("dropout rate p")
    axes[0, 0].set_ylabel("SNR  (‖ḡ‖² − V/K) / V")
    axes[1, 0].set_ylabel("variance V across masks")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(ck), frameon=False)
    return fig


def time_to_target(result, abs_index: int = -1):
    """Survival-style curves: share of runs that reached the primary target (top) and one
    absolute target (bottom) by each step, one line per p; the end of each line below 1 is
    the censored share."""
    ds = result.params["datasets"]
    rates = result.rates
    colors = rate_colors(rates)
    fig, axes = subplots(2, len(ds), height=5.2)
    axes = np.atleast_2d(axes).reshape(2, len(ds))
    n_abs = result.params["n_abs_targets"]
    key_abs = f"abs {n_abs if abs_index == -1 else abs_index + 1}"
    pct = 100 * result.params["target_fraction"]
    for i, d in enumerate(ds):
        r, m = result.runs[d], result.metrics["by_dataset"][d]
        for row, key in ((0, "primary"), (1, key_abs)):
            times = r["times"][key]
            finite = times[np.isfinite(times)]
            top = max(float(finite.max()) if finite.size else 1.0, 1.0) * 1.15
            grid = np.linspace(0, top, 300)
            ax = axes[row, i]
            for j, p in enumerate(rates):
                frac = reached_fraction(times[:, j], grid)
                ax.step(grid, frac, where="post", color=colors[j], label=f"p = {general(p)}")
            ax.set_ylim(-0.03, 1.03)
            cens = int(np.isnan(times).sum())
            if row == 0:
                title = f"{_name(d)}: {general(pct)} % of own improvement"
            else:
                title = f"{_name(d)}: val. loss ≤ {m['abs_targets'][abs_index]:z.3f} nats"
            ax.set_title(f"{title}\n({cens} of {times.size} runs censored)", fontsize=9)
        axes[1, i].set_xlabel("steps")
    for row in range(2):
        axes[row, 0].set_ylabel("share of runs at target")
    axes[0, -1].legend(frameon=False, fontsize=8, loc="lower right")
    return fig


def levels(result):
    """Where training levels off: best and final validation loss versus p (paired seeds)."""
    return _paired_panels(
        result,
        ("best", "best (grey: one line per seed)"),
        ("final", "final (at the stop)", "#0072B2"),
        ("rho_best", "(best)"),
        "validation loss (nats)",
    )


def _paired_panels(result, primary, second, rho, ylabel):
    """One panel per data set: each seed's ``primary`` series in grey, then the mean and
    interval of ``primary`` (black) and ``second`` (its colour) versus p, titled with ρ."""
    (key_a, label_a), (key_b, label_b, color_b), (rho_key, tag) = primary, second, rho
    ds = result.params["datasets"]
    rates = result.rates
    fig, axes = subplots(1, len(ds), height=3.0)
    axes = np.atleast_1d(axes)
    for ax, d in zip(axes, ds, strict=True):
        r, m = result.runs[d], result.metrics["by_dataset"][d]
        for row in r[key_a]:
            ax.plot(rates, row, color=_GREY, lw=0.7, alpha=0.6)
        _mean_ci(ax, rates, r[key_a], color="black", label=label_a)
        _mean_ci(ax, rates + 0.008, r[key_b], color=color_b, label=label_b)
        ax.set_title(_rho_title(_name(d), m[rho_key], tag), fontsize=9.5)
        ax.set_xlabel("dropout rate p")
    axes[0].set_ylabel(ylabel)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
    return fig


def control(result):
    """The mask-averaging control: primary steps against 1/K per seed (grey), the mean with
    its interval (black) and the mean of the per-seed fits a + b/K extrapolated to K → ∞."""
    cds = list(result.control)
    fig, axes = subplots(
        1, len(cds), width=PAGE_WIDTH * (0.62 if len(cds) == 1 else 1.0), height=3.2
    )
    axes = np.atleast_1d(axes)
    ks = np.asarray(result.params["control_ks"], float)
    for ax, d in zip(axes, cds, strict=True):
        c, mc = result.control[d], result.metrics["control"][d]
        inv = 1.0 / ks
        for s, row in enumerate(c["steps"]):
            ax.plot(inv, row, color=_GREY, lw=0.7, alpha=0.6, label="one seed" if s == 0 else None)
        _mean_ci(ax, inv, c["steps"], color="black", label="mean, 95 % CI")
        a = mc["steps_inf"]
        ax.errorbar(
            [0.0], [a["estimate"]], yerr=[[a["estimate"] - a["low"]], [a["high"] - a["estimate"]]],
            marker="s", color="#D55E00", capsize=3, label="K → ∞ (fit a + b/K)",
        )  # fmt: skip
        ax.set_xticks(np.r_[0.0, inv], ["∞"] + [f"{general(k)}" for k in ks])
        ax.set_xlabel("masks averaged per step K (axis: 1/K)")
        ax.set_title(f"{_name(d)}, p = {general(result.params['control_rate'])}")
    axes[0].set_ylabel("steps to primary target")
    axes[0].legend(frameon=False, fontsize=8, loc="best")
    return fig


def surrogate(result):
    """Fixed-mask surrogate runs: the surrogate objective, the fresh-mask E_m J and the
    validation loss along training (median over seeds), per control data set."""
    cds = [d for d in result.control if "surrogate" in result.control[d]]
    fig, axes = subplots(1, len(cds), height=3.0)
    axes = np.atleast_1d(axes)
    for ax, d in zip(axes, cds, strict=True):
        outs = result.control[d]["surrogate"]
        n = min(len(o["eval_step"]) for o in outs)
        steps = outs[0]["eval_step"][:n]
        for key, col, label in (
            (
                "surrogate_loss",
                "#D55E00",
                f"surrogate J_K (K = {result.params['surrogate_masks']})",
            ),
            ("fresh_loss", "#0072B2", "fresh masks E_m J"),
            ("val_loss", "black", "validation (evaluation mode)"),
        ):
            v = np.median(np.stack([o[key][:n] for o in outs]), axis=0)
            ax.plot(steps, v, color=col, label=label)
        ax.set_yscale("log")
        ax.set_xlabel("steps")
        ax.set_title(_name(d))
    axes[0].set_ylabel("loss (nats, median over seeds)")
    axes[0].legend(frameon=False, fontsize=8)
    return fig
