"""The appliance as systemd runs it: a real process, a real NOTIFY_SOCKET, real signals.

Contract (deploy/pose-appliance.service is Type=notify with WatchdogSec= and ExecReload=kill -HUP):
READY=1 once frames flow, STATUS= and WATCHDOG=1 while they do, RELOADING=1 then READY=1 on SIGHUP,
STOPPING=1 and exit status 0 on SIGTERM, quickly enough for TimeoutStopSec=.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0  # model load + first frame on a busy 2-core CI machine
STOP_TIMEOUT = 2.0  # the unit gives TimeoutStopSec=10; stopping must be far quicker than that


class NotifyListener:
    """systemd's side of NOTIFY_SOCKET: collects every datagram the service sends."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[list[str]] = []

    def expect(self, line: str, timeout: float, process: subprocess.Popen, log: Path) -> list[str]:
        """The next message holding `line` (earlier ones are kept in self.messages)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"pose-appliance exited with {process.returncode} while waiting for {line}:\n"
                            + log.read_text()[-3000:])
            self.sock.settimeout(min(0.5, max(0.01, deadline - time.monotonic())))
            try:
                message = self.sock.recv(4096).decode().split("\n")
            except TimeoutError:
                continue
            self.messages.append(message)
            if any(item == line or (line.endswith("=") and item.startswith(line)) for item in message):
                return message
        pytest.fail(f"no {line} within {timeout} s; got {self.messages}\n" + log.read_text()[-3000:])

    def close(self):
        self.sock.close()


@pytest.fixture
def appliance_config(tmp_path, shared, lightning_int8, yoga_classifier, yoga_labels) -> Path:
    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[camera]\ntype = "video"\n[camera.video]\npath = "{video}"\nloop = true\nrealtime = true\n'
        f'[model]\nname = "movenet_lightning_int8"\npath = "{lightning_int8}"\ndelegate = "cpu"\nthreads = 1\n'
        f'[classifier]\npath = "{yoga_classifier}"\nlabels = "{yoga_labels}"\n'
        f'[display]\ntype = "null"\n'
        f'[service]\nmodels_dir = "{tmp_path / "models"}"\nwatch_config = false\n')
    return config


def test_notify_protocol_reload_and_stop(tmp_path, appliance_config):
    listener = NotifyListener(tmp_path / "notify")
    log = tmp_path / "stderr.log"
    env = {**os.environ, "NOTIFY_SOCKET": str(listener.path), "WATCHDOG_USEC": "2000000",
           "PYTHONUNBUFFERED": "1"}
    env.pop("WATCHDOG_PID", None)
    env.pop("JOURNAL_STREAM", None)
    with open(log, "wb") as err:
        process = subprocess.Popen([sys.executable, "-m", "pose_appliance", "run", "--config",
                                    str(appliance_config)], cwd=tmp_path, env=env,
                                   stdout=subprocess.DEVNULL, stderr=err)
    try:
        listener.expect("READY=1", START_TIMEOUT, process, log)
        listener.expect("STATUS=", 10, process, log)
        listener.expect("WATCHDOG=1", 10, process, log)

        process.send_signal(signal.SIGHUP)
        reloading = listener.expect("RELOADING=1", 10, process, log)
        assert any(item.startswith("MONOTONIC_USEC=") for item in reloading)
        listener.expect("READY=1", 30, process, log)

        process.send_signal(signal.SIGTERM)
        listener.expect("STOPPING=1", 10, process, log)
        assert process.wait(STOP_TIMEOUT) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        listener.close()
    stderr = log.read_text()
    assert "SIGHUP received: reload" in stderr and "SIGTERM received: stop" in stderr
    assert "Traceback" not in stderr


def test_ready_comes_after_the_web_display_listens(tmp_path, appliance_config):
    """READY=1 means the appliance does its job: the web page must answer at once, with no retry."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = appliance_config.read_text().replace(
        '[display]\ntype = "null"\n', f'[display]\ntype = "web"\n[display.web]\nport = {port}\n')
    appliance_config.write_text(config)
    listener = NotifyListener(tmp_path / "notify")
    log = tmp_path / "stderr.log"
    env = {**os.environ, "NOTIFY_SOCKET": str(listener.path), "PYTHONUNBUFFERED": "1"}
    env.pop("JOURNAL_STREAM", None)
    with open(log, "wb") as err:
        process = subprocess.Popen([sys.executable, "-m", "pose_appliance", "run", "--config",
                                    str(appliance_config)], cwd=tmp_path, env=env,
                                   stdout=subprocess.DEVNULL, stderr=err)
    try:
        listener.expect("READY=1", START_TIMEOUT, process, log)
        with socket.create_connection(("127.0.0.1", port), timeout=2) as client:
            client.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert client.recv(64).startswith(b"HTTP/1.0 200")
    finally:
        process.terminate()
        process.wait(10)
        listener.close()
