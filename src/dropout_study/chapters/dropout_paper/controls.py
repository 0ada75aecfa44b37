"""Controls of the ``dropout-paper`` chapter's findings (STUDY.md v3, chapter 6): how far
training moved Fig. 8's statistic from its value at initialisation (shown beside Fig. 8,
never deciding it: the contract decides a finding from its interval alone)."""

from __future__ import annotations

import numpy as np

from dropout_study.chapters.findings import Finding, from_seeds

__all__ = ["fig8_control", "positive"]


def positive(values) -> np.ndarray:
    """Ratios for the log scale: a value ≤ 0 is undefined (NaN), so the finding says so."""
    arr = np.asarray(values, dtype=float)
    return np.where(arr > 0, arr, np.nan)


def fig8_control(
    metrics, group: str, quantity: str, margin: float
) -> tuple[Finding, np.ndarray] | None:
    """Fig. 8's control: did training without dropout move the statistic at all? The ratio
    trained (p = 0) over initialisation per replicate, an equivalence on the log scale at
    Fig. 8's own margin, exploratory: context for reading Fig. 8, shown beside it and never
    gating it (STUDY.md decides a finding from its interval alone). Returns the finding and
    the per-replicate ratios as measured (float, shape ``(replicates,)``); ``None`` when the
    run kept no initial values."""
    g = metrics["digits"]["groups"][group]
    if f"{quantity}_init" not in g:
        return None
    trained = np.asarray(g[quantity], dtype=float)[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = trained / np.asarray(g[f"{quantity}_init"], dtype=float)
    what = "mean activation" if quantity == "mean_act" else "share of active units"
    found = from_seeds(
        f"Fig. 8 control: {what} of the network without dropout, trained over at initialisation",
        "equivalence",
        positive(ratio),
        margin=margin,
        margin_source=f"convention: Fig. 8's own margin (ratio {margin:.3g})",
        scale="log",
        role="exploratory",
    )
    return found, ratio
