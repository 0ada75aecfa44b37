"""Fresh-seed confirmation records (dropout_study.confirm) and their sentences."""

from __future__ import annotations

from dropout_study import confirm


def _record(word="partly supported"):
    return {
        "chapter": "tiny",
        "profile": "full",
        "verdict": {"word": word, "sentence": "s."},
        "robustness": {"summary": "3 of 4 alternatives agree"},
        "provenance": {"git": {"commit": "abcdef1234567890"}},
    }


def test_record_and_sentences(tmp_path):
    assert confirm.load("tiny", tmp_path) is None
    s = confirm.sentence("tiny", "book", "supported", tmp_path)
    assert "No confirmatory run" in s and "--profile full" in s
    f = confirm.record(_record(), {"seed": 1000, "n_seeds": 32}, tmp_path)
    assert f == tmp_path / "book" / "confirmations" / "tiny.json"
    rec = confirm.load("tiny", tmp_path)
    assert rec["word"] == "partly supported" and rec["seed"] == 1000
    held = confirm.sentence("tiny", "book", "partly supported", tmp_path)
    assert "32 fresh seeds" in held and " held there" in held and "abcdef1234" in held
    assert "did not hold" in confirm.sentence("tiny", "book", "supported", tmp_path)
    assert "is the confirmatory run" in confirm.sentence("tiny", "full", "supported", tmp_path)
    # an undecided run neither holds nor fails to hold
    undecided = confirm.sentence("tiny", "book", "inconclusive", tmp_path)
    assert "did not hold" not in undecided and "could not decide" in undecided
    # a smoke run is not the study's verdict: it only reports the confirmatory one
    smoke = confirm.sentence("tiny", "smoke", "inconclusive", tmp_path)
    assert "`smoke` profile, not the study's" in smoke and "hold" not in smoke


def test_a_record_made_with_other_code_says_so(tmp_path):
    confirm.record(_record(), {"seed": 1000, "n_seeds": 32}, tmp_path, code="aaa")
    assert "other code" not in confirm.sentence("tiny", "book", "supported", tmp_path, code="aaa")
    stale = confirm.sentence("tiny", "book", "supported", tmp_path, code="bbb")
    assert "other code than this page" in stale and "--profile full" in stale


def test_a_corrupt_record_is_ignored(tmp_path):
    f = confirm.path("tiny", tmp_path)
    f.parent.mkdir(parents=True)
    f.write_text("{not json")
    assert confirm.load("tiny", tmp_path) is None
