"""The installer and the unit under a real systemd 252 (Debian bookworm, as on Raspberry Pi OS Bookworm).

One container is booted for the module; the checks run in file order on the one install, as a Pi owner would
meet them: install as the README says, READY, status, journal, reloads, the watchdog, stop, a second install,
uninstall and purge. There is no camera: the config written before the install plays the demo video in a loop
on the web display; the stalled-camera check uses the fake picamera2 of tests/fakes (the hardware's API
boundary), which can be told to stop delivering frames.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from .machinery import (
    ROOTFS,
    Booted,
    cache_dir,
    log,
    note,
    project_copy,
    scratch,
    unpack,
)

ENV = "bookworm-systemd"

pytestmark = pytest.mark.environment(ENV)

REPO = Path(__file__).resolve().parents[2]
SERVICE = "pose-appliance"
CONFIG = "/etc/pose-appliance/config.toml"
CHECKOUT = "/home/pi/pose-appliance"  # where the owner cloned the project
MIRROR = "/srv/shared"
WATCHDOG_SEC = 6  # shortened by a drop-in (the way the unit says local changes are made) to keep the test short
STALL_FILE = "/run/fake-camera-stall"


def free_port() -> int:
    with socket.socket() as probe:  # the container shares the host's network
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


PORT = free_port()

CONFIG_TEXT = f"""# written before the install: no camera in the container, so the demo video in a loop
[camera]
type = "video"
[camera.video]
loop = true
realtime = true
[display]
type = "web"
[display.web]
bind = "127.0.0.1"
port = {PORT}
[service]
models_dir = "/var/lib/pose-appliance/models"
"""

# The fake picamera2 (tests/fakes, copied to FAKES: the unit's ProtectHome= hides /home), importable by the
# service as `picamera2` through a shim module in the venv: the demo video at 30 fps, no frame while STALL_FILE
# exists.
FAKES = "/usr/local/lib/pose-appliance-test"
CAMERA_SHIM = f"""import os, sys
sys.path.insert(0, "{FAKES}")
from fakes.picamera2 import make_module
sys.modules[__name__] = make_module(video="/var/lib/pose-appliance/models/demo_video.mp4", realtime=True,
                                    stall_while=lambda: os.path.exists("{STALL_FILE}"))
"""


@pytest.fixture(scope="module")
def box(shared):
    work = scratch("bookworm-systemd")
    root = work / "root"
    try:
        unpack(ROOTFS["bookworm-amd64"], root)
        # The rootfs carries the unit suite's broker; booted with the host's network it must not take port 1883.
        (root / "etc/systemd/system/mosquitto.service").symlink_to("/dev/null")
        checkout = project_copy(REPO, work / "checkout")
        checkout.chmod(0o755)
        pip_cache = cache_dir() / "pip" / "bookworm-amd64"
        pip_cache.mkdir(parents=True, exist_ok=True)
        binds = [(str(checkout), CHECKOUT, True), (str(shared), MIRROR, False),
                 (str(pip_cache), "/root/.cache/pip", True)]
        with Booted(root, binds, name="pa-bookworm") as container:
            log(f"bookworm container up (leader pid {container.leader}); web display on port {PORT}")
            container.sh("useradd --create-home --groups sudo pi 2>/dev/null || usermod -aG sudo pi; "
                         "echo 'pi ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/010_pi-nopasswd")
            yield container
    finally:
        shutil.rmtree(work, ignore_errors=True)


def journal(box, *args: str) -> list[dict]:
    text = box.run("journalctl", "--no-pager", "-o", "json", *args).stdout
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def unit_lines(box, since_cursor: str | None = None) -> list[dict]:
    return journal(box, "-u", f"{SERVICE}.service", *(["--after-cursor", since_cursor] if since_cursor else []))


def cursor(box) -> str:
    entries = journal(box, "-n", "1")
    return entries[-1]["__CURSOR"] if entries else ""


def message(entry: dict) -> str:
    value = entry.get("MESSAGE", "")
    return bytes(value).decode(errors="replace") if isinstance(value, list) else value


def wait_for_line(box, pattern: str, since: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in unit_lines(box, since):
            if re.search(pattern, message(entry)):
                return entry
        time.sleep(0.2)
    lines = "\n".join(message(e) for e in unit_lines(box, since))
    raise AssertionError(f"no journal line matching {pattern!r} within {timeout} s; the unit logged:\n{lines}")


def prop(box, name: str) -> str:
    return box.run("systemctl", "show", "--value", "-p", name, f"{SERVICE}.service").stdout.strip()


def main_pid(box) -> int:
    return int(prop(box, "MainPID"))


def write_config(box, text: str) -> None:
    # Written in place like an editor that saves over the file; the service watches its mtime/size.
    box.run("tee", CONFIG, input=text)


def page(url: str, timeout: float = 5) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def wait_active(box, timeout: float = 90, other_than: int = 0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = prop(box, "ActiveState")
        pid = main_pid(box)
        if state == "active" and prop(box, "SubState") == "running" and pid and pid != other_than:
            return pid
        time.sleep(0.3)
    raise AssertionError(f"{SERVICE} not active again within {timeout} s: {prop(box, 'ActiveState')}")


def install(box, *args: str) -> str:
    result = box.run("runuser", "-u", "pi", "--", "bash", "-c",
                     f"cd {CHECKOUT} && sudo deploy/install.sh --mirror {MIRROR}/models --mirror {MIRROR}/data "
                     + " ".join(args), check=False, timeout=900)
    assert result.returncode == 0, f"install.sh failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout


def snapshot(box) -> str:
    """Checksums, modes and owners of everything the installer writes (not the venv's own pyc caches)."""
    return box.sh(
        "find /etc/pose-appliance /etc/systemd/system/pose-appliance.service* /etc/sysusers.d/pose-appliance.conf "
        "/var/lib/pose-appliance/models /usr/local/bin/pose-appliance /opt/pose-appliance/constraints.txt "
        "-printf '%p %m %u %g %l\\n' -type f -exec sha256sum {} + | sort").stdout


# ---------------------------------------------------------------------------------------------- the checks
def test_readme_install_starts_the_service(box):
    box.run("mkdir", "-p", "/etc/pose-appliance")
    write_config(box, CONFIG_TEXT)
    out = install(box)
    assert f"{SERVICE} is running" in out, out[-3000:]
    assert prop(box, "ActiveState") == "active" and prop(box, "Type") == "notify"
    # The owner's shell finds the command (the README uses it bare).
    found = box.run("runuser", "-u", "pi", "--", "bash", "-lc", "command -v pose-appliance && pose-appliance --help")
    assert found.stdout.startswith("/usr/local/bin/pose-appliance\n"), found.stdout


def test_ready_comes_after_the_first_frame_and_the_open_display(box):
    # A watchdog short enough for the freeze checks below, set as the unit asks local changes to be made.
    box.run("mkdir", "-p", f"/etc/systemd/system/{SERVICE}.service.d")
    box.run("tee", f"/etc/systemd/system/{SERVICE}.service.d/watchdog.conf",
            input=f"[Service]\nWatchdogSec={WATCHDOG_SEC}\n")
    box.run("systemctl", "daemon-reload")
    since = cursor(box)
    box.run("systemctl", "restart", f"{SERVICE}.service", timeout=150)  # Type=notify: returns at READY=1
    # The moment restart returned, the page is served: no retry allowed.
    assert b"stream.mjpg" in page(f"http://127.0.0.1:{PORT}/", timeout=5)
    messages = [message(e) for e in unit_lines(box, since)]
    first = next(i for i, m in enumerate(messages) if "first frame through" in m)
    started = next(i for i, m in enumerate(messages) if m.startswith("Started "))
    listening = next(i for i, m in enumerate(messages) if f"127.0.0.1:{PORT}/" in m)
    assert listening < first < started, messages


def test_status_shows_fps(box):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "fps" not in prop(box, "StatusText"):
        time.sleep(0.5)
    status = prop(box, "StatusText")
    note(ENV, f"STATUS= {status}")
    shown = re.match(r"([\d.]+) fps shown, model alone [\d.]+ fps, model movenet_lightning_int8 on cpu", status)
    assert shown and float(shown[1]) > 1, status
    assert "fps" in box.run("systemctl", "status", "--no-pager", f"{SERVICE}.service").stdout


def test_journal_carries_the_app_lines_at_their_priorities(box):
    entries = [e for e in unit_lines(box) if e.get("SYSLOG_IDENTIFIER") == SERVICE]
    info = [e for e in entries if "first frame through" in message(e)]
    assert info and all(e["PRIORITY"] == "6" for e in info), info
    model = [e for e in entries if message(e).startswith("model movenet_lightning_int8 on cpu")]
    assert model and model[-1]["PRIORITY"] == "6"
    # An error is priority 3 (journalctl -p err finds it): provoked by a config with a mistake in the next check.


def test_config_edit_reloads_within_a_second_with_the_same_pid(box):
    pid = main_pid(box)
    since = cursor(box)
    written = time.time()
    write_config(box, CONFIG_TEXT + "\n[overlay]\nline_width = 5\n")
    entry = wait_for_line(box, r"^reloaded \(config file changed\)", since, timeout=10)
    took = int(entry["__REALTIME_TIMESTAMP"]) / 1e6 - written
    note(ENV, f"config edit -> reloaded in {took:.2f} s (same main PID)")
    assert took < 1.5, f"reload took {took:.2f} s"
    assert main_pid(box) == pid and prop(box, "ActiveState") == "active"


def test_config_with_a_mistake_is_refused_while_running(box):
    pid = main_pid(box)
    since = cursor(box)
    write_config(box, CONFIG_TEXT + "\n[overlay]\nline_width = \"wide\"\n")
    entry = wait_for_line(box, r"reload .*rejected", since, timeout=10)
    assert entry["PRIORITY"] == "3" and "line_width" in message(entry), entry
    errors = box.run("journalctl", "--no-pager", "-u", f"{SERVICE}.service", "-p", "err", "-o", "cat").stdout
    assert "line_width" in errors
    time.sleep(1.5)
    assert main_pid(box) == pid and prop(box, "ActiveState") == "active"
    assert b"stream.mjpg" in page(f"http://127.0.0.1:{PORT}/")
    write_config(box, CONFIG_TEXT)
    wait_for_line(box, r"^reloaded \(config file changed\)", since, timeout=10)


def test_systemctl_reload(box):
    pid = main_pid(box)
    since = cursor(box)
    box.run("systemctl", "reload", f"{SERVICE}.service")
    wait_for_line(box, r"^reloaded \(SIGHUP\)", since, timeout=10)
    assert main_pid(box) == pid and prop(box, "ActiveState") == "active"


def test_frozen_process_is_restarted_by_the_watchdog(box):
    pid = main_pid(box)
    since = cursor(box)
    box.run("kill", "-STOP", str(pid))
    wait_for_line(box, r"[Ww]atchdog timeout", since, timeout=WATCHDOG_SEC + 10)
    new_pid = wait_active(box, timeout=90, other_than=pid)
    assert new_pid != pid
    assert b"stream.mjpg" in page(f"http://127.0.0.1:{PORT}/")


def test_stalled_camera_in_a_live_process_stops_the_pings(box):
    site = box.sh("/opt/pose-appliance/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])'"
                  ).stdout.strip()
    box.run("mkdir", "-p", FAKES)
    box.run("cp", "-r", f"{CHECKOUT}/tests/fakes", FAKES)
    box.run("chmod", "-R", "a+rX", FAKES)
    box.run("tee", f"{site}/picamera2.py", input=CAMERA_SHIM)
    box.run("chmod", "644", f"{site}/picamera2.py")
    since = cursor(box)
    write_config(box, CONFIG_TEXT.replace('type = "video"', 'type = "picamera2"'))
    wait_for_line(box, r"camera restarted: picamera2", since, timeout=15)
    pid = main_pid(box)
    since = cursor(box)
    box.run("touch", STALL_FILE)
    try:
        time.sleep(WATCHDOG_SEC / 2)
        state = box.run("ps", "-o", "stat=", "-p", str(pid)).stdout.strip()
        assert state and not state.startswith("T"), state  # alive and not stopped: only the frames stopped
        assert main_pid(box) == pid
        wait_for_line(box, r"[Ww]atchdog timeout", since, timeout=WATCHDOG_SEC + 10)
    finally:
        box.run("rm", "-f", STALL_FILE)
    wait_active(box, timeout=90, other_than=pid)
    write_config(box, CONFIG_TEXT)
    box.run("rm", f"{site}/picamera2.py")
    box.run("systemctl", "restart", f"{SERVICE}.service", timeout=150)


def test_stop_is_clean_and_quick(box):
    since = cursor(box)
    started = time.monotonic()
    box.run("systemctl", "stop", f"{SERVICE}.service", timeout=60)
    took = time.monotonic() - started
    note(ENV, f"systemctl stop took {took:.2f} s (TimeoutStopSec=10)")
    assert took < 5, f"stop took {took:.1f} s"
    assert prop(box, "Result") == "success" and prop(box, "ExecMainStatus") == "0"
    text = "\n".join(message(e) for e in unit_lines(box, since))
    assert "SIGKILL" not in text and "timed out" not in text, text
    box.run("systemctl", "start", f"{SERVICE}.service", timeout=150)


def test_unit_hardening_exposure_is_at_most_2_5(box):
    out = box.run("systemd-analyze", "security", "--no-pager", f"{SERVICE}.service").stdout
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out)
    assert match, out[-2000:]
    note(ENV, f"systemd-analyze security: overall exposure {match[1]}")
    assert float(match[1]) <= 2.5, out
    # The hardening keeps group-owned devices usable: a root:video 0640 file stands in for /dev/video0 (devices
    # themselves cannot be made in the container), read by a transient unit with the installed unit's settings.
    unit = box.run("systemctl", "cat", f"{SERVICE}.service").stdout
    service = unit.split("[Service]", 1)[1].split("\n[", 1)[0]
    skip = ("Type", "NotifyAccess", "Exec", "Timeout", "Watchdog", "Restart", "Environment", "WorkingDirectory")
    settings = [line for line in service.splitlines()
                if "=" in line and not line.startswith(("#", *skip)) and line.strip()]
    box.sh("printf secret > /run/video-probe && chown root:video /run/video-probe && chmod 0640 /run/video-probe")
    probe = box.run("systemd-run", "--wait", "--pipe", "--quiet", *(f"--property={s}" for s in settings),
                    "cat", "/run/video-probe", check=False)
    assert probe.returncode == 0 and probe.stdout == "secret", (probe.stdout, probe.stderr, settings)


def test_second_install_changes_nothing_and_keeps_an_edited_config(box):
    edited = CONFIG_TEXT + "\n# the owner's own note\n"
    write_config(box, edited)
    time.sleep(1.5)  # the edit's reload, before the snapshot
    before = snapshot(box)
    out = install(box)
    assert f"{SERVICE} is running" in out and f"{CONFIG} kept" in out, out[-3000:]
    assert box.run("cat", CONFIG).stdout == edited
    assert snapshot(box) == before


def test_uninstall_keeps_the_config_and_purge_removes_it(box):
    out = box.run("bash", "-c", f"cd {CHECKOUT} && deploy/uninstall.sh").stdout
    assert "kept" in out
    assert box.run("systemctl", "cat", f"{SERVICE}.service", check=False).returncode != 0
    assert box.run("cat", CONFIG).stdout.startswith("# written before the install")
    assert box.run("test", "-e", "/usr/local/bin/pose-appliance", check=False).returncode != 0
    assert box.run("test", "-e", "/opt/pose-appliance", check=False).returncode != 0
    box.run("bash", "-c", f"cd {CHECKOUT} && deploy/uninstall.sh --purge")
    assert box.run("test", "-e", "/etc/pose-appliance", check=False).returncode != 0
    assert box.run("getent", "passwd", SERVICE, check=False).returncode != 0
    assert box.run("getent", "group", SERVICE, check=False).returncode != 0
