"""`run --display web` on a file, as the README suggests: it plays in real time, loops, and says where to look."""

from __future__ import annotations

import json
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_line(process: subprocess.Popen, timeout: float) -> str:
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        assert selector.select(timeout), "no line on stdout in time"
    return process.stdout.readline()


def test_web_display_plays_the_demo_video_live_and_loops(tmp_path, models_dir):
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'[display]\ntype = "web"\n[display.web]\nport = {port}\n'
                      f'[service]\nmodels_dir = "{models_dir}"\n')
    keypoints = tmp_path / "keypoints.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "pose_appliance", "run", "--config", str(config),
                                "--record-keypoints", str(keypoints)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert read_line(process, 60) == f"serving http://127.0.0.1:{port}/\n"
        served_at = time.monotonic()
        time.sleep(5.5)  # the demo video lasts 4 s
        assert process.poll() is None, "the appliance stopped at the end of the video"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status.json", timeout=5) as reply:
            status = json.load(reply)
        watched = time.monotonic() - served_at
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    frames = [json.loads(line)["frame"] for line in keypoints.read_text().splitlines()]
    assert max(frames) >= 130  # past the file's 120 frames: it started again
    # Paced at the file's 30 fps, not as fast as the model goes (~100-400 fps here).
    assert status["frames"] <= 30 * (watched + 1)
    assert status["fps"] is not None and 10 <= status["fps"] <= 31
    assert status["model_fps"] is not None and status["model_fps"] > status["fps"]
    assert "display web" in out


def test_recording_still_takes_every_frame_once(tmp_path, models_dir):
    """The same video to a file: not paced, not looped (the demo's default)."""
    run = subprocess.run([sys.executable, "-m", "pose_appliance", "run", "--models-dir", str(models_dir), "--output",
                          str(tmp_path / "overlay.mp4")], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("120 frames in ") and "overlay video in" in run.stdout
    match = re.search(r"then ([\d.]+) frames/s through camera, model, overlay and display; the model alone runs "
                      r"([\d.]+) frames/s", run.stdout)
    assert match, run.stdout
    through, model_alone = map(float, match.groups())
    # One model runs one frame at a time: the whole pipeline can only match it, not beat it.
    assert through <= model_alone * 1.05
