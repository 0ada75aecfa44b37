"""The time ``dropout-study run`` announces: scaled from what a run of the same code and engine
took (kept after every run, and with a ``full`` run's confirmation), rough only without one."""

from __future__ import annotations

import json

import pytest
from fixtures.tinybook import make_project, use_fixtures

from dropout_study.book import confirm, estimates
from dropout_study.book.params import resolve
from dropout_study.book.pipeline import execute
from dropout_study.cli import main as cli


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "root"
    use_fixtures(monkeypatch, root)
    return make_project(root, ("tiny",))


def _run(spec, params, seconds, fixed=2.0, **changes) -> dict:
    """A measured run of ``params`` as :func:`estimates.measure` records it."""
    return {
        "chapter": spec.id,
        "profile": "smoke",
        "work": estimates.estimate(spec.id, params, spec.experiment).work,
        "seconds": seconds,
        "fixed": fixed,
        **estimates.engine(spec),
        "cells": {"before": 0, "written": 12},
        "at_once": 1,
        "finished_at": "2026-12-07T10:00:00+00:00",
        **changes,
    }


def test_the_estimate_follows_the_recorded_time(project):
    """The same work takes the recorded time; twice the work, the fixed part plus twice the
    rest; another recorded time moves the estimate with it; the text says what it is based
    on."""
    spec = project.spec("tiny")
    small = resolve(spec, "smoke")  # rates [0.0, 0.5]
    big = resolve(spec, "smoke", {"rates": [0.0, 0.25, 0.5, 0.75]})
    assert estimates.estimate("tiny", big, spec.experiment).work == pytest.approx(
        2 * estimates.estimate("tiny", small, spec.experiment).work
    )
    for seconds in (30.0, 300.0):
        (project.root / ".cache" / "timings" / "tiny.json").unlink(missing_ok=True)
        estimates.remember(_run(spec, small, seconds), project.root)
        same = estimates.for_run(spec, small, project.root)
        assert same.seconds == pytest.approx(seconds)
        assert "(from a measured run)" in same.text()
        assert same.based_on().startswith("measured: the run of tiny at the smoke profile")
        assert same.based_on().endswith("of the same work")
        double = estimates.for_run(spec, big, project.root)
        assert double.seconds == pytest.approx(2.0 + 2 * (seconds - 2.0))
        assert "scaled ×2 by the work" in double.based_on()
    rough = estimates.estimate("tiny", small, spec.experiment)
    assert rough.basis is None and "(rough)" in rough.text()
    assert rough.seconds == pytest.approx(
        estimates.FIXED_SECONDS + rough.work / estimates.MACS_PER_SECOND
    )


def test_the_closest_measured_work_is_used_and_the_newest_of_equals(project):
    spec = project.spec("tiny")
    small = resolve(spec, "smoke")
    big = resolve(spec, "smoke", {"rates": [0.0, 0.25, 0.5, 0.75]})
    estimates.remember(_run(spec, small, 10.0), project.root)
    estimates.remember(_run(spec, big, 50.0), project.root)
    assert estimates.for_run(spec, big, project.root).seconds == pytest.approx(50.0)
    assert estimates.for_run(spec, small, project.root).seconds == pytest.approx(10.0)
    later = _run(spec, small, 14.0, finished_at="2026-12-08T10:00:00+00:00")
    estimates.remember(later, project.root)
    assert estimates.for_run(spec, small, project.root).seconds == pytest.approx(14.0)


@pytest.mark.parametrize(
    "changes",
    [
        {"code": "0" * 64},  # other science code (the numpy core, the chapter)
        {"sweep": "0" * 64},  # other sweep machinery (how cells are stacked)
        {"stack": False},  # stacking was off
        {"scheduler": True},  # the cells ran on a Dask cluster
        {"cells": {"before": 30, "written": 2}},  # most cells may have come from the cache
        {"cells": {"before": 5, "written": 0}},  # every cell came from the cache
        {"work": "lots"},  # a damaged record
    ],
)
def test_a_run_of_other_code_or_engine_or_from_the_cache_is_not_used(project, changes):
    spec = project.spec("tiny")
    params = resolve(spec, "smoke")
    estimates.remember(_run(spec, params, 100.0, **changes), project.root)
    est = estimates.for_run(spec, params, project.root)
    assert est.basis is None and est.based_on().startswith("rough: ")
    assert "no run of tiny measured with this code and engine yet" in est.based_on()


def test_a_run_that_wrote_at_least_as_many_cells_as_were_kept_counts(project):
    spec = project.spec("tiny")
    params = resolve(spec, "smoke")
    estimates.remember(_run(spec, params, 70.0, cells={"before": 8, "written": 8}), project.root)
    assert estimates.for_run(spec, params, project.root).seconds == pytest.approx(70.0)


def test_a_run_records_its_time_and_the_next_run_is_estimated_from_it(project, tmp_path, capsys):
    """End to end: the first run's estimate is rough and says so; the run keeps its own
    time (the total of its run.json); the second run's estimate is that time."""
    argv = ["run", "tiny", "--profile", "smoke", "--out", str(tmp_path / "o")]
    assert cli.main(argv, project) == 0
    first = capsys.readouterr().out.splitlines()
    assert first[0].startswith("estimate for tiny: about") and first[0].count("(rough)") == 1
    assert first[1].startswith("  rough: ")
    kept = json.loads((project.root / ".cache" / "timings" / "tiny.json").read_text())
    took = json.loads((tmp_path / "o" / "run.json").read_text())["timing"]
    assert [r["seconds"] for r in kept] == [round(took["total"], 1)]
    assert kept[0]["profile"] == "smoke" and kept[0]["at_once"] == 1
    assert kept[0]["code"] == estimates.engine(project.spec("tiny"))["code"]
    assert cli.main(argv, project) == 0
    second = capsys.readouterr().out.splitlines()
    assert "(from a measured run)" in second[0]
    assert second[1].startswith("  measured: the run of tiny at the smoke profile on ")
    assert f"({kept[0]['seconds']:.0f} s)" in second[1]  # the first run's time


def test_a_full_run_keeps_its_time_with_its_confirmation(project, tmp_path):
    """The committed confirmation record carries the time of the run that made it, so a
    fresh clone (no kept runs) estimates the full profile from it."""
    spec = project.spec("tiny")
    full = resolve(spec, "full")
    execute(spec, full, tmp_path / "f", profile="full", confirm_root=project.root)
    rec = confirm.load("tiny", project.root)
    took = json.loads((tmp_path / "f" / "run.json").read_text())["timing"]
    assert rec["timing"]["seconds"] == round(took["total"], 1)
    assert confirm.read_for(spec, project.root).problem is None  # still a sound record
    (project.root / ".cache" / "timings" / "tiny.json").unlink()  # a fresh clone
    est = estimates.for_run(spec, full, project.root)
    assert est.seconds == pytest.approx(rec["timing"]["seconds"])
    assert "recorded with its confirmation" in est.based_on()


def test_the_cache_cells_are_counted_where_the_kernel_keeps_them(project, tmp_path, monkeypatch):
    from dropout_study import paths
    from dropout_study.codehash import science_hash

    spec = project.spec("tiny")
    monkeypatch.setenv("DROPOUT_STUDY_SWEEP_CACHE", "off")
    assert estimates.cache_cells(spec) is None
    monkeypatch.setenv("DROPOUT_STUDY_SWEEP_CACHE", str(tmp_path / "cache"))
    assert estimates.cache_cells(spec) == 0
    folder = tmp_path / "cache" / science_hash(spec.experiment, paths.PACKAGE)[:16] / "fn"
    folder.mkdir(parents=True)
    for i in range(3):
        (folder / f"{i}.pkl").write_bytes(b"x")
    (folder.parent.parent / "other" / "fn").mkdir(parents=True)
    (folder.parent.parent / "other" / "fn" / "z.pkl").write_bytes(b"x")  # other code's cell
    assert estimates.cache_cells(spec) == 3
