"""report.markdown: glues MyST markdown (a robustness table) and records it in metrics.json."""

import json

import pytest
from fixtures.tinybook import TINY, use_fixtures

from dropout_study import report
from dropout_study.chapters import load
from dropout_study.pipeline import write_context
from dropout_study.verdicts import PARTLY, SUPPORTED, Verdict, robustness


@pytest.fixture
def started(tmp_path, monkeypatch):
    use_fixtures(monkeypatch)
    monkeypatch.setattr(report, "_STATE", {})
    spec = load("tiny", TINY, chapters=("tiny",))
    run_dir = tmp_path / "s"
    run_dir.mkdir()
    write_context(run_dir, spec, spec.defaults(), profile="book", key=None)
    monkeypatch.chdir(run_dir)
    report.start("tiny", spec.defaults())
    return run_dir


def test_markdown_is_recorded_and_written_with_the_table(started):
    rob = robustness(SUPPORTED, [("a", SUPPORTED), ("b", PARTLY)])
    report.markdown("robustness_table", rob.markdown())
    report.finish(Verdict("c", SUPPORTED, "s."), {}, robustness=rob)
    record = json.loads((started / "metrics.json").read_text())
    assert record["glued"]["robustness_table"].startswith("```{list-table}")
    assert "1 of 2 alternatives agree" in record["glued"]["robustness_table"]
    assert record["robustness"]["agree"] == 1


def test_markdown_checks_its_arguments(started):
    with pytest.raises(TypeError, match="The 'value' parameter of report.markdown must be a str"):
        report.markdown("k", 1)
    with pytest.raises(ValueError, match="The 'key' parameter of report.markdown"):
        report.markdown("has space", "x")
