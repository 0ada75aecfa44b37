"""Provenance: package hash, git commit with a dirty flag, dependency versions."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime
from importlib.metadata import version

import numpy as np
import pytest
from fixtures.tinybook import package_copy

from dropout_study import paths, provenance
from dropout_study.codehash import package_code_hash


def _git(cwd, *args):
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_package_hash_follows_every_source_file_but_not_comments(tmp_path):
    pkg = package_copy(tmp_path)
    h0 = package_code_hash(pkg)
    assert package_code_hash(pkg) == h0  # stable
    assert h0 == package_code_hash(paths.PACKAGE)  # a faithful copy hashes the same
    assert provenance.provenance()["package_hash"] == h0
    (pkg / "__pycache__").mkdir(exist_ok=True)
    (pkg / "__pycache__" / "junk.py").write_text("x = 1\n")
    assert package_code_hash(pkg) == h0  # caches are ignored
    f = pkg / "nn" / "losses.py"
    f.write_text(f.read_text() + "\n# a comment\n")
    assert package_code_hash(pkg) == h0
    f.write_text(f.read_text() + "\nEDITED = 1\n")
    assert package_code_hash(pkg) != h0
    f.rename(pkg / "nn" / "losses2.py")  # a rename changes it too
    assert package_code_hash(pkg) not in (h0,)


def test_git_commit_and_dirty_flag(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "a.txt").write_text("one\n")
    _git(repo, "add", "a.txt")
    _git(repo, "commit", "-q", "-m", "first")
    sha = _git(repo, "rev-parse", "HEAD")
    assert provenance.git_commit(repo) == {"commit": sha, "dirty": False}
    (repo / "untracked.txt").write_text("x\n")
    assert provenance.git_commit(repo)["dirty"] is False  # untracked files do not count
    (repo / "a.txt").write_text("two\n")
    assert provenance.git_commit(repo) == {"commit": sha, "dirty": True}


def test_outside_a_checkout_commit_is_none(tmp_path):
    assert provenance.git_commit(tmp_path) == {"commit": None, "dirty": None}


def test_dependency_versions_are_the_installed_ones():
    deps = provenance.dependency_versions()
    assert deps["numpy"] == np.__version__
    assert deps["scikit-learn"] == version("scikit-learn")
    assert deps["jupyter-book"] == version("jupyter-book")
    assert "python" in deps


def test_provenance_is_deterministic_and_json_able():
    a, b = provenance.provenance(), provenance.provenance()
    assert a == b
    assert json.loads(json.dumps(a)) == a


def test_canonical_json_and_timestamp():
    assert provenance.canonical_json({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
    t = datetime.fromisoformat(provenance.timestamp())
    assert t.tzinfo is not None and t.microsecond == 0


@pytest.mark.parametrize("data", [b"", b"abc"])
def test_sha256_bytes_matches_hashlib(data):
    import hashlib

    assert provenance.sha256_bytes(data) == hashlib.sha256(data).hexdigest()
