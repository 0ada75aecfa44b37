"""Write ``environment.yml`` (conda / Binder) from ``requirements.lock``.

    python3 tools/environment_from_lock.py [--check]

``make lock`` runs it after pip-compile, so the conda environment names exactly the lock's
versions. Standard library only (it runs with the machine's ``python3``, before any venv).
``--check`` writes nothing and exits 1 when ``environment.yml`` is not what the lock gives.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
ENVIRONMENT = ROOT / "environment.yml"

HEADER = """\
# Generated from requirements.lock by tools/environment_from_lock.py (`make lock`); do not edit.
# A convenience for conda and Binder: Python 3.11 and the lock's exact versions, installed by
# pip, without the lock's hashes (`make book` and `make test` install the lock with its hashes
# checked, and are the way to reproduce the published book). PyTorch, the tests' optional
# oracle, is not included. The package itself is installed by postBuild on Binder (the
# repository is not present yet when these entries are installed); by hand:
#   conda env create -f environment.yml && conda activate dropout-study
#   pip install --no-deps -e .
name: dropout-study
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - pip:
"""

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins(lock_text: str) -> list[tuple[str, str]]:
    """``(name, version)`` of every requirement pinned in a pip-compile lock, in its order."""
    return [(m.group(1), m.group(2)) for m in map(PIN.match, lock_text.splitlines()) if m]


def environment_yml(lock_text: str) -> str:
    """The text of ``environment.yml`` for a lock."""
    found = pins(lock_text)
    if not found:
        raise SystemExit("requirements.lock pins no package")
    return HEADER + "".join(f"      - {name}=={ver}\n" for name, ver in found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    want = environment_yml(LOCK.read_text(encoding="utf-8"))
    if args.check:
        have = ENVIRONMENT.read_text(encoding="utf-8") if ENVIRONMENT.exists() else ""
        if have != want:
            print("environment.yml differs from requirements.lock: run make lock", file=sys.stderr)
            return 1
        return 0
    ENVIRONMENT.write_text(want, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
