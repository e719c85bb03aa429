"""The whole unit suite (training aside) on the package versions a Pi gets: Raspberry Pi OS Bookworm's (Python
3.11, apt's numpy 1.24.2, opencv-python-headless 4.11.0.86, ai-edge-litert 2.3.0) and Trixie's (Python 3.13,
apt's numpy 2.x, OpenCV 5), each in its own Debian rootfs. The suite runs on a copy of the checkout, and the
copy must be unchanged afterwards: tests never write into the repository.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest

from .machinery import note, project_copy, run_in, scratch, unpack
from .stacks import SHARED, SRC, STACKS, VENV, binds, prepare_venv, versions

REPO = Path(__file__).resolve().parents[2]
SUITE = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--ignore=tests/system", "--ignore=tests/test_training.py"]
EXPECTED = {
    "bookworm-stack": {"python": r"3\.11\.", "numpy": r"1\.24\.2$", "opencv": r"4\.11\.0$",
                       "ai-edge-litert": r"2\.3\.0$"},
    "trixie-stack": {"python": r"3\.13\.", "numpy": r"2\.", "opencv": r"5\.", "ai-edge-litert": r"2\."},
}


def checksums(root: Path) -> dict[str, str]:
    ignored = re.compile(r"(^|/)(__pycache__|[^/]*\.egg-info|\.pytest_cache|build)(/|$)")
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file() and not ignored.search(str(path.relative_to(root)))}


@pytest.fixture(scope="module", params=[pytest.param(name, marks=pytest.mark.environment(name))
                                        for name in ("bookworm-stack", "trixie-stack")])
def stack(request, shared):
    spec = STACKS[request.param]
    work = scratch(spec.name)
    try:
        root = unpack(spec.rootfs, work / "root")
        src = project_copy(REPO, work / "src")
        logfile = work / "log.txt"
        venv = prepare_venv(spec, root, src, shared, logfile)
        yield spec, root, src, binds(spec, src, shared, venv), logfile
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_versions_are_the_pis(stack):
    spec, root, _, mounts, logfile = stack
    found = versions(spec, root, mounts, logfile)
    note(spec.name, ", ".join(f"{k} {v}" for k, v in found.items()))
    for key, pattern in EXPECTED[spec.name].items():
        assert re.match(pattern, found[key]), (key, found)


def test_whole_suite_passes(stack):
    spec, root, src, mounts, logfile = stack
    before = checksums(src)
    env = {"POSE_APPLIANCE_SHARED": SHARED, "PYTHONDONTWRITEBYTECODE": "1", "CI": "", "PYTHONUNBUFFERED": "1"}
    result = run_in(root, ["bash", "-c", f"cd {SRC} && exec {VENV}/bin/python " + " ".join(SUITE)], mounts, env,
                    timeout=1800)
    logfile.write_text(result.stdout)
    summary = next((line for line in reversed(result.stdout.splitlines())
                    if re.search(r"\d+ (passed|failed)", line)), "(no pytest summary)")
    note(spec.name, f"unit suite: {summary}")
    assert result.returncode == 0 and " passed" in summary and "failed" not in summary, result.stdout[-6000:]
    after = checksums(src)
    changed = {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
    assert not changed, f"the suite wrote into the checkout: {sorted(changed)}"


def test_installer_detects_the_os(stack):
    spec, root, _, mounts, _ = stack
    result = run_in(root, ["bash", f"{SRC}/deploy/install.sh", "--dry-run"], mounts, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    first = result.stdout.splitlines()[0]
    note(spec.name, f"install.sh --dry-run: {first}")
    codename, python = {"bookworm-stack": ("bookworm", "3.11"), "trixie-stack": ("trixie", "3.13")}[spec.name]
    assert f"({codename}) (amd64): Python {python}, systemd 2" in first, first
    # Bookworm's apt numpy is 1.x and is kept with an OpenCV for it; Trixie's is 2.x and needs no pin.
    assert ("numpy is 1.x" in result.stdout) == (codename == "bookworm"), result.stdout
