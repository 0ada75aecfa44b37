"""Small MyST tables of the ``dropout-paper`` chapter: numbers per setting (per rate, per
protocol, per width) go here, not into sentences. Every cell is a mean over replicates with
its 95 % :func:`dropout_study.measures.stats.seed_interval` interval unless said otherwise."""

from __future__ import annotations

import numpy as np

from dropout_study.chapters.dropout_paper import paper_findings as pf
from dropout_study.chapters.wording import list_table
from dropout_study.measures.stats import seed_interval
from dropout_study.numfmt import bracket, general, plain, sci

__all__ = [
    "ci",
    "list_table",
    "rates_table",
    "pn_table",
    "protocol_table",
    "baldi_table",
    "wager_table",
    "ridge_table",
    "power_table",
    "sensitivity_table",
]


def ci(values, scale: float = 1.0, decimals: int = 2, sign: bool = False) -> str:
    """``"7.41 [6.90, 7.92]"`` with true minus signs (markdown glue is not retypeset)."""
    arr = np.asarray(values, dtype=float) * scale
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return "—"
    i = seed_interval(arr)
    return bracket(i.estimate, i.low, i.high, decimals, lambda x, d: plain(x, d, sign))


def gci(values, decimals: int = 2, margin: float = pf.THEORY_RATIO_MARGIN) -> str:
    """Geometric mean of ratios with the interval on their logarithms: ``"1.12× [1.05, 1.20]"``,
    more decimals where a bound would read as the ratio ``margin`` it is decided against or
    its inverse (the theory checks' ×/÷ 1.25: ``0.796``, not ``0.80``)."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr) & (arr > 0)]
    if arr.size == 0:
        return "—"
    i = seed_interval(np.log(arr))
    e, lo, hi = (float(v) for v in np.exp([i.estimate, i.low, i.high]))
    return bracket(e, lo, hi, decimals, plain, against=(margin, 1 / margin), unit="×")


def rates_table(metrics) -> str:
    """Fig. 9a: test and training error per rate at the fixed width, and the paired
    difference to p = 0."""
    dg = metrics["digits"]
    test, train = np.asarray(dg["err_fixed"]), np.asarray(dg["train_err_fixed"])
    rows = []
    for j, p in enumerate(dg["rates"]):
        diff = "—" if j == 0 else ci(test[:, 0] - test[:, j], 100, sign=True)
        rows.append([general(p), general(1 - p), ci(test[:, j], 100), ci(train[:, j], 100), diff])
    head = ["p", "q = 1 − p", "test error, %", "training error, %", "p = 0 minus p, points"]
    return list_table(head, rows)


def pn_table(metrics) -> str:
    """Fig. 9b: test error per rate with (1 − p)·n fixed (and under the paper's protocol when
    it was run)."""
    dg = metrics["digits"]
    pn = np.asarray(dg["err_pn"])
    paper = dg["groups"].get("paper", {}).get("err_pn")
    head = ["p", "q = 1 − p", "units n", "test error, %"]
    if paper is not None:
        head.append("paper's protocol, %")
    rows = []
    for j, p in enumerate(dg["pn_rates"]):
        row = [general(p), general(1 - p), str(dg["pn_widths"][j]), ci(pn[:, j], 100)]
        if paper is not None:
            row.append(ci(np.asarray(paper)[:, j], 100))
        rows.append(row)
    return list_table(head, rows)


def protocol_table(metrics) -> str:
    """The networks without dropout and at ``mc_rate`` under each protocol that was run."""
    dg = metrics["digits"]
    names = {
        "main": "Adam, early stopping on validation loss (primary)",
        "stop_fixed": f"Adam, {dg['max_steps']} steps, no early stopping",
        "paper": f"SGD + momentum, max-norm, {dg['paper_steps']} steps (paper's protocol)",
    }
    rows = []
    for g, name in names.items():
        if g not in dg["groups"]:
            continue
        x = dg["groups"][g]
        e0, e1 = np.asarray(x["err_none"]), np.asarray(x["err_ws"])
        rows.append(
            [name, ci(e0, 100), ci(e1, 100), ci(e0 - e1, 100, sign=True),
             ci(np.asarray(x["mc_err"])[:, -1] - e1, 100, sign=True)]
        )  # fmt: skip
    p = general(dg["mc_rate"])
    head = ["protocol", "p = 0, %", f"p = {p}, %", f"p = 0 minus p = {p}, points",
            f"MC (k = {dg['ks'][-1]}) minus weight-scaled, points"]  # fmt: skip
    return list_table(head, rows)


def baldi_table(metrics) -> str:
    """Per width of the Baldi layer: how masks were averaged, the mean |gap|, the spread of
    σ(S), both ratios, the wrong-sign and disagreement shares."""
    bd = metrics["baldi"]
    rows = []
    for w in bd["widths"]:
        r = bd["by_width"][str(w)]
        how = f"all {2**w}" if r["exact"] else f"{bd['masks']} sampled"
        rows.append(
            [str(w), how, ci(r["mean_abs_gap"], 1, 4), ci(r["sd_sigma"], 1, 3),
             gci(r["ratio_first"]), gci(r["ratio_first_mid"]), gci(r["ratio_delta"]),
             ci(r["wrong_sign"], 100, 2),
             ci(r["disagree"], 100, 2)]
        )  # fmt: skip
    head = ["units", "masks", "mean |E σ(S) − σ(E S)|", "mean s.d. of σ(S)",
            "gap / first-order estimate", "the same, unsaturated images",
            "gap / delta method", "wrong sign, % of images",
            "classified differently, %"]  # fmt: skip
    return list_table(head, rows)


def wager_table(metrics) -> str:
    """Per rate: both ratios at the dropout minimiser, the distance and norms of the two
    minimisers, the test-error difference and the share of flat training examples."""
    wg = metrics["wager"]
    col = {k: np.asarray(wg[k], dtype=float) for k in wg if k != "rates"}
    rows = []
    for j, p in enumerate(wg["rates"]):
        rows.append(
            [general(p), gci(col["ratio"][:, j]), gci(col["slope_ratio"][:, j]),
             ci(col["wdist"][:, j], 100, 0), ci(col["norm_mc"][:, j], 1, 1),
             ci(col["norm_quad"][:, j], 1, 1), ci(col["flat_quad"][:, j], 100, 0),
             ci(col["err_quad"][:, j] - col["err_mc"][:, j], 100, sign=True)]
        )  # fmt: skip
    head = ["p", "R_quad / R_MC", "p·S / R_MC", "distance of minimisers, %", "‖w‖ dropout",
            "‖w‖ quadratic", "flat examples at the quadratic minimiser, %",
            "test error, quadratic minus dropout, points"]  # fmt: skip
    return list_table(head, rows)


def ridge_table(metrics) -> str:
    """§9.1's identity: (Monte Carlo − closed form)/s.e. per rate and mask form."""
    rd = metrics["ridge"]
    rows = []
    for j, p in enumerate(rd["rates"]):
        rows.append(
            [general(p), plain(rd["inverted"]["z"][j], 2, True),
             plain(rd["retention"]["z"][j], 2, True), plain(rd["inverted"]["z_wrong"][j], 0, True)]
        )  # fmt: skip
    head = ["p (q = 1 − p)", "inverted masks, own formula", "paper's masks, own formula",
            "inverted masks, paper's formula"]  # fmt: skip
    return list_table(head, rows)


def power_table(metrics, rows: dict) -> str:
    """Per primary finding: seeds, half-width against margin (decision scale: points, %, or
    log ratio), outcome, seeds a decision would need when undecided, seeds for ~80 % power."""
    prim = pf.paper_findings(metrics)
    out = []
    for key, r in rows.items():
        f = prim[key][0]
        unit = " (log)" if f.scale == "log" else ""
        need = "—" if r["seeds_needed"] is None else f"≈ {r['seeds_needed']}"
        n80 = "—" if r["seeds_80"] is None else f"≈ {r['seeds_80']}"
        out.append(
            [pf.LABELS[key], str(r["n"]), f"{_num(r['half_width'])}{unit}",
             f"{_num(r['margin'])}{unit}", f.outcome, need, n80]
        )  # fmt: skip
    head = ["finding", "seeds", "half-width", "margin", "outcome", "seeds to decide",
            "seeds for 80 % power"]  # fmt: skip
    return list_table(head, out)


def _num(x: float) -> str:
    x = float(x)
    return sci(x) if x != 0 and abs(x) < 1e-3 else plain(x, 3)


def sensitivity_table(scan: list[dict]) -> str:
    """The sensitivity scan: each knob's shift of each primary estimate, in interval widths."""
    rows = [
        [s["choice"], s["finding"], plain(s["shift_over_width"], 2),
         "yes" if s["shift_over_width"] > 0.5 else "no"]
        for s in scan
    ]  # fmt: skip
    head = ["analysis choice", "finding", "shift / interval width", "more than half"]
    return list_table(head, rows) if rows else "*No analysis choice moved an estimate.*\n"
