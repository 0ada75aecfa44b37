"""Fresh-seed confirmation: does a chapter's primary verdict hold on the ``full`` profile?

Each verdict is confirmed once on fresh seeds: the ``full`` profile runs on seeds disjoint
from ``book``'s (a seed offset). When a chapter runs with exactly the ``full`` profile's
parameters (no overrides), the pipeline calls :func:`record`, which writes
``book/confirmations/<id>.json`` (small, committed with the repository so every later book
build can cite it): the verdict word, its sentence, the robustness summary, the resolved
parameters and their hash, the commit and the chapter's *science hash*
(:func:`dropout_study.book.cache.chapter_science_hash`: the numpy core, the measures, the
shared chapter code, the chapter's folder and its notebook's code cells — not the book
machinery), and what the run took (``timing``, which later estimates scale:
:mod:`dropout_study.book.estimates`). :func:`status` says whether a record is current for
the code of this checkout.

:func:`sentence` is what a chapter page says about it (``report.finish`` glues it as MyST
markdown under ``confirmation``, placed with ``{glue:md}`confirmation:myst```, so its commands
are code: shown without backticks and with their ``--`` kept): on a ``full`` run, that this
*is* the confirmatory run; otherwise whether the recorded ``full`` verdict agrees with this
run's primary verdict, or how to produce one.

A record is quoted only after :func:`read` has checked it against the hash recorded in it:
every field a page quotes is present with its type, ``parameters_sha256`` is the hash of its
``parameters`` and of the ``full`` profile's resolved parameters, and its ``seed`` and
``n_seeds`` are theirs. An edited record ("n_seeds": 32 changed to 64) or one missing a field
is *damaged*: the page says so in one sentence naming the file, instead of quoting it (or
failing), ``dropout-study list -v`` shows it, and ``build`` warns.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dropout_study import paths
from dropout_study.chapters.verdicts import INCONCLUSIVE, WORDS
from dropout_study.chapters.wording import kind_words, md_text
from dropout_study.numfmt import bracket, significant
from dropout_study.provenance import canonical_json, sha256_bytes

__all__ = [
    "DIR",
    "Confirmation",
    "check",
    "path",
    "record",
    "load",
    "read",
    "read_for",
    "sentence",
    "status",
]

DIR = paths.BOOK / "confirmations"


def path(chapter_id: str, root: Path | None = None) -> Path:
    """``book/confirmations/<chapter_id>.json`` under ``root`` (default: this checkout)."""
    base = DIR if root is None else Path(root) / "book" / "confirmations"
    return base / f"{chapter_id}.json"


# fmt: off
_RECORDED = ("name", "role", "kind", "direction", "scale", "outcome", "degenerate", "reason",
             "estimate", "low", "high", "margin", "margin_source", "n")
"""The fields of each finding a record keeps (the findings kit's, per-seed values aside)."""
# fmt: on


def record(
    metrics_record: Mapping,
    params: Mapping,
    root: Path | None = None,
    code: str | None = None,
    timing: Mapping | None = None,
) -> Path:
    """Write the confirmation file from a ``full``-profile run's ``metrics.json`` record;
    ``code``: the chapter's science hash
    (:func:`dropout_study.book.cache.chapter_science_hash`), so a later page can tell whether
    the record still speaks for its code; ``timing``: what the run took
    (:func:`dropout_study.book.estimates.measure`), kept for the estimates of later runs."""
    git = metrics_record.get("provenance", {}).get("git", {})
    rob = metrics_record.get("robustness") or {}
    entry = {
        "chapter": metrics_record["chapter"],
        "profile": metrics_record.get("profile"),
        "word": metrics_record["verdict"]["word"],
        "sentence": metrics_record["verdict"]["sentence"],
        "robustness": rob.get("summary"),
        "seed": params.get("seed"),
        "n_seeds": params.get("n_seeds"),
        "parameters": dict(params),
        "parameters_sha256": sha256_bytes(canonical_json(dict(params)).encode()),
        "commit": git.get("commit"),
        "code": code,
        "findings": [
            {k: f.get(k) for k in _RECORDED} for f in metrics_record.get("findings") or []
        ],
    }
    if timing is not None:
        entry["timing"] = dict(timing)
    out = path(entry["chapter"], root)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(entry, indent=2, ensure_ascii=False) + "\n"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out


def _sha(params: Mapping) -> str:
    return sha256_bytes(canonical_json(dict(params)).encode())


_FIELDS: dict[str, tuple[type, ...]] = {
    "chapter": (str,),
    "word": (str,),
    "sentence": (str,),
    "parameters_sha256": (str,),
    "seed": (int, type(None)),
    "n_seeds": (int, type(None)),
    "commit": (str, type(None)),
    "code": (str, type(None)),
}
"""The fields a page quotes or checks, with their types (``parameters`` and ``findings``,
added later, are checked when present)."""


@dataclass(frozen=True)
class Confirmation:
    """What :func:`read` found: the ``record`` (``None`` when there is none or it may not be
    quoted), the ``problem`` that keeps it from being quoted (``None`` if none) and the file."""

    record: dict | None
    problem: str | None
    path: Path
    other_parameters: bool = False
    """A sound record of a run of other ``full`` parameters than the chapter's now (the
    profile changed since): not damaged, not quoted either."""

    @property
    def damaged(self) -> bool:
        return self.problem is not None


def check(rec, chapter_id: str, full_params: Mapping | None = None) -> str | None:
    """Why the confirmation record ``rec`` of ``chapter_id`` may not be quoted (one phrase),
    or ``None``. ``full_params``: the ``full`` profile's resolved parameters (the record's
    hash must be theirs)."""
    if not isinstance(rec, dict):
        return "it is not a JSON object"
    for name, types in _FIELDS.items():
        if name not in rec and type(None) not in types:
            return f"it has no '{name}'"
        if name in rec and (not isinstance(rec[name], types) or isinstance(rec[name], bool)):
            return f"its '{name}' is {rec[name]!r}"
    if rec["chapter"] != chapter_id:
        return f"it is chapter {rec['chapter']!r}'s record"
    if rec["word"] not in WORDS:
        return f"its 'word' {rec['word']!r} is not a verdict"
    if "findings" in rec and not (
        isinstance(rec["findings"], list)
        and all(isinstance(f, dict) and isinstance(f.get("name"), str) for f in rec["findings"])
    ):
        return "its 'findings' are not a list of findings"
    recorded = rec["parameters_sha256"]
    own = rec.get("parameters")
    if isinstance(own, Mapping) and full_params is not None and _sha(own) == recorded:
        full_params = None  # its own parameters vouch for it; other ones make it outdated
    for params, whose in ((own, "its own parameters"), (full_params, None)):
        if params is None:
            continue
        if not isinstance(params, Mapping):
            return "its 'parameters' are not a mapping"
        if _sha(params) != recorded:
            if whose:
                return f"its parameters_sha256 is not the hash of {whose} (edited)"
            return "its parameters_sha256 is not the hash of the `full` profile's parameters"
        for name in ("seed", "n_seeds"):
            if name in rec and rec[name] != params.get(name):
                where = whose or "the `full` profile's parameters, whose hash it records"
                return f"its '{name}' is {rec[name]!r} but {where} say {params.get(name)!r}"
    return None


def read(
    chapter_id: str, root: Path | None = None, full_params: Mapping | None = None
) -> Confirmation:
    """The chapter's confirmation record, checked (:func:`check`)."""
    f = path(chapter_id, root)
    if not f.is_file():
        return Confirmation(None, None, f)
    try:
        rec = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Confirmation(None, "it is not valid JSON", f)
    problem = check(rec, chapter_id, full_params)
    if (
        problem is None
        and full_params is not None
        and _sha(full_params) != rec.get("parameters_sha256")
    ):
        return Confirmation(None, None, f, other_parameters=True)
    return Confirmation(None if problem else rec, problem, f)


def read_for(spec, root: Path | None = None) -> Confirmation:
    """:func:`read` for the chapter of ``spec`` (a ``ChapterSpec``), checked against its
    ``full`` profile's parameters."""
    from dropout_study.book.params import resolve

    return read(spec.id, root, resolve(spec, "full", check=False))


def load(chapter_id: str, root: Path | None = None) -> dict | None:
    """The recorded confirmation of a chapter, or ``None``."""
    f = path(chapter_id, root)
    if not f.is_file():
        return None
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except ValueError:
        return None


def _outcome(f: Mapping) -> str:
    return "not applicable" if f.get("degenerate") else str(f.get("outcome"))


def _words(f: Mapping) -> str:
    """How a page reads a recorded finding's outcome (:func:`~dropout_study.chapters.wording.
    kind_words`: an equivalence's "no" is "a change beyond the margin"), or "not applicable"."""
    out = _outcome(f)
    return out if out == "not applicable" else kind_words(f.get("kind"), out)


def compare(findings, recorded) -> dict:
    """Finding by finding, this run's outcomes (``findings``: ``metrics.json`` records)
    against the confirmation's (``recorded``): ``held`` and ``changed`` (``(name, here,
    there)``) and the names found on one side only."""
    by_here = {f["name"]: f for f in findings or []}
    by_there = {f["name"]: f for f in recorded or []}
    here = {n: _outcome(f) for n, f in by_here.items()}
    there = {n: _outcome(f) for n, f in by_there.items()}
    held = [n for n in here if n in there and here[n] == there[n]]
    changed = [
        (n, _words(by_here[n]), _words(by_there[n]))
        for n in here
        if n in there and here[n] != there[n]
    ]
    return {
        "held": held,
        "not_applicable_both": [n for n in held if here[n] == "not applicable"],
        "changed": changed,
        "only_here": [n for n in here if n not in there],
        "only_there": [n for n in there if n not in here],
    }


def _findings_text(findings, recorded) -> str:
    c = compare(findings, recorded)
    k = len(c["not_applicable_both"])  # left out of every count (STUDY.md, "Findings")
    held = len(c["held"]) - k
    n = held + len(c["changed"])
    if not n and not k:
        return ""
    text = f" Finding by finding, {held} of {n} kept their outcome there"
    if k:
        text += f" ({k} more {'is' if k == 1 else 'are'} not applicable in both runs, not counted)"
    if c["changed"]:
        text += "; changed: " + "; ".join(
            f"{md_text(name)} (here {a}, on the fresh seeds {b})" for name, a, b in c["changed"]
        )
    text += "."
    if c["only_here"]:
        text += " Not recorded by that run: " + ", ".join(map(md_text, c["only_here"])) + "."
    if c["only_there"]:  # e.g. analyses only the `full` profile runs: shown, not hidden
        by_name = {f["name"]: f for f in recorded or []}
        text += (
            " Measured only by that run: "
            + "; ".join(f"{md_text(n)}: {_found_there(by_name[n])}" for n in c["only_there"])
            + "."
        )
    return text


def _found_there(f: Mapping) -> str:
    """A recorded finding's outcome (in words) with its estimate and interval (when
    recorded)."""
    out = _words(f)
    vals = [f.get(k) for k in ("estimate", "low", "high")]
    nums = [float(v) for v in vals if isinstance(v, int | float) and math.isfinite(v)]
    if len(nums) == 3:
        est, lo, hi = nums
        out += f" ({bracket(est, lo, hi, fmt=significant)})"
    return out


def sentence(
    chapter_id: str,
    profile: str,
    word: str,
    root: Path | None = None,
    code: str | None = None,
    findings=None,
    full_params: Mapping | None = None,
) -> str:
    """MyST markdown for the page: the confirmation status of this run's verdict and, finding
    by finding, which outcomes held on the fresh seeds and which changed (commands and
    profile names in code spans). "Held" is said of the chapter's word only, never hiding a
    changed finding.

    ``code``: the science hash this run ran with; when the record was made with other code,
    the sentence says so (the record may be stale). ``findings``: this run's finding records.
    ``full_params``: the ``full`` profile's resolved parameters, which the record's hash must
    match; a record that fails :func:`check` is named as damaged, never quoted."""
    if profile == "full":
        return (
            "This page is the confirmatory run: the `full` profile, on seeds disjoint from the "
            "`book` profile's."
        )
    found = read(chapter_id, root, full_params)
    rerun = f"`dropout-study run {chapter_id} --profile full`"
    if found.problem:
        name = f"book/confirmations/{found.path.name}"
        return (
            f"The confirmation record `{name}` is damaged ({found.problem}), so it is not "
            f"quoted here; {rerun} records a new one."
        )
    rec = found.record
    if found.other_parameters:
        return (
            f"The confirmation on record (`book/confirmations/{found.path.name}`) ran with "
            "other `full` parameters than this chapter's now, so it is not quoted here; "
            f"{rerun} records one for these."
        )
    if rec is None:
        return (
            "No confirmatory run on fresh seeds has been recorded for this chapter yet; "
            f"{rerun} produces and records one."
        )
    commit = (rec.get("commit") or "unknown")[:10]
    seeds = f"{rec['n_seeds']} fresh seeds" if rec.get("n_seeds") else "fresh seeds"
    where = f"On {seeds} (profile `full`, seed {rec.get('seed')}, commit {commit})"
    if profile != "book":
        text = (
            f"This run used the `{profile}` profile, not the study's; {where[0].lower()}"
            f"{where[1:]} the confirmatory run's verdict was “{rec['word']}”."
        )
    elif rec["word"] == word:
        text = f"{where} the verdict was “{rec['word']}”: this page's verdict held there."
    elif INCONCLUSIVE in (word, rec["word"]):
        text = (
            f"{where} the primary verdict was “{rec['word']}”, against “{word}” here: one of "
            "the two runs could not decide at the stated margin."
        )
    else:
        text = (
            f"{where} the primary verdict was “{rec['word']}”, so this page's verdict "
            f"(“{word}”) did not hold there."
        )
    if profile == "book":
        text += _findings_text(findings, rec.get("findings"))
    if code and rec.get("code") and rec["code"] != code:
        text += (
            " That run used other code than this page: rerun "
            f"`dropout-study run {chapter_id} --profile full` to refresh it."
        )
    return text


def status(
    chapter_id: str, code: str, root: Path | None = None, full_params: Mapping | None = None
) -> str:
    """``"current"`` (recorded with science hash ``code``), ``"other code"`` (recorded with
    other science code: ``dropout-study run <id> --profile full`` refreshes it), ``"other
    parameters"`` (recorded for ``full`` parameters that have changed since), ``"damaged"``
    (fails :func:`check`; :func:`read` says why) or ``"none"``."""
    return state(read(chapter_id, root, full_params), code)


def state(found: Confirmation, code: str) -> str:
    """:func:`status` of a record :func:`read` has already found."""
    if found.problem:
        return "damaged"
    if found.other_parameters:
        return "other parameters"
    rec = found.record
    if rec is None:
        return "none"
    return "current" if rec.get("code") == code else "other code"
