"""Composition root: build the stages from the config, run them, reload on change (``run`` is its command).

The main thread only waits for signals, watches the config file, pings the systemd watchdog while frames are
really processed, and swaps in what a reload built. A reload's model loads on a thread of its own meanwhile, so
the pings (and signals) go on however long it takes. Anything that fails to build on reload is reported and the
running setup stays.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pose_appliance.config import Config, ConfigError, load_config, replace

if TYPE_CHECKING:
    from pose_appliance.camera import FrameSource
    from pose_appliance.config import CameraConfig
    from pose_appliance.display import Display
    from pose_appliance.inference import Estimator
    from pose_appliance.pipeline import Pipeline, Stages
    from pose_appliance.service.signals import SignalWaker
    from pose_appliance.service.systemd import SystemdNotifier

log = logging.getLogger("pose_appliance")

FIRST_FRAME_TIMEOUT = 60.0
EXIT_RECORDING_INCOMPLETE = 3  # the run ended normally, but a recording stopped early (disk full)
MAIN_LOOP_TICK_S = 0.5  # the longest the main loop sleeps: how soon a config file change is seen
# A changed config file is read once it has held still this long: an editor or a copy that truncates the file and
# then writes it could otherwise be read half-written, and a half config can be valid (the rest defaults).
CONFIG_SETTLE_S = 0.25
# A reload's build that has not finished by then is given up (a hung USB device or driver): the running setup
# stays and the next reload can start. The unit's TimeoutStartSec, which systemd also applies to a reload.
RELOAD_BUILD_TIMEOUT_S = 120.0
_NOTHING_CHANGED = object()
Built = TypeVar("Built")


class CameraLostError(RuntimeError):
    """A reload's camera failed to start and the previous camera did not reopen: no frames come any more."""


class ReloadBuildTimeout(RuntimeError):
    """A reload's build did not finish within RELOAD_BUILD_TIMEOUT_S and was given up."""


class RunEnding(Exception):
    """A stop signal came, or the pipeline ended, while a reload waited for what it builds."""


# ------------------------------------------------------------------------------------------- building blocks
def models_dir_of(config: Config) -> Path:
    from pose_appliance.modelstore import resolve_models_dir
    return resolve_models_dir(config.service.models_dir)


def build_stages(config: Config, *, load_delegate: Any = None,
                 model_loaded: Callable[[Estimator], object] | None = None) -> Stages:
    """Estimator, classifier, label smoother and renderer for this config. Raises on any load failure (and lets
    go of the model it loaded before). ``model_loaded(estimator)`` is called as soon as the model is loaded,
    before the rest: the camera can start meanwhile (it needs the model's input size)."""
    from pose_appliance.classify import LabelSmoother, create_classifier
    from pose_appliance.inference import create_estimator
    from pose_appliance.pipeline import Stages
    from pose_appliance.render import OverlayRenderer

    models_dir = models_dir_of(config)
    estimator = create_estimator(config.model, models_dir, load_delegate=load_delegate)
    with contextlib.ExitStack() as on_failure:
        on_failure.callback(estimator.close)
        if model_loaded is not None:
            model_loaded(estimator)
        classifier = create_classifier(config.classifier, models_dir, pose_model=config.model.name)
        on_failure.pop_all()
    smoother = None if classifier is None else LabelSmoother(classifier.labels, config.classifier)
    model_name = config.model.name + (f" ({Path(config.model.path).name})" if config.model.path else "")
    return Stages(estimator=estimator, classifier=classifier, smoother=smoother,
                  renderer=OverlayRenderer(config.overlay), model_name=model_name)


def source_config(config: Config) -> CameraConfig:
    """The camera settings as they will run: a file source plays live and loops when the display is watched."""
    from pose_appliance.camera import resolve_playback
    from pose_appliance.display import LIVE_DISPLAYS
    return resolve_playback(config.camera, live_display=config.display.type in LIVE_DISPLAYS)


def build_source(config: Config, estimator: Estimator) -> FrameSource:
    from pose_appliance.camera import open_source
    source = open_source(source_config(config), models_dir=models_dir_of(config), lores_size=estimator.input_size)
    source.start()
    return source


class SourceStart:
    """Starts the frame source on a thread of its own while the main thread loads the rest (classifier, renderer,
    event sink). Opening a camera or a video is mostly waiting on the device or the decoder, outside the GIL;
    the Pi camera takes far longer to start than the classifier takes to load.

    ``begin(estimator)`` starts it; ``result(estimator)`` waits for the started source and raises what starting
    it raised (it starts the source itself if ``begin`` was never called); ``close()`` waits and stops a source
    nobody took."""

    def __init__(self, start: Callable[[Estimator], FrameSource]):
        self._start = start
        self._started: BuildAside[FrameSource] | None = None

    def begin(self, estimator: Estimator) -> None:
        self._started = BuildAside(lambda: self._start(estimator), discard=lambda source: source.stop(),
                                   name="source start")

    def result(self, estimator: Estimator) -> FrameSource:
        started, self._started = self._started, None
        return self._start(estimator) if started is None else started.result()

    def close(self) -> None:
        if self._started is not None:
            self._started.abandon()
            self._started.join()


class BuildAside(Generic[Built]):
    """``build()`` on a thread of its own, started at once; ``on_done()`` is called when it returns or raises,
    unless abandoned.

    ``result()`` waits for it, then returns what it built or raises what it raised. ``abandon()``: nobody will
    take the result (the run stops); what the build made, now or when it ends, goes to ``discard`` instead of
    leaking. A model load cannot be interrupted, so an abandoned build runs on; the thread is a daemon and does
    not hold up the exit."""

    def __init__(self, build: Callable[[], Built], discard: Callable[[Built], object],
                 on_done: Callable[[], object] | None = None, *, name: str = "reload build"):
        self._build, self._discard, self._on_done = build, discard, on_done
        self._lock = threading.Lock()
        self.finished = False
        self._abandoned = False
        self._result: Built | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            result, error = self._build(), None
        except BaseException as exc:  # raised on the waiting thread by result()
            result, error = None, exc
        with self._lock:
            self._result, self._error, self.finished = result, error, True
            abandoned = self._abandoned
        if abandoned:
            self._discard_result()
        elif self._on_done is not None:
            self._on_done()

    def join(self) -> None:
        self._thread.join()

    def result(self) -> Built:
        self._thread.join()
        if self._error is not None:
            raise self._error
        result, self._result = self._result, None
        assert result is not None
        return result

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            finished = self.finished
        if finished:  # else the build's thread discards it when it ends
            self._discard_result()

    def _discard_result(self) -> None:
        result, self._result = self._result, None
        if result is not None:
            close_quietly(lambda: self._discard(result), "letting go of what a stopped build made")


def build_display(config: Config, current_source: Callable[[], FrameSource]) -> Display:
    """The display, opened on the first frame with the source running then (the DRM target shows its preview)."""
    from pose_appliance.display import ResilientDisplay, open_display
    return ResilientDisplay(lambda: open_display(config.display, camera=current_source()), config.display)


def build_events(config: Config, activity: Any):
    """The event sink of ``events.type``, made but not started; its commands ("reset_reps") reach ``activity``."""
    from pose_appliance.events import create_event_sink

    def on_command(command: str) -> None:
        if command == "reset_reps":
            activity.request_reset()

    return create_event_sink(config.events, on_command=on_command)


def close_quietly(close: Callable[[], object], what: str) -> None:
    """``close()``; a failure is logged, not raised (something else still needs closing)."""
    try:
        close()
    except Exception as exc:
        log.warning("%s: %s", what, exc)


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
        self.keypoints_recorded_to: Path | None = None  # keypoints_path, or the free name beside earlier keypoints
        self.load_delegate = load_delegate
        self.incomplete_recordings: list[str] = []
        self.ready_sent = False  # READY=1 went to systemd: the first frame has been shown
        self.config = self._read_config()
        self._config_stamp = self._stamp()

    def _read_config(self, *, reloading: bool = False) -> Config:
        """The config file with the overrides applied. On reload a file without settings is refused: the running
        config stays rather than switching to the defaults (the demo video)."""
        config = Config() if self.config_path is None else load_config(self.config_path, refuse_empty=reloading)
        return self.overrides.apply(config)

    def _stamp(self) -> tuple | None:
        if self.config_path is None:
            return None
        try:
            st = os.stat(self.config_path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def run(self, waker: SignalWaker | None = None) -> int:
        """Run until the source ends, ``max_frames`` or a stop signal. 0 = done, 1 = the frame source failed,
        ``EXIT_RECORDING_INCOMPLETE`` = done, but a recording (video, frames or keypoints) stopped early.

        ``waker`` holds signal handlers the caller installed first thing at start-up, so a SIGHUP, SIGTERM or
        SIGUSR1 while the model loads is handled (the run command does); without one they are installed here,
        before anything else."""
        from pose_appliance.activity import ActivityTracker
        from pose_appliance.pipeline import KeypointRecorder, Pipeline
        from pose_appliance.service.signals import SignalWaker
        from pose_appliance.service.systemd import SystemdNotifier

        started = time.monotonic()
        # Everything is closed in the reverse order it was made, also when making the next thing fails.
        with contextlib.ExitStack() as cleanup:
            if waker is None:  # wakes the main loop for signals, and when the pipeline has shown its last frame
                waker = cleanup.enter_context(SignalWaker())
            notifier = SystemdNotifier()
            cleanup.callback(notifier.close)
            recorder = None
            if self.keypoints_path:
                recorder = KeypointRecorder(self.keypoints_path)
                self.keypoints_recorded_to = recorder.path
                cleanup.callback(recorder.close)
            with contextlib.ExitStack() as until_the_pipeline_owns_them:
                # The source starts once the model is loaded, while the classifier and the rest load.
                source_start = SourceStart(lambda estimator: build_source(self.config, estimator))
                until_the_pipeline_owns_them.callback(source_start.close)
                stages = build_stages(self.config, load_delegate=self.load_delegate,
                                      model_loaded=source_start.begin)
                until_the_pipeline_owns_them.callback(stages.estimator.close)
                self._log_stages(stages)
                activity = ActivityTracker(self.config.counting)
                events = build_events(self.config, activity)
                if waker.stop_requested:
                    log.info("stopped during start-up")
                    return 0
                source = source_start.result(stages.estimator)
                until_the_pipeline_owns_them.callback(source.stop)
                if waker.stop_requested:
                    log.info("stopped during start-up")
                    return 0
                display = build_display(self.config, lambda: self.pipeline.source)
                self.pipeline = pipeline = Pipeline(source, stages, display, recorder=recorder,
                                                    max_frames=self.max_frames, activity=activity, events=events,
                                                    on_finished=waker.wake)
                until_the_pipeline_owns_them.pop_all()
                # From here on only the pipeline holds them: what a reload replaces (a model, perhaps with its
                # Edge TPU) is freed when the pipeline lets go of it.
                del stages, source, display, events
            # What the pipeline holds at the end (a reload may have swapped any of them), after it stopped.
            cleanup.callback(close_quietly, lambda: pipeline.source.stop(), "stopping the frame source")
            cleanup.callback(close_quietly, lambda: pipeline.stages.estimator.close(), "closing the model")
            cleanup.callback(lambda: pipeline.display.close())
            # After the last frame: its state and events are sent, then "offline".
            cleanup.callback(close_quietly, lambda: pipeline.events.close(), "closing the event sink")
            cleanup.callback(pipeline.stop)
            cleanup.callback(notifier.stopping)
            pipeline.events.start()
            pipeline.start()
            self._wait_first_shown(pipeline, waker)
            self._ready_once_shown(pipeline, notifier, started)
            self._main_loop(pipeline, notifier, waker, started)
        if pipeline.capture_error is not None:
            log.error("frame source failed: %s", pipeline.capture_error)
            return 1
        self._print_summary(pipeline, started)
        self._note_stopped_recording(pipeline.display)
        if recorder is not None and recorder.stopped_reason:
            self.incomplete_recordings.append(f"keypoints: {recorder.stopped_reason}")
        for problem in self.incomplete_recordings:
            log.error("recording incomplete: %s", problem)
        return EXIT_RECORDING_INCOMPLETE if self.incomplete_recordings else 0

    def _note_stopped_recording(self, display: Display) -> None:
        reason = getattr(display, "stopped_reason", None)
        if reason:
            self.incomplete_recordings.append(f"display.record.path: {reason}")

    def _wait_first_shown(self, pipeline: Pipeline, waker: SignalWaker) -> None:
        deadline = time.monotonic() + FIRST_FRAME_TIMEOUT
        while not pipeline.first_shown.wait(0.05):
            if pipeline.finished.is_set() or waker.stop_requested or time.monotonic() > deadline:
                return

    def _ready_once_shown(self, pipeline: Pipeline, notifier: SystemdNotifier, started: float) -> None:
        """READY=1 once the first frame went through the model and reached the display, which opens on that
        frame (the web page is served from then on), or gave up on it and runs headless; however long the camera
        took to deliver it."""
        if not self.ready_sent and pipeline.first_shown.is_set():
            log.info("first frame through after %.2f s", time.monotonic() - started)
            notifier.ready()
            self.ready_sent = True

    def _main_loop(self, pipeline: Pipeline, notifier: SystemdNotifier, waker: SignalWaker,
                   started: float) -> None:
        heartbeat = Heartbeat(self, pipeline, notifier, waker, started)
        # The config file's stamp once seen changed, until it has held still CONFIG_SETTLE_S (None: file gone).
        changed_stamp: object = _NOTHING_CHANGED
        while True:
            if heartbeat.reload_requested or heartbeat.run_ending():
                timeout = 0.0  # a SIGHUP, a stop or the end came while a reload was building
            else:
                timeout = heartbeat.tick if changed_stamp is _NOTHING_CHANGED else CONFIG_SETTLE_S
            events = waker.wait(timeout)
            if heartbeat.run_ending():
                return
            if "reset" in events:
                pipeline.activity.request_reset()
            if "reload" in events or heartbeat.reload_requested:
                changed_stamp = _NOTHING_CHANGED
                self.reload(heartbeat, reason="SIGHUP")
            elif self.config.service.watch_config:
                stamp = self._stamp()
                if stamp == self._config_stamp:
                    changed_stamp = _NOTHING_CHANGED
                elif stamp == changed_stamp:
                    changed_stamp = _NOTHING_CHANGED
                    self.reload(heartbeat, reason="config file changed")
                else:
                    changed_stamp = stamp
            if heartbeat.run_ending():
                continue  # the wait logs the signal, then the loop ends
            heartbeat.beat()

    # ------------------------------------------------------------------------------------------- reload
    def reload(self, heartbeat: Heartbeat, *, reason: str) -> bool:
        """Build what changed next to what runs, then swap between frames. False = rejected, old setup kept (or
        dropped because the run stops)."""
        pipeline, notifier = heartbeat.pipeline, heartbeat.notifier
        heartbeat.reload_requested = False
        if self.ready_sent:  # during start-up systemd hears READY=1 only for the first frame
            notifier.reloading()
        self._config_stamp = self._stamp()
        try:
            new = self._read_config(reloading=True)
        except Exception as exc:  # whatever the file holds, the running setup stays
            problem = exc if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
            log.error("reload (%s) rejected, still running the previous config: %s", reason, problem)
            log.debug("reload failed", exc_info=True)
            self._ready_after_reload(notifier)
            return False
        old = self.config
        new_stages = new_events = None
        try:
            if new.counting != old.counting:
                from pose_appliance.activity import check_counting
                check_counting(new.counting)
            if new.events != old.events or pipeline.events.outdated():
                new_events = build_events(new, pipeline.activity)
            if (new.model, new.classifier, new.overlay, new.service.models_dir) != (
                    old.model, old.classifier, old.overlay, old.service.models_dir):
                new_stages = heartbeat.wait_for(lambda: build_stages(new, load_delegate=self.load_delegate),
                                                discard=lambda stages: stages.estimator.close())
            camera_changed = source_config(new) != source_config(old) or (
                new_stages is not None and self._lores_size_changes(new, pipeline.stages, new_stages))
            if camera_changed:
                self._restart_camera(pipeline, new, old, (new_stages or pipeline.stages).estimator)
        except RunEnding:  # no READY=1: STOPPING=1 follows
            log.info("reload (%s) dropped: the appliance stops", reason)
            return False
        except Exception as exc:  # a model or camera that fails to load must not stop the appliance
            if isinstance(exc, CameraLostError):
                log.error("reload (%s) failed and no camera runs any more, so the appliance stops: %s", reason, exc)
            else:
                log.error("reload (%s) rejected, still running the previous config: %s", reason, exc)
            if new_stages is not None:
                close_quietly(new_stages.estimator.close, "closing the model of the rejected config")
            self._ready_after_reload(notifier)
            return False
        if new.counting != old.counting:
            pipeline.activity.configure(new.counting)
            log.info("counting: %s", new.counting.exercise)
        if new_events is not None:
            # The old sink says goodbye before the new one connects under the same device name.
            close_quietly(pipeline.swap_events(new_events).close, "closing the previous event sink")
            try:
                new_events.start()
                log.info("events: %s", new.events.type)
            except Exception as exc:  # nothing is sent until the next reload; frames go on
                log.error("events: %s did not start: %s", new.events.type, exc)
        if new_stages is not None:
            # Not closed here: a frame may still be in flight on the old model; the old stages are freed when
            # the pipeline lets go of them.
            pipeline.swap_stages(new_stages)
            self._log_stages(new_stages)
        # The DRM target is the camera's own preview: a restarted camera needs it attached again.
        if new.display != old.display or (camera_changed and new.display.type == "drm"):
            old_display = pipeline.swap_display(build_display(new, lambda: pipeline.source))
            close_quietly(old_display.close, "closing the previous display")
            self._note_stopped_recording(old_display)
            log.info("display switched to %s", new.display.type)
        if new.service.log_level != old.service.log_level:
            from pose_appliance.service.logging import setup_logging
            log.info("log level %s", new.service.log_level)  # said before a higher level would hide it
            setup_logging(new.service.log_level)
        self.config = new
        log.info("reloaded (%s)", reason)
        self._ready_after_reload(notifier)
        return True

    def _ready_after_reload(self, notifier: SystemdNotifier) -> None:
        """READY=1 after a reload, done or rejected; before the first frame it waits for that frame."""
        if self.ready_sent:
            notifier.ready()

    @staticmethod
    def _lores_size_changes(config: Config, old: Stages, new: Stages) -> bool:
        """Whether the new model reads images of a size that needs another lores stream (picamera2)."""
        from pose_appliance.camera import lores_size_of
        return (lores_size_of(config.camera, new.estimator.input_size)
                != lores_size_of(config.camera, old.estimator.input_size))

    @staticmethod
    def _restart_camera(pipeline: Pipeline, new: Config, old: Config, estimator: Estimator) -> None:
        """The camera alone restarts; if the new settings fail, the old camera comes back and the error is raised."""
        try:
            pipeline.replace_source(lambda: build_source(new, estimator))
        except Exception as new_error:
            try:
                pipeline.replace_source(lambda: build_source(old, pipeline.stages.estimator))
            except Exception as old_error:
                pipeline.end_without_source(old_error)  # the run ends as failed: systemd starts it afresh
                raise CameraLostError(f"{new_error}; the previous camera did not come back: {old_error}") from None
            raise
        log.info("camera restarted: %s", new.camera.type)

    # -------------------------------------------------------------------------------------------- output
    @staticmethod
    def _log_stages(stages: Stages) -> None:
        estimator = stages.estimator
        reason = estimator.fallback_reason
        log.info("model %s on %s%s", stages.model_name, estimator.delegate,
                 f" (fallback: {reason})" if reason else "")

    @staticmethod
    def _status_line(status: dict) -> str:
        label = status.get("label") or "-"
        if status.get("label") and status.get("hold_s"):
            label += f" ({status['hold_s']:.0f} s)"
        reps = f", {status['exercise']} reps {status['reps']}" if status.get("exercise") else ""
        return (f"{_rate(status['fps'])} fps shown, model alone {_rate(status['model_fps'])} fps, model "
                f"{status['model']} on {status['delegate']}, label {label}{reps}, frames {status['frames']}, "
                f"dropped {status['dropped']}")

    def _print_summary(self, pipeline: Pipeline, started: float) -> None:
        """One line in words: how long, how fast frames went through once started, how fast the model alone is."""
        stats = pipeline.stats
        seconds = time.monotonic() - started
        flowing = stats.last_processed_at - stats.first_processed_at
        start = stats.first_processed_at - started if stats.processed else seconds
        through = (f", then {(stats.processed - 1) / flowing:.1f} frames/s through camera, model, overlay and "
                   f"display" if stats.processed > 1 and flowing > 0 else "")
        model_alone = ("" if stats.model_fps_overall is None  # stills run the model inside the still path, untimed
                       else f"; the model alone runs {stats.model_fps_overall:.1f} frames/s")
        display = self.config.display
        print(f"{stats.processed} frames in {seconds:.1f} s ({start:.1f} s to start{through}{model_alone}); "
              f"{pipeline.capture_dropped} frames dropped (camera or file ahead of the pipeline)"
              + (f"; overlay video in {self._recorded_path(pipeline.display)}" if display.type == "record"
                 else f"; display {display.type}")
              + (f"; keypoints in {self.keypoints_recorded_to}" if self.keypoints_recorded_to else ""))

    def _recorded_path(self, display: Display) -> str:
        """Where the recording went: the configured path, or the free name beside it that kept an old one."""
        return str(getattr(getattr(display, "wrapped", None), "path", None) or self.config.display.record.path)


class Heartbeat:
    """The main thread's round every tick, in the main loop and while a reload waits for what it builds: READY=1
    once the first frame is through, WATCHDOG=1 only if frames went through since the last one, the status line
    and the periodic stats."""

    def __init__(self, appliance: Appliance, pipeline: Pipeline, notifier: SystemdNotifier, waker: SignalWaker,
                 started: float):
        self.appliance, self.pipeline, self.notifier, self.waker = appliance, pipeline, notifier, waker
        self.started = started
        watchdog_every = notifier.watchdog_interval
        self.tick = MAIN_LOOP_TICK_S if watchdog_every is None else min(MAIN_LOOP_TICK_S, watchdog_every / 3)
        self.reload_requested = False  # a SIGHUP came while a reload was building: reload again after it
        self._pinged_at_frames, self._status_at, self._stats_at = -1, 0.0, time.monotonic()

    def run_ending(self) -> bool:
        """A stop signal came, or the pipeline showed its last frame."""
        return self.waker.stop_requested or self.pipeline.finished.is_set()

    def beat(self) -> None:
        appliance, pipeline, notifier = self.appliance, self.pipeline, self.notifier
        appliance._ready_once_shown(pipeline, notifier, self.started)
        processed = pipeline.stats.processed
        # A stalled pipeline stops the pings and systemd restarts us, also mid-reload; none before READY=1
        # (systemd arms the watchdog once start-up is complete).
        if appliance.ready_sent and processed != self._pinged_at_frames:
            notifier.watchdog()
            self._pinged_at_frames = processed
        now = time.monotonic()
        if now - self._status_at >= 2.0:
            notifier.status(appliance._status_line(pipeline.status()))
            self._status_at = now
        if now - self._stats_at >= appliance.config.service.stats_interval:
            log.info("stats: %s", appliance._status_line(pipeline.status()))
            self._stats_at = now

    def wait_for(self, build: Callable[[], Built], *, discard: Callable[[Built], object]) -> Built:
        """``build()`` on a thread of its own while this (the main) thread goes on beating and hearing signals: a
        model can take longer to load than WatchdogSec (Thunder on a Pi 4's CPU, the Edge TPU's firmware) while
        frames go through the running pipeline. Raises RunEnding if a stop signal comes or the pipeline ends
        first, and ReloadBuildTimeout if the build is not done within RELOAD_BUILD_TIMEOUT_S; the build then
        ends alone (a load in C cannot be interrupted) and ``discard``s what it made."""
        job = BuildAside(build, discard, on_done=self.waker.wake)
        deadline = time.monotonic() + RELOAD_BUILD_TIMEOUT_S
        while not job.finished:
            events = self.waker.wait(min(self.tick, max(0.0, deadline - time.monotonic())))
            if self.run_ending():
                job.abandon()
                raise RunEnding
            if "reset" in events:
                self.pipeline.activity.request_reset()
            if "reload" in events:
                self.reload_requested = True
            if not job.finished and time.monotonic() >= deadline:
                job.abandon()
                raise ReloadBuildTimeout(
                    f"loading the new model and classifier did not finish within {RELOAD_BUILD_TIMEOUT_S:.0f} s "
                    "and was given up (a hung Edge TPU or driver? `pose-appliance doctor` checks them); "
                    "save the config again, or restart the service, to try it again")
            self.beat()
        return job.result()


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
