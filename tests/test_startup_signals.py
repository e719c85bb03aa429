"""Signals during start-up, on a real process: the handlers are in place before the model loads, so a SIGHUP
then is a reload request and a SIGTERM then a clean stop (exit 0), never the end of the process by the signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def caught_signals(pid: int) -> set[int]:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            mask = int(line.split()[1], 16)
            return {number for number in range(1, 65) if mask & (1 << (number - 1))}
    return set()


def runtime_loaded(pid: int) -> bool:
    """Whether the model runtime (LiteRT or tflite-runtime) is mapped into the process yet."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return "ai_edge_litert" in maps or "tflite_runtime" in maps


@pytest.fixture
def config(tmp_path, shared, lightning_int8):
    path = tmp_path / "config.toml"
    path.write_text(
        f'[camera]\ntype = "video"\n[camera.video]\npath = "{shared}/data/tfjs_pose_detection/pose_1.mp4"\n'
        f'loop = true\nrealtime = true\n[model]\npath = "{lightning_int8}"\ndelegate = "cpu"\n'
        f'[classifier]\nenabled = false\n[display]\ntype = "null"\n'
        f'[service]\nmodels_dir = "{tmp_path}"\nwatch_config = false\n')
    return path


def start(config: Path, log: Path) -> subprocess.Popen:
    with open(log, "wb") as err:
        return subprocess.Popen([sys.executable, "-m", "pose_appliance", "run", "--config", str(config)],
                                stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_for_handlers(process: subprocess.Popen) -> bool:
    """Polls until SIGHUP and SIGTERM are caught; returns whether the runtime was already loaded then."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited with {process.returncode} before installing handlers"
        try:
            if {signal.SIGHUP, signal.SIGTERM} <= caught_signals(process.pid):
                return runtime_loaded(process.pid)
        except FileNotFoundError:
            pass
        time.sleep(0.0005)
    pytest.fail("SIGHUP/SIGTERM handlers never installed")


@pytest.mark.parametrize("first", [signal.SIGHUP, signal.SIGTERM])
def test_signals_before_the_model_loads_are_handled(tmp_path, config, first):
    log = tmp_path / "stderr.log"
    process = start(config, log)
    try:
        loaded_before_handlers = wait_for_handlers(process)
        process.send_signal(first)
        if first == signal.SIGHUP:  # handled as a reload once the appliance runs; then stop it
            deadline = time.monotonic() + 60
            while "SIGHUP received: reload" not in log.read_text() and time.monotonic() < deadline:
                assert process.poll() is None, log.read_text()
                time.sleep(0.05)
            process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = log.read_text()
    assert not loaded_before_handlers, "the handlers came only after the model runtime was loaded"
    if first == signal.SIGHUP:
        assert "SIGHUP received: reload" in stderr, stderr[-3000:]
    else:
        assert "SIGTERM received: stop" in stderr or "stopped during start-up" in stderr, stderr[-3000:]
    assert "Traceback" not in stderr
