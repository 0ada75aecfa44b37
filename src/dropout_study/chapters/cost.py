"""How much a chapter run costs, counted from its resolved parameters before it starts.

Each chapter's experiment module exports ``estimate(params) -> (work, memory)``: the **work**
in multiply-adds — training steps × samples per step × weights of the network (×3 for the
forward and backward passes), plus its evaluation grids and mask draws — and the **memory** of
its largest arrays (bytes, float64). The helpers below are what those functions share; the
book turns work into seconds (:mod:`dropout_study.book.estimates`). Order of magnitude only:
the estimate is meant to tell a minute from a day.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "DATA",
    "TRAIN",
    "STOP_FRACTION",
    "weights",
    "data",
    "net_memory",
    "n",
    "stopped",
    "generic",
]

DATA = {  # name: (samples, features, outputs) before the train/val/test split
    "moons": (600, 2, 1),
    "circles": (600, 2, 1),
    "breast_cancer": (569, 30, 1),
    "digits": (1797, 64, 10),
    "toy1d": (40, 1, 1),
}
TRAIN = 0.6
"""Share of a data set in the training split."""


def weights(d: int, hidden, k: int) -> int:
    sizes = [d, *[int(h) for h in (hidden or [])], k]
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


def data(name, n_samples=None) -> tuple[int, int, int]:
    n, d, k = DATA.get(name, (1000, 10, 1))
    if n_samples:
        n = int(n_samples)
    return max(1, int(n * TRAIN)), d, k


def net_memory(n: float, w: float, hidden) -> float:
    """Bytes of one network's weights (with gradient and optimiser state, ×4) and of its
    widest activation over ``n`` samples (forward and backward, ×2), float64: a lower bound
    on what any run that trains it holds at once."""
    widest = max([int(h) for h in (hidden or [])] + [1])
    return max(4 * w * 8, 2 * n * widest * 8)


def n(p: Mapping, key: str, default: float) -> float:
    v = p.get(key, default)
    return float(len(v)) if isinstance(v, list | tuple) else float(v)


STOP_FRACTION = 0.15
"""Chapters that train to a stopping rule run, per network, about this share of their step cap
(measured at the book profile: median steps / cap between 0.05 and 0.15)."""


def stopped(p: Mapping, cap_key: str = "max_steps", cap: float = 3000) -> float:
    """Expected steps of one early-stopped run: a share of the cap, at least its patience."""
    patience = n(p, "patience", 10) * n(p, "eval_every", 1)
    return max(min(n(p, cap_key, cap), 2 * patience), STOP_FRACTION * n(p, cap_key, cap))


def generic(p: Mapping) -> tuple[float, float]:
    """Any chapter: n_seeds × every ``*steps`` × every rate list × a [32, 32] network."""
    work = 3 * 600 * weights(2, p.get("hidden", [32, 32]), 1) * n(p, "n_seeds", 1)
    for key, v in p.items():
        if key.endswith("steps") and isinstance(v, int) and not isinstance(v, bool):
            work *= max(1, v)
        elif key.endswith("rates") and isinstance(v, list):
            work *= max(1, len(v))
    return work, 0.0
