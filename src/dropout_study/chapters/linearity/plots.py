"""Figures of chapter 5 (``linearity``). Each function takes the experiment's ``Result`` and
returns a matplotlib Figure built with :func:`dropout_study.chapters.figures.subplots`; saving is
the
report's job.

Bands are 95 % seed intervals of the mean (Student-t below 20 seeds, BCa from 20); thin
lines are replicates. The logit is a log-odds, so mean|D2| and mean|D1| are in nats.
"""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from dropout_study.chapters.figures import COLORS, PAGE_WIDTH, rate_colors, subplots
from dropout_study.chapters.linearity.experiment import FAMILIES
from dropout_study.data import toy_function
from dropout_study.numfmt import bracket, general, plain

__all__ = [
    "toy",
    "toy_terms",
    "z_vs_rate",
    "terms",
    "fit",
    "regularisers",
    "matched",
    "steps",
    "robustness",
    "LABELS",
]

LABELS = {
    "moons": "moons",
    "circles": "circles",
    "breast_cancer": "breast cancer",
    "digits": "digits",
    "noisy_moons": "noisy moons",
    "digits_small": "digits (small split)",
}
FAMILY_COLORS = {"dropout": COLORS[0], "l2": COLORS[1], "l1": COLORS[2]}
FAMILY_LABELS = {"dropout": "dropout (p)", "l2": "L2 (λ)", "l1": "L1 (λ)"}
Z_LABEL = "Z = mean|D2| / mean|D1|"


def _band(ax, x, cis, color, label=None, marker="o"):
    est = np.array([c["estimate"] for c in cis], dtype=float)
    lo = np.array([c["low"] for c in cis], dtype=float)
    hi = np.array([c["high"] for c in cis], dtype=float)
    ax.fill_between(x, lo, hi, color=color, alpha=0.25, linewidth=0)
    ax.plot(x, est, color=color, marker=marker, markersize=4, label=label)


def _replicates(ax, x, table, color):
    for row in np.asarray(table):
        ax.plot(x, row, color=color, alpha=0.25, linewidth=0.7)


def _signed(est: float, low: float, high: float) -> str:
    return bracket(est, low, high, 2, lambda x, d: plain(x, d, True))


def _rho_text(r: dict) -> str:
    return f"ρ = {_signed(r['rho'], r['low'], r['high'])}"


def _datasets(result) -> list[str]:
    return list(result.metrics["datasets"])


def toy(result):
    """Fitted curves of the 1-D toy (first replicate) for each rate, with Z (all replicates)."""
    t = result.toy
    fig, ax = subplots(width=PAGE_WIDTH, aspect=0.5)
    grid = np.asarray(t["grid_raw"])
    ax.plot(grid, toy_function(grid), color="0.45", linestyle="--", label="true function")
    ax.scatter(t["x_train_raw"], t["y_train"], s=18, color="black", zorder=5, label="training")
    zcis = result.metrics["toy"]["z"]
    for p, curve, c, zc in zip(t["rates"], t["curves"], rate_colors(t["rates"]), zcis, strict=True):
        ax.plot(
            grid,
            curve,
            color=c,
            label=(
                f"p = {general(p)}:  Z = {zc['estimate']:z.2f} "
                f"[{zc['low']:z.2f}, {zc['high']:z.2f}]"
            ),
        )
    ax.set_xlabel("x (raw units of the toy)")
    ax.set_ylabel("y, fitted f(x)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8, ncols=3)
    ax.set_title("1-D toy: fitted curves (seed 0); Z over all seeds")
    return fig


def z_vs_rate(result):
    """Z of the logit versus the dropout rate, one panel per data set."""
    names = _datasets(result)
    fig, axes = subplots(1, len(names), squeeze=False, aspect=0.75)
    for ax, ds in zip(axes[0], names, strict=True):
        m = result.metrics["datasets"][ds]
        rates = m["rates"]
        _replicates(ax, rates, result.arrays[ds]["dropout/z"], FAMILY_COLORS["dropout"])
        _band(ax, rates, m["by_rate_z"], FAMILY_COLORS["dropout"])
        ax.set_title(f"{LABELS[ds]}\n{_rho_text(m['rho_z'])}", fontsize=9)
        ax.set_xlabel("dropout rate p")
        ax.set_ylim(bottom=0)
    axes[0, 0].set_ylabel(Z_LABEL + " (dimensionless)")
    return fig


def _grid_panels(result, rows: list[tuple[str, str]], aspect: float = 0.62):
    names = _datasets(result)
    fig, axes = subplots(len(rows), len(names), squeeze=False, aspect=aspect, sharex=True)
    for j, ds in enumerate(names):
        m = result.metrics["datasets"][ds]
        rates = m["rates"]
        for i, (key, ylabel) in enumerate(rows):
            ax = axes[i, j]
            color = COLORS[i % len(COLORS)]
            _replicates(ax, rates, result.arrays[ds][f"dropout/{key}"], color)
            _band(ax, rates, m[f"by_rate_{key}"], color)
            ax.set_title(f"{LABELS[ds]}\n{_rho_text(m[f'rho_{key}'])}", fontsize=8.5)
            if j == 0:
                ax.set_ylabel(ylabel)
            if i == len(rows) - 1:
                ax.set_xlabel("dropout rate p")
    return fig


def terms(result):
    """The numerator and the denominator of Z versus p: mean|D2| (curvature) and mean|D1|
    (steepness), so that a falling ratio can be read as "less curved" or "steeper"."""
    return _grid_panels(
        result,
        [("d2", "mean|D2| (nats)"), ("d1", "mean|D1| (nats)")],
        aspect=0.62,
    )


def fit(result):
    """The global measure ``1 - R²`` of the best affine fit, and test loss, versus p."""
    return _grid_panels(
        result,
        [("misfit", "1 − R² of affine fit"), ("test_loss", "test loss (nats)")],
        aspect=0.62,
    )


def toy_terms(result):
    """The toy's Z, mean|D2| and mean|D1| versus p (seed intervals), side by side; titles:
    the paired change from the first to the last rate with its interval."""
    m = result.metrics["toy"]
    rates = m["rates"]
    fig, axes = subplots(1, 3, squeeze=False, aspect=0.8)
    rows = [("z", "Z"), ("d2", "mean|D2|"), ("d1", "mean|D1|")]
    for k, (ax, (key, name)) in enumerate(zip(axes[0], rows, strict=True)):
        color = COLORS[k]
        _replicates(ax, rates, result.toy[key], color)
        _band(ax, rates, m[key], color)
        c = m[f"change_{key}"]
        ax.set_title(
            f"{name}\nΔ = {_signed(c['estimate'], c['low'], c['high'])}",
            fontsize=8.5,
        )
        ax.set_xlabel("dropout rate p")
        ax.set_ylim(bottom=0)
    axes[0, 0].set_ylabel("value on the toy's grid (y units)")
    return fig


def regularisers(result):
    """The Z-versus-validation-loss frontier of dropout, L2 and L1 (means over seeds along each
    family's grid), each family's own-best point (mean over seeds of the selected runs), and the
    target of the matched comparison."""
    names = _datasets(result)
    ncols = min(3, len(names))
    nrows = -(-len(names) // ncols)
    fig, axes = subplots(nrows, ncols, squeeze=False, aspect=0.85)
    p_star = result.metrics["match_rate"]
    for ax, ds in zip(axes.flat, names, strict=False):
        m = result.metrics["datasets"][ds]
        curves = {
            "dropout": (m["by_rate_val_loss"], m["by_rate_z"]),
            "l2": (m["by_lambda_l2_val_loss"], m["by_lambda_l2_z"]),
            "l1": (m["by_lambda_l1_val_loss"], m["by_lambda_l1_z"]),
        }
        for fam, (vl, zz) in curves.items():
            x = [c["estimate"] for c in vl]
            y = [c["estimate"] for c in zz]
            ax.plot(x, y, marker="o", markersize=3, color=FAMILY_COLORS[fam], lw=1.3)
            ax.plot(x[-1:], y[-1:], marker=">", markersize=6, color=FAMILY_COLORS[fam], lw=0)
            b = m["own_best"][fam]
            ax.plot(
                [b["val_loss"]["estimate"]],
                [b["z"]["estimate"]],
                marker="D",
                markersize=8,
                markerfacecolor="none",
                markeredgewidth=1.8,
                color=FAMILY_COLORS[fam],
                zorder=6,
            )
        target = m["matched"]["target_val_loss"]["estimate"]
        ax.axvline(target, color="0.3", linestyle=":", linewidth=1.1)
        ax.set_title(LABELS.get(ds, ds), fontsize=9.5)
        ax.set_xlabel("validation loss (nats)")
        ax.tick_params(axis="x", labelrotation=30)
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel(Z_LABEL, fontsize=9)
    handles = [
        Line2D([], [], color=FAMILY_COLORS[f], marker="o", markersize=4, label=FAMILY_LABELS[f])
        for f in FAMILIES
    ]
    handles += [
        Line2D([], [], color="0.3", marker=">", lw=0, label="largest p or λ"),
        Line2D(
            [], [], color="0.3", marker="D", markerfacecolor="none", lw=0,
            label="own best validation loss",
        ),
        Line2D([], [], color="0.3", linestyle=":",
               label=f"target: dropout at p = {general(p_star)}"),
    ]  # fmt: skip
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8)
    return fig


def matched(result):
    """Per seed: Z of dropout at ``match_rate`` and of L2 and L1 interpolated to the same
    validation loss (lines join one seed; unmatched seeds are counted, not drawn)."""
    names = _datasets(result)
    fig, axes = subplots(1, len(names), squeeze=False, aspect=0.85)
    p_star = result.metrics["match_rate"]
    j = result.metrics["datasets"][names[0]]["rates"].index(p_star)
    for ax, ds in zip(axes[0], names, strict=True):
        a = result.arrays[ds]
        mm = result.metrics["datasets"][ds]["matched"]
        zd = a["dropout/z"][:, j]
        cols = [zd, a["matched/l2/z"], a["matched/l1/z"]]
        for s in range(zd.shape[0]):
            ys = np.array([c[s] for c in cols])
            ok = np.isfinite(ys)
            ax.plot(np.arange(3)[ok], ys[ok], color="0.6", linewidth=0.8, zorder=1)
        for k, (fam, col) in enumerate(zip(FAMILIES, cols, strict=True)):
            ok = np.isfinite(col)
            ax.scatter(np.full(ok.sum(), k), col[ok], color=FAMILY_COLORS[fam], s=20, zorder=3)
        ticks = [f"drop.\np={general(p_star)}"]
        for fam in ("l2", "l1"):
            d = mm[fam]
            ticks.append(f"{fam.upper()}\n{d['n_matched']}/{d['n_seeds']}")
        ax.set_xticks(range(3), ticks, fontsize=8)
        ax.set_xlim(-0.4, 2.4)
        ax.set_title(LABELS.get(ds, ds), fontsize=9.5)
        ax.grid(axis="x", visible=False)
    axes[0, 0].set_ylabel("Z at matched validation loss", fontsize=9)
    return fig


def steps(result):
    """Z versus training step for p = 0 and p = ``trajectory_rate``: thin lines are seeds (until
    each run stopped), thick lines the median over the seeds still training."""
    names = _datasets(result)
    ncols = min(3, len(names))
    nrows = -(-len(names) // ncols)
    fig, axes = subplots(nrows, ncols, squeeze=False, aspect=0.85)
    ckpts = np.asarray(result.params["z_checkpoints"], dtype=float)
    rates = result.params["dropout_rates"]
    p1 = result.params["trajectory_rate"]
    colors = {0.0: "0.2", p1: FAMILY_COLORS["dropout"]}
    for ax, ds in zip(axes.flat, names, strict=False):
        a = result.arrays[ds]
        for p in (0.0, p1):
            traj = a["dropout/z_trajectory"][:, rates.index(p), :]
            for row in traj:
                ax.plot(ckpts, row, color=colors[p], alpha=0.25, lw=0.7)
            with np.errstate(all="ignore"):
                enough = np.sum(np.isfinite(traj), axis=0) >= max(2, traj.shape[0] // 2)
                med = np.where(
                    enough, np.nanmedian(np.where(np.isfinite(traj), traj, np.nan), axis=0), np.nan
                )
            ax.plot(ckpts, med, color=colors[p], lw=2.2, marker="o", markersize=3)
            stop = np.median(a["dropout/steps"][:, rates.index(p)])
            ax.axvline(stop, color=colors[p], linestyle=":", lw=1.1)
        ax.set_xscale("log")
        ax.set_title(LABELS.get(ds, ds), fontsize=9.5)
        ax.set_xlabel("training step")
        ax.set_ylim(bottom=0)
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel(Z_LABEL, fontsize=9)
    handles = [
        Line2D([], [], color=colors[0.0], lw=2.2, label="p = 0 (median over seeds)"),
        Line2D([], [], color=colors[p1], lw=2.2, label=f"p = {general(p1)} (median over seeds)"),
        Line2D([], [], color="0.3", linestyle=":", label="median step at which training stopped"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8)
    return fig


def robustness(result):
    """Z relative to its mean at p = 0: the logit at each step h, and the first and last hidden
    layers (all units pooled) at the main step, and the logit under the budget cap."""
    names = _datasets(result)
    fig, axes = subplots(1, len(names), squeeze=False, aspect=0.85, sharey=True)
    h_main = result.metrics["step"]
    extra = list(result.params["robustness_steps"])
    hs = sorted([h_main, *extra])
    colors = rate_colors(hs)
    for ax, ds in zip(axes[0], names, strict=True):
        a = result.arrays[ds]
        rates = result.metrics["datasets"][ds]["rates"]
        for h, c in zip(hs, colors, strict=True):
            table = a["dropout/z"] if h == h_main else a["dropout/z_steps"][:, :, extra.index(h)]
            mean = np.nanmean(table, axis=0)
            lw = 2.4 if h == h_main else 1.3
            ax.plot(rates, mean / mean[0], color=c, marker="o", markersize=3, lw=lw,
                    label=f"logit, h = {general(h)}")  # fmt: skip
        for key, style, name in (
            ("z_hidden", "--", "last hidden layer"),
            ("z_first", "-.", "first hidden layer"),
            ("z_budget", ":", f"logit, cap {result.params['budget']} steps"),
        ):
            mean = np.nanmean(a[f"dropout/{key}"], axis=0)
            ax.plot(rates, mean / mean[0], color="black", linestyle=style, lw=1.2, label=name)
        ax.axhline(1.0, color="0.5", linewidth=0.8)
        ax.set_title(LABELS.get(ds, ds), fontsize=9.5)
        ax.set_xlabel("dropout rate p")
    axes[0, 0].set_ylabel("Z / Z at p = 0 (mean over seeds)", fontsize=9)
    handles, lbls = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, lbls, loc="outside lower center", ncols=3, fontsize=8)
    return fig
