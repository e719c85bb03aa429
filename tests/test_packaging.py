"""The package as pip builds it: no setuptools deprecation on the way, SPDX license metadata, the data inside."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_pip_builds_a_wheel_without_deprecation_warnings(tmp_path):
    source = tmp_path / "source"  # a copy: the build writes build/ and *.egg-info beside the sources
    shutil.copytree(REPO / "pose_appliance", source / "pose_appliance",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(REPO / name, source / name)
    # The venv's setuptools (the dev extra asks for the build-system floor), offline like the modelstore test.
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "-v", "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True,
                           timeout=600, check=False)
    log = build.stdout + build.stderr
    assert build.returncode == 0, log[-3000:]
    assert "SetuptoolsDeprecationWarning" not in log and "project.license" not in log
    (wheel,) = (tmp_path / "dist").glob("pose_appliance-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert {"pose_appliance/data/manifest.toml", "pose_appliance/data/config.example.toml"} <= set(names)


def test_the_build_backend_floor_accepts_the_spdx_license():
    """setuptools reads ``license = "SPDX"`` from 77.0 on (PEP 639); an older floor would fail to build."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"
    (requirement,) = project["build-system"]["requires"]
    name, _, version = requirement.partition(">=")
    assert name == "setuptools" and tuple(map(int, version.split("."))) >= (77, 0, 3)
