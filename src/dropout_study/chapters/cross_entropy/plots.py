"""Figures of chapter 1 (``cross-entropy``); each function takes the experiment's
:class:`~dropout_study.chapters.cross_entropy.experiment.Result` and returns a Figure."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import TwoSlopeNorm

from dropout_study.chapters.cross_entropy.verdict import curves_down
from dropout_study.chapters.figures import COLORS, subplots
from dropout_study.nn.losses import entropy

__all__ = [
    "hampers",
    "likelihood",
    "convexity",
    "hidden_segment",
    "digits_training",
    "temperature",
    "reliability",
]

_DOWN = COLORS[3]  # where a cost curves down (negative second difference)


def hampers(result):
    """Entropy (bits) of a hamper of two kinds of candy against the share of the first kind,
    with the tutorial's three hampers marked."""
    fig, ax = subplots(width=4.2, height=2.7)
    share = np.linspace(0.0, 1.0, 201)
    ax.plot(share, [entropy([s, 1 - s], base=2) for s in share], color=COLORS[0])
    offsets = {"3/7": (8, -14), "5/5": (0, 8), "10/0": (-8, 8)}
    for name, h in result.entropy["hampers"].items():
        s = h["p"][0]
        ax.plot(s, h["bits"], "o", color=COLORS[3])
        dx, dy = offsets.get(name, (0, 8))
        ax.annotate(
            f"{name}: {h['bits']:z.3f} bits",
            (s, h["bits"]),
            textcoords="offset points",
            xytext=(dx, dy),
            ha="left" if dx > 0 else ("right" if dx < 0 else "center"),
            fontsize=8,
        )
    ax.set_xlabel("share of the first kind of candy")
    ax.set_ylabel("entropy (bits)")
    ax.set_ylim(-0.05, 1.15)
    return fig


def likelihood(result):
    """Mean cross-entropy (nats) of one constant prediction θ = P(benign) for every
    breast-cancer training label, against θ; it is lowest at the mean label, the
    maximum-likelihood estimate."""
    fig, bx = subplots(width=4.2, height=2.7)
    b = result.mle["bernoulli"]
    bx.plot(b["thetas"], b["ce"], color=COLORS[0], label="mean CE of predicting θ")
    mean_label = f"label mean {b['mean_y']:z.3f}"
    bx.axvline(b["mean_y"], color=COLORS[3], ls="--", lw=1.2, label=mean_label)
    bx.plot(b["theta_hat"], b["ce_at_mean"], "o", color="black", ms=4, label="numerical minimum")
    bx.set_xlabel("constant prediction θ = P(benign)")
    bx.set_ylabel("mean cross-entropy (nats)")
    bx.set_ylim(0.5, 2.0)
    bx.legend(loc="upper center", frameon=False, fontsize=8)
    return fig


def _slice_panel(ax, axis, values, h, color, ylabel, title, b):
    ax.plot(axis, values, color=color, lw=1.6)
    curv = (values[2:] - 2 * values[1:-1] + values[:-2]) / h**2
    scale = np.max(np.abs(curv))
    down = np.r_[False, curves_down(curv, scale), False]
    ax.plot(
        np.where(down, axis, np.nan),
        np.where(down, values, np.nan),
        color=_DOWN,
        lw=3.5,
        alpha=0.8,
        label="curves down",
    )
    ax.set_xlabel(f"weight w (intercept b = {b:z.2f})")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9.5)


def convexity(result):
    """Logistic regression on one feature, ``q = σ(w x + b)``. Top: the cost along ``w``
    through the grid point of lowest CE, with cross-entropy (nats) and with squared error;
    stretches with negative second difference in red. Bottom: the smallest second difference
    over four directions at each grid point (red: the cost curves down there)."""
    lo = result.logistic
    axis, h = lo["axis"], lo["h"]
    iw, ib = np.unravel_index(np.argmin(lo["ce"]), lo["ce"].shape)
    fig, axes = subplots(2, 2, width=7.0, height=5.6)
    _slice_panel(
        axes[0, 0], axis, lo["ce"][:, ib], h, COLORS[0], "mean CE (nats)", "cross-entropy", axis[ib]
    )
    _slice_panel(
        axes[0, 1],
        axis,
        lo["mse"][:, ib],
        h,
        COLORS[0],
        "mean squared error",
        "squared error of σ(wx + b)",
        axis[ib],
    )
    axes[0, 1].legend(loc="best", frameon=False, fontsize=8)  # clear of the curve
    inner = axis[1:-1]
    for ax, key, title in (
        (axes[1, 0], "ce", "cross-entropy"),
        (axes[1, 1], "mse", "squared error"),
    ):
        c = lo[f"{key}_curvature"]
        scale = lo[f"{key}_scale"]
        norm = TwoSlopeNorm(vcenter=0.0, vmin=min(-1e-3 * scale, c.min()), vmax=c.max())
        half = (inner[1] - inner[0]) / 2
        mesh = ax.imshow(
            c.T,
            origin="lower",
            extent=(inner[0] - half, inner[-1] + half, inner[0] - half, inner[-1] + half),
            cmap="RdBu",
            norm=norm,
            interpolation="nearest",
            aspect="auto",
        )
        share = lo[f"{key}_down_share"]
        ax.plot(axis[iw], axis[ib], "k+", ms=8)
        ax.set_xlabel("weight w")
        ax.set_ylabel("intercept b")
        ax.set_title(f"{title}: curves down on {100 * share:z.0f}% of the grid", fontsize=9.5)
        cb = fig.colorbar(mesh, ax=ax, shrink=0.9)
        cb.set_label("smallest 2nd difference", fontsize=8)
        cb.ax.tick_params(labelsize=7)
        ax.grid(False)
    return fig


def hidden_segment(result):
    """A network with one hidden layer of tanh units: the CE cost (nats) along the segment
    from its trained parameters θ (α = 0) to the same network with two hidden units swapped
    (α = 1), one line per seed; right: the second difference along α for seed 0."""
    fig, (ax, bx) = subplots(1, 2, width=7.0, height=2.8)
    for r, hseg in enumerate(result.hidden):
        kw = {"color": COLORS[0], "lw": 1.8} if r == 0 else {"color": "0.6", "lw": 0.8}
        ax.plot(hseg["alphas"], hseg["cost"], label="seed 0" if r == 0 else None, **kw)
    h0 = result.hidden[0]
    ax.plot([0, 1], [h0["cost_a"], h0["cost_b"]], "o", color="black", ms=4, label="θ and its twin")
    ax.set_xlabel("position α on the segment")
    ax.set_ylabel("mean CE (nats)")
    ax.set_yscale("log")
    ax.set_title("cost along θ → swapped θ")
    ax.legend(loc="lower center", frameon=False, fontsize=8)
    a = h0["alphas"][1:-1]
    c = h0["curvature"]
    bx.plot(a, c, color=COLORS[0])
    bx.fill_between(a, c, 0, where=c < 0, color=_DOWN, alpha=0.4, lw=0, label="curves down")
    bx.axhline(0.0, color="0.3", lw=0.8)
    bx.set_xlabel("position α on the segment")
    bx.set_ylabel("2nd difference (nats per unit α²)")
    bx.set_title("curvature along the segment, seed 0")
    bx.legend(loc="upper right", frameon=False, fontsize=8)
    return fig


def digits_training(result):
    """Digits. Left, seed 0: mean cross-entropy (nats, log scale) on the training split and
    on half A of the validation split (the network's validation data), with the entropy of
    the class prior (dotted) and the step of lowest validation CE (dashed). Middle and right,
    every seed from its own step of lowest validation CE on: the change of validation CE
    (nats) and of validation accuracy (half A)."""
    fig, (ax, cx, bx) = subplots(1, 3, width=7.0, height=2.8)
    d0 = result.digits[0]
    steps = d0["eval_step"]
    ax.plot(steps, d0["train_loss"], color=COLORS[1], label="training")
    ax.plot(steps, d0["val_loss"], color=COLORS[0], label="validation (half A)")
    ax.axhline(d0["prior_entropy_train"], color="black", ls=":", lw=1.2, label="H(class prior)")
    ax.axvline(d0["best_step"], color=COLORS[3], lw=1.0, ls="--")
    ax.set_yscale("log")
    ax.set_xlabel("step (Adam)")
    ax.set_ylabel("mean cross-entropy (nats)")
    ax.legend(loc="best", frameon=False, fontsize=7.5)  # clear of the curves
    ax.set_title("seed 0", fontsize=9.5)
    for r, d in enumerate(result.digits):
        k = d["best"]
        after = d["eval_step"][k:] - d["eval_step"][k]
        kw = (
            {"color": COLORS[0], "lw": 1.8, "zorder": 3} if r == 0 else {"color": "0.65", "lw": 0.8}
        )
        cx.plot(after, d["val_loss"][k:] - d["val_loss"][k], **kw)
        bx.plot(after, 100 * (d["val_acc"][k:] - d["val_acc"][k]), **kw)
    cx.set_ylabel("Δ validation CE (nats)")
    bx.set_ylabel("Δ validation accuracy (points)")
    for axx in (cx, bx):
        axx.axhline(0.0, color="0.3", lw=0.8)
        axx.set_xlabel("steps after the CE minimum")
    cx.set_title("validation CE, all seeds", fontsize=9.5)
    bx.set_title("validation accuracy, all seeds", fontsize=9.5)
    return fig


def temperature(result):
    """Held-out half B, one line per seed: validation CE (nats) at the step of lowest
    validation CE (on half A) and at the end, as predicted (left) and after one temperature
    per checkpoint fitted on half A (right); seed 0 in blue."""
    fig, axes = subplots(1, 2, width=7.0, height=2.8, sharey=True)
    for ax, key, title in (
        (axes[0], "ce", "as predicted"),
        (axes[1], "ce_scaled", "after temperature scaling"),
    ):
        for r, d in enumerate(result.digits):
            kw = {"color": COLORS[0], "lw": 2.0, "zorder": 3} if r == 0 else {"color": "0.6"}
            ax.plot([0, 1], [d["held"]["best"][key], d["held"]["end"][key]], "o-", ms=3, **kw)
        ax.set_xticks([0, 1], ["lowest validation CE", "end of training"])
        ax.set_xlim(-0.3, 1.3)
        ax.set_xlabel("checkpoint")
        ax.set_ylabel("CE on held-out half B (nats)")
        ax.set_title(title, fontsize=9.5)
    return fig


def reliability(result):
    """Reliability diagrams on the held-out half B of the validation split, every seed's
    predictions pooled:
    accuracy within each bin of top-label confidence against the bin's mean confidence, at
    each seed's step of lowest validation CE and at the end of training; the dashed diagonal
    is perfect calibration, the numbers are the predictions per bin."""
    n_seeds = len(result.digits)
    fig, axes = subplots(1, 2, width=7.0, height=3.0)
    for ax, key, title in (
        (axes[0], "best", f"lowest validation CE (half B, {n_seeds} seeds pooled)"),
        (axes[1], "end", f"end of training (half B, {n_seeds} seeds pooled)"),
    ):
        rel = result.pooled[key]
        edges = rel["edges"]
        width = np.diff(edges)
        ok = rel["count"] > 0
        ax.bar(
            edges[:-1][ok],
            rel["accuracy"][ok],
            width=width[ok],
            align="edge",
            color=COLORS[0],
            alpha=0.7,
            edgecolor="white",
            label="accuracy in bin",
        )
        ax.plot(
            rel["confidence"][ok],
            rel["accuracy"][ok],
            "o",
            color="black",
            ms=3,
            label="(mean confidence, accuracy)",
        )
        ax.plot([0, 1], [0, 1], "--", color="0.4", lw=1.0)
        for left, w, acc, n in zip(
            edges[:-1][ok], width[ok], rel["accuracy"][ok], rel["count"][ok], strict=True
        ):
            inside = acc > 0.12  # the count at the foot of the bar, clear of the dot
            ax.text(
                left + w / 2,
                0.03 if inside else acc + 0.02,
                f"{int(n)}",
                ha="center",
                fontsize=6,
                rotation=90 if n >= 1000 else 0,
                va="bottom",
                color="white" if inside else "black",
            )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("confidence (largest predicted probability)")
        ax.set_ylabel("accuracy in bin")
        ax.set_title(f"{title}\nECE = {rel['ece']:z.3f}", fontsize=9)
    axes[0].legend(loc="upper left", frameon=False, fontsize=7.5)
    return fig
