"""The verdict of chapter 3 (verdicts.noisy_loss), branch by branch on synthetic metrics."""

import math

import pytest

from dropout_study.verdicts import NOT_SUPPORTED, PARTLY, SUPPORTED, Verdict
from dropout_study.verdicts.noisy_loss import decide as noisy_loss


def metrics(spread=(0.9, 0.8, 1.0), steps=(0.7, 0.4, 0.9), **extra):
    m = {
        "rho_spread": spread[0],
        "rho_spread_low": spread[1],
        "rho_spread_high": spread[2],
        "rho_steps": steps[0],
        "rho_steps_low": steps[1],
        "rho_steps_high": steps[2],
        "n_seeds": 8,
        "target_loss": 0.25,
        "steps_censored_total": 3,
        "n_runs": 40,
    }
    m.update(extra)
    return m


def test_both_intervals_above_zero_is_supported():
    v = noisy_loss(metrics())
    assert isinstance(v, Verdict)
    assert v.word == SUPPORTED
    assert "rises with p (Spearman ρ = 0.90, 95 % CI [0.80, 1.00])" in v.sentence
    assert "rises with p (Spearman ρ = 0.70, 95 % CI [0.40, 0.90])" in v.sentence
    assert "8 paired seeds" in v.sentence and "3 of 40 runs never reached" in v.sentence
    assert "0.25 nats" in v.sentence
    assert "noisier" in v.claim


def test_only_the_spread_is_partly_supported():
    v = noisy_loss(metrics(steps=(0.1, -0.2, 0.4)))
    assert v.word == PARTLY
    assert (
        "number of SGD steps to a validation loss of 0.25 nats shows no clear trend in p"
        in v.sentence
    )


def test_only_the_steps_is_partly_supported():
    v = noisy_loss(metrics(spread=(0.2, -0.1, 0.5)))
    assert v.word == PARTLY
    assert "spread across masks shows no clear trend in p" in v.sentence


def test_neither_is_not_supported_and_a_falling_trend_is_named():
    v = noisy_loss(metrics(spread=(0.1, -0.3, 0.4), steps=(-0.6, -0.9, -0.2)))
    assert v.word == NOT_SUPPORTED
    assert "falls with p (Spearman ρ = -0.60, 95 % CI [-0.90, -0.20])" in v.sentence


def test_interval_touching_zero_is_not_above_zero():
    assert noisy_loss(metrics(spread=(0.5, 0.0, 0.9))).word == PARTLY


def test_nan_interval_is_not_supported():
    nan = math.nan
    v = noisy_loss(metrics(spread=(nan, nan, nan), steps=(nan, nan, nan)))
    assert v.word == NOT_SUPPORTED


def test_missing_metric_is_named():
    m = metrics()
    del m["rho_steps_low"]
    with pytest.raises(
        ValueError, match="'metrics' parameter of noisy_loss must hold .*'rho_steps_low'"
    ):
        noisy_loss(m)
