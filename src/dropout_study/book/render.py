"""A rerun you can read: ``dropout-study run`` renders its executed notebook as an HTML page.

:func:`rerun_page` builds ``<out>/<id>.ipynb`` with Jupyter Book 1's single-page mode
(``jupyter-book build <notebook> --config <generated config>``) in the book's theme: glue
resolved, figures numbered, citations resolved from ``book/references.bib``, maths from the
local MathJax, and the profile banner when the run did not use the ``book`` profile. The page
and its assets land in ``<out>/page/`` (``<out>/page/<id>.html``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from dropout_study.book import outputs, postprocess

__all__ = ["page_config", "rerun_page"]


def page_config(project) -> dict:
    """The book's ``_config.yml`` adapted to one page outside the book: absolute paths to
    the bibliography and static files, no exclude patterns, no table of contents."""
    root = Path(project.root).resolve()
    cfg_file = root / "_config.yml"
    cfg = yaml.safe_load(cfg_file.read_text(encoding="utf-8")) if cfg_file.is_file() else {}
    cfg = dict(cfg or {})
    cfg.pop("exclude_patterns", None)
    cfg.pop("only_build_toc_files", None)
    cfg["bibtex_bibfiles"] = [str(root / b) for b in cfg.get("bibtex_bibfiles", [])]
    html = dict(cfg.get("html") or {})
    if html.get("favicon"):
        html["favicon"] = str(root / html["favicon"])
    cfg["html"] = html
    sphinx = dict(cfg.get("sphinx") or {})
    config = dict(sphinx.get("config") or {})
    if "html_static_path" in config:
        config["html_static_path"] = [str(root / p) for p in config["html_static_path"]]
    sphinx["config"] = config
    cfg["sphinx"] = sphinx
    return cfg


def _with_references(notebook_json: str) -> str:
    """The notebook with a last cell listing the works it cites (the book lists them on its
    reproduce page; a lone page needs its own list)."""
    import nbformat

    nb = nbformat.reads(notebook_json, as_version=4)
    nb.cells.append(
        nbformat.v4.new_markdown_cell(
            "## References\n\n```{bibliography}\n:style: dropout_study_author_year\n```\n"
        )
    )
    postprocess.stable_ids(nb)  # the page's downloadable copy is byte-stable too
    return nbformat.writes(nb)


def rerun_page(out: Path, chapter_id: str, project, *, log=print) -> Path | None:
    """Render ``<out>/<chapter_id>.ipynb`` into ``<out>/page/``; returns the page's path, or
    ``None`` (with a one-line note) if Jupyter Book could not build it — the run's notebook,
    metrics and figures are complete either way."""
    out = Path(out).resolve()
    nb = out / f"{chapter_id}.ipynb"
    if not nb.is_file():
        return None
    exe = Path(sys.executable).parent / "jupyter-book"
    with tempfile.TemporaryDirectory(prefix="dropout-study-page-") as tmp:
        cfg = Path(tmp) / "_config.yml"
        cfg.write_text(yaml.safe_dump(page_config(project), sort_keys=False), encoding="utf-8")
        page_nb = Path(tmp) / "src" / nb.name
        page_nb.parent.mkdir()
        page_nb.write_text(_with_references(nb.read_text(encoding="utf-8")), encoding="utf-8")
        if (out / "metrics.json").is_file():  # the profile banner reads it
            shutil.copy(out / "metrics.json", page_nb.parent / "metrics.json")
        cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(page_nb)]
        cmd += ["--config", str(cfg), "--path-output", tmp, "-q"]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=out)
        # Jupyter Book names the folder after the notebook's folder and name
        found = sorted((Path(tmp) / "_build" / "_page").glob(f"*/html/{chapter_id}.html"))
        html = found[0].parent if found else Path(tmp)
        if proc.returncode != 0 or not found:
            lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if "ERROR" in ln]
            last = lines[-1:] or ["exit status " + str(proc.returncode)]
            log(f"note: the rerun page could not be built ({last[0]})")
            return None
        dest = out / "page"
        try:
            _copy_in(html, dest)
        except (OSError, shutil.Error) as exc:
            log(
                f"note: the rerun page could not be written to {dest} ({_reason(exc)}); the "
                f"run's results (notebook, metrics.json, figures/) are written in {out}."
            )
            return None
    return dest / f"{chapter_id}.html"


def _copy_in(html: Path, dest: Path) -> None:
    """Copy the built page folder ``html`` to ``dest`` through a folder beside it, swapped in
    whole (a failed copy leaves the previous page, or none, and no half-written one)."""
    staged = dest.parent / f".{dest.name}.new"
    shutil.rmtree(staged, ignore_errors=True)
    try:
        shutil.copytree(html, staged)
        outputs.swap_in(staged, dest)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def _reason(exc: BaseException) -> str:
    """The first reason in an ``OSError`` or a ``shutil.Error`` (which lists every file)."""
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list):
        for item in exc.args[0]:
            why = item[-1] if isinstance(item, tuple) and item else item
            return str(why).split("] ", 1)[-1].split(":", 1)[0]
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
