"""The project a build works on: where its book, sources and generated files live, its
table of contents, and the errors a build raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dropout_study import paths
from dropout_study.book import source as chapters
from dropout_study.book.source import ChapterSpec

__all__ = ["Project", "ChapterFailed", "BuildFailed", "RunResult", "toc_chapters", "rel"]


class ChapterFailed(RuntimeError):
    """A chapter's notebook raised or did not write its metrics; the message says which."""


class BuildFailed(RuntimeError):
    """The book could not be built; the message says why."""


@dataclass(frozen=True)
class Project:
    """Where a book lives. ``Project()`` is this checkout; its chapters are the entries of its
    ``_toc.yml`` (:func:`dropout_study.book.source.chapter_ids`) unless ``chapters`` names
    them. Tests point ``root`` at a copy. ``package_dir`` is the source tree whose hash keys
    the cache (default: the installed package)."""

    root: Path = field(default_factory=lambda: paths.ROOT)
    chapters: tuple[str, ...] | None = None
    package_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.chapters is None:
            try:
                ids = chapters.chapter_ids(self.root)
            except chapters.ChapterSourceError as exc:
                raise BuildFailed(str(exc)) from None
            object.__setattr__(self, "chapters", ids)

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

    def spec(self, chapter_id: str) -> ChapterSpec:
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


def rel(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` (POSIX), or as given when it lies outside."""
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


def toc_chapters(project: Project) -> list[str]:
    """Chapter ids listed in ``_toc.yml`` as ``book/generated/<id>/<id>``, in order.

    Raises :class:`BuildFailed` naming the entry if an id is not one of the project's
    chapters or its source does not exist.
    """
    if not project.toc.is_file():
        raise BuildFailed(f"No table of contents: {project.toc} does not exist.")
    try:
        entries = chapters.toc_entries(project.toc)
    except chapters.ChapterSourceError as exc:
        raise BuildFailed(str(exc)) from None
    ids = []
    known = project.chapters or ()  # set by Project.__post_init__
    for f, cid in entries:
        if cid not in known:
            raise BuildFailed(
                f"_toc.yml lists '{f}'; a chapter entry must be book/generated/<id>/<id> with "
                f"<id> one of {', '.join(known)}."
            )
        if not project.source(cid).is_file():
            raise BuildFailed(
                f"_toc.yml lists chapter '{cid}' but its source "
                f"{rel(project.source(cid), project.root)} does not exist."
            )
        ids.append(cid)
    return ids
