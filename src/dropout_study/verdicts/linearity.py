"""The verdict rule of the ``linearity`` chapter: :func:`decide` (metrics → :class:`Verdict`)."""

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

LINEARITY_CLAIM = (
    "Dropout makes the learned function more linear: its degree of linearity Z decreases as "
    "the dropout rate increases."
)
_LINEARITY_LABELS = {"breast_cancer": "breast cancer"}


def _num(value) -> float:
    """A metric as float; ``None`` (how metrics.json stores NaN) becomes NaN."""
    return float("nan") if value is None else float(value)


def decide(metrics) -> Verdict:
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
