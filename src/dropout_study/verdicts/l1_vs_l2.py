"""The verdict rule of the ``l1-vs-l2`` chapter: :func:`decide` (metrics → :class:`Verdict`)."""

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

L1_VS_L2_CLAIM = "L1 makes weights sparse, L2 shrinks them."


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def decide(metrics) -> Verdict:
    """Verdict of chapter 4 at the strongest λ that costs (almost) no validation accuracy.

    Reads ``acc_none`` (mean validation accuracy of the unregularised MLP), ``acc_margin``,
    ``lambda_star_l1`` / ``lambda_star_l2`` (for each penalty the largest λ of the grid whose
    mean validation accuracy is ``>= acc_none − acc_margin``; 0 if none is), the mean
    near-zero fractions ``near_zero_l1_star`` / ``near_zero_l2_star`` (``|w| <
    near_zero_rel · max|w|``) and exact-zero fractions ``exact_zero_l1_star`` /
    ``exact_zero_l2_star`` there, the paired per-seed difference of near-zero fractions
    (L1 − L2) ``near_zero_diff`` with its 95 % bootstrap interval ``near_zero_diff_low`` /
    ``_high``, the L2 norm ratio ``‖w_λ*‖/‖w_0‖`` ``norm_ratio_l2_star`` with
    ``norm_ratio_l2_star_low`` / ``_high``, ``near_zero_rel`` and ``n_seeds``.

    Rule: L1 *sparsifies* if ``lambda_star_l1 > 0`` and the interval of the difference lies
    above 0 (L1 leaves more weights near zero than L2 does, each at its own λ*); L2
    *shrinks* if ``lambda_star_l2 > 0`` and the interval of its norm ratio lies below 1.
    **supported** if both hold, **partly supported** if exactly one does, **not supported**
    if neither (a NaN bound counts as not holding).
    """
    need = (
        "acc_none",
        "acc_margin",
        "lambda_star_l1",
        "lambda_star_l2",
        "near_zero_l1_star",
        "near_zero_l2_star",
        "exact_zero_l1_star",
        "exact_zero_l2_star",
        "near_zero_diff",
        "near_zero_diff_low",
        "near_zero_diff_high",
        "norm_ratio_l2_star",
        "norm_ratio_l2_star_low",
        "norm_ratio_l2_star_high",
        "near_zero_rel",
        "n_seeds",
    )
    m = pick(metrics, need, "l1_vs_l2")
    has_l1, has_l2 = m["lambda_star_l1"] > 0, m["lambda_star_l2"] > 0
    sparse = bool(has_l1 and m["near_zero_diff_low"] > 0)  # NaN compares False
    shrink = bool(has_l2 and m["norm_ratio_l2_star_high"] < 1)
    word = SUPPORTED if sparse and shrink else PARTLY if sparse or shrink else NOT_SUPPORTED

    where = (
        f"Over {m['n_seeds']} paired seeds, at the strongest λ keeping mean validation "
        f"accuracy within {m['acc_margin']:g} of the unregularised network's "
        f"{m['acc_none']:.3f}"
    )
    parts = []
    if has_l1:
        parts.append(f"λ*(L1) = {m['lambda_star_l1']:g}")
    else:
        parts.append("no L1 λ > 0 qualified")
    parts.append(f"λ*(L2) = {m['lambda_star_l2']:g}" if has_l2 else "no L2 λ > 0 qualified")
    sparsity = (
        f"L1 left {_pct(m['near_zero_l1_star'])} of the weights near zero "
        f"(|w| < {m['near_zero_rel']:g}·max|w|; {_pct(m['exact_zero_l1_star'])} exactly 0) "
        f"against {_pct(m['near_zero_l2_star'])} under L2 "
        f"({_pct(m['exact_zero_l2_star'])} exactly 0; paired difference "
        f"{m['near_zero_diff']:.2f}, 95 % CI [{m['near_zero_diff_low']:.2f}, "
        f"{m['near_zero_diff_high']:.2f}])"
    )
    shrinkage = (
        f"L2 scaled the weight norm to {m['norm_ratio_l2_star']:.2f} of the unregularised "
        f"network's (95 % CI [{m['norm_ratio_l2_star_low']:.2f}, "
        f"{m['norm_ratio_l2_star_high']:.2f}])"
    )
    sentence = f"{where} ({'; '.join(parts)}), {sparsity}, and {shrinkage}."
    if not has_l1:
        sentence += " With no L1 λ > 0 within the margin, L1 gets no credit for sparsity."
    if not has_l2:
        sentence += " With no L2 λ > 0 within the margin, L2 gets no credit for shrinkage."
    return Verdict(L1_VS_L2_CLAIM, word, sentence)
