"""The verdict rule of the ``noisy-loss`` chapter: :func:`decide` (metrics → :class:`Verdict`)."""

from __future__ import annotations

from dropout_study.validation import fail  # noqa: F401
from dropout_study.verdicts import (  # noqa: F401
    INCONCLUSIVE,
    NOT_SUPPORTED,
    PARTLY,
    SUPPORTED,
    Verdict,
    pick,
)

NOISY_LOSS_CLAIM = "Dropout makes the loss surface noisier, so model training takes longer."


def _noisy_loss_trend(rho: float, low: float, high: float, what: str) -> str:
    if low > 0:
        verb = "rises with p"
    elif high < 0:
        verb = "falls with p"
    else:
        verb = "shows no clear trend in p"
    return f"{what} {verb} (Spearman ρ = {rho:.2f}, 95 % CI [{low:.2f}, {high:.2f}])"


def decide(metrics) -> Verdict:
    """Verdict of chapter 3 from two within-seed Spearman trends with bootstrap intervals.

    Reads ``rho_spread``, ``rho_spread_low``, ``rho_spread_high`` (dropout rate p against
    the loss spread across masks), ``rho_steps``, ``rho_steps_low``, ``rho_steps_high`` (p
    against the SGD steps to reach the target validation loss, censored runs ranked last),
    and, for the sentence, ``n_seeds``, ``target_loss``, ``steps_censored_total`` and
    ``n_runs``.

    Rule: **supported** if both 95 % intervals lie above 0 (the surface gets noisier *and*
    training slower as p grows); **partly supported** if exactly one does; **not supported**
    otherwise (including a NaN interval, e.g. when every run was censored).
    """
    need = (
        "rho_spread",
        "rho_spread_low",
        "rho_spread_high",
        "rho_steps",
        "rho_steps_low",
        "rho_steps_high",
        "n_seeds",
        "target_loss",
        "steps_censored_total",
        "n_runs",
    )
    m = pick(metrics, need, "noisy_loss")
    noisier = bool(m["rho_spread_low"] > 0)  # NaN compares False
    slower = bool(m["rho_steps_low"] > 0)
    word = SUPPORTED if noisier and slower else PARTLY if noisier or slower else NOT_SUPPORTED
    spread = _noisy_loss_trend(
        m["rho_spread"], m["rho_spread_low"], m["rho_spread_high"], "the loss spread across masks"
    )
    steps = _noisy_loss_trend(
        m["rho_steps"],
        m["rho_steps_low"],
        m["rho_steps_high"],
        f"the number of SGD steps to a validation loss of {m['target_loss']:g} nats",
    )
    sentence = (
        f"Over {m['n_seeds']} paired seeds, {spread}, and {steps}; "
        f"{m['steps_censored_total']} of {m['n_runs']} runs never reached that target "
        f"(censored: ranked last, not dropped)."
    )
    return Verdict(NOISY_LOSS_CLAIM, word, sentence)
