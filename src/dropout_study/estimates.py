"""Work and memory of a chapter run, estimated from its resolved parameters before it starts.

Each chapter has one small function (``_<module>``) that counts its **work** in
multiply-adds — training steps × samples per step × weights of the network (×3 for the
forward and backward passes), plus its evaluation grids and mask draws — and the **memory**
of its largest arrays (bytes, float64). Parameters are read with ``.get`` and the cell's
defaults, so a new parameter never breaks an estimate; an unknown chapter gets
:func:`_generic`, which multiplies what it can recognise (``n_seeds``, ``*steps``, rate lists,
``hidden`` widths).

The time is ``FIXED_SECONDS + work / MACS_PER_SECOND``, a rate for the study's small float64
matrix products on this 2-core machine (order of magnitude only: the estimate is meant to tell a
minute from a day). :func:`check` refuses a run whose largest arrays do not fit in the
available memory and one above :data:`CONFIRM_SECONDS` without ``--yes``; both before any
kernel starts.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dropout_study.validation import described, fail

__all__ = [
    "Estimate",
    "estimate",
    "check",
    "MACS_PER_SECOND",
    "CONFIRM_SECONDS",
    "available_memory",
]

MACS_PER_SECOND = 3e9
"""Multiply-adds per second of the study's small products on this 2-core machine (order of
magnitude; calibrated on the version-2 book profiles, whose CPU time was 20–90 s per chapter
against 5e10–3.3e11 multiply-adds counted here)."""

FIXED_SECONDS = 20.0
"""Kernel start, imports, figures and notebook post-processing of any chapter."""

CONFIRM_SECONDS = 2 * 3600.0
"""A run estimated above this needs ``--yes``."""

_DATA = {  # name: (samples, features, outputs) before the train/val/test split
    "moons": (600, 2, 1),
    "circles": (600, 2, 1),
    "breast_cancer": (569, 30, 1),
    "digits": (1797, 64, 10),
    "toy1d": (40, 1, 1),
}
_TRAIN = 0.6


@dataclass(frozen=True)
class Estimate:
    """``work``: multiply-adds; ``memory``: bytes of the largest arrays; ``seconds``."""

    chapter: str
    work: float
    memory: float

    @property
    def seconds(self) -> float:
        return FIXED_SECONDS + self.work / MACS_PER_SECOND

    def text(self) -> str:
        return (
            f"estimate for {self.chapter}: about {_fmt_time(self.seconds)} "
            f"({self.work:.2g} multiply-adds), largest arrays about {_fmt_bytes(self.memory)}"
        )


def _fmt_time(s: float) -> str:
    if s < 90:
        return f"{max(s, 1):.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    if s < 48 * 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


def _fmt_bytes(b: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if b < 1000 or unit == "TB":
            return f"{b:.0f} {unit}" if unit == "B" else f"{b:.1f} {unit}"
        b /= 1000
    return f"{b:.1f} TB"  # pragma: no cover


def _weights(d: int, hidden, k: int) -> int:
    sizes = [d, *[int(h) for h in (hidden or [])], k]
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


def _data(name, n_samples=None) -> tuple[int, int, int]:
    n, d, k = _DATA.get(name, (1000, 10, 1))
    if n_samples:
        n = int(n_samples)
    return max(1, int(n * _TRAIN)), d, k


def _net_memory(n: float, w: float, hidden) -> float:
    """Bytes of one network's weights (with gradient and optimiser state, ×4) and of its
    widest activation over ``n`` samples (forward and backward, ×2), float64: a lower bound
    on what any run that trains it holds at once."""
    widest = max([int(h) for h in (hidden or [])] + [1])
    return max(4 * w * 8, 2 * n * widest * 8)


def _n(p: Mapping, key: str, default: float) -> float:
    v = p.get(key, default)
    return float(len(v)) if isinstance(v, list | tuple) else float(v)


# ------------------------------------------------------------------------------------------
# one function per chapter: (work, memory)
# ------------------------------------------------------------------------------------------
def _cross_entropy(p: Mapping) -> tuple[float, float]:
    seeds = _n(p, "n_seeds", 8)
    n, d, _ = _data("breast_cancer")
    w_mlp = _weights(1, [p.get("mlp_width", 8)], 1)
    mlp = 3 * _n(p, "mlp_steps", 500) * n * w_mlp
    dn, dd, dk = _data("digits")
    w_dig = _weights(dd, p.get("digits_hidden", [128]), dk)
    digits = 3 * _n(p, "digits_steps", 400) * dn * w_dig
    grid = _n(p, "n_grid", 81) ** 2 * n * 2 + _n(p, "n_alphas", 201) * n * w_mlp
    memory = max(
        _n(p, "n_grid", 81) ** 2 * n * 8,
        _n(p, "digits_steps", 400) / max(1, _n(p, "digits_eval_every", 4)) * w_dig * 8,
    )
    return seeds * (mlp + digits) + grid, memory


STOP_FRACTION = 0.15
"""Chapters that train to a stopping rule run, per network, about this share of their step cap
(measured at the book profile: median steps / cap between 0.05 and 0.15)."""


def _stopped(p: Mapping, cap_key: str = "max_steps", cap: float = 3000) -> float:
    """Expected steps of one early-stopped run: a share of the cap, at least its patience."""
    patience = _n(p, "patience", 10) * _n(p, "eval_every", 1)
    return max(min(_n(p, cap_key, cap), 2 * patience), STOP_FRACTION * _n(p, cap_key, cap))


def _cost_under_dropout(p: Mapping) -> tuple[float, float]:
    n, d, k = _data(p.get("dataset", "moons"))
    hidden = p.get("hidden", [32, 32])
    w = _weights(d, hidden, k)
    seeds = _n(p, "n_seeds", 8)
    train = 3 * _stopped(p, cap=4000) * n * w * (_n(p, "dropout_rates", 4) + 1)
    pitfall = 3 * 2 * _n(p, "pitfall_steps", 150) * n * w
    last = int(hidden[-1]) if hidden else 1
    theory = _n(p, "theory_rates", 8) * _n(p, "n_theory_masks", 400) * n * last * 2
    masks = _n(p, "n_masks", 1000) * n * w * (_n(p, "checkpoints", 6) + 1)
    memory = max(_n(p, "n_theory_masks", 400) * n * last * 8, _n(p, "n_masks", 1000) * n * 8)
    return seeds * (train + pitfall + theory + masks), memory


def _noisy_loss(p: Mapping) -> tuple[float, float]:
    work, memory = 0.0, 0.0
    seeds, rates = _n(p, "n_seeds", 8), _n(p, "dropout_rates", 5)
    ks = p.get("control_ks", [1, 2, 4, 8, 16])
    k_total = sum(int(k) for k in ks) if isinstance(ks, list) else 31
    for name in p.get("datasets", ["moons", "breast_cancer"]):
        n, d, k = _data(name, p.get("n_samples") if name == "moons" else None)
        w = _weights(d, p.get("hidden", [32, 32]), k)
        train = 3 * _stopped(p) * n * w  # full batch
        lrs = _n(p, "lr_grid", 2)
        grads = 3 * _n(p, "checkpoints", 3) * _n(p, "n_grad_masks", 32) * n * w
        slices = _n(p, "n_alphas", 21) * _n(p, "n_slice_masks", 8) * n * w
        work += seeds * rates * (train * (1 + lrs) + grads + slices)
        if name in p.get("control_datasets", ["moons"]):
            work += seeds * k_total * train
        memory = max(memory, _n(p, "n_grad_masks", 32) * w * 8, k_total * n * d * 8)
        memory = max(memory, _net_memory(n, w, p.get("hidden", [32, 32])))
    if p.get("surrogate"):
        work += seeds * _n(p, "surrogate_masks", 64) * 3 * _stopped(p) * 600 * 1200
    return work, memory


def _l1_vs_l2(p: Mapping) -> tuple[float, float]:
    n, d, k = _data("breast_cancer")
    w = _weights(d, p.get("hidden", [16]), k)
    nets = _n(p, "n_seeds", 8) * (2 * _n(p, "lambdas", 7) + 2)
    train = 3 * nets * _stopped(p, cap=5000) * n * w
    path = _n(p, "n_lambdas", 20) * _n(p, "oracle_max_iter", 3000) * n * d * 0.2
    memory = max(_n(p, "n_lambdas", 20) * n * d * 8, _net_memory(n, w, p.get("hidden", [16])))
    return train + path, memory


def _linearity(p: Mapping) -> tuple[float, float]:
    work, memory = 0.0, 0.0
    models = _n(p, "dropout_rates", 8) + _n(p, "l2_lambdas", 6) + _n(p, "l1_lambdas", 5)
    for name in p.get("datasets", ["moons", "breast_cancer", "noisy_moons"]):
        wide = name in ("noisy_moons", "digits_small")
        n, d, k = _data({"noisy_moons": "moons", "digits_small": "digits"}.get(name, name))
        if wide:
            n = 100
        hidden = p.get("wide_hidden_sizes" if wide else "hidden_sizes", [32, 32])
        w = _weights(d, hidden, k)
        train = 3 * _stopped(p) * min(_n(p, "batch_size", 64), n) * w
        n_probe = min(n, _n(p, "z_max_inputs", 256))
        probes = _n(p, "n_directions", 16) * n_probe * w * (2 + 2 * _n(p, "robustness_steps", 2))
        probes *= 1 + _n(p, "z_checkpoints", 8) / models
        work += _n(p, "n_seeds", 8) * models * (train + probes)
        memory = max(memory, _n(p, "n_directions", 16) * n * d * 8 * 2)
        for key in ("hidden_sizes", "wide_hidden_sizes"):
            hidden = p.get(key, [32, 32])
            memory = max(memory, _net_memory(n, _weights(d, hidden, k), hidden))
    w_toy = _weights(1, p.get("toy_hidden_sizes", [64, 64]), 1)
    work += 3 * _n(p, "toy_rates", 3) * _stopped(p, "toy_steps") * 40 * w_toy
    return work, memory


def _dropout_paper(p: Mapping) -> tuple[float, float]:
    """Digits networks (early stopping: about 5 patience windows, at most the cap), the
    Monte-Carlo averages, all masks of the Baldi layer, SGD, the Wager fits, the ridge check."""
    n_dig = 1797
    n_train = _n(p, "n_train", 200)
    n_test = n_dig * 0.8 - n_train
    steps = min(_n(p, "max_steps", 3000), 5 * _n(p, "patience", 10) * _n(p, "eval_every", 10))
    batch = _n(p, "batch_size", 32)
    width, units = _n(p, "width", 256), _n(p, "pn_units", 32)
    widths = [width] * int(_n(p, "dropout_rates", 6))
    widths += [units / (1 - r) for r in p.get("pn_rates", [0.0, 0.2, 0.5, 0.6, 0.8])]
    widths += [_n(p, "width_alt", 128)] * 2 + [width] * 2
    evals = steps / _n(p, "eval_every", 10) * (n_train + 0.2 * n_dig)
    train = sum((3 * steps * batch + evals) * 75 * w for w in widths)
    mc = 3 * _n(p, "mc_repeats", 2) * max(p.get("mc_ks", [128]) or [128]) * n_test * width * 10
    seeds = _n(p, "n_seeds", 4)
    theory = _n(p, "n_theory_seeds", 8)
    baldi = 2 ** _n(p, "baldi_units", 12) * n_test * (_n(p, "baldi_units", 12) + 6)
    sgd = _n(p, "sgd_steps", 8000) * 16 * 11 * 4
    wn = 569 * _TRAIN
    wager = (
        _n(p, "wager_rates", 3)
        * wn
        * 31
        * (200 * _n(p, "wager_masks", 16) * 2 + _n(p, "wager_eval_masks", 1000))
    )
    ridge = 2 * _n(p, "ridge_rates", 4) * _n(p, "ridge_masks", 2000) * 442 * 10 * 2
    memory = max(n_test * 32 * 10 * 8 * 2, 2**21 * 8 * 4)
    return seeds * (train + mc) + theory * (baldi + sgd + wager) + ridge, memory


def _generic(p: Mapping) -> tuple[float, float]:
    """Any chapter: n_seeds × every ``*steps`` × every rate list × a [32, 32] network."""
    work = 3 * 600 * _weights(2, p.get("hidden", [32, 32]), 1) * _n(p, "n_seeds", 1)
    for key, v in p.items():
        if key.endswith("steps") and isinstance(v, int) and not isinstance(v, bool):
            work *= max(1, v)
        elif key.endswith("rates") and isinstance(v, list):
            work *= max(1, len(v))
    return work, 0.0


CHAPTERS: dict[str, Callable[[Mapping], tuple[float, float]]] = {
    "cross-entropy": _cross_entropy,
    "cost-under-dropout": _cost_under_dropout,
    "noisy-loss": _noisy_loss,
    "l1-vs-l2": _l1_vs_l2,
    "linearity": _linearity,
    "dropout-paper": _dropout_paper,
}


def estimate(chapter_id: str, params: Mapping) -> Estimate:
    """The :class:`Estimate` of one run of ``chapter_id`` with resolved ``params``."""
    func = CHAPTERS.get(chapter_id, _generic)
    try:
        work, memory = func(params)
    except (TypeError, ValueError, KeyError):  # a parameter of a new shape: fall back
        work, memory = _generic(params)
    return Estimate(chapter_id, float(work), float(memory))


def available_memory() -> float:
    """Bytes of memory available now (``MemAvailable``), or ``inf`` if unknown."""
    try:
        import psutil

        return float(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - psutil missing or unreadable /proc
        try:
            return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError):
            return math.inf


def check(est: Estimate, *, yes: bool = False, owner: str = "dropout-study run") -> None:
    """Refuse (``ValueError``, one line) a run whose arrays cannot fit in memory, or one
    estimated above :data:`CONFIRM_SECONDS` unless ``yes``."""
    avail = available_memory()
    if est.memory > avail:
        fail(
            "parameters",
            owner,
            f"small enough to fit in memory ({_fmt_bytes(avail)} available)",
            described(f"arrays of about {_fmt_bytes(est.memory)}"),
        )
    if est.seconds > CONFIRM_SECONDS and not yes:
        raise ValueError(
            f"{est.text()}: above {_fmt_time(CONFIRM_SECONDS)}; "
            "add --yes to run it anyway, or choose smaller parameters."
        )
