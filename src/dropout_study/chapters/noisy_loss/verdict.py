"""The verdict rule of the ``noisy-loss`` chapter (STUDY.md, chapter 3): :func:`decide` and
:func:`robustness`.

The claim "dropout makes the loss surface noisier, so training takes longer" is split into
three sub-outcomes, each ``yes``, ``no`` or ``inconclusive``:

- **noisier**: ρ(p, loss spread across fixed masks at α = 0), over p > 0 only, within seeds,
  95 % interval over seeds: above 0 on every data set → yes; below 0 on any → no; else
  inconclusive.
- **slower**: ρ(p, primary steps) — steps to reach ``target_fraction`` (90 %) of each run's own
  improvement in validation loss, censored runs ranked last — the same way: above 0 on every
  data set → yes; below 0 on any → no; else inconclusive.
- **because noisier**: at the control rate on the first control data set, the paired
  difference (K → ∞ extrapolation − K = 1) in primary steps, 95 % interval ``[lo, hi]``, margin
  ``δ`` = 10 % of the mean K = 1 steps: ``hi < −δ`` → yes (less noise trains faster);
  ``−δ <= lo`` and ``hi <= δ`` → no (the objective, not the noise, sets the pace); else
  inconclusive.

Combining rule: all three yes → **supported**; noisier and slower yes, because-noisier no or
inconclusive → **partly supported**; noisier no or slower no → **not supported**; otherwise
**inconclusive**. A NaN interval is never above or below anything (→ inconclusive).

Metrics read (as written by :mod:`dropout_study.chapters.noisy_loss.experiment`): ``datasets``,
``control_datasets``, ``n_seeds``, ``target_fraction``, ``checkpoints``, ``by_dataset[d]``
(``rho_spread0``, ``rho_spread_avg``, ``rho_variance``, ``rho_snr``, ``steps``,
``steps_best_lr``, ``abs_targets``) and ``control[d]`` (``extrapolated``, ``k_max``,
optionally ``surrogate``); each ρ is ``{"rho", "low", "high"}``, each difference
``{"estimate", "low", "high", "margin"}``.
"""

from __future__ import annotations

from collections.abc import Mapping

from dropout_study.chapters.verdicts import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    PARTLY,
    SUPPORTED,
    Robustness,
    Verdict,
    pick,
)
from dropout_study.chapters.verdicts import robustness as _table
from dropout_study.numfmt import general

__all__ = [
    "NOISY_LOSS_CLAIM",
    "YES",
    "NO",
    "UNDECIDED",
    "trend_outcome",
    "because_outcome",
    "combine",
    "decide",
    "robustness",
]

NOISY_LOSS_CLAIM = "Dropout makes the loss surface noisier, so model training takes longer."
YES, NO, UNDECIDED = "yes", "no", "inconclusive"
_NEED = (
    "datasets",
    "control_datasets",
    "n_seeds",
    "target_fraction",
    "checkpoints",
    "by_dataset",
    "control",
)
_NAMES = {"moons": "moons", "breast_cancer": "breast cancer"}


def trend_outcome(intervals: Mapping[str, Mapping], sign: int = 1) -> str:
    """``yes`` if every data set's ρ interval lies above 0, ``no`` if any lies below 0, else
    ``inconclusive``. ``sign=-1`` reads ρ of a measure that *falls* when the claim holds (the
    gradient SNR): its interval is mirrored first."""
    lows, highs = [], []
    for iv in intervals.values():
        lo, hi = float(iv["low"]), float(iv["high"])
        lo, hi = (lo, hi) if sign > 0 else (-hi, -lo)
        lows.append(lo)
        highs.append(hi)
    if lows and all(lo > 0 for lo in lows):
        return YES
    if any(hi < 0 for hi in highs):
        return NO
    return UNDECIDED


def because_outcome(diff: Mapping) -> str:
    """``yes`` if the difference's interval lies below ``-margin``; ``no`` if it lies within
    ``[-margin, margin]``; else ``inconclusive``."""
    lo, hi, d = float(diff["low"]), float(diff["high"]), float(diff["margin"])
    if hi < -d:
        return YES
    if -d <= lo and hi <= d:
        return NO
    return UNDECIDED


def combine(noisier: str, slower: str, because: str) -> str:
    """The combining rule (module docstring)."""
    if noisier == YES and slower == YES:
        return SUPPORTED if because == YES else PARTLY
    if NO in (noisier, slower):
        return NOT_SUPPORTED
    return INCONCLUSIVE


def _rho_text(iv: Mapping) -> str:
    # a zero-width interval (every seed gave the same ρ) is flagged, as in linearity's text
    flag = " (degenerate)" if iv.get("degenerate") else ""
    return f"{iv['rho']:z.2f} [{iv['low']:z.2f}, {iv['high']:z.2f}]{flag}"


def _trend_text(intervals: Mapping[str, Mapping]) -> str:
    return ", ".join(f"{_rho_text(iv)} on {_NAMES.get(d, d)}" for d, iv in intervals.items())


def _diff_text(diff: Mapping) -> str:
    return (
        f"{diff['estimate']:+z.1f} steps [{diff['low']:+z.1f}, {diff['high']:+z.1f}], "
        f"margin ±{diff['margin']:z.1f}"
    )


def _parts(m: Mapping) -> dict:
    """The primary inputs of the three sub-outcomes."""
    by = m["by_dataset"]
    cds = m["control_datasets"][0]
    return {
        "spread": {d: by[d]["rho_spread0"] for d in m["datasets"]},
        "steps": {d: by[d]["steps"]["primary"] for d in m["datasets"]},
        "because": m["control"][cds]["extrapolated"],
        "control_dataset": cds,
    }


def decide(metrics) -> Verdict:
    """Verdict of chapter 3 (rule and margins in the module docstring)."""
    m = pick(metrics, _NEED, "noisy_loss")
    parts = _parts(m)
    n = trend_outcome(parts["spread"])
    s = trend_outcome(parts["steps"])
    b = because_outcome(parts["because"])
    word = combine(n, s, b)
    pct = f"{general(100 * m['target_fraction'])} %"
    sentence = (
        f"Over {m['n_seeds']} paired seeds — noisier: {n} (ρ(p, loss spread across masks at "
        f"α = 0) over p > 0: {_trend_text(parts['spread'])}); slower: {s} (ρ(p, steps to "
        f"{pct} of the run's own improvement): {_trend_text(parts['steps'])}); because "
        f"noisier: {b} (K → ∞ minus K = 1 mask-averaged steps on "
        f"{_NAMES.get(parts['control_dataset'])}: {_diff_text(parts['because'])})."
    )
    return Verdict(NOISY_LOSS_CLAIM, word, sentence)


def robustness(metrics) -> Robustness:
    """The verdict re-decided under each alternative analysis the chapter names: other
    noise measures, other targets (own-improvement fractions, the absolute grid), each p at
    its own best learning rate, each data set alone, K = 16 instead of the extrapolation,
    another control data set and the fixed-mask surrogate (when they ran)."""
    m = pick(metrics, _NEED, "noisy_loss.robustness")
    primary = decide(m).word
    parts = _parts(m)
    n0 = trend_outcome(parts["spread"])
    s0 = trend_outcome(parts["steps"])
    b0 = because_outcome(parts["because"])
    by, ds = m["by_dataset"], m["datasets"]
    rows = []

    def noisier_row(choice: str, ivs: dict, sign: int = 1) -> None:
        o = trend_outcome(ivs, sign)
        rows.append((choice, combine(o, s0, b0), f"noisier: {o}; ρ {_trend_text(ivs)}"))

    def slower_row(choice: str, ivs: dict) -> None:
        o = trend_outcome(ivs)
        censored = sum(int(iv.get("censored", 0)) for iv in ivs.values())
        detail = f"slower: {o}; ρ {_trend_text(ivs)}; {censored} censored"
        rows.append((choice, combine(n0, o, b0), detail))

    def because_row(choice: str, diff: Mapping) -> None:
        o = because_outcome(diff)
        rows.append((choice, combine(n0, s0, o), f"because noisier: {o}; {_diff_text(diff)}"))

    noisier_row(
        "noise: loss spread averaged over the slice", {d: by[d]["rho_spread_avg"] for d in ds}
    )
    noisier_row(
        "noise: gradient variance across masks at initialisation",
        {d: by[d]["rho_variance"][0] for d in ds},
    )
    last = m["checkpoints"][-1]
    noisier_row(
        f"noise: gradient SNR at step {last} (noisier = lower)",
        {d: by[d]["rho_snr"][-1] for d in ds},
        sign=-1,
    )
    for key in by[ds[0]]["steps"]:
        if key == "primary":
            continue
        kind, val = key.split(" ")
        if kind == "own":
            choice = f"target: {general(100 * float(val))} % of own improvement"
        else:
            i = int(val) - 1
            targets = " / ".join(f"{by[d]['abs_targets'][i]:z.3f}" for d in ds)
            choice = f"absolute target {val} of {len(by[ds[0]]['abs_targets'])}: {targets} nats"
        slower_row(choice, {d: by[d]["steps"][key] for d in ds})
    slower_row("each p at its own best learning rate", {d: by[d]["steps_best_lr"] for d in ds})
    if len(ds) > 1:
        for d in ds:
            o_n = trend_outcome({d: by[d]["rho_spread0"]})
            o_s = trend_outcome({d: by[d]["steps"]["primary"]})
            rows.append(
                (
                    f"data set: {_NAMES.get(d, d)} alone",
                    combine(o_n, o_s, b0),
                    f"noisier: {o_n}; slower: {o_s}",
                )
            )
    ctl = m["control"]
    cd0 = parts["control_dataset"]
    k_max = ctl[cd0].get("ks", [16])[-1]
    because_row(f"control: K = {k_max} (the largest K) instead of K → ∞", ctl[cd0]["k_max"])
    for d in m["control_datasets"][1:]:
        because_row(f"control on {_NAMES.get(d, d)}", ctl[d]["extrapolated"])
    for d in m["control_datasets"]:
        if "surrogate" in ctl[d]:
            because_row(f"fixed-mask surrogate on {_NAMES.get(d, d)}", ctl[d]["surrogate"])
    return _table(primary, rows)
