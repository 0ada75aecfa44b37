"""Figure style shared by every chapter.

Plot functions (``dropout_study.plots.<chapter>``) build their figures with :func:`subplots`
so that every figure has the same fonts and is readable at the book's page width
(about 7 inches of text column). Saving with provenance is :func:`dropout_study.book.report.figure`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.rcsetup import cycler  # what mpl.cycler is (matplotlib's stubs omit that name)

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = ["STYLE", "PAGE_WIDTH", "subplots", "apply_style", "COLORS", "rate_colors"]

PAGE_WIDTH = 7.0  # inches: the text column of the book at 100 % zoom

STYLE: dict[RcKeyType, object] = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.6,
    "svg.hashsalt": "dropout-study",  # deterministic SVG ids
    "svg.fonttype": "none",
}

# A colour-blind-safe cycle (Okabe & Ito).
COLORS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def apply_style() -> None:
    """Apply :data:`STYLE` and the colour cycle to matplotlib's global rc parameters."""
    mpl.rcParams.update(STYLE)
    mpl.rcParams["axes.prop_cycle"] = cycler(color=COLORS)


def subplots(
    nrows: int = 1,
    ncols: int = 1,
    *,
    width: float = PAGE_WIDTH,
    aspect: float = 0.62,
    height: float | None = None,
    **kwargs,
):
    """``plt.subplots`` in the study's style; the figure is ``width`` inches wide and ``height``
    inches tall, by default ``width * aspect * nrows / ncols`` (times 1.35 with several columns)
    clipped to [2.2, 9] inches."""
    apply_style()
    if height is None:
        height = max(
            2.2, min(9.0, width * aspect * nrows / max(ncols, 1) * (1.0 if ncols == 1 else 1.35))
        )
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(width, height), **kwargs)


def rate_colors(values) -> list:
    """One colour per value of an ordered parameter (e.g. dropout rates), dark to light
    (viridis from 0 to 0.9)."""
    cmap = mpl.colormaps["viridis"]
    values = list(values)
    n = max(len(values) - 1, 1)
    return [cmap(0.9 * i / n) for i in range(len(values))]
