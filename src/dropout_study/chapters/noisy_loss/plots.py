"""Figures of chapter 3 (``noisy-loss``); each function takes the experiment's ``Result`` and
returns a matplotlib figure (saved and glued by ``report.figure``).

Losses are mean binary cross-entropies in nats; steps are full-batch gradient-descent updates;
``α`` is the step along a filter-normalised direction (``α = 1`` moves every unit's incoming
weights by their own norm). Times are on the paired clock
(:mod:`dropout_study.measures.time_to_target`): runs that never reach their seed's target are
censored at the budget and drawn as such, never left out.
"""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator

from dropout_study.chapters.figures import PAGE_WIDTH, rate_colors, subplots
from dropout_study.chapters.noisy_loss import evidence
from dropout_study.measures.stats import seed_interval
from dropout_study.measures.time_to_target import kaplan_meier, restricted_time
from dropout_study.numfmt import general

__all__ = [
    "slices",
    "spread",
    "gradient_noise",
    "time_to_target",
    "ratios",
    "levels",
    "control",
    "surrogate",
    "slice_replicate",
]

_GREY = "0.6"
_BAND = "#F0E442"


def _name(d: str) -> str:
    return evidence.NAMES.get(d, d)


def _mean_ci(ax, x, values, **kw):
    """Mean over seeds (rows of ``values``, NaN left out) with its seed interval."""
    ivs = [seed_interval(v[np.isfinite(v)]) for v in np.asarray(values, float).T]
    mean = np.array([iv.estimate for iv in ivs])
    err = np.array([[iv.estimate - iv.low for iv in ivs], [iv.high - iv.estimate for iv in ivs]])
    ax.errorbar(x, mean, yerr=err, marker="o", ms=4, capsize=3, **kw)


def slice_replicate(result) -> tuple[int, list[str]]:
    """The first replicate in which no run at the primary learning rate stalled (never
    reached its seed's target) on any data set, and the stalled runs' labels when every
    replicate has one (then replicate 0 is used and the caption names them)."""
    S = result.params["n_seeds"]
    stalled = {}
    for s in range(S):
        stalled[s] = [
            f"{_name(d)}, p = {general(p)}"
            for d in result.params["datasets"]
            for j, p in enumerate(result.rates)
            if np.isnan(result.runs[d]["clocks"]["primary"]["times"][s, j])
        ]
        if not stalled[s]:
            return s, []
    return 0, stalled[0]


def slices(result):
    """1-D slices of one replicate per data set (:func:`slice_replicate`): evaluation mode and
    the fixed-mask curves, at ``p = 0``, a middle rate and the largest rate."""
    rates = result.rates
    rep, stalled = slice_replicate(result)
    which = sorted({0, len(rates) // 2, len(rates) - 1})
    ds = result.params["datasets"]
    fig, axes = subplots(len(ds), len(which), sharex=True, height=2.2 * len(ds) + 0.6)
    axes = np.atleast_2d(axes)
    colors = rate_colors(rates)
    for i, d in enumerate(ds):
        r = result.runs[d]
        a = r["alphas"]
        for ax, j in zip(axes[i], which, strict=True):
            for k, curve in enumerate(r["slice_masks"][rep, j]):
                label = "one fixed mask each" if k == 0 else None
                ax.plot(a, curve, color=colors[j], lw=0.9, alpha=0.8, label=label)
            ax.plot(a, r["slice_eval"][rep, j], color="black", lw=1.8, label="evaluation mode")
            ax.set_title(f"{_name(d)}, p = {general(rates[j])}")
            ax.axvline(0.0, color=_GREY, lw=0.6, ls=":")
        axes[i, 0].set_ylabel("training loss (nats)")
    for ax in axes[-1]:
        ax.set_xlabel("step α along d")
    note = f"replicate {rep}" + (f" (stalled: {'; '.join(stalled)})" if stalled else "")
    fig.suptitle(note, fontsize=9)
    handles, labels = axes[0, -1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
    return fig


def _per_rate(result, main: tuple[str, str], other: tuple[str, str, str], ylabel: str):
    """One panel per data set: ``main = (runs key, label)`` per seed in grey and as a black
    mean with its 95 % interval over seeds, ``other = (runs key, label, colour)`` beside it,
    both versus p."""
    ds = result.params["datasets"]
    rates = result.rates
    fig, axes = subplots(1, len(ds), height=3.0)
    axes = np.atleast_1d(axes)
    for ax, d in zip(axes, ds, strict=True):
        r = result.runs[d]
        for row in r[main[0]]:
            ax.plot(rates, row, color=_GREY, lw=0.7, alpha=0.6)
        _mean_ci(ax, rates, r[main[0]], color="black", label=main[1])
        _mean_ci(ax, rates + 0.008, r[other[0]], color=other[2], label=other[1])
        ax.set_title(_name(d))
        ax.set_xlabel("dropout rate p")
    axes[0].set_ylabel(ylabel)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
    return fig


def spread(result):
    """Spread across fixed masks at α = 0 (black, per seed in grey) and averaged over the
    slice (orange) versus p, means with 95 % intervals over seeds."""
    return _per_rate(
        result,
        ("spread0", "at α = 0 (primary)"),
        ("spread_avg", "averaged over α", "#D55E00"),
        "SD of the loss across masks (nats)",
    )


def gradient_noise(result):
    """Gradient SNR (symmetric-log axis fitted to the values, negative ones shown) and the
    variance across masks at the checkpoints shared by every p, medians over seeds with
    quartile bands."""
    ds = result.params["datasets"]
    ck = result.params["checkpoints"]
    rates = result.rates
    pos = rates > 0
    fig, axes = subplots(2, len(ds), sharex=True, height=5.2)
    axes = np.atleast_2d(axes).reshape(2, len(ds))
    colors = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#000000", "#56B4E9"]
    for i, d in enumerate(ds):
        r = result.runs[d]
        lo, hi = np.inf, -np.inf
        for c, step in enumerate(ck):
            for row, key in ((0, "snr"), (1, "grad_variance")):
                v = r[key][:, pos, c]
                if not np.isfinite(v).any():
                    continue
                q1, med, q3 = np.nanpercentile(v, [25, 50, 75], axis=0)
                col = colors[c % len(colors)]
                label = "step 0 (initialisation)" if step == 0 else f"step {step}"
                axes[row, i].plot(rates[pos], med, marker="o", ms=3, color=col, label=label)
                axes[row, i].fill_between(rates[pos], q1, q3, color=col, alpha=0.15, lw=0)
                if row == 0:
                    lo, hi = min(lo, np.nanmin(q1)), max(hi, np.nanmax(q3))
        ax = axes[0, i]
        thresh = max(1e-3, 0.1 * min(abs(lo), abs(hi))) if np.isfinite(lo) else 0.1
        ax.set_yscale("symlog", linthresh=thresh)
        if np.isfinite(lo):
            pad = 0.3 * (hi - lo) if lo < 0 else 0.0
            ax.set_ylim(lo - pad if lo < 0 else lo / 2, hi * 2)
        ax.axhline(0.0, color="black", lw=0.6)
        ax.set_title(_name(d))
        axes[1, i].set_yscale("log")
        axes[1, i].set_xlabel("dropout rate p")
    axes[0, 0].set_ylabel("SNR (‖ḡ‖² − V/K) / V")
    axes[1, 0].set_ylabel("variance V across masks")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(ck), 3), frameon=False)
    return fig


def _km(ax, t, budget, color, label, ls="-"):
    """One Kaplan–Meier step curve of times ``t`` (NaN = censored at ``budget``), the share
    of runs not yet at the target; censored runs end as a ``+`` at the budget."""
    steps, surv = kaplan_meier(t, budget)
    x = np.r_[0.0, steps, budget]
    y = np.r_[1.0, surv, surv[-1] if surv.size else 1.0]
    cens = int(np.isnan(t).sum())
    ax.step(x, y, where="post", color=color, ls=ls, label=f"{label} ({cens} censored)")
    if cens:
        ax.plot([budget], [y[-1]], marker="+", ms=9, mew=2, color=color)


def _xmax(ts, budget) -> float:
    """The x-range of a Kaplan–Meier panel: to the budget if a run is censored, else to a
    little past the last crossing."""
    t = np.concatenate([np.ravel(v) for v in ts])
    if np.isnan(t).any() or not np.isfinite(t).any():
        return float(budget)
    return float(min(budget, 1.1 * np.nanmax(t)))


def time_to_target(result):
    """Kaplan–Meier curves on the paired clock, one per p and data set: the share of seeds
    whose run has not yet reached the seed's target (from its p = 0 run) by each step; a
    censored run ends as a ``+`` at the budget and is counted in the legend."""
    ds = result.params["datasets"]
    rates = result.rates
    colors = rate_colors(rates)
    fig, axes = subplots(1, len(ds), height=4.0)
    axes = np.atleast_1d(axes)
    for ax, d in zip(axes, ds, strict=True):
        ck = result.runs[d]["clocks"]["primary"]
        T, has, budget = ck["times"][ck["has"]], ck["has"], ck["budget"]
        for j, p in enumerate(rates):
            _km(ax, T[:, j], budget, colors[j], f"p = {general(p)}")
        ax.set_xlim(0, _xmax([T], budget))
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(f"{_name(d)} ({int(has.sum())} seeds with a reference)", fontsize=9.5)
        ax.set_xlabel("steps")
        _legend_below(ax)
    axes[0].set_ylabel("share of seeds not yet at target")
    return fig


def _legend_below(ax) -> None:
    ax.legend(frameon=False, fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2)


def _ratio_panel(ax, x, rows, margin, labels, censored):
    """Per-seed ratios (grey dots; open markers where the arm was censored), geometric mean
    with its t interval on the logarithms (black), margin band (yellow), log axis."""
    ax.axhspan(1 / margin, margin, color=_BAND, alpha=0.35, lw=0, label=f"margin ×/÷ {margin:g}")
    ax.axhline(1.0, color="black", lw=0.6)
    for xi, vals, cens in zip(x, rows, censored, strict=True):
        v = np.asarray(vals, float)
        if v.size == 0:
            continue
        jitter = np.linspace(-0.12, 0.12, v.size)
        c = np.asarray(cens, bool)
        ax.scatter(xi + jitter[~c], v[~c], s=12, color=_GREY, zorder=2)
        labelled = "arm censored" in ax.get_legend_handles_labels()[1]
        ax.scatter(
            xi + jitter[c],
            v[c],
            s=22,
            facecolor="none",
            edgecolor="#D55E00",
            zorder=2,
            label="arm censored" if c.any() and not labelled else None,
        )
        if v.size >= 2:
            iv = seed_interval(np.log(v))
            ax.errorbar(
                [xi],
                [np.exp(iv.estimate)],
                yerr=[
                    [np.exp(iv.estimate) - np.exp(iv.low)],
                    [np.exp(iv.high) - np.exp(iv.estimate)],
                ],
                marker="s",
                ms=5,
                color="black",
                capsize=3,
                zorder=3,
            )
    ax.set_yscale("log")
    _plain_log_ticks(ax)
    ax.set_xticks(x, labels)


def _plain_log_ticks(ax) -> None:
    """Log-axis ticks written as plain numbers (0.5, 2, 10): at 1, 2 and 5 per decade, or at
    1, 1.2, 1.5, 2, 3, 5, 7 when the axis spans less than a factor of 4."""
    lo, hi = ax.get_ylim()
    subs = (1.0, 2.0, 5.0) if hi / lo >= 4 else (1.0, 1.2, 1.5, 2.0, 3.0, 5.0, 7.0, 8.0)
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.yaxis.set_minor_locator(LogLocator(base=10, subs=(1.5, 3.0, 4.0, 7.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))


def ratios(result):
    """Per data set, the per-seed ratio of restricted times p / p = 0 for every p > 0 on the
    paired clock, with the geometric mean and its interval and the margin band."""
    ds = result.params["datasets"]
    rates = result.rates
    fig, axes = subplots(1, len(ds), height=3.2)
    axes = np.atleast_1d(axes)
    pos = [j for j, p in enumerate(rates) if p > 0]
    for ax, d in zip(axes, ds, strict=True):
        ck = result.runs[d]["clocks"]["primary"]
        T, b = ck["times"][ck["has"]], ck["budget"]
        R = restricted_time(T, b)
        rows = [R[:, j] / R[:, 0] for j in pos]
        cens = [np.isnan(T[:, j]) for j in pos]
        _ratio_panel(
            ax,
            np.arange(len(pos)),
            rows,
            evidence.SLOWER_MARGIN,
            [general(rates[j]) for j in pos],
            cens,
        )
        ax.set_title(_name(d))
        ax.set_xlabel("dropout rate p")
    axes[0].set_ylabel("time ratio p / (p = 0), per seed")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
    return fig


def levels(result):
    """Where training levels off: the early-stopped (black; grey per seed) and the final
    (end of the budget, blue) validation loss versus p, means with 95 % intervals."""
    return _per_rate(
        result,
        ("best", "early-stopped (θ*)"),
        ("final", "final (end of budget)", "#0072B2"),
        "validation loss (nats)",
    )


def control(result):
    """The mask-averaging control on the first control data set: Kaplan–Meier curves for
    p = 0 and for p = control_rate with K = 1 … K_max masks per step (left), and the
    per-seed ratios K = 1 / K_max and K_max / p = 0 with their margins (right)."""
    d = result.params["control_datasets"][0]
    ks = result.params["control_ks"]
    ck = result.runs[d]["clocks"]["primary"]
    has, b = ck["has"], ck["budget"]
    Tk = np.asarray(result.control[d]["times"])[has]
    T0 = ck["times"][has, list(result.rates).index(0.0)]
    fig, (ax, bx) = subplots(1, 2, width=PAGE_WIDTH, height=4.0)
    colors = rate_colors(range(len(ks)))
    _km(ax, T0, b, "black", "p = 0", ls="--")
    for i, k in enumerate(ks):
        _km(ax, Tk[:, i], b, colors[i], f"K = {k}")
    ax.set_xlim(0, _xmax([T0, Tk], b))
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("steps")
    ax.set_ylabel("share of seeds not yet at target")
    ax.set_title(f"{_name(d)}, p = {general(result.params['control_rate'])}", fontsize=9.5)
    _legend_below(ax)
    R, R0 = restricted_time(Tk, b), restricted_time(T0, b)
    _ratio_panel(
        bx,
        [0],
        [R[:, 0] / R[:, -1]],
        evidence.NOISE_MARGIN,
        [f"K = 1 / K = {ks[-1]}"],
        [np.isnan(Tk[:, 0])],
    )
    _ratio_panel(
        bx,
        [1],
        [R[:, -1] / R0],
        evidence.LEFT_MARGIN,
        [f"K = {ks[-1]} / p = 0"],
        [np.isnan(Tk[:, -1])],
    )
    bx.set_xticks([0, 1], [f"K = 1 / K = {ks[-1]}", f"K = {ks[-1]} / p = 0"])
    bx.set_xlim(-0.6, 1.6)
    bx.set_ylabel("time ratio, per seed")
    bx.set_title("noise speeds it up · what is left", fontsize=9.5)
    return fig


def surrogate(result):
    """Fixed-mask surrogate runs: the surrogate objective, the fresh-mask E_m J and the
    validation loss along training (median over seeds), per control data set."""
    cds = [d for d in result.control if "surrogate" in result.control[d]]
    fig, axes = subplots(1, len(cds), height=3.0)
    axes = np.atleast_1d(axes)
    for ax, d in zip(axes, cds, strict=True):
        outs = [o for o in result.control[d]["surrogate"] if not o["diverged"]]
        steps = outs[0]["tracked_step"]
        at = np.searchsorted(outs[0]["eval_step"], steps)
        for key, col, label in (
            (
                "surrogate_loss",
                "#D55E00",
                f"surrogate J_K (K = {result.params['surrogate_masks']})",
            ),
            ("fresh_loss", "#0072B2", "fresh masks E_m J"),
            ("val_loss", "black", "validation (evaluation mode)"),
        ):
            rows = [o[key][at] if key == "val_loss" else o[key] for o in outs]
            ax.plot(steps, np.median(np.stack(rows), axis=0), color=col, label=label)
        ax.set_yscale("log")
        _plain_log_ticks(ax)
        ax.set_xlabel("steps")
        ax.set_title(_name(d))
    axes[0].set_ylabel("loss (nats, median over seeds)")
    axes[0].legend(frameon=False, fontsize=8)
    return fig
