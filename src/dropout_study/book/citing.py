"""Citing the study and its figures: ``dropout-study cite [fig-<chapter>-<name>]``.

- :func:`study_bibtex` / :func:`study_csl` — the study as a BibTeX entry and as CSL-JSON,
  both read from ``CITATION.cff`` (one source of truth for title, authors, version, date,
  abstract and, when it has one, the repository's address: ``repository-code`` or ``url``;
  none is invented); the BibTeX entry also names the commit of the checkout;
- :func:`figure_record` — one figure: its label, caption (glue resolved from the chapter's
  ``metrics.json``), chapter, package version, git commit, a hash of its parameters and its
  stable URL anchor ``book/generated/<chapter>/<chapter>.html#<label>``;
- :func:`figures` — every figure of the built chapters, for the reproduce page's list.

The BibTeX entries are ``@misc`` with ``year``, ``month``, ``howpublished`` and ``note``, the
fields both BibTeX's standard styles and biblatex read (``@software`` and ``date`` are
biblatex's only), and their text is LaTeX in pure ASCII (:mod:`dropout_study.book.bibtex`):
pdflatex with BibTeX cannot read the captions' Unicode (×, −, θ, ≥, …).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from pathlib import Path

import yaml

from dropout_study.book import bibtex
from dropout_study.book.bibtex import latex
from dropout_study.book.project import rel
from dropout_study.provenance import git_commit
from dropout_study.validation import fail

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
    "BIBTEX_HEADER",
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
        return latex(f"{a['family-names']}, {a.get('given-names', '')}".strip(", "))
    return "{" + latex(a["name"]) + "}"


_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()


def _repository(cff: dict) -> str | None:
    """The repository's address from ``CITATION.cff`` (``repository-code``, else ``url``)."""
    return cff.get("repository-code") or cff.get("url") or None


def _commit_words(commit: str | None, dirty: bool | None) -> str:
    if not commit:
        return "commit unknown (not a git checkout)"
    return f"commit {commit}" + (" (with uncommitted changes)" if dirty else "")


def study_bibtex(cff: dict, git: dict | None = None) -> str:
    """The study as one BibTeX ``@misc`` entry (read alike by BibTeX and biblatex): authors,
    title, ``howpublished`` (the repository's address when ``CITATION.cff`` has one), year and
    month of the release, version, and ``note = {Version …, commit …}`` with the commit of
    ``git`` (:func:`dropout_study.provenance.git_commit`: the checkout, or a figure's build)."""
    date = str(cff.get("date-released", ""))
    repo = _repository(cff)
    git = git or {}
    version = cff.get("version")
    note = _commit_words(git.get("commit"), git.get("dirty"))
    if version:
        note = f"Version {version}, {note}"
    fields = {
        "author": " and ".join(_bib_name(a) for a in _authors(cff)),
        "title": "{" + latex(cff["title"]) + "}",
        "howpublished": f"\\url{{{repo}}}" if repo else "Software",
        "year": date[:4] or None,
        "month": ("raw", _MONTHS[int(date[5:7]) - 1]) if date[5:7].isdigit() else None,
        "version": latex(str(version)) if version else None,
        "url": repo,
        "note": latex(note),
    }
    return bibtex.entry("dropout_study", "misc", fields)


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
        except ValueError as exc:  # names compared without the prefix every label shares
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f" Did you mean 'fig-{cid}-{close[0]}'?" if close else ""
            raise ValueError(str(exc) + hint) from None
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
        "source": rel(project.source(cid), project.root),
        "run": run_dir is not None,
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


def figure_bibtex(record: dict, cff: dict | None = None) -> str:
    """The figure as a BibTeX ``@misc`` entry keyed by its label, its title the caption's first
    sentence. ``howpublished`` says where it is: the chapter source that makes it, in the
    repository (with its address when ``cff`` has one) at the figure's commit, and its anchor
    in the built book (from ``--run``: that a run with its own parameters made it);
    ``note``: version, profile and parameters hash."""
    cff = cff or {}
    repo = _repository(cff)
    first = record["caption"].split(". ")[0].rstrip(".")
    shown = (
        f"from a run with its own parameters (dropout-study run {record['chapter']})"
        if record.get("run")
        else f"in the built book at {record['anchor']}"
    )
    where = (
        f", {_commit_words(record['commit'], record.get('dirty'))}: figure {record['label']} of"
        f" {record['source']}, {shown}"
    )
    fields = {
        "author": " and ".join(_bib_name(a) for a in _authors(cff)),
        "title": "{" + latex(first or record["label"]) + "}",
        "howpublished": "dropout-study repository"
        + (f" \\url{{{repo}}}" if repo else "")
        + latex(where),
        "url": repo,
        "note": latex(
            f"Version {record['version']}, profile {record['profile']}, "
            f"parameters sha256 {record['parameters_hash'][:16]}"
        ),
    }
    return bibtex.entry(record["label"], "misc", fields)


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


BIBTEX_HEADER = (
    "% BibTeX, as @misc entries that BibTeX's standard styles and biblatex both read"
    " (LaTeX in pure ASCII; \\url needs the url or hyperref package)"
)


def cite_text(project, label: str | None = None, run_dir: str | Path | None = None) -> str:
    """What ``dropout-study cite [label] [--run DIR]`` prints: the study's BibTeX (with the
    checkout's commit) and CSL-JSON, or one figure's record, its BibTeX entry and the study's
    (with the figure's commit)."""
    cff = load_cff(project.root)
    if label is None and run_dir is not None:
        fail("figure", "dropout-study cite", "a figure label when --run is given", None)
    if label is None:
        bib = study_bibtex(cff, git_commit(project.root))
        csl = json.dumps(study_csl(cff), indent=2, ensure_ascii=False)
        return f"{BIBTEX_HEADER}\n{bib}\n\n// CSL-JSON (type software)\n{csl}"
    rec = figure_record(project, label, run_dir)
    bib = study_bibtex(cff, {"commit": rec["commit"], "dirty": rec.get("dirty")})
    return f"{figure_text(rec)}\n\n{BIBTEX_HEADER}\n{figure_bibtex(rec, cff)}\n\n{bib}"
