"""Figures of chapter 5 (``linearity``). Each function takes the experiment's ``Result`` and
returns a matplotlib Figure built with :func:`dropout_study.figures.subplots`; saving is the
report's job.

Bands are 95 % bootstrap intervals of the mean over replicates; thin lines are replicates.
The logit is a log-odds, so mean|D2| and mean|D1| are in nats.
"""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from dropout_study.data import toy_function
from dropout_study.experiments.linearity import FAMILIES
from dropout_study.figures import COLORS, PAGE_WIDTH, rate_colors, subplots

__all__ = ["toy", "z_vs_rate", "terms", "fit", "regularisers", "matched", "robustness", "LABELS"]

LABELS = {
    "moons": "moons",
    "circles": "circles",
    "breast_cancer": "breast cancer",
    "digits": "digits",
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


def _rho_text(r: dict) -> str:
    return f"ρ = {r['rho']:+.2f} [{r['low']:+.2f}, {r['high']:+.2f}]"


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
            label=f"p = {p:g}:  Z = {zc['estimate']:.2f} [{zc['low']:.2f}, {zc['high']:.2f}]",
        )
    ax.set_xlabel("x (raw units of the toy)")
    ax.set_ylabel("y, fitted f(x)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8, ncols=3)
    ax.set_title("1-D toy: fitted curves (replicate 0); Z over all replicates")
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
        ax.set_title(f"{LABELS[ds]}: {_rho_text(m['rho_z'])}", fontsize=9.5)
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
            ax.set_title(f"{LABELS[ds]}: {_rho_text(m[f'rho_{key}'])}", fontsize=9)
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
    """The global measure ``1 - R²`` of the best affine fit, and test accuracy, versus p."""
    return _grid_panels(
        result,
        [("misfit", "1 − R² of affine fit"), ("test_acc", "test accuracy")],
        aspect=0.62,
    )


def regularisers(result):
    """Z against validation loss along each family's grid (mean over replicates), with the
    target loss of dropout at ``match_rate`` and the matched points."""
    names = _datasets(result)
    fig, axes = subplots(1, len(names), squeeze=False, aspect=0.8)
    p_star = result.metrics["match_rate"]
    offsets = {"dropout": (5, 2), "l2": (5, 7), "l1": (5, -10)}
    for ax, ds in zip(axes[0], names, strict=True):
        m = result.metrics["datasets"][ds]
        curves = {
            "dropout": (m["by_rate_val_loss"], m["by_rate_z"], m["rates"]),
            "l2": (m["by_lambda_l2_val_loss"], m["by_lambda_l2_z"], m["l2_lambdas"]),
            "l1": (m["by_lambda_l1_val_loss"], m["by_lambda_l1_z"], m["l1_lambdas"]),
        }
        for fam, (vl, zz, grid) in curves.items():
            x = [c["estimate"] for c in vl]
            y = [c["estimate"] for c in zz]
            ax.plot(x, y, marker="o", markersize=3.5, color=FAMILY_COLORS[fam])
            symbol = "p" if fam == "dropout" else "λ"
            ax.annotate(
                f"{symbol} = {grid[-1]:g}",
                (x[-1], y[-1]),
                textcoords="offset points",
                xytext=offsets[fam],
                fontsize=7.5,
                color=FAMILY_COLORS[fam],
            )
        target = m["matched"]["target_val_loss"]["estimate"]
        ax.axvline(target, color="0.3", linestyle=":", linewidth=1.2)
        zd = m["matched"]["z_dropout"]["estimate"]
        ax.plot([target], [zd], marker="*", markersize=12, color=FAMILY_COLORS["dropout"])
        counts = ", ".join(
            f"{fam.upper()} {m['matched'][fam]['n_matched']}/{m['matched'][fam]['n_seeds']}"
            for fam in ("l2", "l1")
        )
        ax.set_title(f"{LABELS[ds]} (matched: {counts})", fontsize=9)
        ax.set_xlabel("validation loss (nats)")
    axes[0, 0].set_ylabel(Z_LABEL)
    handles = [
        Line2D([], [], color=FAMILY_COLORS[f], marker="o", markersize=4, label=FAMILY_LABELS[f])
        for f in FAMILIES
    ]
    handles += [
        Line2D(
            [],
            [],
            color=FAMILY_COLORS["dropout"],
            marker="*",
            markersize=10,
            lw=0,
            label=f"dropout, p = {p_star:g}",
        ),
        Line2D([], [], color="0.3", linestyle=":", label="its validation loss (target)"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8)
    return fig


def matched(result):
    """Per replicate: Z of dropout at ``match_rate`` and of L2 and L1 interpolated to the same
    validation loss (lines join one replicate; unmatched replicates are listed, not drawn)."""
    names = _datasets(result)
    fig, axes = subplots(1, len(names), squeeze=False, aspect=0.8)
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
            ax.scatter(np.full(ok.sum(), k), col[ok], color=FAMILY_COLORS[fam], s=22, zorder=3)
        ticks = [f"dropout\np = {p_star:g}"]
        for fam in ("l2", "l1"):
            d = mm[fam]
            ticks.append(f"{fam.upper()}\n{d['n_matched']}/{d['n_seeds']} matched")
        ax.set_xticks(range(3), ticks, fontsize=8)
        ax.set_xlim(-0.4, 2.4)
        d2 = mm["l2"]["diff"]
        ax.set_title(
            f"{LABELS[ds]}: Z(dropout) − Z(L2) = {d2['estimate']:+.3f}\n"
            f"[{d2['low']:+.3f}, {d2['high']:+.3f}]",
            fontsize=9,
        )
        ax.grid(axis="x", visible=False)
    axes[0, 0].set_ylabel(Z_LABEL + " at matched fit")
    return fig


def robustness(result):
    """Z relative to its mean at the smallest rate: the logit at each step h, and the last
    hidden layer (all units pooled) at the main step."""
    names = _datasets(result)
    fig, axes = subplots(1, len(names), squeeze=False, aspect=0.75, sharey=True)
    h_main = result.metrics["step"]
    steps = sorted([h_main, *result.params["robustness_steps"]])
    colors = rate_colors(steps)
    for ax, ds in zip(axes[0], names, strict=True):
        a = result.arrays[ds]
        rates = result.metrics["datasets"][ds]["rates"]
        extra = list(result.params["robustness_steps"])
        for h, c in zip(steps, colors, strict=True):
            table = a["dropout/z"] if h == h_main else a["dropout/z_steps"][:, :, extra.index(h)]
            mean = np.nanmean(table, axis=0)
            lw = 2.4 if h == h_main else 1.4
            ax.plot(
                rates,
                mean / mean[0],
                color=c,
                marker="o",
                markersize=3,
                lw=lw,
                label=f"logit, h = {h:g}",
            )
        mean = np.nanmean(a["dropout/z_hidden"], axis=0)
        ax.plot(
            rates,
            mean / mean[0],
            color="black",
            linestyle="--",
            marker="s",
            markersize=3,
            label=f"last hidden layer, h = {h_main:g}",
        )
        ax.axhline(1.0, color="0.5", linewidth=0.8)
        ax.set_title(LABELS[ds])
        ax.set_xlabel("dropout rate p")
    axes[0, 0].set_ylabel(f"Z / Z at p = {rates[0]:g} (mean over replicates)")
    axes[0, 0].legend(fontsize=8)
    return fig
