"""The verdict rule of chapter 2 (cost-under-dropout), branch by branch on synthetic metrics:
the findings (evidence), the word, the plain answer, the robustness rows and the power."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from dropout_study.chapters.cost_under_dropout import evidence as ev
from dropout_study.chapters.cost_under_dropout.verdict import (
    cause_text,
    decide,
    power_of,
    robustness,
    times,
)
from dropout_study.chapters.findings import INCONCLUSIVE as F_INC
from dropout_study.chapters.findings import NO, REVERSED, YES
from dropout_study.chapters.verdicts import (
    FIXED_BY_RULE,
    INCONCLUSIVE,
    NOT_SUPPORTED,
    PARTLY,
    SUPPORTED,
)

S = 8
RATES = [0.0, 0.1, 0.5]
KS = [1, 4, 16, 64]


def _spread(center, half, n=S):
    """n per-seed values with mean ``center``, spread ±``half`` (a fixed pattern)."""
    return list(center + half * np.linspace(-1, 1, n))


def _metrics(rj=(0.20, 0.03), control=(1e-3,), **change) -> dict:
    """Synthetic metrics: R / J at the primary rate centred on rj[0] (spread rj[1]), with
    J(θ*_p) = 0.16 nats, so R = 0.16 · rj nats; the control's K = 64 summed rises a factor
    control[0] of K = 1's."""
    j = np.full((S, 3), 0.16)
    r = np.zeros((S, 3))
    r[:, 1] = 0.05 * 0.16
    r[:, 2] = np.asarray(_spread(*rj)) * 0.16
    rises1 = np.asarray(_spread(0.03, 0.01))
    rises = np.column_stack([rises1, rises1 / 3, rises1 / 20, rises1 * control[0]])
    per_window = {
        w: {
            "rises": rises.tolist(),
            "up_steps": np.column_stack([np.full(S, 150), [60] * S, [20] * S, [3] * S]).tolist(),
            "share_up": np.zeros((S, 4)).tolist(),
            "j_end": np.full((S, 4), 0.16).tolist(),
            "steps": [600] * S,
        }
        for w in ("best", "stop", "half")
    }
    m = {
        "n_seeds": S,
        "rates": RATES,
        "primary_rate": 0.5,
        "margin": 0.05,
        "abs_margin": 0.01,
        "control_margin": 2.0,
        "checkpoints": [0, 100],
        "p0_differences": 0,
        "eval_differences": 0,
        "r_own": [{"mean": float(r[:, i].mean())} for i in range(3)],
        "per_seed": {
            "r_own": r.tolist(),
            "j_star": j.tolist(),
            "price": (np.full((S, 3), 0.004) * [0, 1, 1]).tolist(),
            "r_theta0": np.column_stack([np.full(S, np.nan), [0.03] * S, [0.4] * S]).tolist(),
            "j_theta0": [0.15] * S,
            "along_r": np.column_stack([[0.1] * S, [0.02] * S]).tolist(),
            "along_j": np.column_stack([[0.69] * S, [0.2] * S]).tolist(),
            "alt_r": np.column_stack([[0.3] * S, [0.05] * S]).tolist(),
            "alt_j": np.column_stack([[0.2] * S, [0.16] * S]).tolist(),
        },
        "alt_settings": ["data set: circles", "hidden widths 16 × 16"],
        "control": {
            "ks": KS,
            "per_seed": per_window,
            "alt_datasets": ["breast cancer"],
            "alt_rises": [[[r, r / 10]] for r in rises1],
        },
    }
    m = copy.deepcopy(m)
    m.update(change)
    return m


# ---------------------------------------------------------------------------------------------
# the word
# ---------------------------------------------------------------------------------------------
def test_the_primary_is_r_in_nats_against_the_absolute_margin():
    # STUDY.md, chapter 2, rule (b): R at p = 0.5 at θ*_p, equivalence, δ = 0.01 nats
    f = ev.primary(_metrics())
    assert (f.kind, f.scale, f.margin, f.role) == ("equivalence", "linear", 0.01, "primary")
    assert f.margin_source.startswith("convention: ") and "0.01 nats" in f.margin_source
    assert f.estimate == pytest.approx(0.2 * 0.16)


def test_partly_when_r_is_outside_the_absolute_margin():
    v = decide(_metrics())
    assert v.word == PARTLY
    assert "R = 0.0320 [" in v.sentence and "outside ±0.01 nats" in v.sentence
    assert "20 % of J(θ*_p)" in v.sentence and "J + R" in v.sentence
    assert v.answer.startswith("Yes and no") and "here 0.032 nats" in v.answer


def test_supported_when_r_is_inside_the_margin():
    v = decide(_metrics(rj=(0.01, 0.01)))
    assert v.word == SUPPORTED
    assert "inside ±0.01 nats" in v.sentence


@pytest.mark.parametrize("rj", [(0.0625, 0.01), (0.05, 0.04), (-0.0625, 0.01)])
def test_inconclusive_when_the_interval_straddles_the_margin(rj):
    v = decide(_metrics(rj=rj))
    assert v.word == INCONCLUSIVE
    assert "cannot be decided" in v.sentence and "undecided" in v.answer


def test_reversed_side_is_outside_too():
    # a negative regulariser beyond −δ (dropout in earlier layers) changes the objective too
    assert decide(_metrics(rj=(-0.2, 0.02))).word == PARTLY


def test_a_primary_undefined_in_a_seed_is_not_applicable_and_inconclusive():
    m = _metrics()
    m["per_seed"]["r_own"][3][2] = float("nan")  # R undefined in one seed
    f = ev.primary(m)
    assert not f.applicable and "undefined in 1 of 8" in f.reason
    assert decide(m).word == INCONCLUSIVE


@pytest.mark.parametrize("key", ["p0_differences", "eval_differences"])
def test_not_supported_when_an_exact_check_finds_a_difference(key):
    # even with R inside the margin: the function itself changed
    v = decide(_metrics(rj=(0.0, 0.001), **{key: 1}))
    assert v.word == NOT_SUPPORTED
    assert "function itself changed" in v.sentence


def test_the_margin_is_read_from_the_metrics():
    m = _metrics(rj=(0.07, 0.01))  # R ≈ 0.0112 nats
    assert decide(m).word == PARTLY
    assert decide({**m, "abs_margin": 0.02}).word == SUPPORTED
    assert decide({**m, "margin": 0.5}).word == PARTLY  # the relative margin is robustness only


# ---------------------------------------------------------------------------------------------
# the control and the plain answer
# ---------------------------------------------------------------------------------------------
def test_control_yes_says_the_rises_are_the_noise():
    f = ev.control(_metrics())[0]
    assert (f.kind, f.direction, f.scale, f.margin) == ("effect", -1, "log", 2.0)
    assert f.outcome == YES
    m = _metrics()
    answer = decide(m).answer
    # quoted: the mean summed rises (0.03 and 3 × 10⁻⁵ nats), which the floor cannot move
    assert "are the mask noise" in answer and "from 0.03 to 3 × 10⁻⁵ nats" in answer
    assert "times smaller" not in answer
    full = cause_text(f, m["control"])
    assert "averaging 64 masks per step cut their total from 0.03 to 3 × 10⁻⁵ nats" in full
    assert "did not rise at all" not in full  # every seed rose a little at K = 64
    rises = np.asarray(m["control"]["per_seed"]["best"]["rises"])
    rises[:3, 3] = 0.0
    m["control"]["per_seed"]["best"]["rises"] = rises.tolist()
    f = ev.control(m)[0]
    assert f.applicable and f.outcome == YES  # 3 of 8 without rises: below half
    assert "J did not rise at all in 3 of 8 seeds" in cause_text(f, m["control"])


def test_a_ratio_set_by_the_floor_in_half_the_seeds_is_not_applicable():
    m = _metrics()
    half = np.asarray(m["control"]["per_seed"]["half"]["rises"])
    half[:4, 3] = 0.0  # no rise at K = 64 in 4 of 8 seeds of the first half
    m["control"]["per_seed"]["half"]["rises"] = half.tolist()
    found = {f.name: f for f in ev.control(m)}
    row = found["summed rises over the first half of the window"]
    assert not row.applicable
    assert row.reason == "no rises at K = 64 in 4 of 8 seeds: the ratio is the floor's"
    assert found["summed rises up to the stopping step"].applicable  # other windows untouched
    # the primary too, and then the cause is undecided
    best = np.asarray(m["control"]["per_seed"]["best"]["rises"])
    best[:, 3] = 0.0
    best[0, 0] = 0.0
    m["control"]["per_seed"]["best"]["rises"] = best.tolist()
    f = ev.control(m)[0]
    assert not f.applicable and f.reason.startswith("no rises at K = 64 or K = 1 in 8 of 8")
    assert "undecided" in cause_text(f, m["control"])
    # rising steps: zero counts are set by the ½ added
    steps = np.asarray(m["control"]["per_seed"]["best"]["up_steps"])
    steps[:5, 3] = 0
    m["control"]["per_seed"]["best"]["up_steps"] = steps.tolist()
    row = next(f for f in ev.control(m) if f.name.startswith("rising steps"))
    assert not row.applicable and "no rising steps at K = 64 in 5 of 8" in row.reason
    # a retrained data set
    m["control"]["alt_rises"] = [[[0.03, 0.0]] for _ in range(S)]
    row = next(f for f in ev.control(m) if "breast cancer" in f.name)
    assert not row.applicable and "8 of 8" in row.reason


@pytest.mark.parametrize(
    ("factor", "outcome", "words"),
    [(1.1, NO, "not why"), (3.0, REVERSED, "larger, so the mask noise is not why")],
)
def test_control_no_and_reversed_say_the_noise_is_not_why(factor, outcome, words):
    m = _metrics(control=(factor,))
    f = ev.control(m)[0]
    assert f.outcome == outcome
    assert words in cause_text(f, m["control"]) and words in decide(m).answer


def test_control_with_ties_is_not_applicable_and_undecided():
    m = _metrics()
    rises = np.asarray(m["control"]["per_seed"]["best"]["rises"])
    rises[:, 3] = rises[:, 0]  # K = 64 rose exactly as K = 1 in every seed
    m["control"]["per_seed"]["best"]["rises"] = rises.tolist()
    f = ev.control(m)[0]
    assert not f.applicable and "tied in 8 of 8" in f.reason
    assert "undecided" in cause_text(f, m["control"])


def test_control_inconclusive_says_undecided():
    m = _metrics(control=(0.1,))
    rises = np.asarray(m["control"]["per_seed"]["best"]["rises"])
    rises[::2, 3] = rises[::2, 0] * 2.0  # half the seeds the other way: a wide interval
    m["control"]["per_seed"]["best"]["rises"] = rises.tolist()
    f = ev.control(m)[0]
    assert f.outcome == F_INC
    assert "undecided" in cause_text(f, m["control"])


def test_control_alternatives_vary_the_margin_window_k_and_floor():
    names = [f.name for f in ev.control(_metrics())]
    assert names[0] == "summed rises of J, K = 64 ÷ K = 1"
    assert "summed rises, K = 16 ÷ K = 1" in names
    assert "summed rises, margin ×/÷ 1.414" in names and "summed rises, margin ×/÷ 4" in names
    assert any("stopping step" in n for n in names) and any("first half" in n for n in names)
    assert any("floor" in n for n in names)
    assert "summed rises on breast cancer (retrained)" in names
    roles = [f.role for f in ev.control(_metrics())]
    assert roles[0] == "primary" and roles[-1] == "exploratory"


def test_factors_read_in_plain_digits():
    assert times(1234.0) == "1200" and times(618.7) == "620" and times(35.2) == "35"
    assert times(2.44) == "2.4"


# ---------------------------------------------------------------------------------------------
# robustness and power
# ---------------------------------------------------------------------------------------------
def test_robustness_rows_and_counts():
    m = _metrics()
    m["per_seed"]["alt_r"] = np.column_stack([[0.3] * S, _spread(0.01, 0.005)]).tolist()
    rob = robustness(m)
    choices = [a.choice for a in rob.alternatives]
    assert rob.primary == PARTLY
    # p = 0.1 at θ*_p; θ*0 at 0.1 and 0.5; δ ×2 (δ ×½ cannot move R's "outside": not
    # counted); the relative margin and its double (its half cannot move the relative row's
    # "outside": not counted); the price under δ and δ ×½ (δ ×2 keeps the price's "inside":
    # forced, not counted) and under the relative margin and its half (its double likewise);
    # a data set and a width; two checkpoints
    assert rob.n == 1 + 2 + 1 + 2 + 2 + 2 + 2 + 2
    assert rob.not_applicable == 4
    forced = {a.choice: a for a in rob.alternatives}["the price J(θ*_p) − J(θ*₀), δ = 0.02 nats"]
    assert forced.word == SUPPORTED and forced.reason == FIXED_BY_RULE  # a flip, but forced
    assert "data set: circles (retrained at p = 0.5)" in choices
    assert "p = 0.1 at θ*_p (trained with dropout at p)" in choices
    assert (
        "absolute margin δ = 0.005 nats" in choices and "absolute margin δ = 0.02 nats" in choices
    )
    assert "relative margin: R ÷ J(θ*_p) against 5 %" in choices
    assert "relative margin: R ÷ J(θ*_p) against 2.5 %" in choices
    assert not any(c == "absolute margin δ = 0.01 nats" for c in choices)  # that is the primary
    words = {a.choice: a.word for a in rob.alternatives}
    # R = 0.008 nats at p = 0.1 is inside δ = 0.01 → a flip; so is the price 0.004 nats
    assert words["p = 0.1 at θ*_p (trained with dropout at p)"] == SUPPORTED
    assert words["the price J(θ*_p) − J(θ*₀), δ = 0.01 nats"] == SUPPORTED
    assert words["relative margin: R ÷ J(θ*_p) against 5 %"] == PARTLY
    # R straddles δ on the second retrained setting → inconclusive
    assert words["hidden widths 16 × 16 (retrained at p = 0.5)"] == INCONCLUSIVE
    assert rob.flips >= 1 and rob.to_inconclusive >= 1
    assert rob.agree + rob.flips + rob.to_inconclusive == rob.n


def _rows(rob) -> dict:
    return {a.choice: a for a in rob.alternatives}


def test_a_margin_only_row_that_cannot_change_the_word_is_fixed_by_the_rule():
    # R outside δ ("no"): a narrower δ keeps it outside, a wider one may bring it inside
    rows = _rows(robustness(_metrics()))
    narrow, wide = rows["absolute margin δ = 0.005 nats"], rows["absolute margin δ = 0.02 nats"]
    assert not narrow.applicable and narrow.reason == FIXED_BY_RULE
    assert wide.applicable and wide.word == PARTLY  # still counted: it could have flipped
    # R inside δ ("yes", supported): now the wider δ is the one that cannot move it
    rob = robustness(_metrics(rj=(0.01, 0.01)))
    rows = _rows(rob)
    assert rob.primary == SUPPORTED
    assert rows["absolute margin δ = 0.02 nats"].reason == FIXED_BY_RULE
    assert rows["absolute margin δ = 0.005 nats"].applicable
    # the relative margin is another quantity, not a margin-only change of R's: its own row
    # is counted; its double then only widens the margin of that row's interval, which keeps
    # its "inside" (fixed), while its half could move it (counted)
    assert rows["relative margin: R ÷ J(θ*_p) against 5 %"].applicable
    assert rows["relative margin: R ÷ J(θ*_p) against 10 %"].reason == FIXED_BY_RULE
    assert rows["relative margin: R ÷ J(θ*_p) against 2.5 %"].applicable


def test_a_wider_margin_that_decides_an_undecided_r_is_counted():
    # R straddles δ (inconclusive): both margins can decide it, so neither row is fixed
    rob = robustness(_metrics(rj=(0.0625, 0.01)))
    rows = _rows(rob)
    assert rob.primary == INCONCLUSIVE
    assert rows["absolute margin δ = 0.02 nats"].word == SUPPORTED
    assert rows["absolute margin δ = 0.02 nats"] in rob.decided
    assert rows["absolute margin δ = 0.005 nats"].applicable


def test_with_a_failed_exact_check_no_row_can_change_the_word():
    # the rule then ignores R, which is all a row moves: every row is fixed by the rule
    rob = robustness(_metrics(p0_differences=1))
    assert rob.primary == NOT_SUPPORTED and rob.n == 0
    assert all(a.reason == FIXED_BY_RULE for a in rob.alternatives)
    assert rob.not_applicable == len(rob.alternatives) > 0


def test_a_row_repeating_the_primarys_numbers_is_no_new_evidence():
    m = _metrics()
    i = m["rates"].index(m["primary_rate"])
    m["per_seed"]["alt_r"] = np.column_stack(
        [np.asarray(m["per_seed"]["r_own"])[:, i], [0.05] * S]
    ).tolist()  # the circles row measured exactly the primary's R
    row = _rows(robustness(m))["data set: circles (retrained at p = 0.5)"]
    assert not row.applicable
    assert row.reason == "same numbers as the primary: no new evidence"


def test_robustness_marks_a_row_undefined_in_a_seed_not_applicable():
    m = _metrics()
    m["per_seed"]["along_r"][0][1] = float("nan")  # a checkpoint one seed never reached
    rob = robustness(m)
    assert not any("step 100" in a.choice for a in rob.alternatives)  # dropped: not reached
    m = _metrics()
    m["per_seed"]["j_theta0"][2] = 0.0  # R ÷ J(θ*₀) undefined in one seed
    rob = robustness(m)
    na = [a for a in rob.alternatives if not a.applicable and a.reason != FIXED_BY_RULE]
    assert na and all("undefined" in a.reason for a in na)
    assert rob.not_applicable == len(na) + 3  # and δ ×½, the relative margin ×½, price δ ×2


def test_power_reports_half_width_margin_and_seeds_needed():
    pw = power_of(_metrics())
    assert pw["primary"]["margin"] == 0.01 and pw["primary"]["seeds_needed"] is None
    assert pw["control"]["margin"] == pytest.approx(np.log(2.0))
    undecided = power_of(_metrics(rj=(0.06, 0.03)))["primary"]
    assert undecided["finding"].outcome == F_INC and undecided["seeds_needed"] > S


def test_missing_metrics_raise():
    with pytest.raises(KeyError):
        decide({})
