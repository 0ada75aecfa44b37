"""Packaging: the lock is what is installed, the declared dependencies are what the code imports,
CITATION.cff is valid CFF 1.2.0, and the licence and metadata agree with each other.

The CFF schema is vendored (nothing is downloaded at test time): ``fixtures/cff-schema-1.2.0.json``
is ``cffconvert/schemas/1.2.0/schema.json`` copied byte for byte from the ``cffconvert==2.0.0``
wheel on PyPI (the schema of the Citation File Format 1.2.0, ``$id``
``https://citation-file-format.github.io/1.2.0/schema.json``); its SHA-256 is checked below.
cffconvert itself is not installed: it requires ``jsonschema<4``, older than the book's stack.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import hashlib
import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from dropout_study import provenance

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
CFF_SCHEMA = Path(__file__).parent / "fixtures" / "cff-schema-1.2.0.json"
CFF_SCHEMA_SHA256 = "0b8d22140da702d766df318dcff3a91af2f39521298dcf36d76315fd99cc169b"

# The extras CI installs besides the lock's own (see .ci/run and the Makefile); `bench` is not
# locked (its peers are installed within the lock's pins by `make bench`).
LOCKED_EXTRAS = ("test", "oracle", "browser", "cluster")
NOT_LOCKED = {"torch"}  # installed at its pin by `make oracle` (see the Makefile)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(text: str) -> dict[str, str]:
    """``{normalized name: version}`` of every requirement a pip-compile lock pins."""
    return {normalize(m.group(1)): m.group(2) for m in map(PIN.match, text.splitlines()) if m}


def installed_versions() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for dist in md.distributions():
        out.setdefault(normalize(dist.metadata["Name"]), set()).add(dist.version)
    return out


def lock_mismatches(pins: dict[str, str], installed: dict[str, set[str]]) -> list[str]:
    """One line per locked package that is missing or installed at another version."""
    bad = []
    for name, want in sorted(pins.items()):
        have = installed.get(name)
        if have != {want}:
            bad.append(f"{name}: locked {want}, installed {', '.join(sorted(have or {'nothing'}))}")
    return bad


# ---------------------------------------------------------------- the lock and the environment


def test_installed_versions_equal_the_lock():
    """Every locked package is installed at exactly its locked version (this runs inside
    `make test`, so it checks `make test`'s own install step)."""
    pins = lock_pins(LOCK.read_text(encoding="utf-8"))
    assert len(pins) > 100, "requirements.lock pins almost nothing"
    bad = lock_mismatches(pins, installed_versions())
    assert not bad, "the environment is not the lock (rm .venv/.installed; make test):\n" + (
        "\n".join(bad)
    )


def test_lock_comparison_catches_a_drift():
    pins = {"numpy": "2.4.6", "scipy": "1.17.1"}
    assert lock_mismatches(pins, {"numpy": {"2.4.6"}, "scipy": {"1.17.1"}}) == []
    assert lock_mismatches(pins, {"numpy": {"2.3.5"}, "scipy": {"1.17.1"}}) == [
        "numpy: locked 2.4.6, installed 2.3.5"
    ]
    assert lock_mismatches(pins, {"numpy": {"2.4.6"}}) == [
        "scipy: locked 1.17.1, installed nothing"
    ]


def test_torch_when_installed_is_the_oracle_pin():
    """PyTorch is outside the hashed lock (see the Makefile); where it is installed it is the
    version pyproject.toml's `oracle` extra pins (a local label such as +cpu aside)."""
    (pin,) = [Requirement(r) for r in PYPROJECT["optional-dependencies"]["oracle"]]
    assert pin.name == "torch" and str(pin.specifier).startswith("==")
    have = installed_versions().get("torch")
    if have is None:
        if os.environ.get("DROPOUT_STUDY_REQUIRE_TORCH", "") not in ("", "0"):
            pytest.fail("DROPOUT_STUDY_REQUIRE_TORCH is set but torch is not installed")
        pytest.skip("torch is not installed (make oracle)")
    assert {Version(v).public for v in have} == {str(pin.specifier)[2:]}


def test_the_lock_satisfies_pyproject_and_is_hashed():
    """The lock pins every requirement of pyproject.toml (dependencies and the locked extras)
    at a version inside its range, with a hash for each pin, and no CUDA package: torch's
    dependencies in it are those of its CPU build."""
    text = LOCK.read_text(encoding="utf-8")
    pins = lock_pins(text)
    reqs = [Requirement(r) for r in PYPROJECT["dependencies"]]
    for extra in LOCKED_EXTRAS:
        reqs += [Requirement(r) for r in PYPROJECT["optional-dependencies"][extra]]
    problems = []
    for req in reqs:
        name = normalize(req.name)
        if name in NOT_LOCKED:
            assert name not in pins, f"{name} must stay out of the hashed lock"
            continue
        if name not in pins:
            problems.append(f"{req} is not in the lock (make lock)")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{req}: the lock has {pins[name]} (make lock)")
    assert not problems, "\n".join(problems)
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
    unhashed = [b.split()[0] for b in blocks if PIN.match(b) and "--hash=sha256:" not in b]
    assert not unhashed, f"locked without a hash: {unhashed}"
    cuda = sorted(n for n in pins if n.startswith(("nvidia-", "triton", "cuda-")))
    assert not cuda, f"the lock was made with a CUDA build of torch: {cuda}"


def test_the_environment_is_consistent():
    """pip's own check: every installed package's requirements are met (torch's included,
    though `make oracle` installs it with --no-deps)."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_install_stamp_depends_on_the_lock():
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    out = subprocess.run(
        [make, "-pn", ".venv/.installed"], cwd=ROOT, capture_output=True, text=True, timeout=60
    ).stdout
    prereqs = re.search(r"^\.venv/\.installed:(.*)$", out, re.M)
    assert prereqs and "requirements.lock" in prereqs.group(1).split(), out[-2000:]
    recipe = subprocess.run(
        [make, "-n", "-W", "requirements.lock", ".venv/.installed"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "--require-hashes -r requirements.lock" in recipe
    assert "--no-deps -e ." in recipe


def test_provenance_records_the_lock_hash(tmp_path):
    assert provenance.lock_hash() == hashlib.sha256(LOCK.read_bytes()).hexdigest()
    assert provenance.provenance()["lock_sha256"] == provenance.lock_hash()
    other = tmp_path / "requirements.lock"
    other.write_bytes(LOCK.read_bytes() + b"\n")
    assert provenance.lock_hash(other) not in (None, provenance.lock_hash())
    assert provenance.lock_hash(tmp_path / "absent.lock") is None


# ------------------------------------------------------------------- declared dependencies


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """Top-level names imported by a file: (at module level, anywhere). ``import_module`` and
    ``importorskip`` calls with a literal name count as imports anywhere."""
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def names(node) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name.split(".")[0] for a in node.names]
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            return [node.module.split(".")[0]]
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in ("import_module", "importorskip")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            return [node.args[0].value.split(".")[0]]
        return []

    top = {n for node in tree.body for n in names(node)}
    anywhere = {n for node in ast.walk(tree) for n in names(node)}
    return top, anywhere


def _third_party(modules: set[str], local: set[str]) -> set[str]:
    return {m for m in modules if m not in sys.stdlib_module_names and m not in local}


@functools.cache
def _packages_distributions() -> dict[str, list[str]]:
    return md.packages_distributions()


def _distributions(module: str) -> set[str]:
    """The distributions providing an import name (the name itself when not installed)."""
    found = _packages_distributions().get(module)
    return {normalize(d) for d in found} if found else {normalize(module)}


def _declared(*extras: str) -> set[str]:
    reqs = list(PYPROJECT["dependencies"])
    for extra in extras:
        reqs += PYPROJECT["optional-dependencies"][extra]
    return {normalize(Requirement(r).name) for r in reqs}


def _undeclared(files: list[Path], declared: set[str], local: set[str], top_only: bool) -> list:
    missing = []
    for f in files:
        top, anywhere = _imports(f)
        for module in sorted(_third_party(top if top_only else anywhere, local)):
            if not _distributions(module) & declared:
                missing.append(
                    f"{f.relative_to(ROOT)}: {module} ({'/'.join(_distributions(module))})"
                )
    return missing


def test_every_distribution_the_code_imports_is_declared():
    """What src/ imports is declared in pyproject.toml: at module level in the dependencies
    (importing the package needs no extra), anywhere in the dependencies or an extra; what
    tests/ imports, in the dependencies or an extra that CI installs."""
    src = sorted((ROOT / "src").rglob("*.py"))
    tests = sorted((ROOT / "tests").rglob("*.py"))
    local_tests = {p.stem for p in tests} | {p.name for p in (ROOT / "tests").iterdir()}
    extras = tuple(PYPROJECT["optional-dependencies"])
    missing = _undeclared(src, _declared(), {"dropout_study"}, top_only=True)
    missing += _undeclared(src, _declared(*extras), {"dropout_study"}, top_only=False)
    local = {"dropout_study"} | local_tests
    missing += _undeclared(tests, _declared(*LOCKED_EXTRAS), local, top_only=False)
    assert not missing, "imported but not declared in pyproject.toml:\n" + "\n".join(missing)


def test_the_import_check_sees_an_undeclared_import(tmp_path):
    f = tmp_path / "mod.py"
    f.write_text("import numpy\nimport nbformat\n\ndef g():\n    from pybtex import database\n")
    assert _imports(f) == ({"numpy", "nbformat"}, {"numpy", "nbformat", "pybtex"})
    rel = Path(os.path.relpath(f, ROOT))
    missing = _undeclared([ROOT / rel], {"numpy"}, set(), top_only=False)
    assert [m.split(": ")[1].split(" ")[0] for m in missing] == ["nbformat", "pybtex"]


# ------------------------------------------------------------ CITATION.cff, licence, metadata


def _cff() -> dict:
    from ruamel.yaml import YAML

    data = YAML(typ="safe", pure=True).load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))

    def dates_as_text(obj):  # CFF tools read an unquoted date as its text
        if isinstance(obj, dict):
            return {k: dates_as_text(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [dates_as_text(v) for v in obj]
        return obj.isoformat() if isinstance(obj, dt.date) else obj

    return dates_as_text(data)


def _cff_errors(data: dict) -> list[str]:
    import jsonschema

    raw = CFF_SCHEMA.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == CFF_SCHEMA_SHA256, "the vendored schema changed"
    schema = json.loads(raw)
    validator = jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)
    ]


def test_citation_cff_is_valid_cff_1_2_0():
    data = _cff()
    assert data["cff-version"] == "1.2.0"
    assert _cff_errors(data) == []


def test_the_cff_check_rejects_a_broken_citation():
    data = _cff()
    broken = {k: v for k, v in data.items() if k != "title"}
    broken["license"] = "MIT-ish"
    broken["date-released"] = "29 Nov 2026"
    errors = _cff_errors(broken)
    assert any("'title' is a required property" in e for e in errors), errors
    assert any(e.startswith("license") for e in errors), errors
    assert any(e.startswith("date-released") for e in errors), errors


def test_licence_and_metadata_agree():
    """LICENSE is the MIT licence of the holder named in CITATION.cff and pyproject.toml, and
    the two files agree on licence, version, authors and keywords."""
    cff = _cff()
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    holder = cff["authors"][0]["name"]
    assert licence.startswith("MIT License\n")
    assert re.search(rf"^Copyright \(c\) \d{{4}} {re.escape(holder)}$", licence, re.M)
    assert "WITHOUT WARRANTY OF ANY KIND" in licence
    assert PYPROJECT["license"] == cff["license"] == "MIT"
    assert PYPROJECT["license-files"] == ["LICENSE"]
    assert PYPROJECT["version"] == cff["version"]
    assert [a["name"] for a in PYPROJECT["authors"]] == [a["name"] for a in cff["authors"]]
    assert PYPROJECT["keywords"] == cff["keywords"]
    assert PYPROJECT["classifiers"], "pyproject.toml has no classifiers"
    urls = PYPROJECT.get("urls", {})
    if "repository-code" in cff:
        assert cff["repository-code"] in urls.values()
    else:
        assert not urls, "pyproject.toml names URLs that CITATION.cff does not"
