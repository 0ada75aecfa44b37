"""Figures of chapter 3 (``noisy-loss``); each function takes the experiment's ``Result`` and
returns a matplotlib figure (saved and glued by ``report.figure``).

Losses are mean binary cross-entropies in nats; ``α`` and ``β`` are steps along
filter-normalised directions (``α = 1`` moves every unit's incoming weights by the norm of
those weights).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from dropout_study.figures import COLORS, PAGE_WIDTH, rate_colors, subplots
from dropout_study.stats import bootstrap_ci

__all__ = ["slices", "spread", "contour", "gradient_noise", "steps", "curves"]

_GREY = "0.55"


def _pick_rates(rates, max_panels: int = 6) -> list[int]:
    idx = np.arange(len(rates))
    if len(idx) <= max_panels:
        return idx.tolist()
    return np.unique(np.round(np.linspace(0, len(rates) - 1, max_panels)).astype(int)).tolist()


def slices(result, replicate: int = 0):
    """1-D slices ``L(θ* + α d)`` of one replicate: evaluation mode and ``K`` fixed masks."""
    which = _pick_rates(result.rates)
    ncols = min(3, len(which))
    nrows = int(np.ceil(len(which) / ncols))
    fig, axes = subplots(nrows, ncols, sharex=True, sharey=True, height=2.3 * nrows + 0.4)
    axes = np.atleast_1d(axes).ravel()
    a = result.alphas
    colors = rate_colors(result.rates)
    for ax, j in zip(axes, which, strict=False):
        for k, curve in enumerate(result.slice_masks[replicate, j]):
            label = "fixed masks (one line each)" if k == 0 else None
            ax.plot(a, curve, color=colors[j], lw=0.9, alpha=0.75, label=label)
        ax.plot(a, result.slice_eval[replicate, j], color="black", lw=2.0, label="evaluation mode")
        ax.set_title(f"p = {result.rates[j]:g}")
        ax.axvline(0.0, color=_GREY, lw=0.6, ls=":")
    for r in range(nrows):
        axes[r * ncols].set_ylabel("training loss (nats)")
    for i in range(len(which)):
        if i + ncols >= len(which):  # lowest panel of its column
            axes[i].set_xlabel("step α along d")
            axes[i].xaxis.set_tick_params(labelbottom=True)
    handles, labels = axes[len(which) - 1].get_legend_handles_labels()
    if len(which) < len(axes):
        for ax in axes[len(which) :]:
            ax.axis("off")
        axes[len(which)].legend(handles, labels, loc="center", frameon=False)
    else:
        fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
    return fig


def _paired(ax, rates, values, *, label_seeds: str = "one seed"):
    """Per-seed lines (grey) and the mean with its 95 % bootstrap interval (black)."""
    for s, row in enumerate(values):
        label = label_seeds if s == 0 else None
        ax.plot(rates, row, color=_GREY, lw=0.8, alpha=0.6, label=label)
    cis = bootstrap_ci(values)
    mean = np.array([c.estimate for c in cis])
    err = np.array([[c.estimate - c.low for c in cis], [c.high - c.estimate for c in cis]])
    ax.errorbar(
        rates,
        mean,
        yerr=err,
        color="black",
        marker="o",
        ms=4,
        capsize=3,
        lw=1.6,
        label="mean, 95 % CI",
    )


def spread(result):
    """Loss spread across masks (mean over α of the across-mask SD) versus p, paired seeds."""
    fig, ax = subplots(width=PAGE_WIDTH * 0.62, aspect=0.7)
    _paired(ax, result.rates, result.spread)
    ax.set_xlabel("dropout rate p")
    ax.set_ylabel("spread across masks (nats)")
    m = result.metrics
    lo, hi = m["rho_spread_low"], m["rho_spread_high"]
    ax.set_title(f"Spearman ρ = {m['rho_spread']:.2f}, 95 % CI [{lo:.2f}, {hi:.2f}]")
    ax.legend(frameon=False, loc="upper left")
    return fig


def contour(result):
    """2-D slice around ``θ*``: evaluation mode next to one fixed mask, same contour levels."""
    c = result.contour
    A, B = np.meshgrid(c["alphas"], c["betas"], indexing="ij")
    lo = min(c["eval"].min(), c["masked"].min())
    hi = np.quantile(np.concatenate([c["eval"].ravel(), c["masked"].ravel()]), 0.95)
    levels = np.geomspace(max(lo, 1e-3), hi, 14)
    fig, axes = subplots(1, 2, sharex=True, sharey=True, height=3.3)
    titles = ("evaluation mode", f"one fixed mask (p = {c['p']:g})")
    for ax, key, title in zip(axes, ("eval", "masked"), titles, strict=True):
        cs = ax.contourf(A, B, np.clip(c[key], None, hi), levels=levels, cmap="viridis")
        ax.contour(A, B, c[key], levels=levels, colors="white", linewidths=0.4, alpha=0.6)
        ax.plot(0, 0, ls="none", marker="+", color="red", ms=10, mew=2, label="θ* (trained)")
        i, j = np.unravel_index(np.argmin(c[key]), c[key].shape)
        ax.plot(
            c["alphas"][i],
            c["betas"][j],
            ls="none",
            marker="x",
            color="white",
            ms=7,
            mew=1.8,
            label="lowest grid point",
        )
        ax.set_title(title)
        ax.set_xlabel("step α along d₁")
        ax.grid(False)
    axes[0].set_ylabel("step β along d₂")
    axes[1].legend(loc="lower right", fontsize=8, framealpha=0.8)
    cb = fig.colorbar(cs, ax=axes, shrink=0.9)
    cb.set_label("training loss (nats)")
    cb.ax.yaxis.set_major_formatter(plt.FormatStrFormatter("%.2f"))
    return fig


def gradient_noise(result):
    """Gradient SNR and variance across masks versus p, one line per checkpoint (medians)."""
    fig, axes = subplots(1, 2, height=3.0)
    rates = result.rates
    pos = rates > 0
    ckpts = result.params["checkpoints"]
    cols = [COLORS[i % len(COLORS)] for i in range(len(ckpts))]
    for c, (step, col) in enumerate(zip(ckpts, cols, strict=True)):
        label = "initialisation" if step == 0 else f"step {step}"
        snr = result.snr[:, pos, c]
        var = result.grad_variance[:, pos, c]
        for ax, vals in ((axes[0], snr), (axes[1], var)):
            q1, med, q3 = np.quantile(vals, [0.25, 0.5, 0.75], axis=0)
            ax.plot(rates[pos], med, marker="o", ms=4, color=col, label=label)
            ax.fill_between(rates[pos], q1, q3, color=col, alpha=0.15, lw=0)
    axes[0].set_ylabel("SNR = ‖E g‖² / E‖g − E g‖²")
    axes[1].set_ylabel("variance E‖g − E g‖² (nats²)")
    axes[0].set_title("signal-to-noise ratio")
    axes[1].set_title("variance across masks")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("dropout rate p")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=len(labels),
        frameon=False,
        title="checkpoint (median over seeds; band: quartiles)",
        title_fontsize=8.5,
    )
    return fig


def _steps_panel(ax, result, values, cap, title):
    rates = result.rates
    cens = np.isnan(values)
    shown = np.where(cens, cap, values)
    for s, row in enumerate(shown):
        ax.plot(rates, row, color=_GREY, lw=0.8, alpha=0.6, label="one seed" if s == 0 else None)
    if cens.any():
        ii, jj = np.nonzero(cens)
        ax.plot(
            rates[jj],
            np.full(ii.shape, cap),
            ls="none",
            marker="^",
            mfc="white",
            mec=COLORS[3],
            ms=7,
            mew=1.4,
            label="not reached (censored, drawn at the cap)",
        )
    med = np.median(np.where(cens, np.inf, values), axis=0)
    ok = np.isfinite(med)
    ax.plot(rates[ok], med[ok], color="black", marker="o", ms=5, lw=1.8, label="median")
    ax.axhline(cap, color=COLORS[3], lw=0.8, ls="--")
    ax.set_xlabel("dropout rate p")
    ax.set_title(f"{title}\n{int(cens.sum())} of {cens.size} runs censored", fontsize=9.5)


def steps(result):
    """Steps to the validation targets and the final validation loss versus p."""
    m = result.metrics
    cap = m["steps_cap"]
    fig, axes = subplots(1, 3, height=3.0)
    _steps_panel(
        axes[0], result, result.steps_loss, cap, f"to val. loss ≤ {m['target_loss']:g} nats"
    )
    _steps_panel(axes[1], result, result.steps_acc, cap, f"to val. accuracy ≥ {m['target_acc']:g}")
    axes[0].set_ylabel("SGD steps")
    _paired(axes[2], result.rates, result.final_val_loss)
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    handles.append(plt.Line2D([], [], color=COLORS[3], lw=0.8, ls="--"))
    labels.append(f"cap = {cap} steps (ranked above every run that reached the target)")
    fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False, fontsize=8.5)
    axes[2].set_xlabel("dropout rate p")
    axes[2].set_ylabel("final validation loss (nats)")
    axes[2].set_title(f"after {m['n_steps']} steps")
    return fig


def curves(result):
    """Validation loss against SGD steps, median over seeds for each p, with the target."""
    fig, ax = subplots(width=PAGE_WIDTH * 0.8, aspect=0.55)
    colors = rate_colors(result.rates)
    t = result.eval_step
    for j, p in enumerate(result.rates):
        q1, med, q3 = np.quantile(result.val_loss[:, j], [0.25, 0.5, 0.75], axis=0)
        ax.plot(t, med, color=colors[j], label=f"p = {p:g}")
        ax.fill_between(t, q1, q3, color=colors[j], alpha=0.12, lw=0)
    ax.axhline(result.metrics["target_loss"], color="black", ls="--", lw=1, label="target")
    ax.set_xlabel("SGD step")
    ax.set_ylabel("validation loss (nats)")
    ax.set_yscale("log")
    ticks = [0.1, 0.15, 0.2, 0.3, 0.5, 0.8]
    ax.set_yticks(ticks, [f"{v:g}" for v in ticks])
    ax.yaxis.set_minor_formatter(plt.NullFormatter())
    ax.legend(
        frameon=False, ncols=2, title="median over seeds (band: quartiles)", title_fontsize=8.5
    )
    return fig
