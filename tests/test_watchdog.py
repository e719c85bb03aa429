"""The systemd watchdog is fed only while frames are really processed: a stalled camera goes silent."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import cv2

from pose_appliance import app
from pose_appliance.camera import FrameSource


class NotifyListener:
    """A real datagram socket in NOTIFY_SOCKET, as systemd gives a Type=notify service: every line received, with
    the time it arrived."""

    def __init__(self, tmp_path, monkeypatch, watchdog_usec: int):
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._server.bind(str(tmp_path / "notify"))
        self._server.settimeout(0.1)
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
        monkeypatch.setenv("WATCHDOG_USEC", str(watchdog_usec))
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
        self.messages: list[tuple[float, str]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._done.is_set():
            try:
                data = self._server.recv(4096).decode()
            except TimeoutError:
                continue
            self.messages.extend((time.monotonic(), line) for line in data.splitlines())

    def stop(self) -> list[str]:
        """Stop listening (after the last datagram had time to arrive); the lines received."""
        time.sleep(0.2)
        self._done.set()
        self._thread.join(1)
        self._server.close()
        return [line for _, line in self.messages]


class StallingCamera(FrameSource):
    """A live camera that delivers some frames at 30 fps and then hangs, as a wedged driver does."""

    name = "stalling camera"
    live = True
    frame_rate = 30.0

    def __init__(self, video, frames: int):
        capture = cv2.VideoCapture(str(video))
        self._images = []
        while len(self._images) < frames:
            ok, bgr = capture.read()
            assert ok
            self._images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        capture.release()
        self._next = 0
        self._released = threading.Event()

    def read(self):
        if self._next < len(self._images):
            time.sleep(1 / 30)
            self._next += 1
            return self.make_frame(self._images[self._next - 1], self._next - 1)
        self._released.wait()
        return None

    def stop(self):
        self._released.set()


def test_watchdog_pings_stop_when_the_pipeline_stalls(tmp_path, models_dir, shared, monkeypatch):
    listener = NotifyListener(tmp_path, monkeypatch, watchdog_usec=300000)
    camera = StallingCamera(shared / "data/tfjs_pose_detection/pose_1.mp4", frames=20)
    monkeypatch.setattr(app, "build_source", lambda config, estimator: camera)
    stall_seen = {}

    def stop_after_stall():
        while camera._next < 20:
            time.sleep(0.02)
        stall_seen["at"] = time.monotonic()
        time.sleep(1.5)  # five watchdog periods with no frame
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=stop_after_stall, daemon=True).start()
    appliance = app.Appliance(None, app.Overrides([("service.models_dir", str(models_dir)),
                                                   ("display.type", "null")]))
    started = time.monotonic()
    assert appliance.run() == 0
    stopped_in = time.monotonic() - started
    lines, messages = listener.stop(), listener.messages
    assert lines.index("READY=1") < lines.index("WATCHDOG=1")
    assert any(line.startswith("STATUS=") and "movenet_lightning_int8" in line for line in lines)
    assert lines[-1] == "STOPPING=1"
    # The stall starts when the last frame has been processed (on a loaded machine well after the camera handed
    # it over); the main loop ticks every 0.1 s here, so one ping may still follow that frame.
    last_frame_at = appliance.pipeline.stats.last_processed_at
    assert last_frame_at < stall_seen["at"] + 1.0, "frames were still processed long into the stall"
    stalled_at = max(stall_seen["at"], last_frame_at) + 0.2
    pings_before = [t for t, line in messages if line == "WATCHDOG=1" and t < stall_seen["at"]]
    pings_during_stall = [t for t, line in messages if line == "WATCHDOG=1" and t > stalled_at]
    assert pings_before, "the watchdog was not fed while frames flowed"
    assert pings_during_stall == [], "the watchdog was fed while no frame was processed"
    assert stopped_in < 20


class SlowStartCamera(StallingCamera):
    """A live camera whose first frame takes longer than the appliance waits for it, then runs at 30 fps."""

    name = "slow-start camera"

    def __init__(self, video, frames: int, first_frame_after: float):
        super().__init__(video, frames)
        self._first_frame_after = first_frame_after

    def read(self):
        if self._next == 0 and self._released.wait(self._first_frame_after):
            return None
        return super().read()


def test_ready_is_sent_when_the_first_frame_comes_after_the_wait_for_it(tmp_path, models_dir, shared,
                                                                        monkeypatch):
    listener = NotifyListener(tmp_path, monkeypatch, watchdog_usec=3000000)
    monkeypatch.setattr(app, "FIRST_FRAME_TIMEOUT", 0.5)
    camera = SlowStartCamera(shared / "data/tfjs_pose_detection/pose_1.mp4", frames=60, first_frame_after=1.5)
    monkeypatch.setattr(app, "build_source", lambda config, estimator: camera)

    def signals():
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGHUP)  # a reload while the camera starts must not say READY either
        while camera._next < 60:
            time.sleep(0.02)
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=signals, daemon=True).start()
    appliance = app.Appliance(None, app.Overrides([("service.models_dir", str(models_dir)),
                                                   ("display.type", "null")]))
    assert appliance.run() == 0
    lines, messages = listener.stop(), listener.messages
    assert "READY=1" in lines, lines
    ready_at = next(t for t, line in messages if line == "READY=1")
    assert ready_at >= appliance.pipeline.stats.first_processed_at, "READY=1 before the first frame"
    assert lines.index("READY=1") < lines.index("WATCHDOG=1")
