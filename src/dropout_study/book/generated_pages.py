"""Generated pages and blocks, read from the chapters' ``metrics.json``: the intro's verdict
table (``book/generated/verdicts.md``), the reproduce page's parameter tables
(``book/generated/parameters.md``) and the README's verdict block."""

from __future__ import annotations

import json
from pathlib import Path

from dropout_study.book.project import BuildFailed, Project, toc_chapters
from dropout_study.book.records import read_metrics
from dropout_study.chapters.verdicts import badge, label

__all__ = [
    "fmt_value",
    "cell",
    "verdict_rows",
    "verdicts_markdown",
    "parameters_markdown",
    "write_generated",
    "multiplicity_markdown",
    "figures_markdown",
    "built_with_markdown",
    "README_START",
    "README_END",
    "readme_block",
    "update_readme",
]


def fmt_value(value) -> str:
    """A parameter value as inline code (JSON spelling)."""
    return "`" + json.dumps(value) + "`"


def cell(text: str) -> str:
    """Text safe inside one cell of a GitHub markdown table."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def verdict_rows(project: Project, ids: list[str] | None = None) -> list[dict]:
    """One row per chapter (default: those in ``_toc.yml``) read from its ``metrics.json``
    (checked against the hash in its ``run.json``: an edited or damaged one raises
    :class:`~dropout_study.book.records.DamagedRecord` naming it): ``chapter``, ``claim``,
    ``word`` (``None`` if it has not run), ``sentence``, ``profile``, ``commit``, ``dirty``,
    and ``confirmation`` (:func:`confirmation_of`)."""
    ids = toc_chapters(project) if ids is None else ids
    rows = []
    for cid in ids:
        f = project.dest(cid) / "metrics.json"
        if f.is_file():
            m = read_metrics(f.parent)
            git = m.get("provenance", {}).get("git", {})
            rows.append(
                {
                    "chapter": cid,
                    "claim": m["claim"],
                    "word": m["verdict"]["word"],
                    "sentence": m["verdict"]["sentence"],
                    "answer": m["verdict"].get("answer") or m["verdict"]["sentence"],
                    "findings": m.get("findings") or [],
                    "profile": m.get("profile"),
                    "commit": git.get("commit"),
                    "dirty": git.get("dirty"),
                    "robustness": m.get("robustness"),
                    "confirmation": confirmation_of(project, cid),
                }
            )
        else:
            spec = project.spec(cid)
            rows.append(
                {
                    "chapter": cid,
                    "claim": spec.claim,
                    "word": None,
                    "sentence": "",
                    "answer": "",
                    "findings": [],
                    "profile": None,
                    "commit": None,
                    "dirty": None,
                    "robustness": None,
                    "confirmation": confirmation_of(project, cid),
                }
            )
    return rows


def _origin(rows: list[dict]) -> str:
    profiles = sorted({r["profile"] for r in rows if r["profile"]})
    commits = sorted(
        {
            (r["commit"][:10] + (" with uncommitted changes" if r["dirty"] else ""))
            for r in rows
            if r["commit"]
        }
    )
    prof = ", ".join(f"`{p}`" for p in profiles) or "none"
    com = "; ".join(commits) or "unknown"
    return f"profile {prof}; package at commit {com}"


def confirmation_of(project: Project, chapter_id: str) -> dict:
    """The chapter's fresh-seed confirmation as the intro quotes it: ``word`` (the recorded
    ``full``-profile verdict, ``None`` when none may be quoted) and ``state``
    (:func:`dropout_study.book.confirm.status`: ``current``, ``other code``, ``other
    parameters``, ``damaged`` or ``none``)."""
    from dropout_study.book import confirm
    from dropout_study.book.cache import chapter_science_hash
    from dropout_study.book.params import resolve

    spec = project.spec(chapter_id)
    found = confirm.read(chapter_id, project.root, resolve(spec, "full", check=False))
    state = confirm.state(found, chapter_science_hash(spec, project.package_dir))
    rec = found.record if state in ("current", "other code") else None
    return {"word": rec["word"] if rec is not None else None, "state": state}


STALE = "†"
"""Marks a fresh-seed word recorded with other science code than this checkout's."""


def _confirmation_cell(c: dict | None, word=badge) -> str:
    """The intro's "fresh seeds" cell: the recorded word (by ``word``: a badge, or a bold
    label for the README), with a note when it ran other code; what keeps it from being
    quoted otherwise."""
    if not c or c["state"] == "none":
        return "none recorded"
    if c["state"] == "damaged":
        return "damaged record (not quoted)"
    if c["word"] is None:
        return "recorded for other parameters (not quoted)"
    return word(c["word"]) + (f" {STALE}" if c["state"] == "other code" else "")


FRESH_TEXT = (
    "the verdict of the `full` profile's run on seeds disjoint from these, from "
    "`book/confirmations/` (each chapter's page compares it finding by finding); "
    f"{STALE}: recorded with other science code than this build's, so it may be stale."
)


def _list_table(
    header: list[str], rows: list[list[str]], widths: list[int], cls: str = ""
) -> list[str]:
    """A MyST ``list-table`` (column widths, no escaping of ``|``); ``cls``: CSS classes
    (``ds-stack …`` stacks the cells of a row on a phone, see book/_static)."""
    out = [
        "```{list-table}",
        ":header-rows: 1",
        ":widths: " + " ".join(str(w) for w in widths),
        *([f":class: {cls}"] if cls else []),
        "",
    ]
    for row in [header, *rows]:
        out += [f"* - {row[0]}"] + [f"  - {cell}" for cell in row[1:]]
    out += ["```", ""]
    return out


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _robustness_count(rob) -> str:
    """The robustness count of a chapter's recorded table, short ("—" without one): "k of n
    agree (f flip, i inconclusive; m not counted)", or with an inconclusive primary "i of n
    also inconclusive, d decided (m not counted)"; the chapter's page says why each row that
    is not counted is left out."""
    if not rob or not rob.get("n"):
        return "—"
    na = rob.get("not_applicable", 0)
    tail = f"; {na} not counted" if na else ""
    if rob.get("primary") == "inconclusive" and "also_inconclusive" in rob:
        decided = len(rob.get("decided", []))
        return f"{rob['also_inconclusive']} of {rob['n']} also inconclusive, {decided} decided" + (
            f" ({na} not counted)" if na else ""
        )
    text = f"{rob['agree']} of {rob['n']} agree"
    if rob["agree"] < rob["n"] or na:
        text += f" ({rob['flips']} flip, {rob['to_inconclusive']} inconclusive{tail})"
    return text


def verdicts_markdown(rows: list[dict]) -> str:
    """The intro's verdict table (MyST), each claim linking its chapter page; the verdict as
    a badge with colour and symbol, and the robustness count."""
    body = []
    for r in rows:
        claim = _one_line(r["claim"]).replace("<", "\\<").replace("`", "")
        body.append(
            [
                f"{{doc}}`{claim} </book/generated/{r['chapter']}/{r['chapter']}>`",
                badge(r["word"]) if r["word"] else "*not run yet*",
                _robustness_count(r.get("robustness")),
                _confirmation_cell(r.get("confirmation")),
                _one_line(r["answer"]) or "—",
            ]
        )
    header = [
        "Claim (links to its chapter)",
        "Verdict",
        "Robustness",
        "Fresh seeds",
        "In plain words",
    ]
    lines = _list_table(header, body, [18, 15, 16, 15, 36], "ds-stack ds-verdicts")
    lines += [
        f"Read from each chapter's `metrics.json` by `dropout-study build` ({_origin(rows)}). "
        f"*Fresh seeds*: {FRESH_TEXT}",
        "",
        multiplicity_markdown(rows),
        "",
    ]
    return "\n".join(lines)


def multiplicity_markdown(rows: list[dict]) -> str:
    """How many decisions the book makes (verdicts and the alternative analyses of the
    robustness tables), read from the results, and that the intervals are not adjusted."""
    decided = [r for r in rows if r["word"]]
    robs = [r.get("robustness") or {} for r in decided]
    counted = sum(rb.get("n", 0) or 0 for rb in robs)
    # every re-decided row, the ones left out of the counts (not exploratory) included
    alternatives = counted + sum(rb.get("not_applicable", 0) or 0 for rb in robs)
    n_findings = sum(len(r.get("findings") or []) for r in decided)
    n = len(decided)
    verdicts = f"{n} verdict{'s' if n != 1 else ''}"
    left_out = (
        f"; {counted} of them counted, the rest shown and left out for the reason each table gives"
        if counted != alternatives
        else ""
    )
    alt = (
        f" and re-decides them under {alternatives} alternative analysis choice"
        f"{'s' if alternatives != 1 else ''} (the robustness tables{left_out})"
        if alternatives
        else ""
    )
    found = (
        f" The verdicts rest on {n_findings} findings (sub-outcomes, each with its interval "
        "and margin)."
        if n_findings
        else ""
    )
    return (
        f"*Multiplicity.* This build decides {verdicts}{alt}, {n + alternatives} decision"
        f"{'s' if n + alternatives != 1 else ''} in all.{found} Every 95 % interval in the "
        "book is a per-comparison interval, not adjusted for this multiplicity: among this "
        "many decisions one may cross a margin by chance, which is why each verdict also "
        "states how many alternatives agree."
    )


def built_with_markdown(rows: list[dict]) -> str:
    """The reproduce page's sentence on which profile this build used (from the results)."""
    profiles = sorted({r["profile"] for r in rows if r["profile"]})
    if not profiles:
        return "No chapter has been executed yet: `dropout-study build` fills these pages."
    names = " and ".join(f"`{p}`" for p in profiles)
    col = "column" if len(profiles) == 1 else "columns"
    text = f"This book was built with the {names} profile: the {names} {col} below."
    if profiles != ["book"]:
        text += " The study's own results are those of the `book` profile (`make book`)."
    return text


def _first_sentence(text: str) -> str:
    """Up to the first ". " that lies outside ``$…$`` maths (never cut inside a formula)."""
    i = 0
    while True:
        j = text.find(". ", i)
        if j < 0:
            return text.rstrip().rstrip(".")
        if text[:j].count("$") % 2 == 0 and text[:j].count("`") % 2 == 0:
            return text[:j]
        i = j + 2


def figures_markdown(project: Project, ids: list[str]) -> str:
    """The reproduce page's list of every figure: number and link, label, caption."""
    from dropout_study.book.citing import figures

    out = []
    for _cid, fig_label, caption in figures(project, ids):
        short = _first_sentence(caption)
        out.append(f"- {{numref}}`Figure {{number}} <{fig_label}>` `{fig_label}` — {short}.")
    if not out:
        return "No figures yet.\n"
    return "\n".join(out) + "\n"


def parameters_markdown(project: Project, ids: list[str]) -> str:
    """The reproduce page's tables: every chapter's parameters with book/smoke/full values."""
    out = []
    for cid in ids:
        spec = project.spec(cid)
        out += [
            f"({'params-' + cid})=",
            f"### `{cid}`",
            "",
            f"{_one_line(spec.claim)} Page: {{doc}}`/book/generated/{cid}/{cid}`.",
            "",
        ]
        body = []
        for p in spec.params:
            smoke = spec.profiles.get("smoke", {}).get(p.name, p.default)
            full = spec.profiles.get("full", {}).get(p.name, p.default)
            body.append(
                [
                    f"`{p.name}` ({p.type})",
                    fmt_value(p.default),
                    fmt_value(smoke),
                    fmt_value(full),
                    _one_line(p.help),
                ]
            )
        header = ["Parameter", "`book` (default)", "`smoke`", "`full`", "Meaning"]
        out += _list_table(header, body, [24, 14, 12, 14, 36], "ds-stack ds-params")
    return "\n".join(out)


def _write_if_changed(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def write_generated(project: Project, ids: list[str] | None = None) -> None:
    """Write ``book/generated/verdicts.md`` and ``book/generated/parameters.md``."""
    ids = toc_chapters(project) if ids is None else ids
    _write_if_changed(
        project.generated / "verdicts.md", verdicts_markdown(verdict_rows(project, ids))
    )
    rows = verdict_rows(project, ids)
    params_md = built_with_markdown(rows) + "\n\n" + parameters_markdown(project, ids)
    _write_if_changed(project.generated / "parameters.md", params_md)
    _write_if_changed(project.generated / "figures.md", figures_markdown(project, ids))


# ------------------------------------------------------------------------------------------
# README
# ------------------------------------------------------------------------------------------

README_START = "<!-- verdicts:start (generated by `dropout-study readme`; do not edit) -->"
README_END = "<!-- verdicts:end -->"


def readme_block(project: Project) -> str:
    """The README's verdict table (GitHub markdown) from the ``book``-profile results."""
    ids = toc_chapters(project)
    rows = verdict_rows(project, ids)
    missing = [r["chapter"] for r in rows if r["word"] is None]
    if missing:
        raise BuildFailed(
            f"No results for {', '.join(missing)}: run `make book` before `dropout-study readme`."
        )
    other = [r["chapter"] for r in rows if r["profile"] != "book"]
    if other:
        raise BuildFailed(
            f"The results of {', '.join(other)} are not from the book profile: run `make book` "
            "before `dropout-study readme`."
        )
    lines = [
        "| Claim | Chapter | Verdict | Robustness | Fresh seeds | In plain words |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        fresh = _confirmation_cell(r.get("confirmation"), lambda w: f"**{label(w)}**")
        lines.append(
            f"| {cell(r['claim'])} | `{r['chapter']}` | **{label(r['word'])}** | "
            f"{_robustness_count(r.get('robustness'))} | {fresh} | "
            f"{cell(_one_line(r['answer']))} |"
        )
    lines += [
        "",
        f"*Fresh seeds*: {FRESH_TEXT}",
        "",
        f"*Generated by `dropout-study readme` from {_origin(rows)}.*",
    ]
    return "\n".join(lines)


def update_readme(project: Project | None = None) -> Path:
    """Rewrite the marked verdict block of ``README.md`` (see :func:`readme_block`)."""
    project = project or Project()
    readme = Path(project.root) / "README.md"
    text = readme.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        raise BuildFailed(f"{readme} has no verdict block ({README_START} … {README_END}).")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    new = f"{head}{README_START}\n{readme_block(project)}\n{README_END}{tail}"
    _write_if_changed(readme, new)
    return readme
