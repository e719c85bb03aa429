"""Composition root: build the stages from the config, run them, reload on change (``run`` is its command).

The main thread only waits for signals, watches the config file, pings the systemd watchdog while frames are
really processed, and swaps in what a reload built. Anything that fails to build on reload is reported and the
running setup stays.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pose_appliance.config import Config, ConfigError, load_config, replace

log = logging.getLogger("pose_appliance")

FIRST_FRAME_TIMEOUT = 60.0


# ------------------------------------------------------------------------------------------- building blocks
def models_dir_of(config: Config) -> Path:
    from pose_appliance.modelstore import resolve_models_dir
    return resolve_models_dir(config.service.models_dir)


def build_stages(config: Config, *, load_delegate: Any = None):
    """Estimator, classifier, label smoother and renderer for this config. Raises on any load failure."""
    from pose_appliance.classify import LabelSmoother, create_classifier
    from pose_appliance.inference import create_estimator
    from pose_appliance.pipeline import Stages
    from pose_appliance.render import OverlayRenderer

    models_dir = models_dir_of(config)
    estimator = create_estimator(config.model, models_dir, load_delegate=load_delegate)
    classifier = create_classifier(config.classifier, models_dir)
    smoother = None if classifier is None else LabelSmoother(classifier.labels, config.classifier)
    model_name = config.model.name + (f" ({Path(config.model.path).name})" if config.model.path else "")
    return Stages(estimator=estimator, classifier=classifier, smoother=smoother,
                  renderer=OverlayRenderer(config.overlay), model_name=model_name)


def build_source(config: Config, estimator: Any):
    from pose_appliance.camera import open_source
    source = open_source(config.camera, models_dir=models_dir_of(config), lores_size=estimator.input_size)
    source.start()
    return source


def build_display(config: Config, current_source: Callable[[], Any]):
    """The display, opened on the first frame with the source running then (the DRM target shows its preview)."""
    from pose_appliance.display import ResilientDisplay, open_display
    return ResilientDisplay(lambda: open_display(config.display, camera=current_source()), config.display)


def close_quietly(thing: Any, method: str = "close") -> None:
    close = getattr(thing, method, None)
    if close is not None:
        try:
            close()
        except Exception as exc:
            log.warning("%s %s: %s", method, type(thing).__name__, exc)


# ---------------------------------------------------------------------------------------------- the service
@dataclass
class Overrides:
    """Command-line settings that win over the config file, also after a reload."""

    values: list[tuple[str, Any]]

    def apply(self, config: Config) -> Config:
        for dotted, value in self.values:
            config = replace(config, dotted, value)
        return config


class Appliance:
    """Owns the pipeline and everything around it for one `run`."""

    def __init__(self, config_path: Path | None, overrides: Overrides, *, max_frames: int = 0,
                 keypoints_path: Path | None = None, load_delegate: Any = None):
        self.config_path = config_path
        self.overrides = overrides
        self.max_frames = max_frames
        self.keypoints_path = keypoints_path
        self.load_delegate = load_delegate
        self.config = self._read_config()
        self._config_stamp = self._stamp()

    def _read_config(self) -> Config:
        config = Config() if self.config_path is None else load_config(self.config_path)
        return self.overrides.apply(config)

    def _stamp(self) -> tuple | None:
        if self.config_path is None:
            return None
        try:
            st = os.stat(self.config_path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def run(self) -> int:
        from pose_appliance.pipeline import KeypointRecorder, Pipeline
        from pose_appliance.service.signals import SignalWaker
        from pose_appliance.service.systemd import SystemdNotifier

        notifier = SystemdNotifier()
        started = time.monotonic()
        stages = build_stages(self.config, load_delegate=self.load_delegate)
        self._log_stages(stages)
        source = build_source(self.config, stages.estimator)
        display = build_display(self.config, lambda: self.pipeline.source)
        recorder_file = None
        if self.keypoints_path:
            self.keypoints_path.parent.mkdir(parents=True, exist_ok=True)
            recorder_file = open(self.keypoints_path, "w", encoding="utf-8")
        recorder = KeypointRecorder(recorder_file) if recorder_file else None
        self.pipeline = pipeline = Pipeline(source, stages, display, recorder=recorder, max_frames=self.max_frames)
        waker = SignalWaker()
        try:
            pipeline.start()
            # READY=1 once the first frame went through the model and reached the display, which opens on that
            # frame (the web page is served from then on), or gave up on it and runs headless.
            self._wait_first_shown(pipeline, waker)
            if pipeline.first_shown.is_set():
                log.info("first frame through after %.2f s", time.monotonic() - started)
                notifier.ready()
            self._main_loop(pipeline, notifier, waker)
        finally:
            notifier.stopping()
            pipeline.stop()
            pipeline.display.close()
            close_quietly(pipeline.stages.estimator)
            close_quietly(pipeline.source, "stop")
            waker.close()
            notifier.close()
            if recorder_file:
                recorder_file.close()
        if pipeline.capture_error is not None:
            log.error("frame source failed: %s", pipeline.capture_error)
            return 1
        self._print_summary(pipeline, time.monotonic() - started)
        return 0

    def _wait_first_shown(self, pipeline, waker) -> None:
        deadline = time.monotonic() + FIRST_FRAME_TIMEOUT
        while not pipeline.first_shown.wait(0.05):
            if pipeline.finished.is_set() or waker.stop_requested or time.monotonic() > deadline:
                return

    def _main_loop(self, pipeline, notifier, waker) -> None:
        watchdog_every = notifier.watchdog_interval
        tick = 1.0 if watchdog_every is None else min(1.0, watchdog_every / 3)
        last_ping_frames, last_status, last_stats = -1, 0.0, time.monotonic()
        while True:
            events = waker.wait(tick)
            if waker.stop_requested or pipeline.finished.is_set():
                return
            if "reload" in events:
                self.reload(pipeline, notifier, reason="SIGHUP")
            elif self.config.service.watch_config and self._stamp() != self._config_stamp:
                self.reload(pipeline, notifier, reason="config file changed")
            processed = pipeline.stats.processed
            if processed != last_ping_frames:  # a stalled pipeline stops the pings and systemd restarts us
                notifier.watchdog()
                last_ping_frames = processed
            now = time.monotonic()
            if now - last_status >= 2.0:
                notifier.status(self._status_line(pipeline.status()))
                last_status = now
            if now - last_stats >= self.config.service.stats_interval:
                log.info("stats: %s", self._status_line(pipeline.status()))
                last_stats = now

    # ------------------------------------------------------------------------------------------- reload
    def reload(self, pipeline, notifier, *, reason: str) -> bool:
        """Build what changed next to what runs, then swap between frames. False = rejected, old setup kept."""
        notifier.reloading()
        self._config_stamp = self._stamp()
        try:
            new = self._read_config()
        except ConfigError as exc:
            log.error("reload (%s) rejected, still running the previous config: %s", reason, exc)
            notifier.ready()
            return False
        old = self.config
        new_stages = None
        try:
            if (new.model, new.classifier, new.overlay, new.service.models_dir) != (
                    old.model, old.classifier, old.overlay, old.service.models_dir):
                new_stages = build_stages(new, load_delegate=self.load_delegate)
            if new.camera != old.camera:
                self._restart_camera(pipeline, new, old, (new_stages or pipeline.stages).estimator)
        except Exception as exc:  # a model or camera that fails to load must not stop the appliance
            log.error("reload (%s) rejected, still running the previous config: %s", reason, exc)
            if new_stages is not None:
                close_quietly(new_stages.estimator)
            notifier.ready()
            return False
        if new_stages is not None:
            # Not closed here: a frame may still be in flight on the old model; the old stages are freed when
            # the pipeline lets go of them.
            pipeline.swap_stages(new_stages)
            self._log_stages(new_stages)
        # The DRM target is the camera's own preview: a restarted camera needs it attached again.
        if new.display != old.display or (new.camera != old.camera and new.display.type == "drm"):
            close_quietly(pipeline.swap_display(build_display(new, lambda: pipeline.source)))
            log.info("display switched to %s", new.display.type)
        self.config = new
        log.info("reloaded (%s)", reason)
        notifier.ready()
        return True

    @staticmethod
    def _restart_camera(pipeline, new: Config, old: Config, estimator: Any) -> None:
        """The camera alone restarts; if the new settings fail, the old camera comes back and the error is raised."""
        try:
            pipeline.replace_source(lambda: build_source(new, estimator))
        except Exception:
            pipeline.replace_source(lambda: build_source(old, pipeline.stages.estimator))
            raise
        log.info("camera restarted: %s", new.camera.type)

    # -------------------------------------------------------------------------------------------- output
    @staticmethod
    def _log_stages(stages) -> None:
        estimator = stages.estimator
        reason = getattr(estimator, "fallback_reason", None)
        log.info("model %s on %s%s", stages.model_name, estimator.delegate,
                 f" (fallback: {reason})" if reason else "")

    @staticmethod
    def _status_line(status: dict) -> str:
        label = status.get("label") or "-"
        return (f"{status['fps']:.1f} fps, model {status['model']} on {status['delegate']}, label {label}, "
                f"frames {status['frames']}, dropped {status['dropped']}")

    def _print_summary(self, pipeline, seconds: float) -> None:
        stats = pipeline.stats
        fps = stats.processed / seconds if seconds > 0 else 0.0
        print(f"{stats.processed} frames in {seconds:.1f} s ({fps:.1f} fps overall, {stats.fps:.1f} fps "
              f"pipeline), {pipeline.capture_dropped} dropped; display {self.config.display.type}"
              + (f" -> {self.config.display.record.path}" if self.config.display.type == "record" else ""))
