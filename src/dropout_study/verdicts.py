"""One pure function per claim: a chapter's metrics → a :class:`Verdict`.

A verdict word is one of :data:`WORDS`; its sentence carries the numbers it was decided on, so
a reader who reruns a chapter with other parameters reads a verdict that follows their data.
Each function only reads the metrics dict it is given (no I/O, no randomness) and is tested
branch by branch on synthetic metrics in ``tests/test_verdicts_ch*.py``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from dropout_study.validation import fail

__all__ = ["Verdict", "WORDS", "SUPPORTED", "PARTLY", "NOT_SUPPORTED", "curves_down"]

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
            fail("word", "Verdict", "one of " + ", ".join(map(repr, WORDS)), self.word)

    def as_dict(self) -> dict:
        return asdict(self)


def _pick(metrics, need: tuple[str, ...], owner: str) -> dict:
    """``{key: metrics[key]}`` for the keys in ``need``; names the first missing one."""
    missing = [k for k in need if k not in metrics]
    if missing:
        raise ValueError(
            f"The 'metrics' parameter of {owner} must hold {', '.join(need)}; "
            f"got no {missing[0]!r}."
        )
    return {k: metrics[k] for k in need}


# ---------------------------------------------------------------------------------------------
# cross-entropy (chapter 1)
# ---------------------------------------------------------------------------------------------
CROSS_ENTROPY_CLAIM = "Cross-entropy is introduced to make the cost function convex."
CURVATURE_TOL = 1e-6
"""A second difference counts as negative curvature only below ``−CURVATURE_TOL`` times the
largest absolute second difference of the same function (round-off is far smaller)."""


def curves_down(second_difference, scale):
    """Whether a second difference counts as negative curvature: below ``−CURVATURE_TOL``
    times ``scale`` (the largest absolute second difference of the same function). Works
    elementwise on a numpy array (a bool array) as on a float (a bool)."""
    return second_difference < -CURVATURE_TOL * scale


def cross_entropy(metrics) -> Verdict:
    """Verdict of chapter 1 on "cross-entropy makes the cost function convex".

    Reads ``metrics["convexity"]``: ``logreg_ce_min_curvature`` / ``logreg_ce_scale`` and
    ``logreg_mse_min_curvature`` / ``logreg_mse_scale`` (the smallest second difference of the
    logistic-regression cost with CE and with MSE of the sigmoid over a (w, b) grid, along
    four directions, and the largest absolute one), the per-seed lists
    ``mlp_min_curvature``, ``mlp_scale`` and ``mlp_midpoint_excess`` (the same along the
    segment from a one-hidden-layer network to its unit-swapped twin, and how far the cost at
    the segment's midpoint lies above its ends), plus ``mlp_width``.

    A cost *curves down* where a second difference is below ``−CURVATURE_TOL`` × its scale;
    a convex function never does, so one such point proves non-convexity. Rule:

    - **not supported** if the CE cost of logistic regression curves down anywhere, or if the
      MSE cost does not curve down on the grid either (CE made no difference there) while
      the network's CE cost curves down;
    - **supported** if the CE cost of logistic regression never curves down, the MSE cost
      does, and the network's CE cost curves down in no seed;
    - **partly supported** otherwise: CE gives a convex cost for logistic regression (where
      MSE does not), but not for a network with a hidden layer — or MSE was convex on this
      grid too and the network's cost did not curve down.
    """
    try:
        c = metrics["convexity"]
        ce_min, ce_scale = c["logreg_ce_min_curvature"], c["logreg_ce_scale"]
        mse_min, mse_scale = c["logreg_mse_min_curvature"], c["logreg_mse_scale"]
        mlp_min, mlp_scale = list(c["mlp_min_curvature"]), list(c["mlp_scale"])
        excess = list(c["mlp_midpoint_excess"])
        width = int(c["mlp_width"])
    except (KeyError, TypeError) as exc:
        raise ValueError(
            "The 'metrics' parameter of cross_entropy must hold 'convexity' with the "
            f"logistic-regression and network curvatures; got no {exc}."
        ) from exc
    if not mlp_min or len(mlp_min) != len(mlp_scale) or len(excess) != len(mlp_min):
        raise ValueError(
            "The 'metrics' parameter of cross_entropy must hold one mlp_min_curvature, "
            f"mlp_scale and mlp_midpoint_excess per seed; got {len(mlp_min)}, "
            f"{len(mlp_scale)} and {len(excess)}."
        )
    ce_convex = not curves_down(float(ce_min), float(ce_scale))
    mse_down = curves_down(float(mse_min), float(mse_scale))
    n_down = sum(curves_down(float(m), float(s)) for m, s in zip(mlp_min, mlp_scale, strict=True))
    n = len(mlp_min)
    if not ce_convex:
        word = NOT_SUPPORTED
    elif mse_down:
        word = SUPPORTED if n_down == 0 else PARTLY
    else:
        word = PARTLY if n_down == 0 else NOT_SUPPORTED
    logreg = (
        f"For logistic regression the cross-entropy cost's smallest second difference on the "
        f"grid is {ce_min:+.2g} ({'convex' if ce_convex else 'not convex'}) against "
        f"{mse_min:+.2g} with squared error ({'not convex' if mse_down else 'convex there too'})"
    )
    hidden = (
        f"with one hidden layer of {width} tanh units the cross-entropy cost curves down along "
        f"the segment to the unit-swapped twin in {n_down} of {n} seeds (smallest second "
        f"difference {min(mlp_min):+.2g} nats per unit², midpoint {min(excess):.3f} to "
        f"{max(excess):.3f} nats above the ends)"
    )
    if word == SUPPORTED:
        tail = "so cross-entropy gave a convex cost in every case tested"
    elif word == PARTLY and ce_convex and mse_down:
        tail = "so cross-entropy makes the cost convex for logistic regression only"
    elif word == PARTLY:
        tail = "so cross-entropy was convex where tested, but squared error was too"
    elif not ce_convex:
        tail = "so even the logistic-regression cost with cross-entropy was not convex here"
    else:
        tail = "so cross-entropy made no difference to convexity in what was tested"
    return Verdict(CROSS_ENTROPY_CLAIM, word, f"{logreg}; {hidden}; {tail}.")


# ---------------------------------------------------------------------------------------------
# cost-under-dropout (chapter 2)
# ---------------------------------------------------------------------------------------------
COST_UNDER_DROPOUT_CLAIM = "Dropout does not change the cost function."
EVAL_UP_TOL = 0.01
"""Largest share of steps in which the evaluation-mode cost may go up for it to count as
falling at (almost) every step."""


def cost_under_dropout(metrics) -> Verdict:
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
    m = _pick(metrics, need, "noisy_loss")
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
    m = _pick(metrics, need, "l1_vs_l2")
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
            match_parts.append(f"undefined on {label} (no replicate matched)")
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
