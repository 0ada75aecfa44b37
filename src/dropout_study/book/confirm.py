"""Fresh-seed confirmation: does a chapter's primary verdict hold on the ``full`` profile?

Each verdict is confirmed once on fresh seeds: the ``full`` profile runs on seeds disjoint
from ``book``'s (a seed offset). When a chapter runs with exactly the ``full`` profile's
parameters (no overrides), the pipeline calls :func:`record`, which writes
``book/confirmations/<id>.json`` (small, committed with the repository so every later book
build can cite it): the verdict word, its sentence, the robustness summary, the resolved
parameters and their hash, the commit and the chapter's *science hash*
(:func:`dropout_study.book.cache.chapter_science_hash`: the numpy core, the measures, the
shared chapter code, the chapter's folder and its notebook's code cells — not the book
machinery). :func:`status` says whether a record is current for the code of this checkout.

:func:`sentence` is what a chapter page says about it (``report.finish`` glues it as MyST
markdown under ``confirmation``, placed with ``{glue:md}`confirmation:myst```, so its commands
are code: shown without backticks and with their ``--`` kept): on a ``full`` run, that this
*is* the confirmatory run; otherwise whether the recorded ``full`` verdict agrees with this
run's primary verdict, or how to produce one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from dropout_study import paths
from dropout_study.chapters.verdicts import INCONCLUSIVE
from dropout_study.provenance import canonical_json, sha256_bytes

__all__ = ["DIR", "path", "record", "load", "sentence", "status"]

DIR = paths.BOOK / "confirmations"


def path(chapter_id: str, root: Path | None = None) -> Path:
    """``book/confirmations/<chapter_id>.json`` under ``root`` (default: this checkout)."""
    base = DIR if root is None else Path(root) / "book" / "confirmations"
    return base / f"{chapter_id}.json"


def record(
    metrics_record: Mapping, params: Mapping, root: Path | None = None, code: str | None = None
) -> Path:
    """Write the confirmation file from a ``full``-profile run's ``metrics.json`` record;
    ``code``: the chapter's science hash
    (:func:`dropout_study.book.cache.chapter_science_hash`), so a later page can tell whether
    the record still speaks for its code."""
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
            {
                k: f.get(k)
                for k in ("name", "role", "outcome", "degenerate", "estimate", "low", "high", "n")
            }
            for f in metrics_record.get("findings") or []
        ],
    }
    out = path(entry["chapter"], root)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(entry, indent=2, ensure_ascii=False) + "\n"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out


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


def compare(findings, recorded) -> dict:
    """Finding by finding, this run's outcomes (``findings``: ``metrics.json`` records)
    against the confirmation's (``recorded``): ``held`` and ``changed`` (``(name, here,
    there)``) and the names found on one side only."""
    here = {f["name"]: _outcome(f) for f in findings or []}
    there = {f["name"]: _outcome(f) for f in recorded or []}
    held = [n for n in here if n in there and here[n] == there[n]]
    changed = [(n, here[n], there[n]) for n in here if n in there and here[n] != there[n]]
    return {
        "held": held,
        "changed": changed,
        "only_here": [n for n in here if n not in there],
        "only_there": [n for n in there if n not in here],
    }


def _findings_text(findings, recorded) -> str:
    c = compare(findings, recorded)
    n = len(c["held"]) + len(c["changed"])
    if not n:
        return ""
    text = f" Finding by finding, {len(c['held'])} of {n} kept their outcome there"
    if c["changed"]:
        text += "; changed: " + "; ".join(
            f"{name} (here {a}, on the fresh seeds {b})" for name, a, b in c["changed"]
        )
    text += "."
    if c["only_here"]:
        text += " Not recorded by that run: " + ", ".join(c["only_here"]) + "."
    return text


def sentence(
    chapter_id: str,
    profile: str,
    word: str,
    root: Path | None = None,
    code: str | None = None,
    findings=None,
) -> str:
    """MyST markdown for the page: the confirmation status of this run's verdict and, finding
    by finding, which outcomes held on the fresh seeds and which changed (commands and
    profile names in code spans). "Held" is said of the chapter's word only, never hiding a
    changed finding.

    ``code``: the science hash this run ran with; when the record was made with other code,
    the sentence says so (the record may be stale). ``findings``: this run's finding records."""
    if profile == "full":
        return (
            "This page is the confirmatory run: the `full` profile, on seeds disjoint from the "
            "`book` profile's."
        )
    rec = load(chapter_id, root)
    if rec is None:
        return (
            "No confirmatory run on fresh seeds has been recorded for this chapter yet; "
            f"`dropout-study run {chapter_id} --profile full` produces and records one."
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


def status(chapter_id: str, code: str, root: Path | None = None) -> str:
    """``"current"`` (recorded with science hash ``code``), ``"other code"`` (recorded with
    other science code: ``dropout-study run <id> --profile full`` refreshes it) or ``"none"``."""
    rec = load(chapter_id, root)
    if rec is None:
        return "none"
    return "current" if rec.get("code") == code else "other code"
