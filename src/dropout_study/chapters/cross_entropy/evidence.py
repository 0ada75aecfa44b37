"""Chapter 1's findings, decided from the run's metrics by the findings kit
(:mod:`dropout_study.chapters.findings`); :mod:`.verdict` turns them into the verdict.

**Exact checks** (:func:`exact_checks`): identities and theorems the page demonstrates. Each is
an equivalence finding whose margin allows only floating-point rounding or the stated optimiser
tolerance (:data:`ROUNDING`, :data:`OPTIMISER`, :data:`CURVATURE_TOL`), its estimate the largest
deviation the run saw (an interval ``[v, v]``: a computation, not a sample). They hold by
necessity, so they are not counted as robustness: a failed one is a bug, and
:func:`dropout_study.chapters.cross_entropy.verdict.decide` raises instead of deciding.

**The contrast** (:func:`contrast`): the squared error of a sigmoid curves down somewhere on the
grid (effect, margin the curvature tolerance): the demonstration that convexity comes with the
loss, not with logistic regression.

**Measured** (:func:`measured`), on the held-out half B of the digits validation split, per
seed, as ratios (log scale, direction +1):

- *the rise*: validation CE at the end ÷ at the step of lowest validation CE (chosen on half
  A), margin :data:`RISE_MARGIN` (a convention: a rise of at least 5 %);
- *the rise after temperature scaling*: the same ratio after one temperature per checkpoint,
  fitted on half A (Guo et al. 2017), same margin: if the rise is over-confidence, one scalar
  removes it and this finding is "no" (or "reversed": the late network then ranks better);
- *over-confidence*: expected calibration error at the end ÷ at the lowest validation CE,
  margin :data:`ECE_MARGIN` (a convention: at least 25 % more calibration error).

Their margins are varied at half and double (``√m`` and ``m²``) as alternatives, and where
the digits network was retrained with another step size, width or training share
(``metrics["digits"]["alternatives"]``, the ``full`` profile), each is re-decided there.
"""

from __future__ import annotations

import numpy as np

from dropout_study.chapters.findings import Finding, finding, from_seeds
from dropout_study.chapters.power import half_and_double
from dropout_study.numfmt import ratio, shortest

__all__ = [
    "ROUNDING",
    "OPTIMISER",
    "CURVATURE_TOL",
    "RISE_MARGIN",
    "ECE_MARGIN",
    "downward",
    "exact_checks",
    "contrast",
    "measured",
    "all_findings",
]

ROUNDING = 1e-10
"""Margin of the identities, nats: float64 rounding (ε ≈ 2.2 × 10⁻¹⁶ per operation) over at
most 10⁴ terms of at most a few nats stays far below it."""
OPTIMISER = {"bernoulli": 1e-8, "categorical": 1e-6}
"""Margins of the two numerical minimisers: the bounded scalar search (``xatol`` 10⁻¹⁰) and
BFGS (``gtol`` 10⁻⁹) stop within these of the closed-form minimiser."""
CURVATURE_TOL = 1e-6
"""A second difference counts as curving down only below ``−CURVATURE_TOL`` times the largest
absolute second difference of the same cost (round-off is far smaller)."""
RISE_MARGIN = 1.05
"""Margin (a ratio) of the two rise findings."""
ECE_MARGIN = 1.25
"""Margin (a ratio) of the over-confidence finding."""

_IDENTITY = "closed form: equal in exact arithmetic; the margin allows float64 rounding"
_CONVEX = (
    "closed form: convex, since ℓ'' = σ(1 − σ) > 0 and z is linear in (w, b); the margin "
    "allows rounding (10⁻⁶ of the largest second difference)"
)


def downward(min_curvature: float, scale: float) -> float:
    """How far a cost curves down, relative to its scale: ``max(0, −min_curvature) / scale``
    (0 for a cost that never curves down)."""
    return max(0.0, -float(min_curvature)) / float(scale) if scale > 0 else 0.0


def _exact(name, value, margin, source, n=1) -> Finding:
    v = float(value)
    return finding(
        name, "equivalence", estimate=v, low=v, high=v, n=n, margin=margin, margin_source=source
    )


def exact_checks(m) -> list[Finding]:
    """The exact checks (module docstring), in the order of the page."""
    t, mle, c = m["three_names"], m["mle"], m["convexity"]
    d = m["digits"]
    n_seeds = int(m["n_seeds"])
    alts = c.get("alternatives", [])
    other = max(
        (downward(a["logreg_ce_min_curvature"], a["logreg_ce_scale"]) for a in alts), default=0.0
    )
    return [
        _exact(
            "binary, categorical and sparse CE and log_loss agree",
            t["max_abs_difference"],
            ROUNDING,
            _IDENTITY,
        ),
        _exact(
            "mean CE of a constant prediction equals NLL / n",
            abs(mle["bernoulli_ce_at_mean"] - mle["bernoulli_nll_over_n"]),
            ROUNDING,
            _IDENTITY,
        ),
        _exact(
            "the CE minimiser of a constant prediction is the mean label",
            abs(mle["bernoulli_theta_hat"] - mle["bernoulli_mean_y"]),
            OPTIMISER["bernoulli"],
            "closed form: the maximum-likelihood estimate is the mean label; the margin "
            "allows the search's tolerance",
        ),
        _exact(
            "the CE minimiser over the digit classes is their frequencies",
            mle["categorical_max_abs_difference"],
            OPTIMISER["categorical"],
            "closed form: the maximum-likelihood estimate is the class frequencies; the "
            "margin allows BFGS's tolerance",
        ),
        _exact(
            "the CE minimum over the digit classes is their entropy",
            abs(mle["categorical_ce_min"] - mle["categorical_entropy_of_freq"]),
            ROUNDING,
            _IDENTITY,
        ),
        _exact(
            "CE of the prior predictor = H + KL",
            abs(d["constant_predictor_ce"] - d["prior_entropy_held"] - d["kl_held_train_prior"]),
            ROUNDING,
            _IDENTITY,
        ),
        _exact(
            "swapping two hidden units leaves the cost unchanged (largest change over the seeds)",
            max(c["mlp_endpoint_difference"]),
            ROUNDING,
            _IDENTITY,
            n=n_seeds,
        ),
        _exact(
            "logistic regression with CE never curves down on the grid (how far it does: "
            "−(most negative second difference) ÷ the largest in size, 0 if none)",
            downward(c["logreg_ce_min_curvature"], c["logreg_ce_scale"]),
            CURVATURE_TOL,
            _CONVEX,
        ),
        _exact(
            f"the same on {len(alts)} other grids, features and data sets",
            other,
            CURVATURE_TOL,
            _CONVEX,
        ),
    ]


def contrast(m) -> Finding:
    """The squared-error cost of logistic regression curves down on the grid (effect)."""
    c = m["convexity"]
    v = downward(c["logreg_mse_min_curvature"], c["logreg_mse_scale"])
    return finding(
        "logistic regression with squared error curves down on the grid (how far: "
        "−(most negative second difference) ÷ the largest in size, 0 if none)",
        "effect",
        estimate=v,
        low=v,
        high=v,
        n=1,
        margin=CURVATURE_TOL,
        margin_source="convention: the rounding allowance of the exact checks (10⁻⁶ of the "
        "largest second difference)",
    )


def _ratios(d, key_end, key_best) -> np.ndarray:
    ps = d["per_seed"]
    return np.asarray(ps[key_end], dtype=float) / np.asarray(ps[key_best], dtype=float)


def _source(margin: float, what: str) -> str:
    return f"convention: {what} of at least {shortest(100 * (margin - 1))} %"


def measured(m) -> list[Finding]:
    """The three measured findings (role primary) and their margins at half and double
    (role alternative)."""
    d = m["digits"]
    specs = (
        (
            "validation CE, end ÷ lowest (held-out half)",
            ("ce_end", "ce_best"),
            RISE_MARGIN,
            "a rise",
        ),
        (
            "validation CE after temperature scaling, end ÷ lowest",
            ("ce_scaled_end", "ce_scaled_best"),
            RISE_MARGIN,
            "a rise",
        ),
        (
            "calibration error (ECE), end ÷ lowest validation CE",
            ("ece_end", "ece_best"),
            ECE_MARGIN,
            "a growth",
        ),
    )
    out, alts = [], []
    for name, keys, margin, what in specs:
        values = _ratios(d, *keys)
        ps = d["per_seed"]
        # the end is the lowest point in a seed that never rose: a tie, no evidence
        ties = np.asarray(ps[keys[0]]) == np.asarray(ps[keys[1]])
        kw = {"direction": 1, "scale": "log", "ties": ties}
        out.append(
            from_seeds(
                name, "effect", values, margin=margin, margin_source=_source(margin, what),
                role="primary", **kw,
            )
        )  # fmt: skip
        for alt in half_and_double(margin, "log"):
            alts.append(
                from_seeds(
                    f"{name}, margin ×/÷ {ratio(alt)}", "effect", values, margin=alt,
                    margin_source=_source(alt, what), role="alternative", **kw,
                )
            )  # fmt: skip
    for alt_run in d.get("alternatives", []):
        ps = alt_run["per_seed"]
        for (name, keys, margin, _what), base in zip(specs, out, strict=True):
            values = np.asarray(ps[keys[0]], dtype=float) / np.asarray(ps[keys[1]], dtype=float)
            ties = np.asarray(ps[keys[0]]) == np.asarray(ps[keys[1]])
            alts.append(
                from_seeds(
                    f"{name}, {alt_run['label']} (retrained)", "effect", values, margin=margin,
                    margin_source=base.margin_source, role="alternative", direction=1,
                    scale="log", ties=ties,
                )
            )  # fmt: skip
    return out + alts


def all_findings(m) -> list[Finding]:
    """Every finding of the chapter, in the order of the page's table."""
    return [*exact_checks(m), contrast(m), *measured(m)]
