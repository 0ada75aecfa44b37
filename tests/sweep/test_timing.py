"""timing: phases add up, nested calls count once, the breakdown adds up to the total."""

import json
import time
from datetime import UTC, datetime

import pytest

from dropout_study.sweep import timing


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(timing, "_phases", {})
    monkeypatch.setattr(timing, "_marks", {})
    monkeypatch.setattr(timing, "_depth", {})


def test_timed_adds_wall_time_and_counts_nested_calls_once():
    @timing.timed("sweeps")
    def work(depth):
        time.sleep(0.02)
        if depth:
            work(depth - 1)  # a sweep inside a sweep: its time is already counted
        return depth

    assert work(2) == 2
    assert 0.06 <= timing._phases["sweeps"] < 0.5


def test_timed_records_time_of_a_failing_call():
    @timing.timed("figures")
    def broken():
        time.sleep(0.01)
        raise RuntimeError("x")

    with pytest.raises(RuntimeError):
        broken()
    assert timing._phases["figures"] >= 0.01
    broken_again = timing.timed("figures")(lambda: 1)
    assert broken_again() == 1  # the nesting guard was reset


def _notebook(path, first_cell_start: float):
    stamp = datetime.fromtimestamp(first_cell_start, UTC).isoformat()
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ""},
        {"cell_type": "code", "metadata": {"papermill": {"start_time": stamp}}, "source": ""},
    ]
    path.write_text(json.dumps({"cells": cells}), encoding="utf-8")


def test_breakdown_from_kernel_side_file_and_notebook(tmp_path):
    started = time.time() - 10.0
    _notebook(tmp_path / "c.ipynb", started + 2.0)  # kernel start: 2 s
    timing._marks["start"] = started + 5.0  # imports: 3 s
    timing._phases.update(sweeps=1.5, figures=0.5)
    timing.save(tmp_path)
    b = timing.finish_run(tmp_path, tmp_path / "c.ipynb", started)
    assert b["kernel"] == pytest.approx(2.0, abs=1e-3)
    assert b["imports"] == pytest.approx(3.0, abs=1e-3)
    assert (b["sweeps"], b["figures"]) == (1.5, 0.5)
    assert b["total"] >= 10.0
    assert sum(b[p] for p in timing.PHASES) == pytest.approx(b["total"])
    assert timing.read(tmp_path) == b
    assert not (tmp_path / timing.FILE).exists()  # folded into run.json
    line = timing.summary(tmp_path)
    assert line.startswith(f"ran {b['total']:.1f} s: kernel 2.0 s · imports 3.0 s · sweeps 1.5 s")


def test_missing_files_give_an_empty_summary(tmp_path):
    assert timing.summary(tmp_path) == ""
    b = timing.finish_run(tmp_path, tmp_path / "missing.ipynb", time.time())
    assert b["kernel"] == b["imports"] == b["sweeps"] == 0.0
