"""Chapter 6's rule on synthetic metrics: the word comes from Srivastava et al.'s five primary
findings only; a contradicted theory check (Baldi & Sadowski, Wager et al.) cannot move it, one
contradicted Srivastava finding makes it "not supported"; every branch is reachable."""

from __future__ import annotations

import numpy as np
import pytest

from dropout_study.chapters.dropout_paper import paper_findings as pf
from dropout_study.chapters.dropout_paper import verdict as rule
from dropout_study.chapters.findings import INCONCLUSIVE, NO, REVERSED, YES
from dropout_study.chapters.verdicts import INCONCLUSIVE as W_INCONCLUSIVE
from dropout_study.chapters.verdicts import NOT_SUPPORTED, PARTLY, SUPPORTED


def _noise(rng, n, sd):
    return rng.normal(0.0, sd, n)


def _metrics(
    n=12,
    *,
    mc=0.0,
    help_=0.03,
    valley=0.03,
    act_ratio=2.0,
    excess=0.001,
    baldi_ratio=1.0,
    wager_ratio=1.0,
    sd=0.002,
):
    """Per-seed metrics whose five primary findings are decided by the arguments (errors as
    fractions; the margins are about 0.8 points for n_test = 1000 and errors near 7 %)."""
    rng = np.random.default_rng(0)
    e0 = 0.07 + _noise(rng, n, sd)
    fixed = np.column_stack(
        [e0, e0 - help_ / 2 + _noise(rng, n, sd), e0 - help_ + _noise(rng, n, sd)]
    )
    ws = fixed[:, 2]
    mc_err = np.column_stack([ws + 0.03, ws + 0.01, ws + mc + _noise(rng, n, sd)])
    interior = 0.07 + _noise(rng, n, sd)
    pn = np.column_stack([interior + valley, interior, interior + valley + 0.01])
    act0 = 0.6 + _noise(rng, n, 0.01)
    act = np.column_stack([act0, act0 / act_ratio])
    main = {
        "err_none": e0.tolist(),
        "err_ws": ws.tolist(),
        "train_err_none": [0.0] * n,
        "train_err_ws": [0.0] * n,
        "mc_err": mc_err.tolist(),
        "mean_act": act.tolist(),
        "frac_active": np.column_stack([np.full(n, 0.5), np.full(n, 0.3)]).tolist(),
        "n_train": 200,
        "n_test": 1000,
    }
    by_width = {
        "4": {
            "exact": True,
            "ratio_first": (baldi_ratio * np.exp(_noise(rng, n, 0.01))).tolist(),
            "ratio_delta": (baldi_ratio * np.exp(_noise(rng, n, 0.01))).tolist(),
            "ratio_first_mid": (baldi_ratio * np.exp(_noise(rng, n, 0.01))).tolist(),
            "share_mid": [0.5] * n,
            "wrong_sign": [0.0] * n,
            "disagree": [0.0] * n,
            "mean_abs_gap": [0.05] * n,
            "mc_se_mean_gap": [0.0] * n,
            "sd_sigma": [0.1] * n,
            "err_ws": [0.1] * n,
            "err_ens": [0.1] * n,
            "nwgm_err": (1e-16 * (1 + np.arange(n))).tolist(),
            "mean_s_err": [1e-15] * n,
        }
    }
    return {
        "digits": {
            "rates": [0.0, 0.2, 0.5],
            "pn_rates": [0.0, 0.4, 0.8],
            "pn_units": 32,
            "pn_interior": 0.4,
            "pn_widths": [32, 53, 160],
            "ks": [1, 4, 16],
            "mc_rate": 0.5,
            "width": 64,
            "width_alt": 32,
            "n_seeds": n,
            "err_fixed": fixed.tolist(),
            "train_err_fixed": np.zeros_like(fixed).tolist(),
            "err_pn": pn.tolist(),
            "groups": {"main": main},
            "max_steps": 100,
            "paper_steps": 100,
        },
        "baldi": {"widths": [4], "rate": 0.5, "masks": 100, "by_width": by_width},
        "ridge": {"sgd": {"rate": 0.5, "excess": (excess + np.abs(_noise(rng, n, 1e-4))).tolist()}},
        "wager": {
            "rates": [0.5],
            "ratio": (wager_ratio * np.exp(_noise(rng, n, 0.01)))[:, None].tolist(),
            "err_quad": [[0.05]] * n,
            "err_mc": [[0.05]] * n,
        },
    }


def _outcomes(m):
    return {k: f.outcome for k, (f, _) in pf.paper_findings(m).items()}


def test_all_five_reproduced_is_supported():
    m = _metrics()
    assert set(_outcomes(m).values()) == {YES}
    v = rule.decide(m)
    assert v.word == SUPPORTED
    assert "5 of 5 reproduced" in v.sentence
    assert v.answer.startswith("Reproduced at laptop scale")


def test_a_contradicted_baldi_row_cannot_make_the_chapter_not_supported():
    m = _metrics(baldi_ratio=0.3, wager_ratio=0.3)
    checks = {f.name: f.outcome for f, _ in pf.theory_findings(m)}
    first = next(o for name, o in checks.items() if "first-order" in name)
    assert first == NO  # the theory check is contradicted ...
    assert any("Wager" in name and o == NO for name, o in checks.items())
    assert rule.decide(m).word == SUPPORTED  # ... and the chapter's word does not move


def test_one_contradicted_srivastava_finding_makes_it_not_supported():
    m = _metrics(help_=0.0)  # dropout does not lower the error: Fig. 9a "no"
    assert _outcomes(m)["fig9a"] == NO
    v = rule.decide(m)
    assert v.word == NOT_SUPPORTED
    assert "1 contradicted in this protocol (Fig. 9a)" in v.sentence
    assert "Not reproduced (contradicted in this protocol): that dropout lowers" in v.answer


def test_a_reversed_finding_counts_as_contradicted():
    m = _metrics(act_ratio=0.5)  # activations twice as large with dropout
    assert _outcomes(m)["fig8"] == REVERSED
    assert rule.decide(m).word == NOT_SUPPORTED


def test_partly_and_inconclusive_branches():
    m = _metrics(help_=0.006, sd=0.006)  # Fig. 9a straddles its margin
    out = _outcomes(m)
    assert out["fig9a"] == INCONCLUSIVE and out["fig11"] == YES
    assert rule.decide(m).word == PARTLY
    assert rule.chapter_word([INCONCLUSIVE] * 5) == W_INCONCLUSIVE
    assert rule.chapter_word([YES, YES, INCONCLUSIVE, YES, YES]) == PARTLY
    assert rule.chapter_word([YES, NO, INCONCLUSIVE, YES, YES]) == NOT_SUPPORTED


def test_a_not_applicable_primary_counts_as_undecided():
    m = _metrics()
    act = np.asarray(m["digits"]["groups"]["main"]["mean_act"])
    act[0, 1] = 0.0  # ratio undefined in one seed
    m["digits"]["groups"]["main"]["mean_act"] = act.tolist()
    f = pf.paper_findings(m)["fig8"][0]
    assert not f.applicable and "undefined in 1 of" in f.reason
    assert rule.decide(m).word == PARTLY


def test_robustness_rows_use_the_primary_replicates_and_name_the_protocol():
    m = _metrics(help_=0.0)
    rob = rule.robustness(m)
    assert rob.primary == NOT_SUPPORTED and rob.n + rob.not_applicable >= 6
    assert rob.n >= 1  # the rows that move Fig. 9a, the one "no", are counted
    for rec in rule.alternative_records(m):
        assert rec["n"] == m["digits"]["n_seeds"] or rec["name"].startswith("§9.1")
    # the stopping-rule group is an alternative row when it was trained
    m["digits"]["groups"]["stop_fixed"] = dict(m["digits"]["groups"]["main"])
    rows = {a.choice: a for a in rule.robustness(m).alternatives}
    stop = next(a for c, a in rows.items() if c.startswith("stopping rule"))
    assert "contradicted in that protocol" in stop.detail


def test_the_fig11_margin_is_the_binomial_standard_error():
    m = _metrics()
    f = pf.paper_findings(m)["fig11"][0]
    e = np.mean(m["digits"]["groups"]["main"]["err_ws"])
    assert f.margin == pytest.approx(100 * np.sqrt(e * (1 - e) / 1000))
    assert f.margin_source.startswith("convention: ")  # a stand-in for the paper's error bars
    assert "standing in for the error bars" in f.margin_source


def test_power_rows_say_how_many_seeds_a_decision_needs():
    m = _metrics(help_=0.006, sd=0.006)
    rows = rule.power_rows(m)
    assert rows["fig9a"]["seeds_needed"] is not None and rows["fig9a"]["seeds_needed"] > 12
    assert rows["fig11"]["seeds_needed"] is None
    assert all(r["seeds_80"] >= 2 for r in rows.values())


def test_the_sensitivity_scan_lists_the_knobs_that_move_an_estimate():
    m = _metrics()
    scan = rule.sensitivity(m)
    choices = {s["choice"] for s in scan}
    assert any(c.startswith("k grid") for c in choices)  # MC at k = 4 is 1 point worse
    assert any(c.startswith("Fig. 8 quantity") for c in choices)
    assert all(s["shift_over_width"] > 0 for s in scan)


def _with_init(m, moved: float):
    """Fig. 8's control: activations at initialisation, the trained p = 0 network ``moved``
    times its initial value."""
    g = m["digits"]["groups"]["main"]
    act = np.asarray(g["mean_act"])
    g["mean_act_init"] = (act[:, 0] / moved).tolist()
    g["frac_active_init"] = (np.asarray(g["frac_active"])[:, 0] / moved).tolist()
    return m


def test_fig8_is_decided_by_its_interval_and_its_control_never_gates_it():
    # STUDY.md: a finding is not applicable only when tied, undefined or fixed by algebra; "a
    # 0.9-point drop out of 50 % is 'no'" — also when training barely moved the statistic
    m = _with_init(_metrics(act_ratio=1.05), moved=1.02)  # barely moved, barely sparser
    f = pf.paper_findings(m)["fig8"][0]
    assert f.outcome == NO and f.applicable and f.reason is None
    assert rule.decide(m).word == NOT_SUPPORTED
    assert ("that dropout makes hidden activations sparser (any effect was smaller than its "
            "margin)") in rule.decide(m).answer  # fmt: skip
    control = next(c for c, _ in pf.theory_findings(m) if c.name.startswith("Fig. 8 control"))
    assert (
        control.kind == "equivalence" and control.outcome == YES and control.role == "exploratory"
    )  # shown as context: training left the statistic within the margin
    moved = _with_init(_metrics(act_ratio=1.05), moved=2.0)  # training doubled it
    f2 = pf.paper_findings(moved)["fig8"][0]
    assert (f2.outcome, f2.estimate, f2.low, f2.high) == (f.outcome, f.estimate, f.low, f.high)
    assert rule.decide(moved).word == NOT_SUPPORTED


def _fixed_rows(rob):
    from dropout_study.chapters.verdicts import FIXED_BY_RULE

    return {a.choice for a in rob.alternatives if not a.applicable and a.reason == FIXED_BY_RULE}


def test_rows_that_cannot_change_the_word_are_not_counted():
    m = _metrics(act_ratio=1.05)  # Fig. 8 "no": any row leaving Fig. 8 alone is fixed
    assert _outcomes(m)["fig8"] == NO
    rob = rule.robustness(m)
    fixed = _fixed_rows(rob)
    assert any(c.startswith("k grid") for c in fixed)
    assert any(c.startswith("margin of §9.1") for c in fixed)
    assert any(c.startswith("margin of Figs. 11") for c in fixed)
    # a wider Fig. 8 margin keeps its "no" a "no": fixed; a narrower one could give "yes"
    wide = next(c for c in fixed if c.startswith("margin of Fig. 8"))
    assert "1.56" in wide
    counted = [a.choice for a in rob.counted]
    assert any(c.startswith("margin of Fig. 8: ratio 1.12") for c in counted)
    assert any(c.startswith("Fig. 8 quantity") for c in counted)
    assert rob.not_applicable == len(fixed) and rob.n == len(counted)
    # all five "yes": a narrower margin keeps a "yes", so only those rows are fixed
    everything = _fixed_rows(rule.robustness(_metrics()))
    assert everything and all("margin" in c for c in everything)


@pytest.mark.parametrize(
    ("prim", "wider", "expected"),
    [
        (NO, True, (NO,)),
        (YES, False, (YES,)),
        (NO, False, (YES, NO, REVERSED, INCONCLUSIVE)),
        (INCONCLUSIVE, True, (INCONCLUSIVE, NO)),
    ],
)
def test_reachable_outcomes_of_a_margin_only_change_follow_the_decision(prim, wider, expected):
    """Oracle: the kit's decide() over many intervals consistent with ``prim`` at margin 1."""
    from dropout_study.chapters.findings import decide, finding

    seen = set()
    SRC = "convention: test"
    m2 = 2.0 if wider else 0.5
    for lo in np.linspace(-3, 3, 61):
        for hi in np.linspace(-3, 3, 61):
            if hi < lo or decide("effect", 1, "linear", lo, hi, 1.0) != prim:
                continue
            seen.add(decide("effect", 1, "linear", lo, hi, m2))

            def at(margin, lo=lo, hi=hi):
                est = (lo + hi) / 2
                return finding(
                    "a", "effect", estimate=est, low=lo, high=hi, n=8, margin=margin,
                    margin_source=SRC,
                )  # fmt: skip

            a, b = at(1.0), at(m2)
            assert b.outcome in rule.reachable(a, b)
    assert seen == set(expected)


def test_fig9a_at_other_rates_and_fig9b_shape_are_said_from_findings():
    m = _metrics(help_=0.006, sd=0.006)
    m["digits"]["rates"] = [0.0, 0.2, 0.4, 0.5]
    fx = np.asarray(m["digits"]["err_fixed"])
    fx = np.column_stack([fx[:, 0], fx[:, 0] + 0.0001, fx[:, 0] - 0.0001, fx[:, 2]])
    m["digits"]["err_fixed"] = fx.tolist()  # p = 0.2 and 0.4: no change at all -> "no"
    outs = {r: pf.paper_findings(m, rate_9a=r)["fig9a"][0].outcome for r in (0.2, 0.4, 0.5)}
    assert outs == {0.2: NO, 0.4: NO, 0.5: INCONCLUSIVE}
    text = rule.rate_text(m)
    assert text == "Fig. 9a is contradicted in this protocol at p = 0.2–0.4 (undecided at p = 0.5)."
    assert text in rule.decide(m).answer
    # Fig. 9b: the interior rate is best in the synthetic metrics
    assert "inside the grid" in rule.pn_text(m)


def test_the_s91_margin_says_which_wrong_rates_it_would_accept():
    m = _metrics()
    m["ridge"]["wrong_rate_excess"] = {"0.3": 0.04574, "0.7": 0.0134}
    assert rule.wrong_rate_text(m, 2.0) == (
        "this margin would also accept Γ-ridge at the wrong rate p = 0.7 (1.34 % excess)"
    )
    assert "rejects Γ-ridge at every wrong rate" in rule.wrong_rate_text(m, 1.0)
    rows = {a.choice: a for a in rule.robustness(m).alternatives}
    assert (
        "would also accept Γ-ridge at the wrong rate p = 0.7"
        in rows["margin of §9.1: 2 % instead of 1 %"].detail
    )
