"""The ``dropout-study`` command: list, run (valid and invalid input), build, readme."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.tinybook import make_project, package_copy, snapshot, use_fixtures

from dropout_study.book.source import chapter_ids
from dropout_study.chapters.verdicts import SYMBOLS
from dropout_study.cli import main as cli

CHAPTERS = chapter_ids()

EXE = Path(sys.executable).parent / "dropout-study"


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "root"
    use_fixtures(monkeypatch, root)
    return make_project(root, ("tiny",))


def test_list_prints_one_line_per_chapter_with_claim_and_last_verdict(project, capsys):
    assert cli.main(["list"], project) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["tiny  not built  The mean of normal draws centred at p is positive."]
    assert cli.main(["list", "-v"], project) == 0
    out = capsys.readouterr().out
    assert "tiny\n  claim: The mean of normal draws centred at p is positive." in out
    assert "  verdict: not built yet" in out
    assert "    rates (list[float])" in out
    assert "        book: [0.0, 0.5]   smoke: [0.0, 0.5]   full: [0.0, 0.25, 0.5, 0.75]" in out


def test_list_marks_chapters_without_a_source(tmp_path, monkeypatch, capsys):
    use_fixtures(monkeypatch)
    project = make_project(tmp_path, ("tiny",))
    project = type(project)(root=project.root, chapters=("tiny", "later"))
    assert cli.main(["list"], project) == 0
    assert "later  (no source yet)" in capsys.readouterr().out
    assert cli.main(["list", "-v"], project) == 0
    assert "later\n  (no source yet:" in capsys.readouterr().out


@pytest.fixture
def good_run(project, tmp_path, capsys, monkeypatch):
    """One successful run into out/; returns (project, out dir, its snapshot)."""
    monkeypatch.chdir(tmp_path)
    params = tmp_path / "params.yml"
    params.write_text("n: 30\np: 0.4\n", encoding="utf-8")
    code = cli.main(
        [
            "run",
            "tiny",
            "--profile",
            "smoke",
            "-f",
            str(params),
            "-p",
            "p=0.25",
            "-p",
            "rates=[0,0.25]",
            "--out",
            "out",
        ],
        project,
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = tmp_path / "out"
    return project, out, snapshot(out), captured.out


def test_run_writes_outputs_and_prints_the_verdict(good_run):
    project, out, _, stdout = good_run
    m = json.loads((out / "metrics.json").read_text())
    # -f sets n and p, -p overrides p: file < -p
    assert m["parameters"]["n"] == 30 and m["parameters"]["p"] == 0.25
    assert m["parameters"]["rates"] == [0.0, 0.25] and m["profile"] == "smoke"
    word = m["verdict"]["word"]
    assert f"verdict: {SYMBOLS[word]} {word} — {m['verdict']['sentence']}" in stdout
    assert (out / "tiny.ipynb").is_file() and (out / "figures" / "draws.png").is_file()


def test_default_output_directory_is_results_chapter(project, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "tiny", "--profile", "smoke"], project) == 0
    assert (tmp_path / "results" / "tiny" / "metrics.json").is_file()
    assert capsys.readouterr().out.splitlines()[-1].split(":")[0] == "verdict"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["-p", "bogus=1"],
            r"The '-p' parameter of dropout-study run must be NAME=VALUE with NAME a parameter "
            r"of tiny \('dropout-study params tiny' lists all 6\); got 'bogus=1'\.$",
        ),
        (["-p", "n=abc"], r"The 'n' parameter of tiny must be an int; got 'abc'\."),
        (["-p", "rates=0.5"], r"The 'rates' parameter of tiny must be a list of floats; got 0.5"),
        (["-p", "explode=1"], r"The 'explode' parameter of tiny must be a bool"),
        (["-p", "p=1.5"], r"The 'p' parameter of tiny must be in \[0, 1\); got 1.5\."),
        (["-p", "seed=-1"], r"The 'seed' parameter of tiny must be an int in the range \[0, ∞\)"),
        (["-p", "n"], r"The '-p' parameter of dropout-study run must be NAME=VALUE"),
        (
            ["-p", "n=1", "-p", "n=2"],  # the last used to win silently
            r"The '-p' parameter of dropout-study run must be each parameter at most once; "
            r"got n twice\.",
        ),
        (["-p", "n=[1,"], r"The value '\[1,' is not valid YAML"),
        (["-f", "missing.yml"], r"The '-f' parameter of dropout-study run must be an existing"),
        (
            ["--profile", "fast"],
            r"The 'profile' parameter of dropout-study run must be one of "
            r"'smoke', 'book', 'full'; got 'fast'\.",
        ),
        (["--bogus-flag"], r"unrecognized arguments: --bogus-flag"),
    ],
)
def test_invalid_input_exits_nonzero_with_one_line_and_leaves_outputs(
    good_run, capsys, args, message
):
    project, out, before, _ = good_run
    code = cli.main(["run", "tiny", "--out", "out", *args], project)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("dropout-study: error: ")
    assert "Traceback" not in err

    assert re.search(message, err), err
    assert snapshot(out) == before


def test_unknown_chapter(project, capsys):
    assert cli.main(["run", "nope"], project) == 2
    err = capsys.readouterr().err
    assert "The 'chapter' parameter of dropout-study run must be one of 'tiny'; got 'nope'." in err


def test_a_failing_chapter_exits_1_and_keeps_the_earlier_outputs(good_run, capsys):
    project, out, before, _ = good_run
    code = cli.main(["run", "tiny", "--out", "out", "-p", "explode=true"], project)
    err = capsys.readouterr().err
    assert code == 1
    assert "RuntimeError: the tiny chapter exploded on request" in err and err.count("\n") == 1
    assert snapshot(out) == before


def test_build_without_html_reports_each_chapter(project, capsys, monkeypatch, tmp_path):
    from dropout_study.book import pipeline
    from dropout_study.book.project import Project

    # key the cache on a copy of the package: others may edit the real one meanwhile
    pkg = package_copy(tmp_path)
    project = Project(root=project.root, chapters=project.chapters, package_dir=pkg)
    calls = []
    monkeypatch.setattr(pipeline, "jupyter_book_build", lambda p, log: calls.append(p))
    assert cli.main(["build", "--profile", "smoke"], project) == 0
    out = capsys.readouterr().out
    assert out.startswith("[1/1] tiny  executed")
    assert calls == [project]
    assert cli.main(["build", "--profile", "smoke"], project) == 0
    assert "[1/1] tiny  cached" in capsys.readouterr().out
    assert cli.main(["build", "--profile", "nope"], project) == 2
    assert "The 'profile' parameter of dropout-study build" in capsys.readouterr().err


def test_build_fails_on_a_missing_chapter_source(project, capsys):
    project.source("tiny").unlink()
    assert cli.main(["build"], project) == 1
    err = capsys.readouterr().err
    assert (
        "_toc.yml lists chapter 'tiny' but its source book/chapters/tiny.md does not exist" in err
    )


def test_readme_command(project, capsys, monkeypatch):
    from dropout_study.book import pipeline
    from dropout_study.book.generated_pages import README_END, README_START

    monkeypatch.setattr(pipeline, "jupyter_book_build", lambda p, log: None)
    readme = project.root / "README.md"
    readme.write_text(f"x\n{README_START}\n{README_END}\n")
    assert cli.main(["readme"], project) == 1  # no results yet
    assert "run `make book` before" in capsys.readouterr().err
    assert cli.main(["build"], project) == 0
    assert cli.main(["readme"], project) == 0
    assert "| `tiny` | **" in readme.read_text()


def test_console_script_is_installed_and_fails_cleanly():
    proc = subprocess.run([str(EXE), "run", "not-a-chapter"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("dropout-study: error: The 'chapter' parameter of ")
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    ok = subprocess.run([str(EXE), "--help"], capture_output=True, text=True)
    assert ok.returncode == 0 and "run" in ok.stdout and "build" in ok.stdout


@pytest.mark.parametrize("chapter_id", CHAPTERS)
@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("seed=-1", "The 'seed' parameter of {id} must be"),
        ("seed=1.5", "The 'seed' parameter of {id} must be an int; got 1.5."),
        ("no_such_parameter=1", "NAME a parameter of {id} ('dropout-study params {id}' lists"),
    ],
)
def test_real_chapters_reject_invalid_input_before_running(
    chapter_id, assignment, message, tmp_path
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier results\n")
    proc = subprocess.run(
        [str(EXE), "run", chapter_id, "-p", assignment, "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert message.format(id=chapter_id) in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert snapshot(out) == {"keep.txt": b"earlier results\n"}


def test_a_dropout_rate_of_one_and_a_half_is_rejected_by_name(tmp_path):
    """The brief's own example: p = 1.5 for the cost-under-dropout chapter."""
    proc = subprocess.run(
        [
            str(EXE),
            "run",
            "cost-under-dropout",
            "-p",
            "dropout_rates=[0,1.5]",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        "dropout-study: error: The 'dropout_rates' parameter of cost-under-dropout must be"
    )
    assert "; got [0.0, 1.5]." in proc.stderr
    assert not (tmp_path / "out").exists()


def test_list_into_a_closed_pipe_exits_quietly():
    proc = subprocess.run(
        f"'{EXE}' list | head -n 1", shell=True, capture_output=True, text=True, check=True
    )
    assert proc.stdout.count("\n") == 1
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_a_value_derived_from_what_the_user_set_is_recorded_as_derived(
    project, tmp_path, monkeypatch, capsys
):
    """A parameter that followed the user's value (here p follows rates, as
    cost-under-dropout's primary_rate follows dropout_rates) is printed and recorded under
    ``derived`` in run.json, metrics.json and the figures' JSON, marked in the notebook's
    table and left out of its rerun command; typing the same value gives the same parameters
    and metrics, with nothing derived."""
    import tiny_experiment

    from dropout_study.parameters import follow_member

    rule = {"p": follow_member("p", "rates")}
    monkeypatch.setattr(tiny_experiment, "DEPENDENT_DEFAULTS", rule, raising=False)
    base = ["run", "tiny", "--profile", "smoke", "-p", "rates=[0.0, 0.25]"]
    assert cli.main([*base, "--out", str(tmp_path / "a")], project) == 0
    assert "derived from the parameters you set: p = 0.25 (from rates)" in capsys.readouterr().out
    assert cli.main([*base, "-p", "p=0.25", "--out", str(tmp_path / "b")], project) == 0
    assert "derived from" not in capsys.readouterr().out

    def read(run, name):
        return json.loads((tmp_path / run / name).read_text(encoding="utf-8"))

    mark = {"p": {"value": 0.25, "follows": ["rates"]}}
    for name in ("run.json", "metrics.json", "figures/draws.json"):
        assert read("a", name)["derived"] == mark, name
        assert read("b", name)["derived"] == {}, name
        assert read("a", name)["parameters"] == read("b", name)["parameters"], name
    assert read("a", "metrics.json")["metrics"] == read("b", "metrics.json")["metrics"]

    def table(run):
        nb = json.loads((tmp_path / run / "tiny.ipynb").read_text(encoding="utf-8"))
        return next(
            "".join(c["source"])
            for c in nb["cells"]
            if "Parameters of this run" in "".join(c["source"])
        )

    assert "| `p` | `0.25` (derived from rates) |" in table("a")
    assert "| `rates` | `[0.0, 0.25]` (set for this run) |" in table("a")
    assert "-p p=" not in table("a") and "-p 'rates=[0.0, 0.25]'" in table("a")
    assert "| `p` | `0.25` (set for this run) |" in table("b") and "-p p=0.25" in table("b")
