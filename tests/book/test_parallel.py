"""sidebyside.Ahead: chapters run at the same time in other processes; results and errors come
back per chapter."""

import functools
import multiprocessing
import os

import pytest

from dropout_study.book import parallel as sidebyside
from dropout_study.book.project import ChapterFailed


def _meet(barrier, name):
    barrier.wait()  # broken (an error) unless both jobs run at the same time
    return name, os.getpid()


def _value(v):
    return v


def _bad():
    raise ChapterFailed("Chapter 'b' failed in cell 3: ValueError: x")


def test_two_workers_run_two_chapters_at_the_same_time_in_other_processes():
    barrier = multiprocessing.get_context("fork").Manager().Barrier(2, timeout=20)
    jobs = [(n, functools.partial(_meet, barrier, n)) for n in ("a", "b")]
    ahead = sidebyside.Ahead(jobs, workers=2)
    (b, pid_b), (a, pid_a) = ahead.result("b"), ahead.result("a")
    assert (a, b) == ("a", "b") and os.getpid() not in (pid_a, pid_b)


def test_a_failing_chapter_raises_its_error_and_the_others_still_finish():
    jobs = [("a", functools.partial(_value, 1)), ("b", _bad), ("c", functools.partial(_value, 3))]
    ahead = sidebyside.Ahead(jobs, workers=2)
    assert "b" in ahead and "d" not in ahead
    assert ahead.result("a") == 1
    with pytest.raises(ChapterFailed, match="cell 3"):
        ahead.result("b")
    assert ahead.result("c") == 3


def test_one_worker_runs_each_chapter_only_when_asked():
    ran = []
    ahead = sidebyside.Ahead([("a", lambda: ran.append("a")), ("b", lambda: 2)], workers=1)
    assert ran == []
    ahead.result("a")
    assert ran == ["a"]


def test_workers_from_the_environment(monkeypatch):
    monkeypatch.setenv(sidebyside.ENV, "3")
    assert sidebyside.default_workers() == 3
    monkeypatch.setenv(sidebyside.ENV, "0")
    with pytest.raises(ValueError, match="DROPOUT_STUDY_CHAPTER_JOBS"):
        sidebyside.default_workers()
    monkeypatch.setenv(sidebyside.ENV, "two")
    with pytest.raises(ValueError, match="DROPOUT_STUDY_CHAPTER_JOBS"):
        sidebyside.default_workers()
