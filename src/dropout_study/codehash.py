"""A hash of the code a chapter runs that ignores comments, docstrings and formatting.

:func:`normalised_hash` of a Python file is the SHA-256 of its abstract syntax tree
(``ast.dump`` without line numbers) after removing every docstring (module, class, function),
so a comment, docstring, blank-line or formatting change leaves it unchanged while any change
of behaviour — a constant, a name, an operator — changes it.

:func:`module_closure` finds the modules of the package a chapter runs: the ones its
notebook's code cells and its experiment module import, followed statically through
``import`` / ``from … import`` statements (relative imports included) to a fixed point, plus
every ``__init__.py`` on the way. :func:`code_hash` hashes that set of files by their
normalised hashes — the ``code`` part of a chapter's cache key.

:func:`science_hash` is narrower: the code that can change a chapter's *numbers* — the base
modules that compute (:data:`SCIENCE_BASE`), the numpy core ``nn/``, the measures and
statistics ``measures/``, the shared verdict code ``chapters/*.py``, the chapter's own folder
and its notebook's code cells — and none of the book machinery (``book/``), the command line
(``cli/``) or the sweeps' scheduling (``sweep/``). A confirmation (``book/confirmations``) and
a sweep cell are keyed on it, so editing the machinery leaves both current.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "normalised_hash",
    "imported_modules",
    "module_closure",
    "code_hash",
    "package_code_hash",
    "SCIENCE_BASE",
    "SCIENCE_FOLDERS",
    "science_files",
    "science_hash",
]

PACKAGE = "dropout_study"


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return tree


def normalise(source: str) -> str:
    """The normalised form of Python ``source`` (see module docstring)."""
    return ast.dump(_strip_docstrings(ast.parse(source)), include_attributes=False)


@functools.lru_cache(maxsize=512)
def _normalised_file(path: str, mtime_ns: int, size: int) -> str:
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = normalise(text)
    except SyntaxError:
        data = text
    return hashlib.sha256(data.encode()).hexdigest()


def normalised_hash(path) -> str:
    """SHA-256 of the normalised source of the file at ``path`` (the raw text if it does not
    parse)."""
    st = Path(path).stat()
    return _normalised_file(str(path), st.st_mtime_ns, st.st_size)


def imported_modules(source: str, module: str = "", is_package: bool = False) -> set[str]:
    """Absolute names of the modules ``source`` imports (``module`` is its own dotted name,
    for relative imports). ``from a import b`` yields ``a`` and ``a.b``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    out: set[str] = set()
    pkg_parts = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = pkg_parts[: len(pkg_parts) - node.level + 1]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            if base:
                out.add(base)
                out.update(f"{base}.{a.name}" for a in node.names)
    return out


def _file_of(name: str, package_dir: Path) -> Path | None:
    """The file of module ``name`` of the package rooted at ``package_dir``."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = package_dir.joinpath(*parts[1:])
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    f = base.with_suffix(".py")
    return (
        f
        if len(parts) > 1 and f.is_file()
        else (package_dir / "__init__.py" if len(parts) == 1 else None)
    )


def module_closure(
    roots: Iterable[str], package_dir: Path, extra_files: Iterable[Path] = ()
) -> dict[str, Path]:
    """``{module name: file}`` of every package module reachable from ``roots`` (module names)
    and from the imports of ``extra_files``; parent packages' ``__init__`` included."""
    package_dir = Path(package_dir)
    todo = list(roots)
    for f in extra_files:
        todo.extend(imported_modules(Path(f).read_text(encoding="utf-8")))
    seen: dict[str, Path] = {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _file_of(name, package_dir)
        if path is None:
            continue
        seen[name] = path
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        todo.extend(
            imported_modules(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")
        )
    return seen


def code_hash(
    roots: Iterable[str], package_dir: Path, sources: Iterable[str] = (), extra_files=()
) -> str:
    """SHA-256 over the normalised hashes of :func:`module_closure` of ``roots`` and of the
    imports in the code ``sources`` (e.g. a notebook's code cells); ``extra_files`` (e.g. an
    experiment module outside the package) are hashed too, with their own imports followed."""
    roots = set(roots)
    for text in sources:
        roots |= imported_modules(text)
    extra = [Path(f) for f in extra_files]
    closure = module_closure(sorted(roots), package_dir, extra)
    h = hashlib.sha256()
    for name in sorted(closure):
        h.update(f"{name}\0{normalised_hash(closure[name])}\0".encode())
    for f in extra:
        h.update(f"{f.name}\0{normalised_hash(f)}\0".encode())
    return h.hexdigest()


def experiment_file(module: str) -> Path | None:
    """The file of an importable module outside the package (e.g. a test fixture)."""
    if module.split(".")[0] == PACKAGE:
        return None
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def package_code_hash(package_dir: Path) -> str:
    """SHA-256 over the relative paths and normalised hashes of every ``*.py`` file of the
    package: unchanged by comment, docstring or formatting edits."""
    root = Path(package_dir)
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        if "__pycache__" in f.parts:
            continue
        h.update(f"{f.relative_to(root).as_posix()}\0{normalised_hash(f)}\0".encode())
    return h.hexdigest()


SCIENCE_BASE = ("validation.py", "parameters.py", "seeds.py", "data.py", "numfmt.py")
"""Base modules whose code can change a number or a sentence of a chapter."""
SCIENCE_FOLDERS = ("nn", "measures")
"""Folders of the package that every chapter's science uses."""


def _py_files(folder: Path) -> list[Path]:
    return sorted(f for f in Path(folder).rglob("*.py") if "__pycache__" not in f.parts)


def science_files(module: str, package_dir: Path) -> list[Path]:
    """The files :func:`science_hash` covers for code in ``module`` (a dotted name): the shared
    science (:data:`SCIENCE_BASE`, :data:`SCIENCE_FOLDERS`, ``chapters/*.py``) and, for a
    module of ``dropout_study.chapters.<id>``, that chapter's folder; for a module outside the
    package (e.g. a test fixture's experiment), its own file."""
    root = Path(package_dir)
    files = [root / name for name in SCIENCE_BASE if (root / name).is_file()]
    for folder in SCIENCE_FOLDERS:
        files += _py_files(root / folder)
    files += sorted((root / "chapters").glob("*.py"))
    parts = module.split(".")
    if parts[0] == PACKAGE and len(parts) > 2 and parts[1] == "chapters":
        own = root / "chapters" / parts[2]
        if own.is_dir():
            files += _py_files(own)
    elif parts[0] != PACKAGE:
        extra = experiment_file(module)
        if extra is not None:
            files.append(extra)
    return files


def science_hash(module: str, package_dir: Path, sources: Iterable[str] = ()) -> str:
    """SHA-256 over the normalised hashes of :func:`science_files` of ``module`` and over the
    code ``sources`` (a notebook's code cells, whitespace at the ends of lines ignored)."""
    root = Path(package_dir)
    h = hashlib.sha256()
    for f in science_files(module, root):
        name = f.relative_to(root).as_posix() if f.is_relative_to(root) else f.name
        h.update(f"{name}\0{normalised_hash(f)}\0".encode())
    for text in sources:
        lines = [ln.rstrip() for ln in str(text).strip().splitlines()]
        h.update(("\n".join(lines) + "\0").encode())
    return h.hexdigest()
