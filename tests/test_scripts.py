"""scripts/pa: the venv's pose-appliance for a shell that does not have it on PATH (the README's commands)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def pa(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "POSE_APPLIANCE_VENV": sys.prefix}  # the venv running these tests
    return subprocess.run([str(REPO / "scripts/pa"), *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=120, check=False)


def test_pa_runs_the_venvs_command_from_any_folder(tmp_path):
    (tmp_path / "config.toml").write_text('[display]\ntype = "null"\n[classifier]\nenabled = false\n')
    run = pa("check-config", "config.toml", cwd=tmp_path)  # a path relative to where the user is
    assert run.stdout.startswith("config.toml: ok (camera video"), run.stderr
    version = pa("--version", cwd=tmp_path)

    from importlib.metadata import version as installed

    assert version.returncode == 0 and version.stdout.strip() == installed("pose-appliance")


def test_the_demo_scripts_pass_shellcheck():
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: apt-get install shellcheck (scripts/test installs it)"
    result = subprocess.run([shellcheck, "--external-sources", "--severity=style", "pa", "demo",
                             "evaluate-labels", "compare-tf-sample"],
                            capture_output=True, text=True, cwd=REPO / "scripts", check=False)
    assert result.returncode == 0, result.stdout
