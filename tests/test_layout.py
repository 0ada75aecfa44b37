"""The package's layout is a contract (HACKING.md, "Layout"): layers that import only downward,
modules a person reads in one sitting, a chapter added as one folder + one notebook + one line
of ``_toc.yml``, and confirmations that only a change of science can stale."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

from dropout_study import codehash, paths

PACKAGE = paths.PACKAGE
LAYERS = ("base", "nn", "measures", "sweep", "chapters", "book", "cli")
"""Each layer may import from the layers before it (and from itself), never after."""
SHARED_CHAPTER_MODULES = {"verdicts", "figures", "cost", "findings", "wording", "power", "reach"}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "base"


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every import of ``dropout_study`` in the file (any depth)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "dropout_study":
                out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("dropout_")]
    return out


def violations(package_dir: Path) -> list[str]:
    """Every import that breaks the layer rules, as ``file:line imports module (why)``."""
    bad = []
    for f in sorted(Path(package_dir).rglob("*.py")):
        rel = f.relative_to(package_dir)
        if "__pycache__" in rel.parts or rel.name == "__main__.py":
            continue
        me = ".".join(("dropout_study", *rel.with_suffix("").parts)).removesuffix(".__init__")
        mine = _layer(me)
        for line, other in _imports(f):
            theirs = _layer(other)
            where = f"{rel}:{line} imports {other}"
            if LAYERS.index(theirs) > LAYERS.index(mine):
                bad.append(f"{where} ({mine} may not import {theirs})")
            if mine == theirs == "chapters":
                a, b = me.split("."), other.split(".")
                own = a[2] if len(a) > 3 or (len(a) == 3 and f.name == "__init__.py") else None
                target = b[2] if len(b) > 2 else None
                if target and target not in SHARED_CHAPTER_MODULES and target != own:
                    bad.append(f"{where} (a chapter folder imports another chapter's)")
    return bad


def test_every_layer_imports_only_downward():
    assert violations(PACKAGE) == []


def test_the_import_rule_catches_an_upward_and_a_sideways_import(tmp_path):
    pkg = tmp_path / "dropout_study"
    shutil.copytree(PACKAGE, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / "nn" / "up.py").write_text("from dropout_study.book import report\n")
    (pkg / "chapters" / "linearity" / "side.py").write_text(
        "from dropout_study.chapters.noisy_loss import experiment\n"
    )
    (pkg / "chapters" / "linearity" / "book_use.py").write_text(
        "def f():\n    from dropout_study.book.params import resolve\n"
    )
    found = "\n".join(violations(pkg))
    assert "nn/up.py:1 imports dropout_study.book.report (nn may not import book)" in found
    assert "side.py:1 imports dropout_study.chapters.noisy_loss.experiment (a chapter" in found
    assert "book_use.py:2 imports dropout_study.book.params.resolve (chapters may not" in found


def _reason_for_length(path: Path) -> bool:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return "longer than 400 lines because" in " ".join(doc.split()).lower()


def test_modules_fit_one_sitting():
    long = []
    for f in sorted(PACKAGE.rglob("*.py")):
        n = len(f.read_text(encoding="utf-8").splitlines())
        if n > 400 and not _reason_for_length(f):
            long.append(f"{f.relative_to(PACKAGE)}: {n} lines")
    assert long == []


def test_tests_mirror_the_package_folders():
    tests = ROOT / "tests"
    for folder in ("nn", "measures", "sweep", "book", "cli"):
        assert (PACKAGE / folder).is_dir() and (tests / folder).is_dir(), folder
    for chapter in (PACKAGE / "chapters").iterdir():
        if chapter.is_dir() and (chapter / "experiment.py").is_file():
            assert (tests / "chapters" / chapter.name / "test_experiment.py").is_file()


# ---------------------------------------------------------------------------------------------
# confirmations: keyed on the science only
# ---------------------------------------------------------------------------------------------
def _edit(path: Path) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n_EDITED_FOR_A_TEST = 1\n")


@pytest.mark.parametrize(
    ("edited", "changes"),
    [
        ("book/report.py", False),
        ("book/pipeline.py", False),
        ("cli/main.py", False),
        ("sweep/cluster.py", False),
        ("chapters/noisy_loss/experiment.py", False),  # another chapter's folder
        ("nn/training.py", True),
        ("measures/stats.py", True),
        ("chapters/verdicts.py", True),
        ("validation.py", True),
        ("chapters/linearity/plots.py", True),  # the chapter's own folder
    ],
)
def test_the_science_hash_of_a_chapter_follows_only_its_science(tmp_path, edited, changes):
    pkg = tmp_path / "dropout_study"
    shutil.copytree(PACKAGE, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    module = "dropout_study.chapters.linearity.experiment"
    cells = ["x = 1"]
    before = codehash.science_hash(module, pkg, cells)
    _edit(pkg / edited)
    assert (codehash.science_hash(module, pkg, cells) != before) is changes


def test_the_science_hash_follows_the_notebook_code_cells_not_comments(tmp_path):
    module = "dropout_study.chapters.linearity.experiment"
    base = codehash.science_hash(module, PACKAGE, ["x = 1"])
    assert codehash.science_hash(module, PACKAGE, ["x = 1   \n"]) == base
    assert codehash.science_hash(module, PACKAGE, ["x = 2"]) != base
    pkg = tmp_path / "dropout_study"
    shutil.copytree(PACKAGE, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    f = pkg / "nn" / "training.py"
    f.write_text(f.read_text(encoding="utf-8") + "\n# a comment only\n", encoding="utf-8")
    assert codehash.science_hash(module, pkg, ["x = 1"]) == base


# ---------------------------------------------------------------------------------------------
# a new chapter: one folder, one notebook, one line of the table of contents
# ---------------------------------------------------------------------------------------------
def test_a_chapter_added_as_one_folder_one_notebook_one_toc_line_runs(tmp_path):
    from fixtures.tinybook import FIXTURES, TINY, copy_static

    src = tmp_path / "src"
    pkg = src / "dropout_study"
    shutil.copytree(PACKAGE, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    # 1. one folder under chapters/
    folder = pkg / "chapters" / "throwaway"
    folder.mkdir()
    (folder / "__init__.py").write_text('"""A throw-away chapter."""\n')
    experiment = (FIXTURES / "tiny_experiment.py").read_text(encoding="utf-8")
    (folder / "experiment.py").write_text(experiment.replace('OWNER = "tiny"', 'OWNER = "x"'))
    (folder / "verdict.py").write_text(
        "from dropout_study.chapters.throwaway.experiment import decide\n\n__all__ = ['decide']\n"
    )
    # 2. one notebook under book/chapters/ (no 'experiment:' override: the folder is found)
    root = tmp_path / "project"
    (root / "book" / "chapters").mkdir(parents=True)
    for name in ("intro.md", "reproduce.md", "references.bib"):
        shutil.copy(ROOT / "book" / name, root / "book" / name)
    shutil.copy(ROOT / "_config.yml", root / "_config.yml")
    copy_static(root)
    text = TINY.read_text(encoding="utf-8").replace("  experiment: tiny_experiment\n", "")
    text = text.replace(
        "import tiny_experiment as experiment",
        "from dropout_study.chapters.throwaway import experiment, verdict",
    )
    text = text.replace('report.start("tiny"', 'report.start("throwaway"')
    text = text.replace("(tiny)=", "(throwaway)=").replace("fig-tiny-", "fig-throwaway-")
    text = text.replace("experiment.decide(", "verdict.decide(")
    (root / "book" / "chapters" / "throwaway.md").write_text(text, encoding="utf-8")
    # 3. one line in _toc.yml
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n"
        "  - file: book/generated/throwaway/throwaway\n  - file: book/reproduce\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(src),
        "DROPOUT_STUDY_ROOT": str(root),
        "DROPOUT_STUDY_SWEEP_CACHE": "off",
    }
    cmd = [sys.executable, "-m", "dropout_study", "run", "throwaway", "--profile", "smoke"]
    out = subprocess.run(
        [*cmd, "--out", str(tmp_path / "out")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    metrics = (tmp_path / "out" / "metrics.json").read_text(encoding="utf-8")
    assert '"chapter": "throwaway"' in metrics and '"profile": "smoke"' in metrics
    listed = subprocess.run(
        [sys.executable, "-m", "dropout_study", "list"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.stdout.startswith("throwaway"), listed.stdout + listed.stderr
