"""environment.yml (conda / Binder) is generated from requirements.lock, and Binder installs the
package itself in postBuild, once the repository is present."""

import os
import subprocess
import sys

import yaml
from helpers import ROOT


def test_environment_yml_is_the_lock():
    """environment.yml is exactly what tools/environment_from_lock.py writes from the lock."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "environment_from_lock.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr


def test_environment_yml_pins_every_locked_package_and_not_the_package_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    (pip_part,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert all("==" in dep for dep in pip_part), pip_part
    # repo2docker installs these before the repository is present: no `-e .` here
    assert not [dep for dep in pip_part if dep.startswith(("-e", "."))]
    locked = [ln.split(" ")[0] for ln in (ROOT / "requirements.lock").read_text().splitlines()]
    assert pip_part == [ln for ln in locked if "==" in ln]


def test_binder_post_build_installs_the_package():
    post_build = ROOT / "postBuild"
    assert os.access(post_build, os.X_OK), "postBuild must be executable"
    text = post_build.read_text()
    assert text.startswith("#!")
    assert "pip install --no-deps -e ." in text
