"""Fault class "records published without checking": a confirmation is quoted only when it
matches the hash recorded in it (and the ``full`` profile's parameters), ``metrics.json`` only
when it matches the hash in its ``run.json``; an edited or damaged record is reported as such
in one line naming the file — the page says so instead of quoting it, ``readme`` refuses."""

from __future__ import annotations

import json
import shutil

import pytest
from fixtures.tinybook import make_project, use_fixtures
from helpers import ROOT, one_line

from dropout_study.book import confirm, pipeline
from dropout_study.book.params import resolve
from dropout_study.book.project import Project
from dropout_study.book.records import DamagedRecord, read_metrics
from dropout_study.cli import main as cli


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "root"
    use_fixtures(monkeypatch, root)
    return make_project(root, ("tiny",))


# ------------------------------------------------------------------------------------------
# confirmations
# ------------------------------------------------------------------------------------------
def _real_record(tmp_path, **edits):
    """This checkout's committed confirmation of l1-vs-l2, copied under ``tmp_path`` and
    edited; returns the copy's root and the full profile's parameters."""
    chapter = "l1-vs-l2"
    src = ROOT / "book" / "confirmations" / f"{chapter}.json"
    dest = tmp_path / "book" / "confirmations" / src.name
    dest.parent.mkdir(parents=True)
    rec = json.loads(src.read_text(encoding="utf-8"))
    for k, v in edits.items():
        if v is None:
            rec.pop(k)
        else:
            rec[k] = v
    dest.write_text(json.dumps(rec), encoding="utf-8")
    return tmp_path, resolve(Project().spec(chapter), "full", check=False)


def test_the_committed_records_are_sound(tmp_path):
    root, full = _real_record(tmp_path)
    found = confirm.read("l1-vs-l2", root, full)
    assert found.problem is None and found.record["n_seeds"] == 32


def test_an_edited_seed_count_is_damaged_and_never_quoted(tmp_path):
    # the reproducer: "n_seeds": 32 changed to 64 made the page claim a 64-seed run
    root, full = _real_record(tmp_path, n_seeds=64)
    word = confirm.load("l1-vs-l2", root)["word"]
    text = confirm.sentence("l1-vs-l2", "book", word, root, full_params=full)
    assert "damaged" in text and "book/confirmations/l1-vs-l2.json" in text
    assert "64" in text.split("(")[1] and "fresh seeds" not in text  # says why, quotes nothing
    assert confirm.status("l1-vs-l2", "x", root, full) == "damaged"


@pytest.mark.parametrize(
    "edits",
    [
        {"word": None},
        {"sentence": None},
        {"parameters_sha256": None},
        {"word": "maybe"},
        {"n_seeds": "32"},
        {"chapter": "linearity"},
        {"parameters_sha256": "0" * 64},
        {"seed": 1001},
        {"parameters": {"seed": 1000, "n_seeds": 64}},  # its own hash no longer matches
    ],
    ids=lambda e: ",".join(f"{k}={v}" for k, v in e.items()),
)
def test_a_record_missing_or_contradicting_a_field_is_damaged(tmp_path, edits):
    root, full = _real_record(tmp_path, **edits)
    found = confirm.read("l1-vs-l2", root, full)
    assert found.problem and found.record is None
    text = confirm.sentence("l1-vs-l2", "book", "supported", root, full_params=full)
    assert text.startswith("The confirmation record `book/confirmations/l1-vs-l2.json`")


def test_a_record_that_is_not_json_is_damaged(tmp_path):
    root, full = _real_record(tmp_path)
    confirm.path("l1-vs-l2", root).write_text("{not json")
    assert "damaged (it is not valid JSON)" in confirm.sentence(
        "l1-vs-l2", "book", "supported", root, full_params=full
    )


def _record_tiny(project, **edits):
    spec = project.spec("tiny")
    full = resolve(spec, "full", check=False)
    metrics = {
        "chapter": "tiny",
        "profile": "full",
        "verdict": {"word": "supported", "sentence": "The mean is positive."},
        "provenance": {"git": {"commit": "abc"}},
    }
    f = confirm.record(metrics, full, root=project.root)
    rec = json.loads(f.read_text())
    for k, v in edits.items():
        if v is None:
            rec.pop(k)
        else:
            rec[k] = v
    f.write_text(json.dumps(rec, indent=2))


@pytest.mark.parametrize(
    "edits, problem",
    [
        ({"word": None}, "it has no 'word'"),  # was KeyError: 'word' in cell 7
        ({"seed": 99}, "its 'seed' is 99"),
    ],
)
def test_the_page_names_a_damaged_confirmation_instead_of_failing(project, edits, problem):
    _record_tiny(project, **edits)
    spec = project.spec("tiny")
    record = pipeline.execute(spec, resolve(spec, "book"), project.dest("tiny"), profile="book")
    said = record["glued"]["confirmation"]
    assert "book/confirmations/tiny.json" in said and "is damaged" in said and problem in said
    nb = (project.dest("tiny") / "tiny.ipynb").read_text()
    assert "is damaged" in nb  # on the page


def test_build_and_list_report_a_damaged_confirmation_in_one_line(project, capsys, monkeypatch):
    _record_tiny(project, n_seeds=64)
    monkeypatch.setattr(pipeline, "jupyter_book_build", lambda p, log: None)
    lines = []
    pipeline.build(project, profile="smoke", html=False, log=lines.append)
    warned = [ln for ln in lines if "damaged" in ln]
    assert len(warned) == 1 and "book/confirmations/tiny.json" in warned[0]
    assert cli.main(["list", "-v"], project) == 0
    shown = [ln for ln in capsys.readouterr().out.splitlines() if "confirmation" in ln]
    assert len(shown) == 1 and "damaged" in shown[0] and "tiny.json" in shown[0]


# ------------------------------------------------------------------------------------------
# metrics.json and the README
# ------------------------------------------------------------------------------------------
@pytest.fixture
def built(project, monkeypatch):
    from dropout_study.book.generated_pages import README_END, README_START

    monkeypatch.setattr(pipeline, "jupyter_book_build", lambda p, log: None)
    pipeline.build(project, profile="book", html=False, log=lambda s: None)
    readme = project.root / "README.md"
    readme.write_text(f"x\n{README_START}\n{README_END}\n")
    return project, readme


def _edit_number(f):
    m = json.loads(f.read_text())
    m["verdict"]["sentence"] = m["verdict"]["sentence"].replace("draws", "draws (edited 0.999)")
    f.write_text(json.dumps(m, indent=2) + "\n")


def test_readme_refuses_an_edited_metrics_file_in_one_line(built, capsys):
    project, readme = built
    f = project.dest("tiny") / "metrics.json"
    _edit_number(f)
    before = readme.read_text()
    assert cli.main(["readme"], project) == 1
    err = one_line(capsys.readouterr().err)
    assert str(f) in err and "edited or damaged" in err
    assert readme.read_text() == before and "0.999" not in readme.read_text()


@pytest.mark.parametrize("damage", ["run.json deleted", "run.json without hashes", "truncated"])
def test_a_metrics_file_without_its_hash_is_refused_too(built, capsys, damage):
    project, _ = built
    dest = project.dest("tiny")
    if damage == "run.json deleted":
        (dest / "run.json").unlink()
    elif damage == "run.json without hashes":
        ctx = json.loads((dest / "run.json").read_text())
        del ctx["files"]
        (dest / "run.json").write_text(json.dumps(ctx))
    else:
        f = dest / "metrics.json"
        f.write_bytes(f.read_bytes()[:50])
    with pytest.raises(DamagedRecord, match="metrics.json"):
        read_metrics(dest)
    assert cli.main(["readme"], project) == 1
    assert "metrics.json" in one_line(capsys.readouterr().err)


def test_list_shows_an_edited_metrics_file_as_damaged(built, capsys):
    project, _ = built
    _edit_number(project.dest("tiny") / "metrics.json")
    assert cli.main(["list"], project) == 0
    assert "damaged metrics.json" in capsys.readouterr().out


def test_the_next_build_replaces_an_edited_metrics_file(built):
    project, _ = built
    f = project.dest("tiny") / "metrics.json"
    _edit_number(f)
    results = pipeline.build(project, profile="book", html=False, log=lambda s: None)
    assert results[0].executed and "0.999" not in f.read_text()
    assert read_metrics(project.dest("tiny"))["verdict"] == results[0].metrics["verdict"]
    shutil.rmtree(project.dest("tiny"))


def test_a_record_of_other_full_parameters_is_outdated_not_damaged(tmp_path):
    """A sound record (its hash is that of its own parameters) whose parameters are no
    longer the `full` profile's: not quoted, not called damaged, and the page says why."""
    root, full = _real_record(tmp_path)
    changed = {**full, "n_seeds": full["n_seeds"] + 1}
    found = confirm.read("l1-vs-l2", root, changed)
    assert found.problem is None and found.record is None and found.other_parameters
    assert confirm.status("l1-vs-l2", "x", root, changed) == "other parameters"
    text = confirm.sentence("l1-vs-l2", "book", "supported", root, full_params=changed)
    assert "damaged" not in text and "other `full` parameters" in text
    assert "fresh seeds" not in text  # quotes nothing of the old run
