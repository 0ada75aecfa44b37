"""A chapter's verdict rule: :func:`decide` (metrics → :class:`Verdict`)."""

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

COST_UNDER_DROPOUT_CLAIM = "Dropout does not change the cost function."
EVAL_UP_TOL = 0.01
"""Largest share of steps in which the evaluation-mode cost may go up for it to count as
falling at (almost) every step."""


def decide(metrics) -> Verdict:
    """Verdict of chapter 2 on "dropout does not change the cost function".

    Reads ``rates`` (dropout rates, starting with 0), ``train_up["mean"]`` and
    ``eval_up["mean"]`` (per rate, the mean share of steps in which the training-mode loss
    ``J(θ_t, m_t)`` and the evaluation-mode cost ``J(θ_t)`` went up), ``gap`` (per rate,
    ``mean``/``low``/``high``: ``E_m J(θ_T, m) − J(θ_T)`` at the end of training with its
    95 % interval over seeds), ``p0_identical`` and ``p0_train_equals_eval`` (bit-identity
    checks at p = 0), ``expectation`` (``ok``, ``max_abs_z``, ``z_crit``: inverted dropout
    keeps the mean pre-activation) and ``p0_eval_up_steps`` / ``p0_steps_total``.

    Rule, in order:

    1. **not supported** if the function itself changed: p = 0 is not bit-identical to a
       network without dropout layers, or its training-mode loss differs from the
       evaluation-mode cost, or the expectation check failed;
    2. **not supported** (the run cannot tell) if the p = 0 cost went up in any step: then
       the optimiser, not dropout, makes the curve rise — use a smaller step;
    3. **not supported** if for some p > 0 the training-mode loss did not go up in a larger
       share of steps than the evaluation-mode cost (it does not behave as a noisy sample);
    4. **supported** if, for every p > 0, the gap's interval contains 0 (a mask's loss is on
       average the cost itself) and the evaluation-mode cost went up in at most
       :data:`EVAL_UP_TOL` of the steps (training still descends J);
    5. **partly supported** otherwise: the function is the same and the number of a step is a
       sample ``J(θ, m)``, but its mean over masks differs from ``J(θ)`` by the gap, so what
       gradient descent follows on average is ``J + gap``, not ``J`` — and/or ``J(θ_t)``
       itself went up in more than :data:`EVAL_UP_TOL` of the steps.
    """
    try:
        rates = [float(r) for r in metrics["rates"]]
        train_up = [float(v) for v in metrics["train_up"]["mean"]]
        eval_up = [float(v) for v in metrics["eval_up"]["mean"]]
        gap = {k: [float(v) for v in metrics["gap"][k]] for k in ("mean", "low", "high")}
        identical = bool(metrics["p0_identical"]) and bool(metrics["p0_train_equals_eval"])
        expect = metrics["expectation"]
        expect_ok = bool(expect["ok"])
        max_z, z_crit = float(expect["max_abs_z"]), float(expect["z_crit"])
        p0_up, p0_total = int(metrics["p0_eval_up_steps"]), int(metrics["p0_steps_total"])
    except (KeyError, TypeError) as exc:
        raise ValueError(
            "The 'metrics' parameter of cost_under_dropout must hold rates, train_up, eval_up, "
            f"gap, the p = 0 checks and expectation; got no {exc}."
        ) from exc
    n = len(rates)
    if n < 2 or rates[0] != 0.0 or any(len(v) != n for v in (train_up, eval_up, *gap.values())):
        raise ValueError(
            "The 'metrics' parameter of cost_under_dropout must hold one value per rate, with "
            f"rates starting at 0; got rates {rates}."
        )
    pos = range(1, n)
    top = n - 1
    pct = "{:.0%}".format
    if not identical or not expect_ok:
        failed = []
        if not identical:
            failed.append("p = 0 is not bit-identical to the network without dropout layers")
        if not expect_ok:
            failed.append(
                f"the mean pre-activation under masks left its evaluation value "
                f"(max |z| = {max_z:.1f} > {z_crit:.1f})"
            )
        return Verdict(
            COST_UNDER_DROPOUT_CLAIM,
            NOT_SUPPORTED,
            f"The function itself changed: {'; '.join(failed)}.",
        )
    if p0_up > 0:
        return Verdict(
            COST_UNDER_DROPOUT_CLAIM,
            NOT_SUPPORTED,
            f"This run cannot tell: without dropout the cost already went up in {p0_up} of "
            f"{p0_total} steps, so the optimiser's own noise hides dropout's (use a smaller "
            f"step).",
        )
    not_noisy = [i for i in pos if train_up[i] <= eval_up[i]]
    if not_noisy:
        i = not_noisy[0]
        return Verdict(
            COST_UNDER_DROPOUT_CLAIM,
            NOT_SUPPORTED,
            f"At p = {rates[i]:g} the training-mode loss went up in {pct(train_up[i])} of "
            f"steps, no more than the evaluation-mode cost ({pct(eval_up[i])}): it does not "
            f"behave like a noisy sample of the same cost.",
        )
    gap_zero = all(gap["low"][i] <= 0.0 <= gap["high"][i] for i in pos)
    descends = all(eval_up[i] <= EVAL_UP_TOL for i in pos)
    same = (
        f"The function is the same (p = 0 bit-identical to no dropout layers; mean "
        f"pre-activation kept, max |z| = {max_z:.1f} ≤ {z_crit:.1f}) and the number of a "
        f"training step is a sample J(θ, m): at p = {rates[top]:g} it went up in "
        f"{pct(train_up[top])} of steps, the evaluation-mode cost J(θ_t) in "
        f"{pct(eval_up[top])} (0 of {p0_total} steps without dropout)"
    )
    gap_text = (
        f"the mean over masks exceeds J(θ) by {gap['mean'][top]:.3f} nats "
        f"[{gap['low'][top]:.3f}, {gap['high'][top]:.3f}] at p = {rates[top]:g}"
    )
    if gap_zero and descends:
        return Verdict(
            COST_UNDER_DROPOUT_CLAIM,
            SUPPORTED,
            f"{same}; the mean over masks equals J(θ) within its interval at every p "
            f"({gap['mean'][top]:+.3f} nats [{gap['low'][top]:+.3f}, {gap['high'][top]:+.3f}] "
            f"at p = {rates[top]:g}), and J(θ_t) fell at almost every step.",
        )
    if not gap_zero:
        tail = f"but {gap_text}, so gradient descent with dropout follows J + gap on average, not J"
        if not descends:
            tail += ", and J(θ_t) itself does not fall at every step"
    else:
        tail = (
            f"but J(θ_t) itself went up in {pct(max(eval_up[i] for i in pos))} of steps at "
            f"some p, so training with dropout does not simply descend J"
        )
    return Verdict(COST_UNDER_DROPOUT_CLAIM, PARTLY, f"{same}; {tail}.")
