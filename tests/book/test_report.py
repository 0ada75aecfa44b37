"""The report API in-process (no kernel): files, provenance, determinism, validation."""

from __future__ import annotations

import hashlib
import json
import struct
import zlib

import numpy as np
import pytest
from fixtures.tinybook import TINY, use_fixtures, without_run

from dropout_study import __version__
from dropout_study.book import report
from dropout_study.book.params import resolve
from dropout_study.book.pipeline import write_context
from dropout_study.book.source import load
from dropout_study.chapters.figures import subplots
from dropout_study.chapters.verdicts import PARTLY, SUPPORTED, Verdict, robustness


@pytest.fixture
def spec(monkeypatch):
    use_fixtures(monkeypatch)
    monkeypatch.setattr(report, "_STATE", {})
    return load("tiny", TINY, chapters=("tiny",))


def _run(tmp_path, monkeypatch, spec, name="run", **overrides):
    """What the tiny notebook does, in-process, in a prepared run directory."""
    import tiny_experiment

    run_dir = tmp_path / name
    run_dir.mkdir()
    params = resolve(spec, "smoke", overrides)
    write_context(run_dir, spec, params, profile="smoke", key="k")
    monkeypatch.chdir(run_dir)
    got = report.start("tiny", dict(params))
    result = tiny_experiment.run(got)
    fig, ax = subplots()
    ax.plot(result.draws, label="draws")
    ax.set_xlabel("index")
    ax.legend()
    report.figure(fig, "draws")
    report.number("mean", np.float64(result.metrics["mean"]))
    report.text("note", "plain text")
    report.finish(tiny_experiment.decide(result.metrics), result.metrics)
    return run_dir


def _png_text_keys(data: bytes) -> list[bytes]:
    """Keys of the tEXt/iTXt/zTXt chunks of a PNG (read with the PNG spec, not matplotlib)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    keys, i = [], 8
    while i < len(data):
        (length,) = struct.unpack(">I", data[i : i + 4])
        kind = data[i + 4 : i + 8]
        body = data[i + 8 : i + 8 + length]
        assert (
            zlib.crc32(kind + body)
            == struct.unpack(">I", data[i + 8 + length : i + 12 + length])[0]
        )
        if kind in (b"tEXt", b"iTXt", b"zTXt"):
            keys.append(body.split(b"\0", 1)[0])
        i += 12 + length
    return keys


def test_outputs_and_their_provenance(tmp_path, monkeypatch, spec):
    run_dir = _run(tmp_path, monkeypatch, spec)
    figdir = run_dir / "figures"
    assert sorted(p.name for p in figdir.iterdir()) == ["draws.json", "draws.png", "draws.svg"]
    record = json.loads((figdir / "draws.json").read_text())
    assert record["chapter"] == "tiny" and record["figure"] == "draws"
    assert record["label"] == "fig-tiny-draws"
    assert record["seed"] == 0 and record["profile"] == "smoke"
    assert record["parameters"]["n"] == 20
    for fmt in ("png", "svg"):
        assert (
            record["sha256"][fmt]
            == hashlib.sha256((figdir / f"draws.{fmt}").read_bytes()).hexdigest()
        )
    prov = record["provenance"]
    assert prov["version"] == __version__
    assert set(prov["git"]) == {"commit", "dirty"}
    assert prov["dependencies"]["numpy"] == np.__version__
    assert len(prov["package_hash"]) == 64

    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["chapter"] == "tiny" and m["profile"] == "smoke"
    assert m["claim"] == spec.claim
    assert m["parameters"] == resolve(spec, "smoke")
    assert m["verdict"]["word"] == "supported"
    assert m["verdict"]["sentence"].startswith("The mean of 20 draws is")
    assert m["metrics"]["n"] == 20
    assert m["glued"]["mean"] == m["metrics"]["mean"]
    assert m["glued"]["verdict"] == "supported" and m["glued"]["note"] == "plain text"
    assert m["figures"] == ["fig-tiny-draws"]
    assert "run" not in m  # no time stamp: the run's times are in run.json


def test_same_parameters_give_identical_files_and_another_seed_does_not(
    tmp_path, monkeypatch, spec
):
    a = _run(tmp_path, monkeypatch, spec, "a")
    b = _run(tmp_path, monkeypatch, spec, "b")
    c = _run(tmp_path, monkeypatch, spec, "c", seed=1)
    for name in ("draws.png", "draws.svg", "draws.json"):
        assert (a / "figures" / name).read_bytes() == (b / "figures" / name).read_bytes(), name
    ma, mb, mc = (without_run((d / "metrics.json").read_bytes()) for d in (a, b, c))
    assert ma == mb
    assert ma["metrics"]["mean"] != mc["metrics"]["mean"]
    assert (a / "figures" / "draws.png").read_bytes() != (c / "figures" / "draws.png").read_bytes()
    # byte-identical apart from the run field, not merely equal as JSON
    strip = [ln for ln in (a / "metrics.json").read_text().splitlines() if "finished_at" not in ln]
    strip_b = [
        ln for ln in (b / "metrics.json").read_text().splitlines() if "finished_at" not in ln
    ]
    assert strip == strip_b


def test_files_carry_no_dates_or_software_stamps(tmp_path, monkeypatch, spec):
    run_dir = _run(tmp_path, monkeypatch, spec)
    assert b"Software" not in _png_text_keys((run_dir / "figures" / "draws.png").read_bytes())
    svg = (run_dir / "figures" / "draws.svg").read_text()
    assert "<dc:date>" not in svg


def test_start_checks_types_and_ranges(tmp_path, monkeypatch, spec):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    write_context(run_dir, spec, spec.defaults(), profile="book", key=None)
    monkeypatch.chdir(run_dir)
    ns = spec.defaults()
    with pytest.raises(TypeError, match=r"The 'p' parameter of tiny must be a float; got '0.5'"):
        report.start("tiny", {**ns, "p": "0.5"})
    with pytest.raises(ValueError, match=r"The 'p' parameter of tiny must be in \[0, 1\); got 1.5"):
        report.start("tiny", {**ns, "p": 1.5})
    missing = {k: v for k, v in ns.items() if k != "label"}
    with pytest.raises(ValueError, match=r"The 'label' parameter of tiny must be defined by"):
        report.start("tiny", missing)
    with pytest.raises(
        ValueError, match=r"The 'chapter_id' parameter of report.start must be the "
    ):
        report.start("other", ns)
    with pytest.raises(TypeError, match=r"The 'chapter_id' parameter of report.start must be"):
        report.start(3, ns)
    with pytest.raises(TypeError, match=r"The 'namespace' parameter of report.start must be a"):
        report.start("tiny", [1])
    assert report.start("tiny", ns) == ns
    assert report.state()["outdir"] == run_dir


def test_without_a_run_directory_start_uses_the_registry(tmp_path, monkeypatch, spec):
    monkeypatch.chdir(tmp_path)  # no run.json here: the chapter must be a registered one
    with pytest.raises(ValueError, match=r"The 'chapter' parameter of dropout-study must be one"):
        report.start("tiny", spec.defaults())


@pytest.mark.parametrize("call", ["figure", "number", "text", "finish"])
def test_calls_before_start_fail(spec, call):
    args = {"figure": (None, "x"), "number": ("k", 1), "text": ("k", "v"), "finish": (None, {})}
    with pytest.raises(RuntimeError, match=rf"report.{call} needs report.start"):
        getattr(report, call)(*args[call])


@pytest.fixture
def started(tmp_path, monkeypatch, spec):
    run_dir = tmp_path / "s"
    run_dir.mkdir()
    write_context(run_dir, spec, spec.defaults(), profile="book", key=None)
    monkeypatch.chdir(run_dir)
    report.start("tiny", spec.defaults())
    return run_dir


def test_figure_validation(started):
    fig, _ = subplots()
    with pytest.raises(ValueError, match=r"The 'name' parameter of report.figure must be lower"):
        report.figure(fig, "Bad Name")
    with pytest.raises(TypeError, match=r"The 'fig' parameter of report.figure must be a matplot"):
        report.figure("not a figure", "ok")
    report.figure(fig, "ok")
    fig2, _ = subplots()
    with pytest.raises(
        ValueError, match=r"must be a name not used before in this chapter; got 'ok'"
    ):
        report.figure(fig2, "ok")


def test_number_and_text_validation(started):
    with pytest.raises(TypeError, match=r"The 'value' parameter of report.number must be a real"):
        report.number("k", True)
    with pytest.raises(TypeError, match=r"The 'value' parameter of report.number must be a real"):
        report.number("k", "1")
    with pytest.raises(ValueError, match=r"The 'key' parameter of report.number must be an ident"):
        report.number("has space", 1)
    with pytest.raises(TypeError, match=r"The 'value' parameter of report.text must be a str"):
        report.text("k", 1)
    report.number("i", np.int64(3))
    report.number("f", np.float32(0.5))
    glued = report.state()["glued"]
    assert glued == {"i": 3, "f": 0.5}
    assert type(glued["i"]) is int and type(glued["f"]) is float


def test_finish_validation(started):
    with pytest.raises(ValueError, match=r"The 'verdict' parameter of report.finish must be a Ver"):
        report.finish({"word": "true", "sentence": "s"}, {})
    with pytest.raises(ValueError, match=r"must be a Verdict with a non-empty sentence"):
        report.finish({"word": "supported", "sentence": " "}, {})
    with pytest.raises(TypeError, match=r"The 'metrics' parameter of report.finish must be a map"):
        report.finish(Verdict("c", "supported", "s."), [1])
    with pytest.raises(TypeError, match=r"The 'metrics' parameter of report must be JSON-able"):
        report.finish(Verdict("c", "supported", "s."), {"x": object()})
    report.finish({"word": "partly supported", "sentence": "s."}, {"x": float("nan")})
    m = json.loads((started / "metrics.json").read_text())
    assert m["verdict"] == {
        "word": "partly supported",
        "sentence": "s.",
        "claim": None,
        "answer": None,
    }
    assert m["metrics"] == {"x": None}


def test_to_jsonable_converts_numpy_and_nested_values():
    got = report.to_jsonable(
        {
            1: np.arange(3),
            "t": (np.float64(0.5), np.bool_(True)),
            "inf": np.inf,
            "s": "x",
            "n": None,
        }
    )
    assert got == {"1": [0, 1, 2], "t": [0.5, True], "inf": None, "s": "x", "n": None}
    assert json.dumps(got, allow_nan=False)


@pytest.mark.parametrize(
    "value",
    [
        "supported",
        "0, 0.1, 0.5",
        "0.40",
        "+0.000153",
        "-45, -103",
        "[1, 2]",
        "1e-05",
        "it's \\(x\\)",
    ],
)
def test_glued_text_shows_exactly_the_string(value):
    # myst-nb's own reading of a text/plain output (literal_eval, then str) is the oracle
    from myst_nb.core.variables import format_plain_text

    t = report._Text(value)
    assert format_plain_text(repr(t), "") == value and t._repr_markdown_() == value
    if value in ("0, 0.1, 0.5", "0.40", "+0.000153", "-45, -103"):  # why repr: bare, it changes
        assert format_plain_text(value, "") != value


def test_markdown_is_recorded_and_validated(started):
    with pytest.raises(TypeError, match=r"The 'value' parameter of report.markdown must be a str"):
        report.markdown("k", 1)
    with pytest.raises(ValueError, match=r"The 'key' parameter of report.markdown must be an id"):
        report.markdown("has space", "x")
    report.markdown("table", "* a\n* b\n")
    assert report.state()["glued"]["table"] == "* a\n* b\n"


def test_finish_records_and_glues_the_robustness_table(started):
    rob = robustness(SUPPORTED, [("a", SUPPORTED), ("b", PARTLY)])
    report.finish(Verdict("c", SUPPORTED, "s."), {}, robustness=rob)
    record = json.loads((started / "metrics.json").read_text())
    assert record["glued"]["robustness_table"].startswith("```{list-table}")
    assert "1 of 2 agree, 1 flip" in record["glued"]["robustness_table"]
    assert record["robustness"]["agree"] == 1


def test_finish_glues_the_confirmation_as_markdown(started, monkeypatch):
    # the sentence names commands in code spans (`dropout-study run … --profile full`): glued
    # as plain text, the page showed the backticks and Sphinx turned "--" into an en dash
    from IPython.display import Markdown

    seen = {}
    monkeypatch.setattr(report, "_glue", lambda key, value: seen.setdefault(key, value))
    report.finish(Verdict("c", SUPPORTED, "s."), {})
    glued = seen["confirmation"]
    assert isinstance(glued, Markdown) and "`" in glued.data
    assert glued.data == report.state()["glued"]["confirmation"]


def _finding(**change):
    from dropout_study.chapters.findings import finding

    args = dict(
        estimate=0.3, low=0.2, high=0.4, n=8, margin=0.1, margin_source="convention: a test"
    )
    return finding("larger", "effect", **(args | change))


def test_finish_records_the_findings_and_glues_their_table_and_the_answer(started):
    v = Verdict("c", SUPPORTED, "The technical sentence.", answer="Yes, it is larger.")
    report.finish(v, {}, findings=[_finding()])
    record = json.loads((started / "metrics.json").read_text())
    (f,) = record["findings"]
    assert f["outcome"] == "yes" and f["margin_source"] == "convention: a test"
    assert record["verdict"]["answer"] == "Yes, it is larger."
    assert record["glued"]["answer"] == "Yes, it is larger."
    table = record["glued"]["findings_table"]
    assert table.startswith("```{list-table}") and "0.300 [0.200, 0.400], n = 8" in table


def test_finish_refuses_an_outcome_its_interval_does_not_give_and_duplicate_names(started):
    tampered = _finding().as_dict() | {"outcome": "no"}
    with pytest.raises(ValueError, match="'outcome' parameter of finding 'larger' must be 'yes'"):
        report.finish(Verdict("c", SUPPORTED, "s."), {}, findings=[tampered])
    with pytest.raises(ValueError, match="findings with distinct names"):
        report.finish(Verdict("c", SUPPORTED, "s."), {}, findings=[_finding(), _finding()])
    assert not (started / "metrics.json").exists()
