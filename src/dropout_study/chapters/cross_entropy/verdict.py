"""Chapter 1's verdict rule: :func:`decide` (metrics → :class:`Verdict`) and
:func:`robustness` (the verdict under each alternative analysis choice of the same run)."""

from __future__ import annotations

from dropout_study.chapters.verdicts import INCONCLUSIVE, NOT_SUPPORTED, PARTLY, Robustness, Verdict
from dropout_study.chapters.verdicts import robustness as _table
from dropout_study.numfmt import general, plain, sci

__all__ = [
    "CROSS_ENTROPY_CLAIM",
    "CURVATURE_TOL",
    "ALT_TOLS",
    "curves_down",
    "decide",
    "robustness",
]

CROSS_ENTROPY_CLAIM = "Cross-entropy is introduced to make the cost function convex."
CURVATURE_TOL = 1e-6
"""A second difference counts as negative curvature only below ``−CURVATURE_TOL`` times the
largest absolute second difference of the same function (round-off is far smaller)."""
ALT_TOLS = (1e-9, 1e-3)
"""Curvature tolerances of the robustness table."""


def curves_down(second_difference, scale, tol: float = CURVATURE_TOL):
    """Whether a second difference counts as negative curvature: below ``−tol`` times
    ``scale`` (the largest absolute second difference of the same function). Works
    elementwise on a numpy array (a bool array) as on a float (a bool)."""
    return second_difference < -tol * scale


def _bad(what) -> ValueError:
    return ValueError(
        "The 'metrics' parameter of cross_entropy must hold 'convexity' with the "
        f"logistic-regression curvatures and the network's per-seed lists; got {what}."
    )


def _logreg(c: dict, tol: float) -> tuple[bool, bool]:
    ce_down = curves_down(float(c["logreg_ce_min_curvature"]), float(c["logreg_ce_scale"]), tol)
    mse_down = curves_down(float(c["logreg_mse_min_curvature"]), float(c["logreg_mse_scale"]), tol)
    return bool(ce_down), bool(mse_down)


def _word(ce_down: bool, mse_down: bool) -> str:
    if ce_down:
        return NOT_SUPPORTED
    return PARTLY if mse_down else INCONCLUSIVE


def decide(metrics, *, convexity=None, tol: float = CURVATURE_TOL) -> Verdict:
    """Verdict of chapter 1 on "cross-entropy is introduced to make the cost function convex".

    Reads ``metrics["convexity"]``: ``logreg_ce_min_curvature`` / ``logreg_ce_scale`` and
    ``logreg_mse_min_curvature`` / ``logreg_mse_scale`` (the smallest second difference of the
    logistic-regression cost with cross-entropy and with squared error of the sigmoid over a
    (w, b) grid, along four directions, and the largest absolute one), and, for the sentence
    only, ``mlp_min_curvature``, ``mlp_scale``, ``mlp_midpoint_excess`` (per seed, along the
    segment from a one-hidden-layer network to its unit-swapped twin) and ``mlp_width``; and
    ``metrics["mle"]`` (``bernoulli_ce_at_mean``, ``bernoulli_nll_over_n``).

    Cross-entropy *comes from* maximum likelihood (it is the negative log-likelihood divided
    by n; the page checks the identity); convexity of logistic regression's cost is a
    consequence of that choice (Bernoulli likelihood, canonical link), not its motive. With a
    hidden layer the cost is non-convex for certain (swapping two hidden units gives another
    minimum of equal cost), whatever the loss: the network is shown, not decided. So the data
    can at most confirm the *consequence*, and the rule never returns "supported". A cost
    *curves down* where a second difference is below ``−tol`` × its scale (default
    :data:`CURVATURE_TOL`); a convex function never does. Rule:

    - **not supported** if the logistic-regression cross-entropy cost curves down somewhere
      on the grid (cross-entropy did not give a convex cost even there);
    - **inconclusive** if neither cost curves down on the grid (the grid shows no difference
      between the two losses, so it cannot attribute convexity to cross-entropy);
    - **partly supported** if the cross-entropy cost never curves down and the squared-error
      cost does: convex for logistic regression, as a consequence of maximum likelihood,
      and not for networks with hidden layers.

    ``convexity`` (a dict with the four ``logreg_*`` numbers) and ``tol`` re-decide for the
    robustness table.
    """
    try:
        c = metrics["convexity"]
        prim = c if convexity is None else convexity
        ce_down, mse_down = _logreg(prim, tol)
        ce_min, mse_min = (
            float(prim["logreg_ce_min_curvature"]),
            float(prim["logreg_mse_min_curvature"]),
        )
        mlp = [
            curves_down(float(a), float(s))
            for a, s in zip(c["mlp_min_curvature"], c["mlp_scale"], strict=True)
        ]
        excess = [float(e) for e in c["mlp_midpoint_excess"]]
        width = int(c["mlp_width"])
        mle = metrics["mle"]
        ml_gap = abs(float(mle["bernoulli_ce_at_mean"]) - float(mle["bernoulli_nll_over_n"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(f"no {exc}") from exc
    if not mlp or len(excess) != len(mlp):
        raise _bad(f"{len(mlp)} network curvatures and {len(excess)} midpoint excesses")
    word = _word(ce_down, mse_down)
    logreg = (
        f"for logistic regression the cross-entropy cost's smallest second difference on the "
        f"grid is {general(ce_min, 2, sign=True)} "
        f"({'curves down' if ce_down else 'never curves down'}) against "
        f"{general(mse_min, 2, sign=True)} with squared error "
        f"({'curves down' if mse_down else 'never curves down on this grid either'})"
    )
    origin = (
        f"Cross-entropy is the negative log-likelihood (mean CE and NLL/n differ by "
        f"{sci(ml_gap)} nats here), so it comes from maximum likelihood"
    )
    # a seed *shows* the non-convexity if its swap segment's midpoint costs more than the
    # (equal-cost) ends or the segment curves down; the argument itself needs neither
    shown = sum(e > 0 or d for e, d in zip(excess, mlp, strict=True))
    evidence = (
        f"midpoint minus ends of the swap segment {plain(min(excess), 3, sign=True)} to "
        f"{plain(max(excess), 3, sign=True)} nats; the segment curves down in {sum(mlp)} of "
        f"{len(mlp)} seeds"
    )
    hidden = (
        f"with a hidden layer of {width} tanh units the cost is non-convex for certain by the "
        f"unit-swap symmetry, whatever the loss ("
        + (
            f"shown in {shown} of {len(mlp)} seeds: {evidence}"
            if shown
            else f"not shown by this run's networks: {evidence}"
        )
        + ")"
    )
    if word == PARTLY:
        tail = (
            "convexity in logistic regression is a consequence of that choice, not its motive, "
            "and it does not extend to networks"
        )
    elif word == NOT_SUPPORTED:
        tail = "even the logistic-regression cost with cross-entropy was not convex here"
    else:
        tail = "this grid cannot attribute convexity to cross-entropy"
    return Verdict(CROSS_ENTROPY_CLAIM, word, f"{origin}; {logreg}; {hidden}; {tail}.")


def robustness(metrics) -> Robustness:
    """The verdict under each alternative (same run): the curvature tolerances
    :data:`ALT_TOLS`, and each row of ``metrics["convexity"]["alternatives"]`` (grid extent
    and resolution, other features, another data set; each a dict with ``choice`` and the
    four ``logreg_*`` numbers)."""
    primary = decide(metrics).word
    c = metrics["convexity"]
    rows = []

    def detail(d):
        return (
            f"min second difference: CE {general(d['logreg_ce_min_curvature'], 2, sign=True)}, "
            f"squared error {general(d['logreg_mse_min_curvature'], 2, sign=True)}"
        )

    for tol in ALT_TOLS:
        rows.append(
            (
                f"curvature tolerance {general(tol)} × scale",
                decide(metrics, tol=tol).word,
                detail(c),
            )
        )
    for alt in c.get("alternatives", []):
        rows.append((alt["choice"], decide(metrics, convexity=alt).word, detail(alt)))
    return _table(primary, rows)
