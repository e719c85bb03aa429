"""The system stage: the product on the Pi's own software (real systemd 252, Bookworm's and Trixie's package
stacks, arm64 under emulation), in containers booted or run with systemd-nspawn.

Every test here carries the ``system`` marker. It needs root, systemd-nspawn, mmdebstrap and qemu-user-static
(``scripts/test`` installs them) and ~30-50 min from nothing, ~15-20 min with warm caches (machinery.py).
A developer skips it with ``POSE_APPLIANCE_SKIP_SYSTEM=1`` (or ``pytest --ignore=tests/system`` /
``pytest -m "not system"``); under CI (``CI=true``) it is never skipped: missing tools are a failure.
At the end a line per environment (bookworm-systemd, bookworm-stack, trixie-stack, arm64) and the time of
each check are printed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ENVIRONMENTS = ("bookworm-systemd", "bookworm-stack", "trixie-stack", "arm64")
_results: dict[str, list[tuple[str, str, float]]] = defaultdict(list)


def ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_reason() -> str | None:
    """Why the stage cannot or need not run here; None = run it. Under CI a reason is an error instead."""
    if os.environ.get("POSE_APPLIANCE_SKIP_SYSTEM", "") not in ("", "0") and not ci():
        return "POSE_APPLIANCE_SKIP_SYSTEM is set"
    if os.geteuid() != 0:
        return "needs root (containers with systemd-nspawn)"
    missing = [tool for tool in ("systemd-nspawn", "mmdebstrap", "nsenter", "zstd") if not shutil.which(tool)]
    if missing:
        return f"missing {' '.join(missing)} (scripts/test installs them)"
    return None


def in_stage(item) -> bool:
    return HERE in Path(str(item.fspath)).resolve().parents


def pytest_collection_modifyitems(config, items):
    reason = skip_reason()
    stage = [item for item in items if in_stage(item)]
    for item in stage:
        item.add_marker(pytest.mark.system)
        if reason is not None:
            if ci():
                item.add_marker(pytest.mark.usefixtures("_system_stage_unavailable"))
            else:
                item.add_marker(pytest.mark.skip(reason=f"system stage skipped: {reason}"))
    # The stage runs last, so the root filesystems it needs are built in the background meanwhile, and arm64 (the
    # slowest build, emulated) comes last of all.
    stage.sort(key=lambda item: ENVIRONMENTS.index(environment_of(item)) if environment_of(item) in ENVIRONMENTS
               else len(ENVIRONMENTS))
    items[:] = [item for item in items if not in_stage(item)] + stage


_builders: list[subprocess.Popen] = []


def pytest_collection_finish(session):
    if (skip_reason() is not None or session.config.option.collectonly
            or not any(in_stage(item) for item in session.items)):
        return
    from .machinery import ROOTFS

    missing = [name for name, spec in ROOTFS.items() if not spec.tarball.is_file()]
    # arm64 (the slowest, emulated) in one process, the amd64 ones in another; the tests wait on their locks.
    for group in ([n for n in missing if "arm64" in n], [n for n in missing if "arm64" not in n]):
        if group:
            _builders.append(subprocess.Popen([sys.executable, str(HERE / "machinery.py"), "build", *group],
                                              stdin=subprocess.DEVNULL, start_new_session=True))


def pytest_sessionfinish(session):
    for builder in _builders:  # an interrupted run leaves no builder behind
        if builder.poll() is None:
            os.killpg(builder.pid, signal.SIGTERM)
            try:
                builder.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(builder.pid, signal.SIGKILL)
                builder.wait()


@pytest.fixture
def _system_stage_unavailable():
    pytest.fail(f"the system stage cannot run under CI: {skip_reason()}")


def environment_of(item) -> str:
    marker = item.get_closest_marker("environment")
    return marker.args[0] if marker else "system"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not in_stage(item):
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _results[environment_of(item)].append((item.name, report.outcome, report.duration))
    elif report.when == "setup" and report.duration > 1:  # a container boot or a venv build, timed too
        _results[environment_of(item)].append((f"{item.name} (setup)", "setup", report.duration))


def pytest_terminal_summary(terminalreporter):
    from .machinery import NOTES

    if not _results:
        return
    write = terminalreporter.write_line
    terminalreporter.section("system stage")
    for environment in sorted(_results, key=lambda e: ENVIRONMENTS.index(e) if e in ENVIRONMENTS else 99):
        checks = _results[environment]
        counts = defaultdict(int)
        for _, outcome, _ in checks:
            counts[outcome] += 1
        total = sum(duration for _, _, duration in checks)
        write(f"{environment}: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped "
              f"in {total:.0f} s")
        for name, outcome, duration in checks:
            write(f"    {duration:7.1f} s  {outcome:7s}  {name}")
        for _, fact in (n for n in NOTES if n[0] == environment):
            write(f"    measured: {fact}")
