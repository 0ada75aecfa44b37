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

CROSS_ENTROPY_CLAIM = "Cross-entropy is introduced to make the cost function convex."
CURVATURE_TOL = 1e-6
"""A second difference counts as negative curvature only below ``−CURVATURE_TOL`` times the
largest absolute second difference of the same function (round-off is far smaller)."""


def curves_down(second_difference, scale):
    """Whether a second difference counts as negative curvature: below ``−CURVATURE_TOL``
    times ``scale`` (the largest absolute second difference of the same function). Works
    elementwise on a numpy array (a bool array) as on a float (a bool)."""
    return second_difference < -CURVATURE_TOL * scale


def decide(metrics) -> Verdict:
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
