"""Chapter 2's verdict rule: :func:`decide` (metrics → :class:`Verdict`) and
:func:`robustness` (the verdict under each alternative analysis choice of the same run)."""

from __future__ import annotations

import math

from dropout_study.chapters.verdicts import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    PARTLY,
    SUPPORTED,
    Robustness,
    Verdict,
)
from dropout_study.chapters.verdicts import robustness as _table
from dropout_study.numfmt import general

__all__ = ["COST_UNDER_DROPOUT_CLAIM", "MARGIN", "decide", "interval_word", "robustness"]

COST_UNDER_DROPOUT_CLAIM = "Dropout does not change the cost function."
MARGIN = 0.01
"""Default equivalence margin δ for the explicit regulariser R, nats (absolute, symmetric)."""


def interval_word(low: float, high: float, delta: float) -> str:
    """The equivalence rule on an interval ``[low, high]`` of R (nats) at margin ``delta``:
    inside ``(−δ, δ)`` → supported; entirely above ``δ`` or entirely below ``−δ`` → partly
    supported; otherwise (it straddles ``±δ``) → inconclusive."""
    if -delta < low and high < delta:
        return SUPPORTED
    if low > delta or high < -delta:
        return PARTLY
    return INCONCLUSIVE


def _bad(what: str) -> ValueError:
    return ValueError(
        "The 'metrics' parameter of cost_under_dropout must hold rates, primary_rate, "
        f"r_own (one interval per rate), p0_identical and eval_deterministic; got {what}."
    )


def _read(metrics):
    try:
        rates = [float(r) for r in metrics["rates"]]
        prim = float(metrics["primary_rate"])
        r_own = list(metrics["r_own"])
        checks = (bool(metrics["p0_identical"]), bool(metrics["eval_deterministic"]))
    except (KeyError, TypeError) as exc:
        raise _bad(f"no {exc}") from exc
    if prim not in rates or len(r_own) != len(rates):
        raise _bad(f"primary_rate {prim} with rates {rates} and {len(r_own)} intervals")
    return rates, prim, r_own, checks


def _fmt(ci) -> str:
    return f"{ci['mean']:+z.4f} [{ci['low']:+z.4f}, {ci['high']:+z.4f}] nats"


def decide(metrics, *, rate: float | None = None, interval=None, margin: float | None = None):
    """Verdict of chapter 2 on "dropout does not change the cost function".

    Reads ``p0_identical`` (training at p = 0 with dropout layers is bit-identical to a
    network without them) and ``eval_deterministic`` (evaluation mode of a dropout network
    is bit-identical to the deterministic network), ``rates``, ``primary_rate``, ``margin``
    (δ, nats; default :data:`MARGIN`) and ``r_own`` (per rate, the 95 % interval over seeds
    ``{"mean", "low", "high"}`` of the explicit regulariser ``R = E_m J(θ*_p, m) − J(θ*_p)``
    at the network trained with dropout at that rate).

    Rule (STUDY.md, chapter 2), in order:

    (a) the function J is unchanged — both exact checks hold; if either fails → **not
        supported**;
    (b) primary: R at ``primary_rate`` (0.5) at ``θ*_p`` with the symmetric equivalence
        margin δ = 0.01 nats: interval inside ``(−δ, δ)`` → **supported**; entirely above
        ``δ`` or entirely below ``−δ`` → **partly supported** (the definition is unchanged,
        the objective minimised is not); otherwise → **inconclusive**.

    ``rate``, ``interval`` (an alternative ``{"mean", "low", "high"}`` of R, e.g. at θ*₀ or
    at a checkpoint) and ``margin`` re-decide (b) for the robustness table.
    """
    rates, prim, r_own, (identical, deterministic) = _read(metrics)
    delta = float(metrics.get("margin", MARGIN) if margin is None else margin)
    if not (delta > 0 and math.isfinite(delta)):
        raise _bad(f"margin {delta}")
    if not (identical and deterministic):
        failed = []
        if not identical:
            failed.append("p = 0 is not bit-identical to the network without dropout layers")
        if not deterministic:
            failed.append("evaluation mode is not the deterministic network")
        return Verdict(
            COST_UNDER_DROPOUT_CLAIM,
            NOT_SUPPORTED,
            f"The function itself changed: {'; '.join(failed)}.",
        )
    p = prim if rate is None else float(rate)
    ci = interval if interval is not None else r_own[rates.index(p)]
    word = interval_word(float(ci["low"]), float(ci["high"]), delta)
    same = (
        "J is the same function (p = 0 bit-identical to no dropout layers; evaluation mode is "
        "the deterministic network)"
    )
    at = f"the explicit regulariser R = Eₘ J(θ, m) − J(θ) at p = {general(p)} is {_fmt(ci)}"
    if word == SUPPORTED:
        tail = (
            f"{at}, inside ±{general(delta)} nats: the mean over masks is J itself at this margin"
        )
    elif word == PARTLY:
        side = "above +" if float(ci["low"]) > delta else "below −"
        tail = (
            f"but {at}, entirely {side}{general(delta)} nats: the definition is unchanged, the "
            f"objective gradient descent minimises on average is J + R, not J"
        )
    else:
        tail = (
            f"{at}, which straddles ±{general(delta)} nats: this run cannot decide at that margin"
        )
    return Verdict(COST_UNDER_DROPOUT_CLAIM, word, f"{same}; {tail}.")


def robustness(metrics) -> Robustness:
    """The verdict under each alternative of STUDY.md chapter 2 (same run): every other
    trained rate at its own ``θ*_p``; ``θ*₀`` (trained without dropout) at every trained rate
    (``r_theta0``); the margins in ``alt_margins`` (δ = 0.005 and 0.02 by default); and R at
    the primary rate along the primary run (``along_primary``, one row per checkpoint in
    ``checkpoints`` that every seed reached, ``along_reached``)."""
    rates, prim, r_own, _ = _read(metrics)
    primary = decide(metrics).word
    n_seeds = int(metrics.get("n_seeds", 0))
    rows = []

    def add(choice, **kw):
        ci = kw.get("interval") or r_own[rates.index(kw.get("rate", prim))]
        rows.append((choice, decide(metrics, **kw).word, _fmt(ci)))

    for p in rates[1:]:
        if p != prim:
            add(f"p = {general(p)} at θ*_p (trained with dropout at p)", rate=p)
    for p, ci in zip(rates, metrics.get("r_theta0", []), strict=False):
        if ci is not None and p > 0:
            add(f"p = {general(p)} at θ*₀ (trained without dropout)", rate=p, interval=ci)
    for d in metrics.get("alt_margins", []):
        add(f"margin δ = {general(d)} nats", margin=d)
    steps = metrics.get("checkpoints", [])
    for step, ci, n in zip(
        steps, metrics.get("along_primary", []), metrics.get("along_reached", []), strict=False
    ):
        if ci is not None and n == n_seeds:
            what = "at initialisation" if step == 0 else f"at step {step}"
            add(f"R along training: {what} (p = {general(prim)} run)", interval=ci)
    return _table(primary, rows)
