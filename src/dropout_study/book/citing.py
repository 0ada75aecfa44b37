"""Citing the study and its figures: ``dropout-study cite [fig-<chapter>-<name>]``.

- :func:`study_bibtex` / :func:`study_csl` — the study as a BibTeX ``@software`` entry and as
  CSL-JSON, both read from ``CITATION.cff`` (one source of truth for title, authors, version,
  date, licence and abstract);
- :func:`figure_record` — one figure: its label, caption (glue resolved from the chapter's
  ``metrics.json``), chapter, package version, git commit, a hash of its parameters and its
  stable URL anchor ``book/generated/<chapter>/<chapter>.html#<label>``;
- :func:`figures` — every figure of the built chapters, for the reproduce page's list.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import yaml

from dropout_study.validation import did_you_mean, fail

__all__ = [
    "LABEL",
    "load_cff",
    "study_bibtex",
    "study_csl",
    "parameters_hash",
    "captions",
    "figure_record",
    "figure_text",
    "figures",
    "anchor",
    "cite_text",
]

LABEL = re.compile(r"^fig-(?P<rest>[a-z0-9-]+)$")
_GLUE_FIGURE = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{glue:figure\}\s*(?P<key>\S+)\s*\n(?P<body>.*?)^(?P=fence)\s*$",
    re.M | re.S,
)
_GLUE_TEXT = re.compile(r"\{glue:text\}`(?P<key>[^`:]+)(?::(?P<spec>[^`]*))?`")
_ROLE = re.compile(r"\{[a-z:]+\}`(?P<text>[^`<]*?)(?:\s*<[^`]*>)?`")


def load_cff(root: Path) -> dict:
    """``CITATION.cff`` of the project at ``root`` (else of this checkout) as a dict."""
    from dropout_study import paths

    f = Path(root) / "CITATION.cff"
    if not f.is_file():
        f = paths.PACKAGE.parent.parent / "CITATION.cff"
    return yaml.safe_load(f.read_text(encoding="utf-8"))


def _authors(cff: dict) -> list[dict]:
    return cff.get("authors", [])


def _bib_name(a: dict) -> str:
    if "family-names" in a:
        return f"{a['family-names']}, {a.get('given-names', '')}".strip(", ")
    return "{" + a["name"] + "}"


def study_bibtex(cff: dict) -> str:
    """The study as one BibTeX ``@software`` entry (biblatex type; BibTeX reads it as misc)."""
    date = str(cff.get("date-released", ""))
    fields = {
        "author": " and ".join(_bib_name(a) for a in _authors(cff)),
        "title": "{" + cff["title"] + "}",
        "version": cff.get("version"),
        "year": date[:4] or None,
        "date": date or None,
        "url": cff.get("repository-code") or cff.get("url"),
        "license": cff.get("license"),
        "note": "Version " + str(cff.get("version")) if cff.get("version") else None,
    }
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items() if v)
    return f"@software{{dropout_study,\n{body}\n}}"


def study_csl(cff: dict) -> list[dict]:
    """The study as CSL-JSON (a list with one item of type ``software``)."""
    authors = []
    for a in _authors(cff):
        if "family-names" in a:
            authors.append({"family": a["family-names"], "given": a.get("given-names", "")})
        else:
            authors.append({"literal": a["name"]})
    item = {
        "id": "dropout_study",
        "type": "software",
        "title": cff["title"],
        "author": authors,
        "version": str(cff.get("version", "")),
        "abstract": " ".join(str(cff.get("abstract", "")).split()),
    }
    date = str(cff.get("date-released", ""))
    if date:
        item["issued"] = {"date-parts": [[int(x) for x in date.split("-")]]}
    url = cff.get("repository-code") or cff.get("url")
    if url:
        item["URL"] = url
    return [item]


def parameters_hash(parameters: dict) -> str:
    """First 12 hex digits of the SHA-256 of the parameters as canonical JSON."""
    payload = json.dumps(parameters, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _resolve_glue(text: str, glued: dict) -> str:
    def sub(m):
        key, spec = m.group("key"), m.group("spec")
        if key not in glued:
            return m.group(0)
        value = glued[key]
        try:
            return format(value, spec) if spec else str(value)
        except (TypeError, ValueError):
            return str(value)

    text = _GLUE_TEXT.sub(sub, text)
    return _ROLE.sub(lambda m: m.group("text"), text)


def captions(source: Path, glued: dict | None = None) -> dict[str, str]:
    """Label -> caption (one line, glued values filled in from ``glued``) of every
    ``{glue:figure}`` in a chapter source."""
    text = Path(source).read_text(encoding="utf-8")
    out = {}
    for m in _GLUE_FIGURE.finditer(text):
        body = m.group("body")
        name = re.search(r"^:name:\s*(\S+)", body, re.M)
        label = name.group(1) if name else m.group("key")
        lines = [ln for ln in body.splitlines() if not ln.startswith(":")]
        caption = " ".join(" ".join(lines).split())
        out[label] = _resolve_glue(caption, glued or {})
    return out


def anchor(chapter: str, label: str) -> str:
    """The figure's stable address inside the built site."""
    return f"book/generated/{chapter}/{chapter}.html#{label}"


def _chapter_of(label: str, chapter_ids) -> str | None:
    m = LABEL.match(label)
    if not m:
        return None
    rest = m.group("rest")
    best = None
    for cid in chapter_ids:
        if rest.startswith(cid + "-") and (best is None or len(cid) > len(best)):
            best = cid
    return best


def figure_record(project, label: str, run_dir: str | Path | None = None) -> dict:
    """Everything needed to cite the figure ``label`` of the last build, or of the run whose
    output folder is ``run_dir`` (see module doc).

    Raises ``ValueError`` if the label names no chapter or the chapter has no such figure.
    """
    chapter_ids = list(project.chapters)
    if not isinstance(label, str):
        fail("figure", "dropout-study cite", "a label fig-<chapter>-<name>", label, TypeError)
    cid = _chapter_of(label, chapter_ids)
    if cid is None:
        fail(
            "figure",
            "dropout-study cite",
            "a label fig-<chapter>-<name> with <chapter> one of " + ", ".join(chapter_ids),
            label,
        )
    name = label[len("fig-" + cid + "-") :]
    dest = project.dest(cid) if run_dir is None else Path(run_dir)
    if run_dir is not None and not (dest / f"{cid}.ipynb").is_file():
        fail("--run", "dropout-study cite", f"the --out folder of a run of {cid}", str(run_dir))
    meta_file = dest / "figures" / f"{name}.json"
    if not meta_file.is_file():
        known = sorted(p.stem for p in (dest / "figures").glob("*.json"))
        where = "the last build of " + cid if run_dir is None else f"the run in {run_dir}"
        allowed = (
            f"a figure of {where} (" + ", ".join(f"fig-{cid}-{k}" for k in known) + ")"
            if known
            else f"a figure of a built chapter (run 'dropout-study build' first, or cite a "
            f"figure of your own run with --run DIR; {cid} has none)"
        )
        try:
            fail("figure", "dropout-study cite", allowed, label)
        except ValueError as exc:
            close = did_you_mean(label, [f"fig-{cid}-{k}" for k in known])
            raise ValueError(str(exc) + close) from None
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    glued = {}
    metrics_file = dest / "metrics.json"
    if metrics_file.is_file():
        glued = json.loads(metrics_file.read_text(encoding="utf-8")).get("glued", {})
    caption = _tex_as_text(captions(project.source(cid), glued).get(label, ""))
    prov = meta.get("provenance", {})
    git = prov.get("git", {}) if isinstance(prov, dict) else {}
    return {
        "label": label,
        "caption": caption,
        "chapter": cid,
        "version": prov.get("package_version") or prov.get("version"),
        "commit": git.get("commit"),
        "dirty": git.get("dirty"),
        "profile": meta.get("profile"),
        "parameters_hash": parameters_hash(meta.get("parameters", {})),
        "anchor": anchor(cid, label) if run_dir is None else f"page/{cid}.html#{label}",
        "files": [
            (f"book/generated/{cid}" if run_dir is None else str(dest)) + f"/figures/{f}"
            for f in meta.get("files", {}).values()
        ],
    }


def _tex_as_text(caption: str) -> str:
    """Inline maths ``$…$`` of a caption as Unicode text (``$\\lambda_\\max$`` → ``λₘₐₓ``)."""
    from dropout_study.book.sphinxext import math_as_text

    return re.sub(r"\$([^$]+)\$", lambda m: math_as_text(m.group(1)), caption)


def figure_bibtex(record: dict) -> str:
    """The figure as a BibTeX ``@misc`` entry keyed by its label: where it is (chapter and
    anchor) and what made it (version, commit, profile, parameters hash)."""
    commit = (record["commit"] or "unknown") + (" (dirty)" if record.get("dirty") else "")
    first = record["caption"].split(". ")[0].rstrip(".")
    fields = {
        "title": "{" + (f"{first}" if first else record["label"]) + "}",
        "howpublished": f"dropout-study, chapter {record['chapter']}, {record['anchor']}",
        "note": f"Figure {record['label']}; version {record['version']}, commit {commit}, "
        f"profile {record['profile']}, parameters sha256 {record['parameters_hash'][:16]}",
    }
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items())
    return f"@misc{{{record['label']},\n{body}\n}}"


def figure_text(record: dict) -> str:
    """The record as the lines ``cite fig-…`` prints."""
    commit = record["commit"] or "unknown"
    if record.get("dirty"):
        commit += " (with uncommitted changes)"
    return "\n".join(
        [
            f"label:      {record['label']}",
            f"caption:    {record['caption']}",
            f"chapter:    {record['chapter']}",
            f"version:    {record['version']}",
            f"commit:     {commit}",
            f"profile:    {record['profile']}",
            f"parameters: sha256 {record['parameters_hash']}",
            f"anchor:     {record['anchor']}",
            f"files:      {', '.join(record['files'])}",
        ]
        + (
            [
                f"note:       from the `{record['profile']}` profile, not the study's results "
                "(those are the `book` profile's: make book)"
            ]
            if record["profile"] not in ("book", "full")
            else []
        )
    )


def figures(project, ids) -> list[tuple[str, str, str]]:
    """``(chapter, label, caption)`` for every figure of the listed chapters, in page order
    (from the sources), with glue resolved from each chapter's last build."""
    out = []
    for cid in ids:
        glued = {}
        metrics_file = project.dest(cid) / "metrics.json"
        if metrics_file.is_file():
            glued = json.loads(metrics_file.read_text(encoding="utf-8")).get("glued", {})
        source = project.source(cid)
        if not source.is_file():
            continue
        for label, caption in captions(source, glued).items():
            out.append((cid, label, caption))
    return out


def cite_text(project, label: str | None = None, run_dir: str | Path | None = None) -> str:
    """What ``dropout-study cite [label] [--run DIR]`` prints: the study's BibTeX and
    CSL-JSON, or one figure's record, its BibTeX entry and the study's."""
    cff = load_cff(project.root)
    bib = study_bibtex(cff)
    if label is None and run_dir is not None:
        fail("figure", "dropout-study cite", "a figure label when --run is given", None)
    if label is None:
        csl = json.dumps(study_csl(cff), indent=2, ensure_ascii=False)
        return f"% BibTeX\n{bib}\n\n// CSL-JSON\n{csl}"
    rec = figure_record(project, label, run_dir)
    return (
        f"{figure_text(rec)}\n\nThe figure and the study, in BibTeX:\n{figure_bibtex(rec)}\n\n{bib}"
    )
