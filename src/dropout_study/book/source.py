"""The chapter registry and the parser of a chapter's source.

The chapters are the entries ``book/generated/<id>/<id>`` of ``_toc.yml``, in book order
(:func:`chapter_ids`); chapter ``<id>`` is the MyST text notebook ``book/chapters/<id>.md``
(see HACKING.md) and the folder ``dropout_study.chapters.<id with - replaced by _>``. Its front
matter
holds ``dropout_study: {claim, profiles}`` and, optionally, ``experiment: <module>`` (default
:func:`default_experiment`); its one cell tagged ``parameters``
declares every parameter on its own line::

    dropout_rates: list[float] = [0.0, 0.2, 0.5]  # drop probabilities, each in [0, 1)

:func:`load` turns that into a :class:`ChapterSpec` whose :class:`ParamSpec` entries carry the
name, the type (from the annotation), the default (``ast.literal_eval`` of the value) and the
help (the comment). The same cell is cross-checked against papermill's own inference, so
``papermill --help-notebook`` describes it identically.
"""

from __future__ import annotations

import ast
import importlib
import io
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from dropout_study import paths
from dropout_study.book.params import PARAM_TYPES, check_type
from dropout_study.validation import check_choice, fail

__all__ = [
    "chapter_ids",
    "toc_entries",
    "PARAM_TYPES",
    "PROFILE_NAMES",
    "ParamSpec",
    "ChapterSpec",
    "ChapterSourceError",
    "check_chapter_id",
    "chapter_package",
    "default_experiment",
    "experiment_module",
    "source_path",
    "load",
    "parse",
]
PROFILE_NAMES = ("smoke", "full")
"""Profiles a chapter's front matter may define (``book`` is the cell's defaults)."""


class ChapterSourceError(ValueError):
    """A chapter source that does not follow the contract; the message names the file."""


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter: ``name``, ``type`` (one of :data:`PARAM_TYPES`), ``default``
    (a Python value of that type) and ``help`` (the line's comment)."""

    name: str
    type: str
    default: object
    help: str


@dataclass(frozen=True)
class ChapterSpec:
    """Everything about a chapter that its source declares."""

    id: str
    source: Path
    claim: str
    experiment: str
    params: tuple[ParamSpec, ...]
    profiles: dict = field(default_factory=dict)  # profile name -> {parameter: value}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}


_TOC_CHAPTER = re.compile(r"^book/generated/([^/]+)/([^/]+?)(?:\.ipynb)?$")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def toc_entries(toc: Path) -> list[tuple[str, str]]:
    """``(entry, chapter id)`` for every chapter entry ``book/generated/<id>/<id>`` of the
    table of contents ``toc`` (``_toc.yml``, the one list of chapters), in book order.

    Raises :class:`ChapterSourceError` naming the entry when it has the chapter form but the
    two ids differ or are not lower-case words joined by hyphens; a missing file gives ``[]``."""
    toc = Path(toc)
    if not toc.is_file():
        return []
    import yaml

    files: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(node["file"].strip())
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(yaml.safe_load(toc.read_text(encoding="utf-8")))
    out = []
    for f in files:
        m = _TOC_CHAPTER.match(f)
        if not m:
            continue
        cid, name = m.groups()
        if cid != name or not _ID.match(cid):
            raise ChapterSourceError(
                f"{toc}: the entry '{f}' must read book/generated/<id>/<id>, with <id> in "
                "lower case, digits and hyphens."
            )
        out.append((f, cid))
    return out


def chapter_ids(root: Path | None = None) -> tuple[str, ...]:
    """The chapter ids in book order, read from ``<root>/_toc.yml`` (default: this checkout)."""
    base = Path(root) if root is not None else paths.ROOT
    return tuple(cid for _, cid in toc_entries(base / "_toc.yml"))


def check_chapter_id(chapter_id, owner: str = "dropout-study", chapters=None) -> str:
    """Return ``chapter_id`` if it is a chapter of ``chapters`` (default: :func:`chapter_ids`);
    raise with the template otherwise."""
    chapters = chapter_ids() if chapters is None else chapters
    if not isinstance(chapter_id, str):
        allowed = "one of " + ", ".join(repr(c) for c in chapters)
        fail("chapter", owner, allowed, chapter_id, TypeError)
    return check_choice(chapter_id, "chapter", owner, chapters)  # a typo gets "Did you mean"


def chapter_package(chapter_id: str) -> str:
    """``dropout_study.chapters.<module>``: the folder of a chapter id (``-`` becomes ``_``)."""
    return "dropout_study.chapters." + chapter_id.replace("-", "_")


def default_experiment(chapter_id: str) -> str:
    """``dropout_study.chapters.<module>.experiment`` for a chapter id."""
    return chapter_package(chapter_id) + ".experiment"


def experiment_module(chapter_id: str) -> ModuleType:
    """Import and return the experiment module of a registered chapter."""
    check_chapter_id(chapter_id, "experiment_module")
    return importlib.import_module(default_experiment(chapter_id))


def source_path(chapter_id: str, sources: Path | None = None) -> Path:
    """``<sources>/<id>.md`` (default ``book/chapters``); the file need not exist."""
    return Path(sources if sources is not None else paths.CHAPTER_SOURCES) / f"{chapter_id}.md"


def load(chapter_id: str, source: Path | None = None, *, chapters=None) -> ChapterSpec:
    """Parse the source of ``chapter_id`` (default ``book/chapters/<id>.md``).

    Raises ``ValueError`` for an unknown id and :class:`ChapterSourceError` (a ``ValueError``)
    naming the file if it is missing or breaks the contract.
    """
    check_chapter_id(chapter_id, "dropout-study", chapters)
    source = Path(source) if source is not None else source_path(chapter_id)
    if not source.is_file():
        raise ChapterSourceError(
            f"The source of chapter '{chapter_id}' does not exist: {source} "
            f"(expected a MyST notebook, see HACKING.md)."
        )
    import jupytext

    try:
        nb = jupytext.read(source)
    except Exception as exc:  # jupytext raises a variety of errors on bad files
        raise ChapterSourceError(f"{source}: jupytext cannot read it: {exc}") from exc
    return parse(chapter_id, nb, source)


def parse(chapter_id: str, nb, source: Path) -> ChapterSpec:
    """Build a :class:`ChapterSpec` from a notebook (``nbformat.NotebookNode``) read from
    ``source`` (used in messages)."""
    meta = nb.metadata.get("dropout_study")
    if not isinstance(meta, dict):
        raise ChapterSourceError(f"{source}: front matter has no 'dropout_study:' mapping.")
    claim = meta.get("claim")
    if not isinstance(claim, str) or not claim.strip():
        raise ChapterSourceError(f"{source}: 'dropout_study.claim' must be a non-empty string.")
    experiment = meta.get("experiment", default_experiment(chapter_id))
    if not isinstance(experiment, str):
        raise ChapterSourceError(f"{source}: 'dropout_study.experiment' must be a module name.")
    cells = [
        c
        for c in nb.cells
        if c.cell_type == "code" and "parameters" in c.get("metadata", {}).get("tags", [])
    ]
    if len(cells) != 1:
        raise ChapterSourceError(
            f"{source}: needs exactly one code cell tagged 'parameters'; found {len(cells)}."
        )
    params = _parse_parameters(cells[0].source, source)
    types = {p.name: p.type for p in params}
    if types.get("seed") != "int":
        raise ChapterSourceError(f"{source}: the parameters cell must declare 'seed: int'.")
    _cross_check_papermill(cells[0], params, source)
    profiles = meta.get("profiles", {}) or {}
    if not isinstance(profiles, dict):
        raise ChapterSourceError(f"{source}: 'dropout_study.profiles' must be a mapping.")
    for name, values in profiles.items():
        if name not in PROFILE_NAMES:
            raise ChapterSourceError(
                f"{source}: profile {name!r} is not one of {', '.join(PROFILE_NAMES)} "
                "(the book profile is the parameters cell itself)."
            )
        if not isinstance(values, dict):
            raise ChapterSourceError(f"{source}: profile {name!r} must map names to values.")
        for key, value in values.items():
            if key not in types:
                raise ChapterSourceError(
                    f"{source}: profile {name!r} sets {key!r}, which the parameters cell does "
                    "not declare."
                )
            try:
                check_type(value, types[key], key, f"profile {name!r} of {source}")
            except (TypeError, ValueError) as exc:
                raise ChapterSourceError(str(exc)) from exc
    return ChapterSpec(
        id=chapter_id,
        source=Path(source),
        claim=claim.strip(),
        experiment=experiment,
        params=tuple(params),
        profiles={k: dict(v) for k, v in profiles.items()},
    )


def _comments(text: str) -> dict[int, str]:
    """Line number (1-based) -> comment text, using the tokenizer so '#' in strings is safe."""
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string.lstrip("#").strip()
    return out


def _parse_parameters(text: str, source: Path) -> list[ParamSpec]:
    try:
        tree = ast.parse(text)
        comments = _comments(text)
    except (SyntaxError, tokenize.TokenError) as exc:
        raise ChapterSourceError(
            f"{source}: the parameters cell is not valid Python: {exc}"
        ) from exc
    params: list[ParamSpec] = []
    for node in tree.body:
        where = f"{source}: parameters cell line {node.lineno}"
        if not (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.value is not None
        ):
            raise ChapterSourceError(
                f"{where}: expected one 'name: type = value  # help' per line; "
                f"got {ast.unparse(node)!r}."
            )
        if node.end_lineno != node.lineno:
            raise ChapterSourceError(f"{where}: a parameter must fit on one line.")
        name = node.target.id
        type_name = ast.unparse(node.annotation)
        if type_name not in PARAM_TYPES:
            raise ChapterSourceError(
                f"{where}: the type of '{name}' must be one of {', '.join(PARAM_TYPES)}; "
                f"got {type_name!r}."
            )
        try:
            default = ast.literal_eval(node.value)
        except ValueError as exc:
            raise ChapterSourceError(f"{where}: the default of '{name}' is not a literal.") from exc
        help_text = comments.get(node.lineno, "")
        if not help_text:
            raise ChapterSourceError(f"{where}: '{name}' needs a '# help' comment.")
        if any(p.name == name for p in params):
            raise ChapterSourceError(f"{where}: '{name}' is declared twice.")
        # the default must have the declared type (checked with the same rules as overrides)
        try:
            default = check_type(default, type_name, name, f"the parameters cell of {source}")
        except (TypeError, ValueError) as exc:
            raise ChapterSourceError(str(exc)) from exc
        params.append(ParamSpec(name, type_name, default, help_text))
    if not params:
        raise ChapterSourceError(f"{source}: the parameters cell declares no parameters.")
    return params


def _cross_check_papermill(cell, params: list[ParamSpec], source: Path) -> None:
    """papermill's ``--help-notebook`` must read the same names, types and help."""
    from papermill.translators import PythonTranslator

    theirs = PythonTranslator.inspect(cell)
    ours = [(p.name, p.type, p.help) for p in params]
    got = [(p.name, p.inferred_type_name, p.help) for p in theirs]
    if ours != got:
        n = max(len(ours), len(got))
        ours_, got_ = ours + [None] * (n - len(ours)), got + [None] * (n - len(got))
        i = next(i for i in range(n) if ours_[i] != got_[i])
        mine, pm = ours_[i], got_[i]
        raise ChapterSourceError(
            f"{source}: papermill --help-notebook reads parameter {i + 1} as {pm} instead of "
            f"{mine}; avoid '#' and '=' inside values."
        )
