"""From parameters to executed chapters and a built book.

:func:`execute` runs one chapter: it reads the MyST source with jupytext and executes it with
papermill (kernel ``python3`` of this environment) in a fresh temporary *run directory* created
next to the destination, so the final rename stays on one file system. Only when the notebook
ran to the end and wrote ``metrics.json`` does the run directory replace the destination; a
failed run is deleted and the last good executed chapter, its figures and metrics stay as they
were. The executed notebook is post-processed: the ``parameters`` and injected-parameters cells
are tagged ``remove-cell`` and a small table of the parameters used follows them.

:func:`build` executes the chapters listed in ``_toc.yml`` that changed — the cache key is the
SHA-256 of the chapter source, the resolved parameters, the profile, the package's source
files and the dependency versions, stored in ``run.json`` beside the executed chapter — writes
the generated tables (``book/generated/verdicts.md`` for the intro, ``parameters.md`` for the
reproduce page; :func:`write_generated`) and runs ``jupyter-book build . -W -n --keep-going``.
:func:`update_readme` writes the README's verdict block from the same results.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dropout_study import chapters, paths
from dropout_study.params import check_profile, resolve
from dropout_study.provenance import (
    canonical_json,
    dependency_versions,
    package_hash,
    sha256_bytes,
)
from dropout_study.report import RUN_FILE
from dropout_study.verdicts import WORDS

__all__ = [
    "Project",
    "ChapterFailed",
    "BuildFailed",
    "RunResult",
    "cache_key",
    "is_fresh",
    "execute",
    "write_context",
    "parameter_table",
    "build",
    "toc_chapters",
    "verdict_rows",
    "verdicts_markdown",
    "parameters_markdown",
    "write_generated",
    "readme_block",
    "update_readme",
    "jupyter_book_build",
]

KERNEL = "python3"


def _kernel_manager_class():
    """A kernel manager that talks to the kernel over local IPC sockets (files in Jupyter's
    runtime directory) instead of TCP, so ipykernel has no reason to warn about plain-text
    TCP on every run."""
    from jupyter_client.manager import AsyncKernelManager

    class _IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.transport = "ipc"

    return _IPCKernelManager


_TOC_CHAPTER = re.compile(r"^book/generated/([^/]+)/([^/]+?)(?:\.ipynb)?$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ChapterFailed(RuntimeError):
    """A chapter's notebook raised or did not write its metrics; the message says which."""


class BuildFailed(RuntimeError):
    """The book could not be built; the message says why."""


@dataclass(frozen=True)
class Project:
    """Where a book lives. ``Project()`` is this checkout with the registered chapters; tests
    point ``root`` at a copy and may register other chapter ids. ``package_dir`` is the
    source tree whose hash keys the cache (default: the installed package)."""

    root: Path = field(default_factory=lambda: paths.ROOT)
    chapters: tuple[str, ...] = chapters.CHAPTERS
    package_dir: Path | None = None

    @property
    def book(self) -> Path:
        return Path(self.root) / "book"

    @property
    def sources(self) -> Path:
        return self.book / "chapters"

    @property
    def generated(self) -> Path:
        return self.book / "generated"

    @property
    def toc(self) -> Path:
        return Path(self.root) / "_toc.yml"

    def source(self, chapter_id: str) -> Path:
        return chapters.source_path(chapter_id, self.sources)

    def spec(self, chapter_id: str) -> chapters.ChapterSpec:
        return chapters.load(chapter_id, self.source(chapter_id), chapters=self.chapters)

    def dest(self, chapter_id: str) -> Path:
        """Where the book's executed copy of a chapter lives."""
        return self.generated / chapter_id


@dataclass(frozen=True)
class RunResult:
    chapter: str
    dest: Path
    executed: bool  # False: the cached copy was up to date
    seconds: float
    metrics: dict


# ------------------------------------------------------------------------------------------
# one chapter
# ------------------------------------------------------------------------------------------


def cache_key(
    spec: chapters.ChapterSpec, params: Mapping, profile: str, package_dir: Path | None = None
) -> str:
    """SHA-256 of everything an executed chapter depends on (see module docstring)."""
    return sha256_bytes(
        canonical_json(
            {
                "chapter": spec.id,
                "source": sha256_bytes(Path(spec.source).read_bytes()),
                "parameters": dict(params),
                "profile": profile,
                "package": package_hash(package_dir),
                "dependencies": dependency_versions(),
            }
        ).encode()
    )


def is_fresh(dest: Path, chapter_id: str, key: str) -> bool:
    """True if ``dest`` holds a complete executed copy made with cache key ``key``."""
    dest = Path(dest)
    run = dest / RUN_FILE
    if not (run.is_file() and (dest / f"{chapter_id}.ipynb").is_file()):
        return False
    if not (dest / "metrics.json").is_file():
        return False
    try:
        return json.loads(run.read_text(encoding="utf-8")).get("key") == key
    except ValueError:
        return False


def execute(
    spec: chapters.ChapterSpec,
    params: Mapping,
    dest: Path,
    *,
    profile: str = "book",
    key: str | None = None,
) -> dict:
    """Execute a chapter with already-resolved ``params`` (see :func:`params.resolve`) and
    put ``<id>.ipynb``, ``metrics.json``, ``figures/`` and ``run.json`` into ``dest``.

    Returns the chapter's metrics record. Raises :class:`ChapterFailed` (with the exception
    the notebook raised) and leaves ``dest`` untouched if the run fails.
    """
    import jupytext
    import papermill as pm

    dest = Path(dest).resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=f".{dest.name}.run-", dir=dest.parent))
    run_dir.chmod(0o755)
    out = run_dir / f"{spec.id}.ipynb"
    try:
        write_context(run_dir, spec, params, profile=profile, key=key)
        nb = jupytext.read(spec.source)
        try:
            pm.execute_notebook(
                nb,
                str(out),
                parameters=dict(params),
                kernel_name=KERNEL,
                language="python",
                cwd=str(run_dir),
                progress_bar=False,
                log_output=False,
                kernel_manager_class=_kernel_manager_class(),
            )
        except pm.PapermillExecutionError as exc:
            evalue = _ANSI.sub("", str(exc.evalue)).strip().splitlines()
            first = evalue[0] if evalue else ""
            raise ChapterFailed(
                f"Chapter '{spec.id}' failed in cell {exc.exec_count}: {exc.ename}: {first}"
            ) from None
        metrics_file = run_dir / "metrics.json"
        if not metrics_file.is_file():
            raise ChapterFailed(
                f"Chapter '{spec.id}' ran but wrote no metrics.json "
                "(does its last cell call report.finish?)."
            )
        _postprocess(out, spec, params, profile)
        record = json.loads(metrics_file.read_text(encoding="utf-8"))
        if record.get("verdict", {}).get("word") not in WORDS:
            raise ChapterFailed(f"Chapter '{spec.id}' wrote a metrics.json without a verdict.")
        _replace_dir(run_dir, dest)
    finally:
        if run_dir.exists():
            shutil.rmtree(run_dir, ignore_errors=True)
    return record


def write_context(
    run_dir: Path, spec: chapters.ChapterSpec, params: Mapping, *, profile: str, key: str | None
) -> Path:
    """Write ``run.json`` into ``run_dir``: what :func:`report.start` reads in the kernel
    (chapter, claim, experiment module, profile, declared parameters) and the cache key."""
    context = {
        "chapter": spec.id,
        "claim": spec.claim,
        "experiment": spec.experiment,
        "profile": profile,
        "source": Path(spec.source).name,
        "params": [
            {"name": p.name, "type": p.type, "default": p.default, "help": p.help}
            for p in spec.params
        ],
        "parameters": dict(params),
        "key": key,
    }
    path = Path(run_dir) / RUN_FILE
    path.write_text(json.dumps(context, indent=2) + "\n", encoding="utf-8")
    return path


def _replace_dir(new: Path, dest: Path) -> None:
    """Put directory ``new`` at ``dest`` (same file system), replacing what was there."""
    old = None
    if dest.exists():
        old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(dest, old)
    try:
        os.rename(new, dest)
    except OSError:
        if old is not None:
            os.rename(old, dest)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _postprocess(path: Path, spec: chapters.ChapterSpec, params: Mapping, profile: str) -> None:
    """Hide the parameters cells and show the parameters used as a table after them."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    last = None
    for i, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            if "remove-cell" not in tags:
                cell.metadata["tags"] = [*tags, "remove-cell"]
            last = i
    if last is not None:
        nb.cells.insert(
            last + 1, nbformat.v4.new_markdown_cell(parameter_table(spec, params, profile))
        )
    nbformat.write(nb, path)


def _fmt(value) -> str:
    return "`" + json.dumps(value) + "`"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def parameter_table(spec: chapters.ChapterSpec, params: Mapping, profile: str) -> str:
    """The markdown shown after the (removed) parameters cells of an executed chapter."""
    rows = "\n".join(
        f"| `{p.name}` | {_fmt(params[p.name])} | {_cell(p.help)} |" for p in spec.params
    )
    # a colon fence: a backtick fence's info string may not contain backticks
    return (
        f":::{{admonition}} Parameters of this run (profile `{profile}`)\n"
        ":class: dropdown\n\n"
        "| Parameter | Value | Meaning |\n|---|---|---|\n"
        f"{rows}\n\n"
        f"Rerun with other values: `dropout-study run {spec.id} -p NAME=VALUE`.\n"
        ":::\n"
    )


# ------------------------------------------------------------------------------------------
# the book
# ------------------------------------------------------------------------------------------


def toc_chapters(project: Project) -> list[str]:
    """Chapter ids listed in ``_toc.yml`` as ``book/generated/<id>/<id>``, in order.

    Raises :class:`BuildFailed` naming the entry if an id is not registered or its source
    does not exist.
    """
    if not project.toc.is_file():
        raise BuildFailed(f"No table of contents: {project.toc} does not exist.")
    toc = yaml.safe_load(project.toc.read_text(encoding="utf-8"))
    files: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(toc)
    ids = []
    for f in files:
        m = _TOC_CHAPTER.match(f.strip())
        if not m:
            continue
        cid, name = m.groups()
        if cid != name or cid not in project.chapters:
            raise BuildFailed(
                f"_toc.yml lists '{f}'; a chapter entry must be book/generated/<id>/<id> with "
                f"<id> one of {', '.join(project.chapters)}."
            )
        if not project.source(cid).is_file():
            raise BuildFailed(
                f"_toc.yml lists chapter '{cid}' but its source "
                f"{_rel(project.source(cid), project.root)} does not exist."
            )
        ids.append(cid)
    return ids


def build(
    project: Project | None = None,
    *,
    profile: str = "book",
    force: bool = False,
    html: bool = True,
    log: Callable[[str], None] = print,
) -> list[RunResult]:
    """Execute the chapters in ``_toc.yml`` that changed, write the generated tables and
    (with ``html``) run jupyter-book. Returns one :class:`RunResult` per chapter.

    Every chapter's parameters are validated before any is executed. A failing chapter does
    not stop the others from running, but the build then raises :class:`BuildFailed` with
    each failure's message and the HTML is not built.
    """
    project = project or Project()
    profile = check_profile(profile, "dropout-study build")
    ids = toc_chapters(project)
    plan = []
    for cid in ids:
        spec = project.spec(cid)
        params = resolve(spec, profile)
        plan.append((spec, params, cache_key(spec, params, profile, project.package_dir)))
    results, failures = [], []
    width = max((len(c) for c in ids), default=0)
    for i, (spec, params, key) in enumerate(plan, 1):
        dest = project.dest(spec.id)
        t0 = time.perf_counter()
        fresh = not force and is_fresh(dest, spec.id, key)
        try:
            if fresh:
                record = json.loads((dest / "metrics.json").read_text(encoding="utf-8"))
            else:
                record = execute(spec, params, dest, profile=profile, key=key)
        except ChapterFailed as exc:
            failures.append(str(exc))
            log(
                f"[{i}/{len(plan)}] {spec.id:<{width}}  FAILED    {time.perf_counter() - t0:6.1f} s"
            )
            continue
        dt = time.perf_counter() - t0
        state = "cached" if fresh else "executed"
        log(
            f"[{i}/{len(plan)}] {spec.id:<{width}}  {state:<8}  {dt:6.1f} s  "
            f"{record['verdict']['word']}"
        )
        results.append(RunResult(spec.id, dest, not fresh, dt, record))
    if failures:
        raise BuildFailed("\n".join(failures))
    write_generated(project, ids)
    if html:
        jupyter_book_build(project, log=log)
    return results


def jupyter_book_build(project: Project, *, log: Callable[[str], None] = print) -> Path:
    """``jupyter-book build <root> -W -n --keep-going``; returns ``_build/html/index.html``."""
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(project.root)]
    cmd += ["-W", "-n", "--keep-going"]
    t0 = time.perf_counter()
    log("building HTML: " + " ".join(["jupyter-book", *cmd[1:]]))
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=project.root)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        lines = _ANSI.sub("", proc.stdout + proc.stderr).splitlines()
        problems = [ln for ln in lines if "WARNING" in ln or "ERROR" in ln] or lines[-30:]
        raise BuildFailed("jupyter-book build failed:\n" + "\n".join(problems))
    index = Path(project.root).resolve() / "_build" / "html" / "index.html"
    log(f"built in {dt:.1f} s: {index}")
    return index


# ------------------------------------------------------------------------------------------
# generated tables
# ------------------------------------------------------------------------------------------


def _rel(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


def verdict_rows(project: Project, ids: list[str] | None = None) -> list[dict]:
    """One row per chapter (default: those in ``_toc.yml``) read from its ``metrics.json``:
    ``chapter``, ``claim``, ``word`` (``None`` if it has not run), ``sentence``, ``profile``,
    ``commit``, ``dirty``."""
    ids = toc_chapters(project) if ids is None else ids
    rows = []
    for cid in ids:
        f = project.dest(cid) / "metrics.json"
        if f.is_file():
            m = json.loads(f.read_text(encoding="utf-8"))
            git = m.get("provenance", {}).get("git", {})
            rows.append(
                {
                    "chapter": cid,
                    "claim": m["claim"],
                    "word": m["verdict"]["word"],
                    "sentence": m["verdict"]["sentence"],
                    "profile": m.get("profile"),
                    "commit": git.get("commit"),
                    "dirty": git.get("dirty"),
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
                    "profile": None,
                    "commit": None,
                    "dirty": None,
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


def _list_table(header: list[str], rows: list[list[str]], widths: list[int]) -> list[str]:
    """A MyST ``list-table`` (column widths, no escaping of ``|``)."""
    out = [
        "```{list-table}",
        ":header-rows: 1",
        ":widths: " + " ".join(str(w) for w in widths),
        "",
    ]
    for row in [header, *rows]:
        out += [f"* - {row[0]}"] + [f"  - {cell}" for cell in row[1:]]
    out += ["```", ""]
    return out


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def verdicts_markdown(rows: list[dict]) -> str:
    """The intro's verdict table (MyST), each claim linking its chapter page."""
    body = []
    for r in rows:
        claim = _one_line(r["claim"]).replace("<", "\\<").replace("`", "")
        body.append(
            [
                f"{{doc}}`{claim} </book/generated/{r['chapter']}/{r['chapter']}>`",
                f"**{r['word']}**" if r["word"] else "*not run yet*",
                _one_line(r["sentence"]) or "—",
            ]
        )
    lines = _list_table(["Claim (links to its chapter)", "Verdict", "Evidence"], body, [30, 14, 56])
    lines += [
        f"Read from each chapter's `metrics.json` by `dropout-study build` ({_origin(rows)}).",
        "",
    ]
    return "\n".join(lines)


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
                    _fmt(p.default),
                    _fmt(smoke),
                    _fmt(full),
                    _one_line(p.help),
                ]
            )
        header = ["Parameter", "`book` (default)", "`smoke`", "`full`", "Meaning"]
        out += _list_table(header, body, [24, 14, 12, 14, 36])
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
    _write_if_changed(project.generated / "parameters.md", parameters_markdown(project, ids))


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
    lines = ["| Claim | Chapter | Verdict | Evidence |", "|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {_cell(r['claim'])} | `{r['chapter']}` | **{r['word']}** | {_cell(r['sentence'])} |"
        )
    lines += ["", f"*Generated by `dropout-study readme` from {_origin(rows)}.*"]
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
