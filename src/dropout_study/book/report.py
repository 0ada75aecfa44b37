"""What a chapter notebook calls to report: ``start``, ``figure``, ``number``, ``text``,
``finish`` (the contract in HACKING.md).

Outputs go to the *run directory*: the kernel's current directory when the pipeline runs the
chapter (it writes ``run.json`` there first), or ``results/<chapter>/`` under the project root
when a notebook is run by hand. In it:

- ``figures/<name>.svg``, ``figures/<name>.png`` and ``figures/<name>.json`` (provenance:
  parameters, seed, profile, package version and source hash, git commit with a ``dirty``
  flag, dependency versions, chapter, figure name and label, SHA-256 of both files);
- ``metrics.json``: chapter, claim, profile, parameters (``derived``: those of them that
  followed what the user set, ``{name: {"value", "follows"}}``), every metric, the verdict (word,
  sentence, claim), every glued number and text, the figures and provenance — no time stamp
  (the pipeline writes the run's times into ``run.json``).

Same parameters give byte-identical figures and ``metrics.json``: matplotlib is told not to
stamp dates or versions into the files, and :func:`start` resets matplotlib's rc parameters to
its defaults before applying the study's style, so no user rc file changes a figure.

Metrics that are infinite or absurdly large (``|x| > ABSURD``) make :func:`finish` raise
``ValueError`` naming the metric, so a chapter built on overflowed numbers fails instead of
deciding a verdict; NaN stands for "undefined" (an empty bin, a target never reached) and is
written as ``null``. An experiment module may name top-level metrics that are legitimately
infinite in ``NONFINITE_METRICS`` (e.g. a signal-to-noise ratio without noise); they are
written as ``null`` too. Numbers and texts are glued with
myst-nb (without display) when running inside IPython; elsewhere they are only recorded.
"""

from __future__ import annotations

import importlib
import io
import json
import numbers
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from dropout_study import paths
from dropout_study.book import confirm
from dropout_study.book import source as chapters
from dropout_study.book.answer_box import glue_answer
from dropout_study.book.params import check_type, resolve
from dropout_study.book.records import check_finite, dumps, to_jsonable
from dropout_study.chapters.findings import as_records, check_record
from dropout_study.chapters.verdicts import WORDS, Robustness
from dropout_study.chapters.wording import table_markdown
from dropout_study.provenance import provenance, sha256_bytes
from dropout_study.sweep import timing
from dropout_study.validation import fail

__all__ = [
    "RUN_FILE",
    "start",
    "figure",
    "number",
    "text",
    "markdown",
    "finish",
    "to_jsonable",
    "state",
]

RUN_FILE = "run.json"
"""Written by the pipeline into the run directory before the kernel starts."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_STATE: dict = {}


class _Text:
    """A string glued for ``{glue:text}``. Its plain-text repr is the string's Python literal:
    myst-nb passes the text through ``ast.literal_eval`` (to drop the quotes), so the bare
    text would come back changed wherever it reads as a literal (``"0, 0.5"`` as the tuple
    ``(0, 0.5)``, ``"0.40"`` as ``0.4``, ``"+0.02"`` as ``0.02``); the quoted literal comes
    back as exactly the string, without quotes."""

    def __init__(self, value: str):
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)

    def _repr_markdown_(self) -> str:
        return self.value


def state() -> dict:
    """A copy of the current run's state (chapter, parameters, run directory, ...)."""
    return dict(_STATE)


def _require(owner: str) -> dict:
    if not _STATE:
        raise RuntimeError(f"{owner} needs report.start(chapter_id, globals()) first.")
    return _STATE


def _glue(key: str, value) -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return
    if get_ipython() is None:
        return
    from myst_nb import glue

    glue(key, value, display=False)


def _run_context(chapter_id: str) -> tuple[dict | None, Path]:
    run_file = Path.cwd() / RUN_FILE
    if run_file.is_file():
        ctx = json.loads(run_file.read_text(encoding="utf-8"))
        if ctx.get("chapter") != chapter_id:
            fail(
                "chapter_id",
                "report.start",
                f"the chapter this run directory was prepared for ({ctx.get('chapter')!r})",
                chapter_id,
            )
        return ctx, Path.cwd()
    return None, paths.ROOT / "results" / chapter_id


def start(chapter_id: str, namespace: Mapping) -> dict:
    """Read and check the chapter's declared parameters from ``namespace`` (the notebook's
    ``globals()``); returns them as a new dict. Types are checked against the parameters
    cell's annotations, then ``experiments.<module>.check_params`` checks ranges; both raise
    ``TypeError``/``ValueError`` with the project's template. Applies the figure style."""
    timing.mark("start")
    if not isinstance(chapter_id, str):
        fail("chapter_id", "report.start", "a chapter id (str)", chapter_id, TypeError)
    if not isinstance(namespace, Mapping):
        fail("namespace", "report.start", "a mapping such as globals()", namespace, TypeError)
    ctx, outdir = _run_context(chapter_id)
    if ctx is not None:
        specs = [(p["name"], p["type"]) for p in ctx["params"]]
        experiment, claim, profile = ctx["experiment"], ctx["claim"], ctx["profile"]
    else:
        spec = chapters.load(chapter_id)
        specs = [(p.name, p.type) for p in spec.params]
        experiment, claim, profile = spec.experiment, spec.claim, "interactive"
    params = {}
    for name, type_name in specs:
        if name not in namespace:
            fail(name, chapter_id, "defined by the parameters cell", "nothing")
        params[name] = check_type(namespace[name], type_name, name, chapter_id)
    importlib.import_module(experiment).check_params(dict(params))

    import matplotlib

    from dropout_study.chapters.figures import apply_style

    matplotlib.rcdefaults()  # no user matplotlibrc or style leaks into a figure
    apply_style()
    _STATE.clear()
    _STATE.update(
        chapter=chapter_id,
        claim=claim,
        profile=profile,
        params=params,
        derived=(ctx or {}).get("derived", {}),  # params that followed what the user set
        experiment=experiment,
        code=(ctx or {}).get("code"),
        full=(ctx or {}).get("full_parameters") if ctx else _full_parameters(chapter_id),
        outdir=outdir,
        figures=[],
        glued={},
    )
    return dict(params)


def _full_parameters(chapter_id: str) -> dict | None:
    """The ``full`` profile's parameters of a chapter run by hand (``None`` if its source
    cannot be read): what its confirmation record's hash must be."""
    try:
        return resolve(chapters.load(chapter_id), "full", check=False)
    except Exception:
        return None


def profile_params(profile: str) -> dict:
    """The parameters of the running chapter at another ``profile`` (e.g. ``"full"``, to show
    a cached confirmatory run), resolved from its source as ``dropout-study run`` would."""
    st = _require("report.profile_params")
    return resolve(chapters.load(st["chapter"]), profile)


def full_seeds() -> str:
    """Glue ``full_seeds`` — ``"<n_seeds> seeds from seed <seed>"`` of the running chapter's
    ``full`` profile, its fresh-seed confirmation — and return it (so prose never types the
    profile's values)."""
    full = profile_params("full")
    value = f"{full['n_seeds']} seeds from seed {full['seed']}"
    text("full_seeds", value)
    return value


@timing.timed("figures")
def figure(fig, name: str) -> None:
    """Save ``fig`` as ``figures/<name>.svg``/``.png`` with ``figures/<name>.json`` beside
    them, glue it as ``fig-<chapter>-<name>`` (not displayed) and close it.

    ``name``: lower-case letters, digits and ``-``. Returns nothing (so a notebook cell that
    ends with it shows nothing).
    """
    st = _require("report.figure")
    if not isinstance(name, str) or not _NAME.match(name):
        fail("name", "report.figure", "lower-case letters, digits and '-'", name)
    if name in st["figures"]:
        fail("name", "report.figure", "a name not used before in this chapter", name)
    from matplotlib.figure import Figure

    if not isinstance(fig, Figure):
        fail("fig", "report.figure", "a matplotlib Figure", type(fig).__name__, TypeError)
    import matplotlib.pyplot as plt

    label = f"fig-{st['chapter']}-{name}"
    files = {}
    for fmt, meta in (("svg", {"Date": None}), ("png", {"Software": None})):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, metadata=meta)
        files[fmt] = buf.getvalue()
    figdir = st["outdir"] / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    for fmt, data in files.items():
        (figdir / f"{name}.{fmt}").write_bytes(data)
    record = {
        "chapter": st["chapter"],
        "figure": name,
        "label": label,
        "files": {fmt: f"{name}.{fmt}" for fmt in files},
        "sha256": {fmt: sha256_bytes(data) for fmt, data in files.items()},
        "profile": st["profile"],
        "seed": st["params"].get("seed"),
        "parameters": st["params"],
        "derived": st.get("derived", {}),
        "provenance": provenance(),
    }
    (figdir / f"{name}.json").write_text(dumps(record), encoding="utf-8")
    st["figures"].append(name)
    # SVG bytes: sharp at any screen density, and (like PNG bytes) cannot degrade to a text
    # repr the way a glued matplotlib Figure can
    _glue(label, _svg(files["svg"]))
    plt.close(fig)


def _svg(data: bytes):
    from IPython.display import SVG

    return SVG(data=data)


def number(key: str, value) -> None:
    """Glue a number under ``key`` for ``{glue:text}`key:.3f``` (not displayed); numpy
    scalars become Python ``float``/``int`` so format specs work."""
    st = _require("report.number")
    _check_key(key, "report.number")
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        fail("value", "report.number", "a real number", value, TypeError)
    value = int(value) if isinstance(value, numbers.Integral) else float(value)
    st["glued"][key] = value
    _glue(key, value)


def text(key: str, value: str) -> None:
    """Glue a string under ``key`` for ``{glue:text}`key``` (shown without quotes)."""
    st = _require("report.text")
    _check_key(key, "report.text")
    if not isinstance(value, str):
        fail("value", "report.text", "a str", value, TypeError)
    st["glued"][key] = value
    _glue(key, _Text(value))


def markdown(key: str, value: str) -> None:
    """Glue MyST markdown (a table, a badge) without display, for ``{glue:md}`key```; the
    text is also recorded in ``metrics.json`` under ``glued``."""
    st = _require("report.markdown")
    _check_key(key, "report.markdown")
    if not isinstance(value, str):
        fail("value", "report.markdown", "a str of MyST markdown", value, TypeError)
    st["glued"][key] = value
    try:
        from IPython.display import Markdown
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return
    _glue(key, Markdown(value))


def finish(verdict, metrics: Mapping, robustness=None, findings=()) -> None:
    """Write ``metrics.json`` and glue ``verdict`` (the word), ``verdict_sentence``,
    ``answer`` (the plain-words answer, MyST: ``Verdict.answer``, or the sentence when a
    chapter gives none), ``findings_table`` (MyST, for ``{glue:md}`findings_table```),
    ``confirmation`` (MyST markdown, for ``{glue:md}`confirmation:myst```: whether the primary
    verdict held on the fresh seeds of the ``full`` profile,
    :func:`dropout_study.book.confirm.sentence`) and, given a robustness table,
    ``robustness_summary`` ("k of n alternatives agree …") and ``robustness_table`` (its
    MyST table, for ``{glue:md}`robustness_table```).

    ``verdict``: a ``verdicts.Verdict`` (or a mapping with ``word``, ``sentence`` and
    optionally ``claim``); ``metrics``: a mapping of JSON-able values (numpy scalars and
    arrays are converted; NaN and infinities are written as ``null``); ``robustness``: a
    :class:`dropout_study.chapters.verdicts.Robustness` whose primary word must equal the verdict's,
    recorded under ``robustness`` in ``metrics.json`` (the intro's table reads its count);
    ``findings``: the chapter's :class:`dropout_study.chapters.findings.Finding` records,
    written under ``findings`` (each re-decided by
    :func:`dropout_study.chapters.findings.check_record`: an outcome that does not follow from
    its interval and margin is refused, as are two findings with one name).
    """
    st = _require("report.finish")
    word, sentence, claim = _verdict_fields(verdict)
    answer = getattr(verdict, "answer", None) or (
        verdict.get("answer") if isinstance(verdict, Mapping) else None
    )
    records = as_records([check_record(_finding_record(f)) for f in findings])
    if not isinstance(metrics, Mapping):
        fail("metrics", "report.finish", "a mapping", type(metrics).__name__, TypeError)
    rob = None
    if robustness is not None:
        if not isinstance(robustness, Robustness):
            fail("robustness", "report.finish", "a Robustness or None", robustness, TypeError)
        if robustness.primary != word:
            fail(
                "robustness",
                "report.finish",
                f"a table whose primary verdict is the verdict's ({word!r})",
                robustness.primary,
            )
        rob = robustness.as_dict()
        text("robustness_summary", rob["summary"])
        markdown("robustness_table", robustness.markdown())
    # MyST markdown, for {glue:md}`confirmation:myst`: its commands are code, which keeps
    # their "--" from becoming an en dash and their backticks from being shown
    markdown(
        "confirmation",
        confirm.sentence(
            st["chapter"],
            st["profile"],
            word,
            code=st.get("code"),
            findings=records,
            full_params=st.get("full"),
        ),
    )
    text("verdict", word)
    text("verdict_sentence", sentence)
    markdown("answer", (answer or sentence).strip())
    markdown(
        "findings_table",
        table_markdown([check_record(r) for r in records]) if records else "*No findings.*",
    )
    glue_answer(word, st["claim"], text, markdown)  # the box each chapter opens with
    record = {
        "chapter": st["chapter"],
        "claim": st["claim"],
        "profile": st["profile"],
        "parameters": st["params"],
        "derived": st.get("derived", {}),
        "verdict": {"word": word, "sentence": sentence, "claim": claim, "answer": answer},
        "findings": records,
        "robustness": rob,
        "metrics": metrics,  # dumps converts the whole record with to_jsonable
        "glued": st["glued"],
        "figures": [f"fig-{st['chapter']}-{n}" for n in st["figures"]],
        "provenance": provenance(),
    }
    exempt = set(getattr(importlib.import_module(st["experiment"]), "NONFINITE_METRICS", ()))
    check_finite({k: v for k, v in metrics.items() if k not in exempt}, "metrics")
    content = dumps(record)  # raises for values that are not JSON-able, before any I/O
    st["outdir"].mkdir(parents=True, exist_ok=True)
    (st["outdir"] / "metrics.json").write_text(content, encoding="utf-8")
    timing.save(st["outdir"])


def _finding_record(f) -> dict:
    return f.as_dict() if hasattr(f, "as_dict") else dict(f)


def _verdict_fields(verdict) -> tuple[str, str, str | None]:
    if isinstance(verdict, Mapping):
        word, sentence, claim = verdict.get("word"), verdict.get("sentence"), verdict.get("claim")
    else:
        word = getattr(verdict, "word", None)
        sentence = getattr(verdict, "sentence", None)
        claim = getattr(verdict, "claim", None)
    if word not in WORDS:
        fail("verdict", "report.finish", "a Verdict whose word is one of " + ", ".join(WORDS), word)
    if not isinstance(sentence, str) or not sentence.strip():
        fail("verdict", "report.finish", "a Verdict with a non-empty sentence", sentence)
    return word, sentence.strip(), claim


def _check_key(key, owner: str) -> None:
    if not isinstance(key, str) or not _KEY.match(key):
        fail("key", owner, "an identifier-like string (letters, digits, '_', '.', '-')", key)
