"""Venvs of the Pi's package stacks inside a rootfs, cached under the user's cache dir.

A stack is what ``deploy/install.sh`` gives on that OS: a ``--system-site-packages`` venv over apt's python3 and
numpy, pip's wheels for the rest. The venv lives in ``<cache>/venvs/<name>-<hash>`` and is bind-mounted at
``/venv`` (the same path every run, so the cached venv stays valid); the hash covers pyproject.toml and the pins.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .machinery import ROOTFS, Rootfs, cache_dir, locked, log, run_in

VENV = "/venv"
SRC = "/src"
SHARED = "/srv/shared"
REPO = Path(__file__).resolve().parents[2]
# The checkout is installed with --no-build-isolation (a few seconds, offline): the venv holds the build backend,
# which Python >= 3.12 venvs do not bring themselves.
BUILD_REQUIREMENTS = tuple(tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"])


@dataclass(frozen=True)
class Stack:
    name: str
    rootfs: Rootfs
    pins: tuple[str, ...]  # pip requirements that fix the stack's versions (beside apt's numpy)
    extras: str = "dev"
    arch_env: tuple[tuple[str, str], ...] = ()  # environment for every command (qemu's CPU model under emulation)

    def venv_dir(self, pyproject: Path) -> Path:
        recipe = [*self.pins, *BUILD_REQUIREMENTS, self.extras]
        digest = hashlib.sha256(pyproject.read_bytes() + "\n".join(recipe).encode())
        return cache_dir() / "venvs" / f"{self.name}-{self.rootfs.spec_hash()}-{digest.hexdigest()[:12]}"


STACKS = {
    # Raspberry Pi OS Bookworm: Python 3.11, apt's numpy 1.24.2; pip picks OpenCV 4.11.0.86 beside numpy 1.x.
    "bookworm-stack": Stack("bookworm-stack", ROOTFS["bookworm-amd64"],
                            ("numpy<2", "opencv-python-headless==4.11.0.86", "ai-edge-litert==2.3.0")),
    # Raspberry Pi OS Trixie: Python 3.13, apt's numpy 2.x, OpenCV 5 from PyPI.
    "trixie-stack": Stack("trixie-stack", ROOTFS["trixie-amd64"], ("numpy>=2", "opencv-python-headless>=5")),
    # A Pi's Bookworm userland under emulation: the same pins as bookworm-stack, aarch64 wheels.
    "arm64": Stack("arm64", ROOTFS["bookworm-arm64"],
                   ("numpy<2", "opencv-python-headless==4.11.0.86", "ai-edge-litert==2.3.0"), extras="",
                   arch_env=(("QEMU_CPU", "cortex-a72"),)),
}


def binds(stack: Stack, src: Path, shared: Path, venv: Path) -> list[tuple[str, str, bool]]:
    pip_cache = cache_dir() / "pip" / stack.rootfs.name
    pip_cache.mkdir(parents=True, exist_ok=True)
    return [(str(src), SRC, True), (str(shared), SHARED, False), (str(venv), VENV, True),
            (str(pip_cache), "/root/.cache/pip", True)]


def prepare_venv(stack: Stack, root: Path, src: Path, shared: Path, logfile: Path,
                 extra_binds: Sequence[tuple[str, str, bool]] = ()) -> Path:
    """The stack's venv with the project's dependencies (built once per pyproject/pins), and this checkout
    installed into it (every run: --no-deps, a few seconds)."""
    venv = stack.venv_dir(src / "pyproject.toml")
    mounts = [*binds(stack, src, shared, venv), *extra_binds]
    env = dict(stack.arch_env)
    with locked(venv.with_name(venv.name + ".lock")):
        if not (venv / ".complete").exists():
            shutil.rmtree(venv, ignore_errors=True)
            venv.mkdir(parents=True)
            log(f"{stack.name}: building the venv (cached in {venv})")
            target = f"{SRC}[{stack.extras}]" if stack.extras else SRC
            pins = " ".join(f"'{pin}'" for pin in (*stack.pins, *BUILD_REQUIREMENTS))
            script = (f"set -e; python3 -m venv --system-site-packages {VENV}; "
                      f"printf '%s\\n' {pins} > {VENV}/constraints.txt; "
                      f"{VENV}/bin/python -m pip install --disable-pip-version-check --progress-bar off "
                      f"--constraint {VENV}/constraints.txt {pins} '{target}'; "
                      f"{VENV}/bin/python -m pip uninstall --yes pose-appliance")
            result = _retrying_run(stack.name, root, ["bash", "-c", script], mounts, env, logfile)
            if result.returncode != 0:
                raise AssertionError(f"{stack.name}: the venv did not build:\n{result.stdout[-4000:]}")
            (venv / ".complete").touch()
            for stale in venv.parent.glob(f"{stack.name}-*"):  # venvs of an older pyproject or recipe
                if stale.is_dir() and stale != venv:
                    shutil.rmtree(stale, ignore_errors=True)
    install = (f"{VENV}/bin/python -m pip install --disable-pip-version-check --quiet --no-deps "
               f"--no-build-isolation -e {SRC}")
    result = run_in(root, ["bash", "-c", install], mounts, env, timeout=900, stream=logfile)
    assert result.returncode == 0, f"{stack.name}: installing the checkout failed:\n{result.stdout[-3000:]}"
    return venv


def _retrying_run(name, root, command, mounts, env, logfile) -> subprocess.CompletedProcess:
    """pip downloads: a failure (most often a transient network error) is tried once more."""
    result = run_in(root, command, mounts, env, timeout=2400, stream=logfile)
    if result.returncode != 0:
        log(f"{name}: venv build failed (exit {result.returncode}); retrying once")
        result = run_in(root, command, mounts, env, timeout=2400, stream=logfile)
    return result


def versions(stack: Stack, root: Path, mounts, logfile: Path) -> dict[str, str]:
    script = ("import sys, numpy, cv2, importlib.metadata as m; print('VERSIONS', sys.version.split()[0], "
              "numpy.__version__, cv2.__version__, m.version('ai-edge-litert'))")
    result = run_in(root, [f"{VENV}/bin/python", "-c", script], mounts, dict(stack.arch_env), timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("VERSIONS "))
    python, numpy, opencv, litert = line.split()[1:]
    return {"python": python, "numpy": numpy, "opencv": opencv, "ai-edge-litert": litert}
