"""One pure function per claim: a chapter's metrics → a :class:`Verdict`.

A verdict word is one of :data:`WORDS`; its sentence carries the numbers it was decided on, so
a reader who reruns a chapter with other parameters reads a verdict that follows their data.
Each function only reads the metrics dict it is given (no I/O, no randomness) and is tested
branch by branch on synthetic metrics in ``tests/test_verdicts.py``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Verdict", "WORDS", "SUPPORTED", "PARTLY", "NOT_SUPPORTED"]

SUPPORTED = "supported"
PARTLY = "partly supported"
NOT_SUPPORTED = "not supported"
WORDS = (SUPPORTED, PARTLY, NOT_SUPPORTED)


@dataclass(frozen=True)
class Verdict:
    """``claim``: the claim tested, in the words people repeat; ``word``: one of
    :data:`WORDS`; ``sentence``: one sentence with the numbers behind the word."""

    claim: str
    word: str
    sentence: str

    def __post_init__(self) -> None:
        if self.word not in WORDS:
            raise ValueError(
                f"The 'word' parameter of Verdict must be one of {', '.join(map(repr, WORDS))}; "
                f"got {self.word!r}."
            )

    def as_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# cross-entropy (chapter 1)
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# cost-under-dropout (chapter 2)
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# noisy-loss (chapter 3)
# ---------------------------------------------------------------------------------------------
NOISY_LOSS_CLAIM = "Dropout makes the loss surface noisier, so model training takes longer."


def _noisy_loss_trend(rho: float, low: float, high: float, what: str) -> str:
    if low > 0:
        verb = "rises with p"
    elif high < 0:
        verb = "falls with p"
    else:
        verb = "shows no clear trend in p"
    return f"{what} {verb} (Spearman ρ = {rho:.2f}, 95 % CI [{low:.2f}, {high:.2f}])"


def noisy_loss(metrics) -> Verdict:
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
    missing = [k for k in need if k not in metrics]
    if missing:
        raise ValueError(
            f"The 'metrics' parameter of noisy_loss must hold {', '.join(need)}; "
            f"got no {missing[0]!r}."
        )
    m = {k: metrics[k] for k in need}
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


# ---------------------------------------------------------------------------------------------
# l1-vs-l2 (chapter 4)
# ---------------------------------------------------------------------------------------------
L1_VS_L2_CLAIM = "L1 makes weights sparse, L2 shrinks them."


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def l1_vs_l2(metrics) -> Verdict:
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
    missing = [k for k in need if k not in metrics]
    if missing:
        raise ValueError(
            f"The 'metrics' parameter of l1_vs_l2 must hold {', '.join(need)}; "
            f"got no {missing[0]!r}."
        )
    m = {k: metrics[k] for k in need}
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


# ---------------------------------------------------------------------------------------------
# linearity (chapter 5)
# ---------------------------------------------------------------------------------------------
LINEARITY_CLAIM = (
    "Dropout makes the learned function more linear: its degree of linearity Z decreases as "
    "the dropout rate increases."
)
_LINEARITY_LABELS = {"breast_cancer": "breast cancer"}


def _num(value) -> float:
    """A metric as float; ``None`` (how metrics.json stores NaN) becomes NaN."""
    return float("nan") if value is None else float(value)


def linearity(metrics) -> Verdict:
    """Verdict of chapter 5 from the trend of Z in p and Z at matched validation loss.

    Reads ``match_rate``, ``min_matched`` and, for each data set in ``datasets``:
    ``rho_z`` (``rho``, ``low``, ``high``: within-replicate Spearman ρ of Z against p with
    its 95 % bootstrap interval) and ``matched.l2`` (``n_matched``, ``n_seeds`` and ``diff``
    with ``estimate``, ``low``, ``high``: the mean over matched replicates of Z(dropout at
    ``match_rate``) − Z(L2 at the same validation loss), with its 95 % interval).

    Rule: the *trend* holds if on **every** data set ρ < 0 and its interval lies below 0; the
    *matched* comparison holds if on every data set at least ``min_matched`` replicates had a
    match and the interval of the difference lies below 0. **supported** if both hold;
    **partly supported** if only the trend holds; **not supported** otherwise (NaN or missing
    intervals never count as holding).
    """
    if not isinstance(metrics, dict) or not metrics.get("datasets"):
        raise ValueError(
            "The 'metrics' parameter of linearity must be a dict with a non-empty 'datasets'; "
            f"got {type(metrics).__name__}."
        )
    for key in ("match_rate", "min_matched"):
        if key not in metrics:
            raise ValueError(
                f"The 'metrics' parameter of linearity must hold 'match_rate' and "
                f"'min_matched'; got no {key!r}."
            )
    trend_parts, match_parts = [], []
    trend_ok = matched_ok = True
    for name, m in metrics["datasets"].items():
        try:
            r = m["rho_z"]
            rho, low, high = _num(r["rho"]), _num(r["low"]), _num(r["high"])
            mm = m["matched"]["l2"]
            n_matched, n_seeds = int(mm["n_matched"]), int(mm["n_seeds"])
            d = mm["diff"]
            dest, dlow, dhigh = _num(d["estimate"]), _num(d["low"]), _num(d["high"])
        except (KeyError, TypeError) as exc:
            raise ValueError(
                f"The 'metrics' parameter of linearity must hold rho_z and matched.l2 for "
                f"data set {name!r}; got no {exc}."
            ) from exc
        label = _LINEARITY_LABELS.get(name, name)
        trend_ok &= bool(rho < 0 and high < 0)
        trend_parts.append(f"{rho:+.2f} [{low:+.2f}, {high:+.2f}] on {label}")
        enough = n_matched >= int(metrics["min_matched"])
        matched_ok &= bool(enough and dhigh < 0)
        if n_matched == 0:
            match_parts.append(f"no replicate of {label} matched")
        else:
            match_parts.append(
                f"{dest:+.3f} [{dlow:+.3f}, {dhigh:+.3f}] on {label} "
                f"({n_matched}/{n_seeds} replicates matched)"
            )
    word = SUPPORTED if trend_ok and matched_ok else PARTLY if trend_ok else NOT_SUPPORTED
    p_star = _num(metrics["match_rate"])
    trend_end = "below 0 on every data set" if trend_ok else "not below 0 on every data set"
    match_end = "dropout is below L2" if matched_ok else "dropout is not clearly below L2"
    sentence = (
        f"Spearman ρ(p, Z) is {' and '.join(trend_parts)} ({trend_end}); at the validation loss "
        f"of dropout with p = {p_star:g}, Z(dropout) − Z(L2) is {' and '.join(match_parts)}, so "
        f"{match_end} (at least {int(metrics['min_matched'])} matched replicates are required "
        f"per data set)."
    )
    return Verdict(LINEARITY_CLAIM, word, sentence)
