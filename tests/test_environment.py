"""environment.yml (conda / Binder) pins the same dependencies as pyproject.toml."""

import re
import tomllib

import yaml
from helpers import ROOT


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(_split(r) for r in project["dependencies"])
    wanted.update(_split(r) for r in project["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str) and not dep.startswith(("python=", "pip")):
            name, spec = _split(dep)
            conda[name] = spec
    pip_part = [d for d in env["dependencies"] if isinstance(d, dict)][0]["pip"]
    for dep in pip_part:  # packages only on PyPI are pinned in the pip section
        if dep != "-e .":
            name, spec = _split(dep.split("#")[0])
            conda[name] = spec
    assert conda == wanted, f"environment.yml {conda} != pyproject.toml {wanted}"
    assert "-e ." in pip_part
