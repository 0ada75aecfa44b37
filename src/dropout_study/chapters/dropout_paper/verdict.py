"""The verdict rules of the ``dropout-paper`` chapter: one per finding of Srivastava et al.
(2014) (and the two follow-up papers it leans on), and the chapter's row.

Every interval is :func:`dropout_study.measures.stats.seed_interval` (95 %) of per-seed values from
the metrics. Three outcomes per *part* of a finding:

- **hold**: the interval lies inside the margin the part names;
- **fail**: the interval lies wholly on the other side;
- **undecided**: the interval straddles the margin.

A finding with several parts is **supported** if every part holds, **not supported** if every
part fails, **partly supported** if some hold and the rest fail, **inconclusive** if any part
is undecided. The findings and their parts (drop rates ``p``; Srivastava's retention
``q = 1 − p``):

1. ``mc`` (Fig. 11) — (a) at the largest k, MC error − weight-scaled error lies within
   ± :data:`MC_MARGIN`; (b) at k = 1, MC error − weight-scaled error > 0.
2. ``baldi`` (Baldi & Sadowski 2013) — the mean over test inputs of |E σ(S) − σ(E S)| is
   below :data:`BALDI_MARGIN` (the NWGM = σ(E S) equality is a check, not a part).
3. ``ridge`` (§9.1) — (a) the closed form matches Monte Carlo within :data:`RIDGE_Z` standard
   errors at every rate, both mask forms; (b) SGD's averaged iterate has a relative excess of
   the expected objective below :data:`SGD_MARGIN`.
4. ``wager`` (Wager et al. 2013) — at every rate: (a) R_quad/R_MC − 1 within ±
   :data:`WAGER_RATIO_MARGIN`; (b) test error of the quadratic minimiser − that of the dropout
   minimiser within ± :data:`WAGER_ERR_MARGIN`. A part holds if it holds at every rate and
   fails if it fails at any.
5. ``rate_fixed`` (Fig. 9a) — for each rate in [0.2, 0.6] (q in [0.4, 0.8]) at fixed width,
   error(p = 0) − error(p) > 0: **supported** if at every such rate, **partly** if at some,
   **not supported** if at none and error is clearly higher at one, else inconclusive.
6. ``rate_pn`` (Fig. 9b) — with (1 − p)·n fixed, the rate of lowest mean error is interior to
   the grid and both ends are clearly worse (**supported**; one end: **partly**); the lowest
   mean at an end with the best interior rate clearly worse: **not supported**; else
   inconclusive.
7. ``sparsity`` (Fig. 8) — dropout at ``mc_rate`` versus none: (a) mean activation lower;
   (b) fraction of active units lower.

Chapter row (STUDY.md): **supported** if every finding is supported, **not supported** if any
is not supported, **inconclusive** if none could be decided, **partly supported** otherwise.
"""

from __future__ import annotations

import numpy as np

from dropout_study.chapters.verdicts import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    PARTLY,
    SUPPORTED,
    Verdict,
    badge,
)
from dropout_study.chapters.verdicts import robustness as _robustness
from dropout_study.measures.stats import seed_interval
from dropout_study.numfmt import general, sci

CLAIM = (
    "What the dropout paper found holds at laptop scale: weight scaling matches averaging "
    "thinned networks, input dropout on linear regression is ridge, dropout on logistic "
    "regression is an adaptive L2, moderate rates help an overfitting network, and dropout "
    "makes hidden activations sparse."
)
MC_MARGIN = 0.005
BALDI_MARGIN = 0.02
RIDGE_Z = 3.0
SGD_MARGIN = 0.01
WAGER_RATIO_MARGIN = 0.25
WAGER_ERR_MARGIN = 0.02
NWGM_TOL = 1e-12
RANGE_9A = (0.2, 0.6)
HOLD, FAIL, UNDECIDED = "hold", "fail", "undecided"

FINDINGS = {
    "mc": (
        "Fig. 11",
        "Weight scaling is as good as averaging many thinned networks; a few "
        "thinned networks are worse",
    ),
    "baldi": (
        "Baldi & Sadowski 2013",
        "The weight-scaled sigmoid output σ(E S) (= NWGM) is "
        "close to the ensemble's mean output E σ(S)",
    ),
    "ridge": ("§9.1", "Input dropout on linear regression is ridge with penalty ‖Γw‖²"),
    "wager": (
        "Wager et al. 2013",
        "Dropout on logistic regression is well approximated by its quadratic, adaptive-L2 penalty",
    ),
    "rate_fixed": (
        "Fig. 9a",
        "At fixed width, drop rates 0.2–0.6 (retention 0.4–0.8) lower the "
        "test error of an overfitting network",
    ),
    "rate_pn": ("Fig. 9b", "With (1 − p)·n fixed, an intermediate rate gives the lowest error"),
    "sparsity": ("Fig. 8", "Dropout makes hidden activations sparser"),
}


def _iv(values):
    """Mean and 95 % interval; a single replicate has no interval (−inf, inf): undecided."""
    arr = np.asarray(values, dtype=float)
    if arr.size < 2:
        return float(arr.mean()) if arr.size else float("nan"), -np.inf, np.inf
    i = seed_interval(arr)
    return i.estimate, i.low, i.high


def _fmt(values, scale=1.0, fmt="+z.2f"):
    e, lo, hi = _iv(np.asarray(values, dtype=float) * scale)
    if not np.isfinite(lo):
        return f"{e:{fmt}} (one replicate, no interval)"
    return f"{e:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"


def within(values, m) -> str:
    """hold if the interval ⊂ [−m, m], fail if it misses it, else undecided."""
    _, lo, hi = _iv(values)
    return HOLD if -m <= lo and hi <= m else FAIL if hi < -m or lo > m else UNDECIDED


def positive(values) -> str:
    """hold if the interval lies above 0, fail if below, else undecided."""
    _, lo, hi = _iv(values)
    return HOLD if lo > 0 else FAIL if hi < 0 else UNDECIDED


def below(values, m) -> str:
    """hold if the interval lies below m, fail if above, else undecided."""
    _, lo, hi = _iv(values)
    return HOLD if hi < m else FAIL if lo > m else UNDECIDED


def combine(parts) -> str:
    """The word of a finding from its parts (module doc)."""
    parts = list(parts)
    if UNDECIDED in parts or not parts:
        return INCONCLUSIVE
    if all(p == HOLD for p in parts):
        return SUPPORTED
    return NOT_SUPPORTED if all(p == FAIL for p in parts) else PARTLY


def _all_rates(outcomes) -> str:
    outcomes = list(outcomes)
    if FAIL in outcomes:
        return FAIL
    return HOLD if all(o == HOLD for o in outcomes) else UNDECIDED


def smallest_matching_k(ks, mc_err, ws, margin: float = MC_MARGIN) -> int | None:
    """Smallest k whose interval of MC − weight-scaled error lies below ``+margin``."""
    mc = np.asarray(mc_err, dtype=float)
    for j, k in enumerate(ks):
        if _iv(mc[:, j] - np.asarray(ws))[2] <= margin:
            return int(k)
    return None


def findings(
    metrics,
    *,
    group: str = "main",
    k_index: int = -1,
    half: int | None = None,
    mc_margin: float | None = None,
) -> dict:
    """``{finding: (word, evidence)}`` for the seven findings (module doc). ``group``: which
    digits networks (``main``, ``width_alt``, ``split_alt``); ``k_index``: the "largest k";
    ``half``: 0 or 1 uses only the first or the second half of every section's replicates
    (default: all); ``mc_margin``: the margin of finding 1 (default :data:`MC_MARGIN`)."""
    if not isinstance(metrics, dict) or not {"digits", "baldi", "ridge", "wager"} <= set(metrics):
        raise ValueError(
            "The 'metrics' parameter of dropout-paper must be a dict with digits, baldi, ridge "
            f"and wager; got {type(metrics).__name__}."
        )

    def sel(values):
        arr = np.asarray(values, dtype=float)
        if half is None:
            return arr
        cut = len(arr) // 2
        return arr[:cut] if half == 0 else arr[cut:]

    dg, out = metrics["digits"], {}
    g = dg["groups"][group]
    ws, mc = sel(g["err_ws"]), sel(g["mc_err"])
    ks = dg["ks"]
    k = ks[k_index]
    m_mc = MC_MARGIN if mc_margin is None else float(mc_margin)
    a, b = within(mc[:, k_index] - ws, m_mc), positive(mc[:, 0] - ws)
    kstar = smallest_matching_k(ks[: (k_index % len(ks)) + 1], mc, ws, m_mc)
    out["mc"] = (
        combine([a, b]),
        (
            f"MC − weight scaling at k = {k}: {_fmt(mc[:, k_index] - ws, 100)} points; at k = 1: "
            f"{_fmt(mc[:, 0] - ws, 100)}; smallest matching k: {kstar if kstar else 'none'}"
        ),
    )
    bd = metrics["baldi"]
    gap = sel(bd["mean_abs_gap"])
    check_ok = max(bd["nwgm_err"]) < NWGM_TOL
    word = combine([below(gap, BALDI_MARGIN)]) if check_ok else INCONCLUSIVE
    out["baldi"] = (
        word,
        f"mean |E σ(S) − σ(E S)| = {_fmt(gap, 1, 'z.4f')}; max |NWGM − σ(E S)| "
        f"= {sci(max(bd['nwgm_err']))}",
    )
    rd = metrics["ridge"]
    zmax = max(abs(z) for f in ("inverted", "retention") for z in rd[f]["z"])
    excess = sel(rd["sgd"]["excess"])
    out["ridge"] = (
        combine([HOLD if zmax <= RIDGE_Z else FAIL, below(excess, SGD_MARGIN)]),
        (f"max |z| = {zmax:z.2f}; SGD excess objective {_fmt(excess, 100, 'z.3f')} %"),
    )
    wg = metrics["wager"]
    ratio, derr = sel(wg["ratio"]), sel(wg["err_quad"]) - sel(wg["err_mc"])
    pa = _all_rates(within(ratio[:, j] - 1, WAGER_RATIO_MARGIN) for j in range(ratio.shape[1]))
    pb = _all_rates(within(derr[:, j], WAGER_ERR_MARGIN) for j in range(derr.shape[1]))
    out["wager"] = (
        combine([pa, pb]),
        "quadratic R / Monte-Carlo R: "
        + "; ".join(
            f"p = {general(p)}: {_fmt(ratio[:, j], 1, 'z.2f')}" for j, p in enumerate(wg["rates"])
        ),
    )
    err0 = sel(g["err_none"])
    if group == "main":
        table = sel(dg["err_fixed"])
        in_range = {
            p: table[:, j] for j, p in enumerate(dg["rates"]) if RANGE_9A[0] <= p <= RANGE_9A[1]
        }
        err0 = table[:, 0]
    else:
        in_range = (
            {dg["mc_rate"]: sel(g["err_ws"])} if RANGE_9A[0] <= dg["mc_rate"] <= RANGE_9A[1] else {}
        )
    res = {p: positive(err0 - e) for p, e in in_range.items()}
    n_low, n_high = sum(r == HOLD for r in res.values()), sum(r == FAIL for r in res.values())
    word = (
        SUPPORTED
        if res and n_low == len(res)
        else PARTLY
        if n_low
        else NOT_SUPPORTED
        if n_high
        else INCONCLUSIVE
    )
    out["rate_fixed"] = (
        word,
        "; ".join(f"p = {general(p)}: {_fmt(err0 - e, 100)} points" for p, e in in_range.items())
        or "no rate",
    )
    pn = sel(dg["err_pn"])
    means = pn.mean(axis=0)
    i = int(np.argmin(means))
    last = pn.shape[1] - 1
    if 0 < i < last:
        ends = [positive(pn[:, 0] - pn[:, i]), positive(pn[:, last] - pn[:, i])]
        word = SUPPORTED if ends == [HOLD, HOLD] else PARTLY if HOLD in ends else INCONCLUSIVE
    else:
        j = 1 + int(np.argmin(means[1:last]))
        word = NOT_SUPPORTED if positive(pn[:, j] - pn[:, i]) == HOLD else INCONCLUSIVE
    out["rate_pn"] = (
        word,
        f"lowest mean error at p = {general(dg['pn_rates'][i])} (n = "
        f"{dg['pn_widths'][i]}), {100 * means[i]:z.2f} %",
    )
    act, frac = sel(g["mean_act"]), sel(g["frac_active"])
    out["sparsity"] = (
        combine([positive(act[:, 0] - act[:, 1]), positive(frac[:, 0] - frac[:, 1])]),
        (
            f"mean activation, none − dropout: {_fmt(act[:, 0] - act[:, 1], 1, '+z.3f')}; fraction "
            f"active: {_fmt(frac[:, 0] - frac[:, 1], 1, '+z.3f')}"
        ),
    )
    return out


def chapter_word(words) -> str:
    """STUDY.md's rule for the chapter's row (module doc)."""
    words = list(words)
    if NOT_SUPPORTED in words:
        return NOT_SUPPORTED
    if all(w == INCONCLUSIVE for w in words):
        return INCONCLUSIVE
    return SUPPORTED if all(w == SUPPORTED for w in words) else PARTLY


def decide(metrics, **kwargs) -> Verdict:
    """The chapter's verdict from :func:`findings` by :func:`chapter_word`."""
    f = findings(metrics, **kwargs)
    word = chapter_word(w for w, _ in f.values())
    counts = {
        w: sum(v == w for v, _ in f.values())
        for w in (SUPPORTED, PARTLY, NOT_SUPPORTED, INCONCLUSIVE)
    }
    sentence = (
        f"Of {len(f)} findings tested, "
        + ", ".join(f"{n} {w}" for w, n in counts.items() if n)
        + ": "
        + "; ".join(f"{FINDINGS[k][0]} {w}" for k, (w, _) in f.items())
        + "."
    )
    return Verdict(CLAIM, word, sentence)


def table_markdown(metrics) -> str:
    """A MyST list-table of the findings: source, finding, verdict badge, evidence."""
    lines = [
        "```{list-table}",
        ":header-rows: 1",
        ":widths: 14 36 16 34",
        "",
        "* - Source",
        "  - Finding",
        "  - Verdict",
        "  - Evidence",
    ]
    for key, (word, evidence) in findings(metrics).items():
        src, text = FINDINGS[key]
        lines += [f"* - {src}", f"  - {text}", f"  - {badge(word)}", f"  - {evidence}"]
    return "\n".join(lines + ["```", ""])


def robustness(metrics):
    """The chapter's row re-decided under: each half of the seeds, a smaller largest k,
    the other width, the other training-split size, and the paper's own margin for Fig. 11
    ("within one standard deviation": the binomial s.e. of the weight-scaled test error)."""
    primary = decide(metrics).word
    ks = metrics["digits"]["ks"]
    k_alt = len(ks) // 2
    dg = metrics["digits"]
    alts = [
        ("seeds: first half of every section's replicates", {"half": 0}),
        ("seeds: second half of every section's replicates", {"half": 1}),
        (f"k grid: largest k = {ks[k_alt]} instead of {ks[-1]}", {"k_index": k_alt}),
        (f"width: {dg['width_alt']} units instead of {dg['width']}", {"group": "width_alt"}),
        (
            f"training split: {dg['groups']['split_alt']['n_train']} examples instead of "
            f"{dg['groups']['main']['n_train']}",
            {"group": "split_alt"},
        ),
    ]
    g = dg["groups"]["main"]
    e = float(np.mean(g["err_ws"]))
    se = float(np.sqrt(e * (1 - e) / g["n_test"]))
    alts.append(
        (
            f"margin of Fig. 11: one binomial s.e. of the weight-scaled error "
            f"({100 * se:z.2f} points) instead of {general(100 * MC_MARGIN)}",
            {"mc_margin": se},
        )
    )
    rows = []
    for choice, kw in alts:
        v = decide(metrics, **kw)
        f = findings(metrics, **kw)
        rows.append(
            (choice, v.word, ", ".join(f"{FINDINGS[k][0]}: {w}" for k, (w, _) in f.items()))
        )
    return _robustness(primary, rows)


def rules_text() -> dict[str, str]:
    """The margins as the page states them (glued, so the page and the rule cannot differ)."""
    return {
        "mc_margin": f"{general(100 * MC_MARGIN)}",
        "baldi_margin": f"{general(BALDI_MARGIN)}",
        "ridge_z": f"{general(RIDGE_Z)}",
        "sgd_margin": f"{general(100 * SGD_MARGIN)}",
        "wager_ratio_margin": f"{general(100 * WAGER_RATIO_MARGIN)}",
        "wager_err_margin": f"{general(100 * WAGER_ERR_MARGIN)}",
        "nwgm_tol": sci(NWGM_TOL, 0),
        "range_9a": f"{general(RANGE_9A[0])}–{general(RANGE_9A[1])}",
        "range_9a_q": f"{general(1 - RANGE_9A[1])}–{general(1 - RANGE_9A[0])}",
    }
