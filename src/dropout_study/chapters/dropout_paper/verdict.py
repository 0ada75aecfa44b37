"""The verdict of the ``dropout-paper`` chapter, its robustness table and the power of each
primary finding (STUDY.md v3, chapter 6).

**Rule** (from Srivastava et al.'s five primary findings only,
:func:`~dropout_study.chapters.dropout_paper.paper_findings.paper_findings`; a finding that is
not applicable counts as inconclusive): **supported** if all five are ``yes``; **not
supported** if any is ``no`` or ``reversed``; **partly supported** if at least one is ``yes``,
none is ``no`` or ``reversed`` and at least one is inconclusive; **inconclusive** if all are
inconclusive. Every combination lands in exactly one word. The theory checks (Baldi & Sadowski,
Wager et al.) are reported apart and never enter the rule. The evidence gives the counts ("k of
n reproduced, j contradicted, m undecided") and names the contradicted findings; a finding that
fails is said to fail *in this protocol* (one hidden layer, Adam, early stopping on the
validation loss), the one it was measured under.

**Robustness**: the chapter's word re-decided from the same run with one analysis choice
changed at a time (:func:`alternatives`): the k grid, the rate of Fig. 9a, the interior rate of
Fig. 9b, the conventional margins at half and double, Fig. 8's quantity, the stopping rule and
the paper's protocol (when those networks were trained), another width and training-split
size (likewise). No alternative uses fewer replicates than the primary.
"""

from __future__ import annotations

import math

from scipy import stats as sps

from dropout_study.chapters.dropout_paper import paper_findings as pf
from dropout_study.chapters.dropout_paper.details import pn_text, rate_text, wrong_rate_text
from dropout_study.chapters.findings import INCONCLUSIVE, NO, REVERSED, YES
from dropout_study.chapters.power import half_and_double, power
from dropout_study.chapters.reach import fixed_within, reachable
from dropout_study.chapters.verdicts import (
    FIXED_BY_RULE,
    NOT_SUPPORTED,
    PARTLY,
    SUPPORTED,
    Alternative,
    Verdict,
)
from dropout_study.chapters.verdicts import INCONCLUSIVE as W_INCONCLUSIVE
from dropout_study.chapters.verdicts import robustness as _robustness
from dropout_study.chapters.wording import interval_text, outcome_words

__all__ = [
    "CLAIM",
    "PROTOCOL",
    "chapter_word",
    "counts",
    "decide",
    "alternatives",
    "robustness",
    "sensitivity",
    "power_rows",
]

CLAIM = (
    "What the dropout paper found holds at laptop scale: weight scaling matches averaging "
    "thinned networks, input dropout on linear regression is ridge, a moderate rate helps an "
    "overfitting network, an intermediate rate is best when (1 − p)·n is fixed, and dropout "
    "makes hidden activations sparse."
)
PROTOCOL = "one hidden layer, minibatch Adam, early stopping on the validation loss"
"""The protocol the primary findings are measured under ("in this protocol")."""
_CONTRA = (NO, REVERSED)


def chapter_word(outcomes) -> str:
    """The rule of the module doc, from the five primary outcomes (``Finding.counted``)."""
    outcomes = list(outcomes)
    if any(o in _CONTRA for o in outcomes):
        return NOT_SUPPORTED
    if all(o == YES for o in outcomes):
        return SUPPORTED
    if all(o == INCONCLUSIVE for o in outcomes):
        return W_INCONCLUSIVE
    return PARTLY


PLAIN = {
    "fig11": "averaging many thinned networks matches the weight-scaled network",
    "s91": "input dropout on linear regression is ridge",
    "fig9a": "dropout lowers the test error of a wide network that overfits",
    "fig9b": "an intermediate rate gives the least error when (1 − p)·n is fixed",
    "fig8": "dropout makes hidden activations sparser",
}
"""Each primary finding in plain words (the claim as the paper makes it), for the answer."""


def counts(findings: dict) -> tuple[int, int, int, list[str]]:
    """``(reproduced, contradicted, undecided, names of the contradicted)``."""
    out = [f.counted for f, _ in findings.values()]
    bad = [pf.LABELS[k] for k, (f, _) in findings.items() if f.counted in _CONTRA]
    return out.count(YES), sum(o in _CONTRA for o in out), out.count(INCONCLUSIVE), bad


def _groups(findings: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"yes": [], "contra": [], "undecided": []}
    for k, (f, _) in findings.items():
        c = f.counted
        out["yes" if c == YES else "contra" if c in _CONTRA else "undecided"].append(k)
    return out


def _evidence(findings: dict, protocol: str = "in this protocol") -> str:
    """``"2 of 5 reproduced (Fig. 11, §9.1), 1 contradicted in this protocol (Fig. 8), 2
    undecided (Fig. 9a, Fig. 9b)"``."""
    g = _groups(findings)

    def named(keys):
        return f" ({', '.join(pf.LABELS[k] for k in keys)})" if keys else ""

    return (
        f"{len(g['yes'])} of {len(findings)} reproduced{named(g['yes'])}, "
        f"{len(g['contra'])} contradicted"
        + (f" {protocol}" if g["contra"] else "")
        + f"{named(g['contra'])}, {len(g['undecided'])} undecided{named(g['undecided'])}"
    )


def decide(metrics) -> Verdict:
    """The chapter's verdict (module doc) with its plain-words answer (no numbers: which of
    the paper's findings were reproduced, contradicted in this protocol, or undecided)."""
    prim = pf.paper_findings(metrics)
    word = chapter_word(f.counted for f, _ in prim.values())
    sentence = (
        f"Of Srivastava et al.'s five findings, {_evidence(prim)} (this protocol: {PROTOCOL}). "
        "The theory checks (Baldi & Sadowski, Wager et al.) are reported apart and do not "
        "decide this row."
    )
    g = _groups(prim)
    parts = []
    if g["yes"]:
        parts.append(
            "Reproduced at laptop scale: that " + "; that ".join(PLAIN[k] for k in g["yes"]) + "."
        )
    if g["contra"]:
        how = {NO: " (any effect was smaller than its margin)", REVERSED: " (the other way)"}
        parts.append(
            "Not reproduced (contradicted in this protocol): that "
            + "; that ".join(PLAIN[k] + how.get(prim[k][0].counted, "") for k in g["contra"])
            + "."
        )
    if g["undecided"]:
        parts.append(
            "Undecided: whether " + "; whether ".join(PLAIN[k] for k in g["undecided"]) + "."
        )
    parts += [t for t in (rate_text(metrics), pn_text(metrics)) if t]
    return Verdict(CLAIM, word, sentence, " ".join(parts))


def alternatives(metrics) -> list[tuple[str, dict, bool]]:
    """``(choice, keywords of paper_findings, exploratory?)`` for every alternative the run
    allows (module doc)."""
    dg = metrics["digits"]
    ks, rates, pn_rates = dg["ks"], dg["rates"], dg["pn_rates"]
    out: list[tuple[str, dict, bool]]
    out = [(f"k grid: largest k = {ks[len(ks) // 2]} instead of {ks[-1]} (Fig. 11)",
            {"k_index": len(ks) // 2}, False)]  # fmt: skip
    for r in rates:
        if 0.2 <= r <= 0.6 and r != dg["mc_rate"]:
            out.append(
                (f"Fig. 9a at p = {r:g} instead of {dg['mc_rate']:g}", {"rate_9a": r}, False)
            )
    for r in pn_rates[1:-1]:
        if r != dg["pn_interior"]:
            out.append(
                (f"Fig. 9b interior rate p = {r:g} instead of {dg['pn_interior']:g}",
                 {"pn_interior": r}, False)
            )  # fmt: skip
    for f in (0.5, 2.0):
        out.append((f"margin of Figs. 11, 9a and 9b: {f:g} binomial s.e.", {"se_factor": f}, False))
    for m in half_and_double(pf.SGD_MARGIN):
        out.append((f"margin of §9.1: {m:g} % instead of {pf.SGD_MARGIN:g} %",
                    {"sgd_margin": m}, False))  # fmt: skip
    for m in half_and_double(pf.FIG8_MARGIN, "log"):
        out.append((f"margin of Fig. 8: ratio {m:.3g} instead of {pf.FIG8_MARGIN:g}",
                    {"fig8_margin": m}, False))  # fmt: skip
    out.append(("Fig. 8 quantity: share of active units", {"fig8_quantity": "frac_active"}, False))
    names = {
        "stop_fixed": f"stopping rule: Adam for {dg['max_steps']} steps, no early stopping",
        "paper": f"the paper's protocol: SGD with momentum, max-norm, {dg['paper_steps']} steps",
        "width_alt": f"width {dg['width_alt']} instead of {dg['width']}",
        "split_alt": "training split: "
        + str(dg["groups"].get("split_alt", {}).get("n_train", "?"))
        + f" examples instead of {dg['groups']['main']['n_train']}",
    }
    for g, text in names.items():
        if g in dg["groups"]:
            out.append((text, {"group": g}, False))
    return out


def _alt_findings(metrics, i: int, kw: dict) -> dict:
    return pf.paper_findings(metrics, role="alternative", suffix=f" [alternative {i + 1}]", **kw)


def _fixed(prim: dict, alt: dict) -> bool:
    """Whether the rule gives the primary's word whatever the moved findings of ``alt`` say
    (:func:`dropout_study.chapters.reach.fixed_within`, each moved finding over the
    outcomes it can reach, :func:`dropout_study.chapters.reach.reachable`)."""
    outcomes = {k: f.counted for k, (f, _) in prim.items()}
    reach = {k: reachable(prim[k][0], f) for k, (f, _) in alt.items()}
    return fixed_within(_rule, outcomes, reach)


def _rule(outcomes) -> str:
    return chapter_word(outcomes[k] for k in pf.PAPER_KEYS)


def robustness(metrics):
    """The chapter's word under each alternative, with the moved findings as evidence. A row
    whose moved findings cannot change the word under any outcome they can reach (:func:`_fixed`)
    is not applicable (``FIXED_BY_RULE``): shown, not counted."""
    prim = pf.paper_findings(metrics)
    primary = chapter_word(f.counted for f, _ in prim.values())
    rows = []
    for i, (choice, kw, exploratory) in enumerate(alternatives(metrics)):
        alt = _alt_findings(metrics, i, kw)
        word = chapter_word(f.counted for f, _ in alt.values())
        fixed = not exploratory and _fixed(prim, alt)
        moved = [
            f"{pf.LABELS[k]} {interval_text(f)} → {outcome_words(f)}"
            for k, (f, _) in alt.items()
            if (f.estimate, f.margin) != (prim[k][0].estimate, prim[k][0].margin)
            or f.outcome != prim[k][0].outcome
        ]
        protocol = "in that protocol" if kw.get("group") in ("stop_fixed", "paper") else ""
        detail = "; ".join(moved) or "no finding moved"
        if protocol or counts(alt)[:3] != counts(prim)[:3]:  # the counts only where they move
            detail = _evidence(alt, protocol or "in this protocol") + ". " + detail
        if "sgd_margin" in kw:
            text = wrong_rate_text(metrics, kw["sgd_margin"])
            detail += ". " + text[0].upper() + text[1:]
        if fixed:
            rows.append(Alternative(choice, word, detail, applicable=False, reason=FIXED_BY_RULE))
        else:
            rows.append(Alternative(choice, word, detail, exploratory=exploratory))
    return _robustness(primary, rows)


def alternative_records(metrics) -> list[dict]:
    """Every alternative's findings as ``metrics.json`` records (the robustness rows' objects)."""
    out = []
    for i, (choice, kw, _) in enumerate(alternatives(metrics)):
        for f, _ in _alt_findings(metrics, i, kw).values():
            out.append({"choice": choice, **f.as_dict()})
    return out


def _dscale(f, x: float) -> float:
    return math.log(x) if f.scale == "log" else x


def sensitivity(metrics) -> list[dict]:
    """The sensitivity scan (STUDY.md, "Robustness"): for every alternative and every primary
    finding it moves, the shift of the estimate on the decision scale in units of the primary's
    interval half-width; a knob moving an estimate by more than half its half-width
    (``shift > 0.5``) must be, and is, in the robustness table."""
    prim = pf.paper_findings(metrics)
    out = []
    for i, (choice, kw, _) in enumerate(alternatives(metrics)):
        alt = _alt_findings(metrics, i, kw)
        for k, (f, _) in alt.items():
            p = prim[k][0]
            if not (math.isfinite(f.estimate) and math.isfinite(p.estimate)):
                continue
            shift = abs(_dscale(f, f.estimate) - _dscale(p, p.estimate))
            if shift == 0.0:
                continue
            width = 2 * p.half_width
            out.append(
                {"choice": choice, "finding": pf.LABELS[k],
                 "shift_over_width": shift / width if width > 0 else math.inf}
            )  # fmt: skip
    return out


def power_rows(metrics) -> dict[str, dict]:
    """Per primary finding: ``half_width`` and ``margin`` (decision scale), ``seeds_needed``
    (when inconclusive, :func:`dropout_study.chapters.power.power`) and ``seeds_80`` — the
    seeds that would give ~80 % power when the true effect is twice the margin (or zero, for
    an equivalence), ``((z₀.₉₇₅ + z₀.₈) s / m)²`` with ``s`` the per-seed standard deviation."""
    out = {}
    z = sps.norm.ppf(0.975) + sps.norm.ppf(0.8)
    for key, (f, values) in pf.paper_findings(metrics).items():
        sd = pf.per_seed_sd(values, f.scale)
        pw = power(f, sd) if math.isfinite(sd) else {"half_width": math.nan, "seeds_needed": None}
        m = math.log(f.stated_margin) if f.scale == "log" else f.stated_margin
        n80 = max(2, math.ceil((z * sd / m) ** 2)) if math.isfinite(sd) and m > 0 else None
        out[key] = {
            "half_width": pw["half_width"],
            "margin": m,
            "seeds_needed": pw["seeds_needed"],
            "seeds_80": n80,
            "n": f.n,
            "outcome": f.outcome,
        }
    return out
