"""The systemd watchdog is fed only while frames are really processed: a stalled camera goes silent."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import socket
import threading
import time

import cv2
from conftest import wait_for

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


def reload_config(tmp_path, models_dir, shared, threads: int):
    config = tmp_path / "config.toml"
    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    config.write_text(f'[camera]\ntype = "video"\n[camera.video]\npath = "{video}"\n'
                      f'loop = true\nrealtime = true\n[display]\ntype = "null"\n'
                      f'[service]\nmodels_dir = "{models_dir}"\nwatch_config = false\n'
                      f'[model]\nname = "movenet_lightning_int8"\nthreads = {threads}\n')
    return config


def reload_to_two_threads_after(line: str, listener, tmp_path, models_dir, shared) -> bool:
    """Once ``line`` reached the listener: the config asks for 2 model threads and a SIGHUP reloads it. False if
    the line never came."""
    if not wait_for(lambda: line in [seen for _, seen in listener.messages]):
        return False
    reload_config(tmp_path, models_dir, shared, threads=2)
    os.kill(os.getpid(), signal.SIGHUP)
    return True


class SlowReloadBuild:
    """app.build_stages for a reload that takes ``seconds`` before it loads the model, as Thunder on a Pi 4's CPU or
    the Edge TPU's firmware upload does. ``release`` cuts the wait short. The start-up build is not slowed."""

    def __init__(self, monkeypatch, seconds: float):
        self.seconds = seconds
        self.release = threading.Event()
        self.waited: list[tuple[float, float]] = []  # (from, to) of each slowed build
        self.built: list = []  # the stages each slowed build made
        self._build = app.build_stages
        self._calls = 0
        monkeypatch.setattr(app, "build_stages", self)

    def __call__(self, config, **kwargs):
        self._calls += 1
        if self._calls == 1:
            return self._build(config, **kwargs)
        began = time.monotonic()
        self.waited.append((began, began))
        self.release.wait(self.seconds)
        self.waited[-1] = (began, time.monotonic())
        stages = self._build(config, **kwargs)
        self.built.append(stages)
        return stages


def slow_reload_appliance(tmp_path, monkeypatch, models_dir, shared, *, seconds: float):
    """An appliance on the looping video with one model thread, whose reload builds wait ``seconds`` (or until
    released), and the listener of its notify socket (WatchdogSec 1 s)."""
    listener = NotifyListener(tmp_path, monkeypatch, watchdog_usec=1000000)
    slow = SlowReloadBuild(monkeypatch, seconds=seconds)
    config = reload_config(tmp_path, models_dir, shared, threads=1)
    return listener, slow, app.Appliance(config, app.Overrides([]), max_frames=100_000)


def test_watchdog_pings_go_on_while_a_reload_loads_its_model(tmp_path, models_dir, shared, monkeypatch):
    """A model that loads for longer than WatchdogSec on reload must not get a healthy appliance killed: frames go
    through the running model meanwhile, and so the pings go on."""
    period = 0.5
    listener = NotifyListener(tmp_path, monkeypatch, watchdog_usec=int(period * 1e6))
    slow = SlowReloadBuild(monkeypatch, seconds=6 * period)
    config = reload_config(tmp_path, models_dir, shared, threads=1)
    appliance = app.Appliance(config, app.Overrides([]), max_frames=100_000)

    def reload_then_stop():
        if reload_to_two_threads_after("WATCHDOG=1", listener, tmp_path, models_dir, shared):
            wait_for(lambda: appliance.config.model.threads == 2)
            time.sleep(2 * period)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=reload_then_stop, daemon=True).start()
    assert appliance.run() == 0
    lines, messages = listener.stop(), listener.messages
    assert appliance.config.model.threads == 2, "the reload was not applied"
    assert appliance.pipeline.stages is slow.built[0]
    [(began, ended)] = slow.waited
    assert ended - began >= 5 * period
    assert lines.count("RELOADING=1") == 1
    assert any(line == "READY=1" and t > ended for t, line in messages), "no READY=1 after the reload"
    pings = [t for t, line in messages if line == "WATCHDOG=1"]
    around_the_build = [t for t in pings if began <= t <= ended]
    around_the_build = [max(t for t in pings if t < began), *around_the_build,
                        min(t for t in pings if t > ended)]
    gaps = [b - a for a, b in itertools.pairwise(around_the_build)]
    assert max(gaps) < period, f"{len(around_the_build) - 2} pings in the {ended - began:.1f} s the build " \
                               f"took; longest gap {max(gaps):.2f} s (WatchdogSec {period} s)"
    assert lines[-1] == "STOPPING=1"


def test_a_stop_during_a_reload_build_stops_at_once_and_frees_the_model_it_loads(tmp_path, models_dir, shared,
                                                                                 monkeypatch):
    """SIGTERM while a reload loads its model: the appliance stops at once (not when the model is loaded), the
    running config stays, and the model the build goes on loading is let go of when it is done."""
    listener, slow, appliance = slow_reload_appliance(tmp_path, monkeypatch, models_dir, shared, seconds=10)
    sent = {}

    def reload_then_stop():
        if reload_to_two_threads_after("READY=1", listener, tmp_path, models_dir, shared):
            wait_for(lambda: slow.waited)
            time.sleep(0.3)
        sent["SIGTERM"] = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=reload_then_stop, daemon=True).start()
    try:
        assert appliance.run() == 0
        returned_at = time.monotonic()
        still_building = not slow.release.is_set() and not slow.built
    finally:
        slow.release.set()
    lines, messages = listener.stop(), listener.messages
    assert slow.waited, "the reload never started building"
    assert returned_at - sent["SIGTERM"] < 3, f"stopped {returned_at - sent['SIGTERM']:.1f} s after SIGTERM"
    assert still_building, "the run waited for the reload's build"
    stopping_at = next(t for t, line in messages if line == "STOPPING=1")
    assert stopping_at - sent["SIGTERM"] < 1.5
    assert lines[-1] == "STOPPING=1"
    assert appliance.config.model.threads == 1, "a dropped reload changed the config"
    # The pipeline stopped: its threads are done and it closed the model it ran.
    assert not appliance.pipeline._inference_thread.is_alive()
    assert appliance.pipeline.stages.estimator.model.interpreter is None
    # The abandoned build ends on its own and closes what it loaded; it never reached the pipeline.
    assert wait_for(lambda: slow.built, timeout=30)
    [abandoned] = slow.built
    assert wait_for(lambda: abandoned.estimator.model.interpreter is None, timeout=5), "the loaded model leaked"
    assert appliance.pipeline.stages is not abandoned


def test_a_reload_build_that_hangs_is_given_up_and_the_next_reload_goes_through(tmp_path, models_dir, shared,
                                                                                 monkeypatch, caplog):
    """A reload whose model never finishes loading (a hung USB device) must not block every later reload: past
    RELOAD_BUILD_TIMEOUT_S it is rejected like a model that fails to load, the running config stays, READY=1
    follows, and what the hung build makes when it ends is closed, never swapped in."""
    monkeypatch.setattr(app, "RELOAD_BUILD_TIMEOUT_S", 1.5)
    caplog.set_level(logging.INFO)
    listener, slow, appliance = slow_reload_appliance(tmp_path, monkeypatch, models_dir, shared, seconds=60)
    seen = {}

    def hang_then_reload_again():
        if reload_to_two_threads_after("READY=1", listener, tmp_path, models_dir, shared) and wait_for(
                lambda: any("given up" in m for m in caplog.messages), timeout=10):
            seen["gave_up"] = time.monotonic()
            seen["threads"] = appliance.config.model.threads
            processed = appliance.pipeline.stats.processed
            seen["frames_go_on"] = wait_for(lambda: appliance.pipeline.stats.processed > processed + 5, 5)
            slow.release.set()  # the hung load ends after all; the next one is not slowed
            wait_for(lambda: slow.built)
            os.kill(os.getpid(), signal.SIGHUP)
            wait_for(lambda: appliance.config.model.threads == 2)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=hang_then_reload_again, daemon=True).start()
    try:
        assert appliance.run() == 0
    finally:
        slow.release.set()
    lines = listener.stop()
    assert "gave_up" in seen, "the hung reload was never given up"
    [(began, _), *_] = slow.waited
    assert 1.5 <= seen["gave_up"] - began < 5
    assert seen["threads"] == 1, "the given-up reload changed the config"
    assert seen["frames_go_on"], "frames stopped while the hung build was given up"
    rejected = [m for m in caplog.messages if "rejected, still running the previous config" in m]
    assert len(rejected) == 1 and "did not finish within 2 s" in rejected[0], rejected
    # READY=1 after each RELOADING=1: the rejected reload and the one that went through.
    reloading = [i for i, line in enumerate(lines) if line == "RELOADING=1"]
    assert len(reloading) == 2 and all("READY=1" in lines[i + 1:] for i in reloading)
    assert appliance.config.model.threads == 2, "the reload after the hung one was not applied"
    hung, applied = slow.built
    assert appliance.pipeline.stages is applied
    assert wait_for(lambda: hung.estimator.model.interpreter is None, timeout=5), "the hung build's model leaked"
    assert lines[-1] == "STOPPING=1"
