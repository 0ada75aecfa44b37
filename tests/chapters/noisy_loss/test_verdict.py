"""Chapter 3's verdict rule (dropout_study.chapters.noisy_loss.verdict) on synthetic metrics:
every sub-outcome (reversed and not applicable included), every branch of the combining rule,
the robustness count (not-applicable and exploratory rows left out), the plain-words answer and
the findings recorded for metrics.json."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest

from dropout_study.chapters.findings import INCONCLUSIVE as UNDECIDED
from dropout_study.chapters.findings import NO, REVERSED, YES, check_record
from dropout_study.chapters.noisy_loss import alternatives, evidence
from dropout_study.chapters.noisy_loss.answer import turns_on
from dropout_study.chapters.noisy_loss.verdict import (
    PARTLY_CAUSE,
    all_findings,
    because_outcome,
    combine,
    decide,
    parts,
    robustness,
)
from dropout_study.chapters.verdicts import (
    FIXED_BY_RULE,
    INCONCLUSIVE,
    NOT_SUPPORTED,
    PARTLY,
    SUPPORTED,
)

S = 8
# per-seed values whose t interval is tight around a chosen centre
UP = [0.6, 0.7, 0.8, 0.6, 0.7, 0.8, 0.6, 0.7]  # ρ: a trend (yes)
FLAT = [-0.1, 0.1, 0.0, 0.05, -0.05, 0.1, -0.1, 0.0]  # ρ: no trend
WIDE = [-0.8, 0.9, 0.5, -0.6, 0.8, -0.4, 0.9, 0.2]  # ρ: undecided
DOWN = [-v for v in UP]  # ρ: reversed


def ratios(centre: float, spread: float = 0.03) -> list[float]:
    """Eight per-seed ratios around ``centre`` (geometric), tight enough to decide."""
    return list(centre * np.exp(spread * np.array([-1, 1, -0.5, 0.5, 0, 0.2, -0.2, 0])))


SLOW = ratios(2.0)  # yes at margin 1.2
SAME = ratios(1.0, 0.01)  # no: inside ×/÷ 1.2 and ×/÷ 1.1
FAST = ratios(0.5)  # reversed
UNSURE = list(np.exp([-1.0, 1.5, 0.2, 1.1, -0.4, 1.3, 0.1, 0.9]))  # undecided


def rec(values) -> dict:
    return {
        "values": list(values),
        "ties": [False] * len(values),
        "censored_arm": 0,
        "censored_ref": 0,
        "n": len(values),
    }


def _clock(slower, budget=600, median=50.0) -> dict:
    return {
        "budget": budget,
        "p0_median": median,
        "median": [median, 60.0, 70.0, 2 * median],
        "targets": [0.3] * S,
        "n_reference": S,
        "slower": rec(slower),
        "by_rate": {"0.3": rec(slower), "0.5": rec(slower)},
        "trend": UP,
    }


KEYS = ("primary", "fraction 0.5", "fraction 0.8", "offset 0.02", "budget halved", "coarse")


def _near(values, i: int) -> list[float]:
    """``values`` nudged by a factor 1 + i/100: an alternative measures other numbers (a row
    repeating the primary's numbers is no new evidence), with the same outcome."""
    return [v * (1 + i / 100) for v in values]


def _ds(spread, slower, median=50.0) -> dict:
    return {
        "n_train": 300,
        "noise": {
            "spread0": spread,
            "spread_avg": _near(spread, 1),
            "spread0_end": _near(spread, 2),
            "spread0_patience2": _near(spread, 3),
            "variance_init": [1.0] * S,
            "variance_last": _near(spread, 4),
            "snr_last": [-v for v in spread],
        },
        "levels": {"best": UP, "final": FLAT},
        "clock": {
            k: _clock(_near(slower, i), 300 if k == "budget halved" else 600, median)
            for i, k in enumerate(KEYS)
        },
        "clock_best_lr": {
            "slower": rec(_near(slower, 7)),
            "budget": 600,
            "p0_median": median,
            "lr_p0": 1.0,
            "lr_arm": 1.0,
        },
    }


def metrics(
    spread=UP,
    slower=SLOW,
    noise=SAME,
    left=SLOW,
    *,
    spread_bc=None,
    slower_bc=None,
    median=50.0,
    ks=(1, 4, 16),
) -> dict:
    ctl = {"noise": rec(noise), "left": rec(left), "noise_2nd": rec(noise), "left_2nd": rec(left)}
    variants = {k: copy.deepcopy(ctl) for k in KEYS}
    variants["primary"]["extrapolated"] = list(noise)
    return {
        "datasets": ["moons", "breast_cancer"],
        "control_datasets": ["moons"],
        "dropout_rates": [0.0, 0.1, 0.3, 0.5],
        "control_rate": 0.5,
        "control_ks": list(ks),
        "checkpoints": [0, 10, 300],
        "max_steps": 600,
        "n_seeds": S,
        "target_fraction": 0.9,
        "lr_grid": [0.1, 1.0],
        "by_dataset": {
            "moons": _ds(spread, slower, median),
            "breast_cancer": _ds(spread_bc or spread, slower_bc or slower),
        },
        "control": {"moons": {"variants": variants}},
    }


@pytest.mark.parametrize(
    ("spread", "spread_bc", "want"),
    [(UP, UP, YES), (UP, FLAT, NO), (UP, DOWN, NO), (UP, WIDE, UNDECIDED), (WIDE, WIDE, UNDECIDED)],
)
def test_noisier_per_data_set_then_combined(spread, spread_bc, want):
    assert parts(evidence.primary(metrics(spread, spread_bc=spread_bc)))["noisier"] == want


@pytest.mark.parametrize(
    ("slower", "slower_bc", "want", "outcome_bc"),
    [
        (SLOW, SLOW, YES, YES),
        (SLOW, SAME, NO, NO),  # a 1.0× ratio is no slowdown worth the name
        (SLOW, FAST, NO, REVERSED),  # reversed: dropout trained faster
        (SLOW, UNSURE, UNDECIDED, UNDECIDED),
    ],
)
def test_slower_is_a_ratio_finding_per_data_set(slower, slower_bc, want, outcome_bc):
    found = evidence.primary(metrics(slower=slower, slower_bc=slower_bc))
    assert found["slower"]["breast_cancer"].outcome == outcome_bc
    assert found["slower"]["moons"].scale == "log" and found["slower"]["moons"].margin == 1.2
    assert parts(found)["slower"] == want


def test_a_reversed_slowdown_is_named_in_the_sentence():
    v = decide(metrics(slower_bc=FAST))
    assert v.word == NOT_SUPPORTED
    assert "reversed on breast cancer: dropout trained faster" in v.sentence


@pytest.mark.parametrize(
    ("noise", "left", "want"),
    [
        (SLOW, SAME, YES),  # less noise removed the slowdown
        (SLOW, FAST, YES),  # ... and more: what is left reversed counts as no
        (SLOW, SLOW, PARTLY_CAUSE),  # it removed part of it
        (SAME, SLOW, NO),  # less noise did not train faster
        (FAST, SLOW, NO),  # reversed: less noise trained slower
        (UNSURE, SLOW, UNDECIDED),
        (SLOW, UNSURE, UNDECIDED),
    ],
)
def test_because_noisier_reaches_yes_partly_no_and_inconclusive(noise, left, want):
    found = evidence.primary(metrics(noise=noise, left=left))
    assert because_outcome(found["noise"], found["left"]) == want


@pytest.mark.parametrize(
    ("n", "s", "b", "word"),
    [
        (YES, YES, YES, SUPPORTED),
        (YES, YES, PARTLY_CAUSE, PARTLY),
        (YES, YES, NO, PARTLY),
        (YES, YES, UNDECIDED, PARTLY),
        (NO, YES, YES, NOT_SUPPORTED),
        (YES, NO, UNDECIDED, NOT_SUPPORTED),
        (UNDECIDED, YES, YES, INCONCLUSIVE),
        (YES, UNDECIDED, NO, INCONCLUSIVE),
    ],
)
def test_combining_rule(n, s, b, word):
    assert combine(n, s, b) == word


def test_decide_end_to_end():
    assert decide(metrics(noise=SLOW, left=SAME)).word == SUPPORTED
    assert decide(metrics()).word == PARTLY  # because noisier: no
    assert decide(metrics(spread=FLAT)).word == NOT_SUPPORTED
    assert decide(metrics(slower=UNSURE)).word == INCONCLUSIVE


def test_a_budget_below_ten_times_the_p0_time_makes_slower_not_applicable():
    m = metrics(median=70.0)  # 600 < 10 × 70 on moons
    f = evidence.primary(m)["slower"]["moons"]
    assert not f.applicable and "below 10 × the median p = 0 time" in f.reason
    assert f.outcome == YES and f.counted == UNDECIDED  # the interval decides; the rule ignores
    assert decide(m).word == INCONCLUSIVE


def test_too_few_seeds_with_a_reference_is_not_applicable():
    m = metrics()
    m["by_dataset"]["moons"]["clock"]["primary"]["slower"] = rec([2.0])
    f = evidence.primary(m)["slower"]["moons"]
    assert not f.applicable and "1 seed(s) with a reference" in f.reason


def test_a_row_tied_in_half_the_seeds_is_not_applicable():
    m = metrics()
    tied = rec([1.0] * 4 + SLOW[:4])
    tied["ties"] = [True] * 4 + [False] * 4
    m["by_dataset"]["moons"]["clock"]["fraction 0.5"]["slower"] = tied
    rob = robustness(m)
    row = next(a for a in rob.alternatives if a.choice.startswith("target: 50 %"))
    assert not row.applicable and "tied in 4 of 8 seeds" in row.reason


def test_robustness_leaves_out_algebra_and_exploratory_rows():
    rob = robustness(metrics())
    init = next(a for a in rob.alternatives if "initialisation" in a.choice)
    assert not init.applicable and "fixed by algebra" in init.reason
    ext = next(a for a in rob.alternatives if "K → ∞" in a.choice)
    assert ext.exploratory and not ext.counted
    assert rob.not_applicable >= 1 and rob.exploratory == 1
    assert rob.n == len([a for a in rob.alternatives if a.applicable and not a.exploratory])
    assert rob.agree + rob.flips + rob.to_inconclusive == rob.n
    # the rows the study asks for are there
    choices = " | ".join(a.choice for a in rob.alternatives)
    for needed in (
        "50 %",
        "80 %",
        "absolute target per seed",
        "budget halved",
        "each p at the learning rate of {0.1, 1} with the lowest early-stopped loss (moons: "
        "p = 0 at 1, p = 0.5 at 1",
        "ρ(p, restricted time)",
        "margin of slower: √1.2",
        "margin of slower: 1.2²",
        "K = 4 instead of 16",
    ):
        assert needed in choices, needed


def test_with_an_inconclusive_primary_inconclusive_rows_do_not_agree():
    rob = robustness(metrics(slower=UNSURE))
    assert rob.primary == INCONCLUSIVE and rob.agree == 0
    assert rob.also_inconclusive + len(rob.decided) == rob.n
    assert "also inconclusive" in rob.summary()


def test_a_margin_row_changes_only_the_margin():
    m = metrics(slower=ratios(1.3))  # yes at 1.2, undecided or no at 1.44
    rob = robustness(m)
    row = next(a for a in rob.alternatives if a.choice == "margin of slower: 1.2²")
    assert row.word != decide(m).word


def test_findings_are_unique_and_each_redecided_from_its_interval():
    found = all_findings(metrics())
    names = [f.name for f in found]
    assert len(names) == len(set(names))
    for f in found:
        check_record(f.as_dict())  # raises if the outcome does not follow from the interval
    roles = {f.role for f in found}
    assert roles == {"primary", "alternative", "exploratory"}
    assert sum(f.role == "primary" for f in found) == 6


@pytest.mark.parametrize(
    "case",
    [
        {},
        {"slower_bc": UNSURE},
        {"slower": UNSURE},
        {"slower": SAME},
        {"slower_bc": FAST},
        {"spread": WIDE, "slower": FAST},
        {"spread": FLAT},
        {"noise": SLOW, "left": SAME},
        {"noise": SLOW, "left": SLOW},
        {"noise": UNSURE},
    ],
)
def test_the_answer_is_plain_and_carries_at_most_three_numbers(case):
    v = decide(metrics(**case))
    numbers = re.findall(r"\d+(?:\.\d+)?", v.answer)
    assert 1 <= len(numbers) <= 3, v.answer
    assert "[" not in v.answer and "ρ" not in v.answer


def test_missing_metrics_are_named():
    m = metrics()
    del m["control"]
    with pytest.raises(ValueError, match="got no 'control'"):
        decide(m)


def _row(rob, start):
    return next(a for a in rob.alternatives if a.choice.startswith(start))


def test_every_row_that_changes_the_budget_obeys_the_ten_times_rule():
    # p = 0 median 50 steps: the full budget 600 passes, the halved budget 300 < 500 does not
    rob = robustness(metrics())
    half = _row(rob, "budget halved")
    assert not half.applicable and "below 10 × the median p = 0 time" in half.reason
    assert _row(rob, "target: 50 %").applicable
    # the best-rate row is checked against its own p = 0 median
    m = metrics()
    m["by_dataset"]["moons"]["clock_best_lr"]["p0_median"] = 61.0
    assert not _row(robustness(m), "each p at the learning rate").applicable
    assert _row(robustness(metrics()), "each p at the learning rate").applicable


def test_a_data_set_alone_does_not_borrow_the_other_data_sets_control():
    rob = robustness(metrics(noise=SLOW, left=SAME))  # supported: the control on moons says yes
    assert rob.primary == SUPPORTED
    assert _row(rob, "data set: moons alone").word == SUPPORTED
    bc = _row(rob, "data set: breast cancer alone")
    assert bc.word == PARTLY  # "because noisier" was not measured there...
    assert "the control was not run on breast cancer in this run" in bc.detail
    # ...which is less evidence, not new evidence: its other findings are the primary's, so
    # the row is shown and not counted (its "flip" would come from a measurement not made)
    assert not bc.applicable and "no new evidence" in bc.reason


def test_the_page_names_the_clocks_that_time_only_the_first_steps():
    from dropout_study.chapters.noisy_loss.page import FIRST_STEPS, first_steps_text

    m = metrics()
    clocks = m["by_dataset"]["moons"]["clock"]
    j0 = [float(r) for r in m["dropout_rates"]].index(0.0)
    n, p = m["n_seeds"], len(m["dropout_rates"])
    for d in m["datasets"]:  # every p = 0 run long enough
        for rec in m["by_dataset"][d]["clock"].values():
            rec["times"] = [[50.0] * p for _ in range(n)]
    assert "no seed's $p = 0$ run is that short" in first_steps_text(m)
    clocks["fraction 0.5"]["p0_median"] = 30.0
    clocks["fraction 0.5"]["times"][0][j0] = 1.2  # one seed meets its target at once
    text = first_steps_text(m)
    assert f"under {FIRST_STEPS} steps" in text
    assert "target: 50 % of the p = 0 improvement on moons (median 30.0 steps; 1 of 8" in text
    assert "breast cancer" not in text.split("Clocks with such seeds in this run:")[1]
    # shown, not set aside: the row is still decided as the rules say
    assert _row(robustness(m), "target: 50 %").applicable


def test_a_row_moving_only_a_finding_the_rule_does_not_read_is_fixed_by_the_rule():
    # noise speeds it up undecided: "because noisier" is undecided whatever "what is left"
    # says, so the rows moving only "what is left" (its margins) cannot change the word
    rob = robustness(metrics(noise=UNSURE, left=SLOW))
    assert rob.primary == PARTLY
    for choice in ("margin of what is left: √1.2", "margin of what is left: 1.2²"):
        row = _row(rob, choice)
        assert not row.applicable and row.reason == FIXED_BY_RULE, choice
    # a margin on "noise speeds it up" can decide it (yes with what is left yes → partly;
    # no → not because of the noise → partly): fixed too, as long as what is left is yes
    assert _row(rob, "margin of noise speeds it up: √1.1").reason == FIXED_BY_RULE
    # the rows moving "slower" can flip the word: counted
    assert _row(rob, "target: 50 %").counted and _row(rob, "margin of slower: 1.2²").counted


def test_a_margin_row_is_fixed_only_where_the_margin_cannot_move_the_outcome():
    # supported: noise speeds it up yes, what is left no
    rob = robustness(metrics(noise=SLOW, left=SAME))
    assert rob.primary == SUPPORTED
    # a narrower margin keeps a "yes" a "yes"; a wider one may undo it → supported no more
    assert _row(rob, "margin of noise speeds it up: √1.1").reason == FIXED_BY_RULE
    assert _row(rob, "margin of noise speeds it up: 1.1²").counted
    # a wider margin keeps a "no" a "no"; a narrower one may turn it into "yes" → partly
    assert _row(rob, "margin of what is left: 1.2²").reason == FIXED_BY_RULE
    assert _row(rob, "margin of what is left: √1.2").counted
    # slower yes on both data sets: √1.2 keeps it, 1.2² may not
    assert _row(rob, "margin of slower: √1.2").reason == FIXED_BY_RULE
    assert _row(rob, "margin of slower: 1.2²").counted
    assert rob.not_applicable == sum(not a.applicable for a in rob.alternatives)
    assert rob.n == sum(a.counted for a in rob.alternatives)


def test_a_row_repeating_the_primarys_numbers_is_no_new_evidence():
    m = metrics()
    rob = robustness(m)
    # moons holds the control: "moons alone" is the primary's own findings, fewer of them
    assert _row(rob, "data set: moons alone").reason == (
        "same numbers as the primary: no new evidence"
    )
    # the best-rate row measured exactly the primary's time ratios: no new evidence either
    for d in m["datasets"]:
        m["by_dataset"][d]["clock_best_lr"]["slower"] = rec(SLOW)
    row = _row(robustness(m), "each p at the learning rate")
    assert not row.applicable and "no new evidence" in row.reason


def test_leave_one_out_names_the_seed_an_outcome_turns_on():
    one_off = [2.0] * 7 + [0.05]  # seven slow seeds and one far the other way
    m = metrics(slower=one_off)
    f = evidence.primary(m)["slower"]["moons"]
    assert f.outcome == UNDECIDED
    (entry,) = [e for e in evidence.leave_one_out(m) if e["finding"].name == f.name]
    ((seed, g),) = entry["changed"]
    assert seed == 7 and g.outcome == YES and g.n == 7
    assert turns_on(entry) == "the outcome turns on one seed: without seed 7 it reads shown"
    assert "without seed 7 it reads shown" in decide(m).sentence
    # a seed without a reference is skipped in the numbering
    m["by_dataset"]["moons"]["clock"]["primary"]["targets"][3] = float("nan")
    m["by_dataset"]["moons"]["clock"]["primary"]["slower"] = rec(one_off[1:])
    (entry,) = [e for e in evidence.leave_one_out(m) if e["finding"].name == f.name]
    assert [s for s, _ in entry["changed"]] == [7]
    # tight findings turn on no seed
    assert all(not e["changed"] for e in evidence.leave_one_out(metrics()))


def test_the_answer_describes_the_clock_and_where_the_control_ran():
    v = decide(metrics(slower_bc=UNSURE))
    assert "nine tenths of the way from the starting loss to the best loss" in v.answer
    assert "On moons, averaging many masks" in v.answer
    assert "not run on breast cancer" in v.answer
    assert "more so" not in v.answer
    # the smallest gap of medians in steps (50 → 100 on both: 50 steps more)
    assert "about 50 steps more" in v.answer
    # the ratio is a geometric mean of per-seed ratios, the steps are medians: both named
    assert "(geometric mean of the per-seed ratios; medians 50.0 → 100.0 steps" in v.sentence


def test_reestimates_count_only_rows_that_touch_the_finding():
    rows = {e["finding"].name.split(":")[0]: e for e in alternatives.reestimates(metrics())}
    slow = [c for c, _ in rows["slower (moons)"]["counted"]]
    assert slow and not any(c.startswith("noise:") or "noise speeds" in c for c in slow)
    assert rows["slower (moons)"]["not_applicable"] >= 1  # the halved budget
    noisier = [c for c, _ in rows["noisier (moons)"]["counted"]]
    assert noisier and all(c.startswith("noise:") for c in noisier)


def test_reestimates_leave_out_the_rows_the_robustness_table_does_not_count():
    m = metrics(noise=UNSURE, left=SLOW)
    uncounted = {a.choice for a in robustness(m).alternatives if not a.applicable}
    assert "margin of what is left: √1.2" in uncounted  # fixed by the rule
    plain_ = {e["finding"].name.split(":")[0]: e for e in alternatives.reestimates(m)}
    honest = {e["finding"].name.split(":")[0]: e for e in alternatives.reestimates(m, uncounted)}
    left = "what is left (moons)"
    assert any(c.startswith("margin of what is left") for c, _ in plain_[left]["counted"])
    assert not any(c.startswith("margin of what is left") for c, _ in honest[left]["counted"])
    gone = len(plain_[left]["counted"]) - len(honest[left]["counted"])
    assert honest[left]["not_applicable"] == plain_[left]["not_applicable"] + gone


def test_a_clock_whose_median_p0_time_is_under_first_steps_is_not_applicable():
    from dropout_study.chapters.noisy_loss.evidence import FIRST_STEPS, record_budget_reason

    # the boundary: a median of 5 steps is a run (STUDY.md: "a run of 5–7 steps" is timed)
    assert record_budget_reason({"p0_median": FIRST_STEPS, "budget": 600}) is None
    why = record_budget_reason({"p0_median": 1.2, "budget": 600})
    assert why is not None and "1.2 steps, is under 5" in why and "first drop" in why
    # the 10× budget rule still holds above it
    assert "below 10 ×" in record_budget_reason({"p0_median": 70.0, "budget": 600})
    m = metrics()
    for d in m["datasets"]:  # the 50 % target met within the first step or two on both
        m["by_dataset"][d]["clock"]["fraction 0.5"]["p0_median"] = 1.2
    row = _row(robustness(m), "target: 50 %")
    assert not row.applicable and "first drop of the loss" in row.reason
    assert row.not_counted == "not applicable"
    # the primary clock is untouched by the alternative's short median
    assert decide(m).word == decide(metrics()).word


def test_a_control_run_on_a_second_data_set_is_in_the_sentence_not_in_the_rule():
    one = decide(metrics(noise=SLOW, left=SAME))
    assert "(control on moons only)" in one.sentence and "not part of the rule" not in one.sentence
    m = metrics(noise=SLOW, left=SAME)  # moons: the noise explains the slowdown
    m["control_datasets"] = ["moons", "breast_cancer"]
    bc = copy.deepcopy(m["control"]["moons"])
    for v in bc["variants"].values():  # breast cancer: less noise saved nothing
        v["noise"], v["left"] = rec(SAME), rec(SLOW)
    m["control"]["breast_cancer"] = bc
    v = decide(m)
    assert v.word == one.word  # the rule decides on the first control data set
    assert "(decided on moons)" in v.sentence
    assert "; on breast cancer, not part of the rule: no (not because of the noise)" in v.sentence


def test_the_power_text_says_whether_the_full_profile_has_the_seeds_it_asks_for():
    from dropout_study.chapters.noisy_loss.page import power_text

    m = metrics(slower_bc=UNSURE)
    need = {r["finding"].name.split(":")[0]: r["n80"] for r in evidence.power_rows(m)}
    short = {k: v for k, v in need.items() if v is not None and v > m["n_seeds"]}
    assert short, need  # the wide breast-cancer slowdown is underpowered at S seeds
    most = max(short.values())
    assert "as many as this estimate asks for" in power_text(m, most)
    text = power_text(m, most - 1)
    assert "fewer than this estimate asks for" in text
    assert [k for k, v in short.items() if v == most][0] in text.split("asks for")[1]


def test_the_sentence_quotes_each_estimate_as_the_tables_write_it():
    from dropout_study.chapters.noisy_loss import fixed
    from dropout_study.chapters.wording import interval_text

    m = metrics()
    found = evidence.primary(m)
    peers = list(fixed.flat(found).values())
    s = decide(m).sentence
    for f in [*found["slower"].values(), found["noise"], found["left"]]:
        assert f"{interval_text(f, peers).partition(' [')[0]} " in s, f.name
    for f in found["noisier"].values():
        assert f"{interval_text(f, peers).partition(' [')[0]} on " in s, f.name
