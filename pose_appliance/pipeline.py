"""The running pipeline: a capture thread, an inference thread and a display thread joined by one-slot mailboxes.

A live source never builds a backlog: the newest frame replaces an unread one and the drop is counted. A file
source that is not paced waits for the pipeline instead, so every frame is processed and recorded.

The stages that turn a frame into a result (estimator, classifier, label smoother, renderer) are one immutable
``Stages`` value. ``swap_stages`` replaces it between two frames; the camera and the display keep running.

Overlap: the model runs on an invoke thread of its own while the inference thread prepares the next frame (its
crop and resize) and finishes the previous one (decode, smoothing, classifier, result). Frame N+1 is queued to
the invoke thread before frame N is collected, so the model starts N+1 the moment N ends instead of waiting
for two thread wake-ups (6 % of an invoke with two model threads). So the crop of frame N+1 comes from the pose
of frame N-1 whenever frame N+1 is already waiting (always with an unpaced file: the results are
reproducible); a live source whose next frame has not arrived gets frame N finished at once, so the crop and
the latency are those of a serial loop. Still frames (a folder of photos) run serially, through
``estimate_still``. A ``Frame.cut`` (a restarted camera's first frame, a looping file's first frame of a new
pass) follows nothing before it: the frames in flight are finished first, then the estimator's tracking and
keypoint filter start again, then the cut is prepared. The label smoother goes on: its averages follow the new
frames as they follow a change of pose, where a reset would blank the label at every pass of a looping video.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pose_appliance.activity import ActivityStage, ActivityTracker
from pose_appliance.camera import CaptureThread, FrameSource, LatestFrameMailbox
from pose_appliance.classify.classifier import Assessment, Classifier, Smoother
from pose_appliance.classify.reference import mirrored
from pose_appliance.display.display import Display
from pose_appliance.events import EventSink, NullEventSink
from pose_appliance.inference.estimator import Estimator, PreparedInput
from pose_appliance.piece_file import PieceFile, free_path
from pose_appliance.render.renderer import Renderer
from pose_appliance.types import Activity, Frame, FrameResult, LabelDecision, Pose

log = logging.getLogger(__name__)

_FAILED = object()  # a step's result when it raised (None is a valid result: nobody found)


@dataclass(frozen=True)
class Stages:
    """Everything the inference thread applies to a frame, swapped as one value."""

    estimator: Estimator
    classifier: Classifier | None
    smoother: Smoother | None
    renderer: Renderer
    model_name: str

    def process(self, frame: Frame) -> tuple[Pose | None, LabelDecision]:
        """One frame start to end on this thread (stills, and estimators that cannot be overlapped)."""
        if not frame.still:
            pose = self.estimator.estimate(frame.model_image, timestamp=frame.timestamp, output_size=frame.size)
            return pose, self.decide(pose, frame)
        pose = self.estimator.estimate_still(frame.model_image, output_size=frame.size)
        mirror = None
        if pose is not None and self.classifier is not None and self.classifier.checks_mirror_image:
            # A still has no next frames to confirm its name; the same picture flipped left to right does.
            flipped = np.ascontiguousarray(frame.model_image[:, ::-1])
            found = self.estimator.estimate_still(flipped, output_size=frame.size)
            mirror = None if found is None else Pose(mirrored(found.keypoints, frame.size[0]), found.crop)
        return pose, self.decide(pose, frame, mirror=mirror)

    def decide(self, pose: Pose | None, frame: Frame, *, mirror: Pose | None = None) -> LabelDecision:
        """The label for a pose in a frame: the classifier's assessment through the label smoother (``mirror``:
        see :meth:`Classifier.assess`)."""
        if self.classifier is None or self.smoother is None:
            return LabelDecision(label=None)
        assessment = Assessment(None) if pose is None else self.classifier.assess(pose, frame.size, mirror=mirror)
        return self.smoother.update(assessment, still=frame.still, timestamp=frame.timestamp)


@dataclass
class _InFlight:
    """A frame whose model input is prepared and handed to the invoke thread."""

    frame: Frame
    stages: Stages
    prepared: PreparedInput
    started: float


class _Invoker:
    """One thread that only runs ``estimator.infer(prepared)``, one job at a time; each run's duration in seconds
    goes to ``record``."""

    def __init__(self, record: Callable[[float], None]) -> None:
        self._record = record
        self._jobs: queue.SimpleQueue[tuple[Estimator, PreparedInput] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[list[np.ndarray] | BaseException] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="invoke", daemon=True)
        self._thread.start()

    def submit(self, estimator: Estimator, prepared: PreparedInput) -> None:
        self._jobs.put((estimator, prepared))

    def result(self) -> list[np.ndarray]:
        """The outputs of the job submitted last; raises what ``infer`` raised."""
        outcome = self._done.get()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(2.0)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                started = time.perf_counter()
                outputs = job[0].infer(job[1])
                self._record(time.perf_counter() - started)
                self._done.put(outputs)
            except BaseException as exc:  # handed to the inference thread, which counts and logs it
                self._done.put(exc)


class FrameRate:
    """Events per second over the last ``window`` seconds: what a viewer counts, not an average since the start.

    ``tick`` is called by one thread, ``rate`` by any: it reads a copy of the times."""

    def __init__(self, window: float = 2.0):
        self.window = window
        self._times: collections.deque[float] = collections.deque()

    def tick(self, now: float) -> None:
        self._times.append(now)
        while self._times[0] < now - self.window:
            self._times.popleft()

    def rate(self, now: float) -> float | None:
        """None until two events were seen; 0 once none came for a whole window."""
        times = list(self._times)
        if len(times) < 2:
            return None if not times or times[-1] >= now - self.window else 0.0
        recent = [t for t in times if t >= now - self.window]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)


class PipelineStats:
    """Counters the service reports and the benchmark reads. Written by the pipeline threads only.

    ``shown_rate`` counts frames the display showed (what a viewer sees); ``model_seconds`` holds the model's
    own time per frame (the invoke alone), so ``model_fps`` is how fast the model could go by itself."""

    def __init__(self, latency_window: int = 1000):
        self.processed = 0
        self.shown = 0
        self.errors = 0
        self.first_processed_at = 0.0
        self.last_processed_at = 0.0
        self.latencies: collections.deque[float] = collections.deque(maxlen=latency_window)
        self.inference_ms: collections.deque[float] = collections.deque(maxlen=latency_window)
        self.shown_rate = FrameRate()
        self.model_seconds: collections.deque[float] = collections.deque(maxlen=30)
        self.model_runs = 0
        self.model_seconds_total = 0.0

    def record_model_run(self, seconds: float) -> None:
        self.model_seconds.append(seconds)
        self.model_runs += 1
        self.model_seconds_total += seconds

    @property
    def fps(self) -> float | None:
        """Frames shown per second over the last two seconds; None before the second frame."""
        return self.shown_rate.rate(time.monotonic())

    @property
    def model_fps(self) -> float | None:
        """1 / the model's mean time per frame over its last 30 runs; None before its first run."""
        seconds = list(self.model_seconds)
        return len(seconds) / sum(seconds) if seconds and sum(seconds) > 0 else None

    @property
    def model_fps_overall(self) -> float | None:
        """1 / the model's mean time per frame over the whole run (the closing summary's figure)."""
        return self.model_runs / self.model_seconds_total if self.model_seconds_total > 0 else None

    def as_dict(self, capture_dropped: int, display_dropped: int) -> dict:
        fps, model_fps = self.fps, self.model_fps
        return {"frames": self.processed, "shown": self.shown, "errors": self.errors,
                "dropped": capture_dropped, "display_dropped": display_dropped,
                "fps": None if fps is None else round(fps, 1),
                "model_fps": None if model_fps is None else round(model_fps, 1)}


class KeypointRecorder:
    """JSON Lines, one object per processed frame (the `--record-keypoints` file).

    A write that fails (disk full) is logged once and ends the recording; the file is cut back to its last whole
    line and the pipeline goes on. ``stopped_reason`` says why it ended early, else None."""

    def __init__(self, path: Path):
        import json  # only a run that records keypoints needs it

        self._to_json = json.dumps
        self.configured_path = Path(path)
        try:
            self.configured_path.parent.mkdir(parents=True, exist_ok=True)
            self.path = free_path(self.configured_path)
            self._file = PieceFile(self.path, replace=False)
        except FileExistsError as exc:
            raise RuntimeError(f"cannot create the keypoints file: {exc}") from None
        except OSError as exc:
            raise RuntimeError(f"cannot create the keypoints file {self.configured_path}: {exc.strerror}") from None
        if self.path != self.configured_path:
            log.info("%s holds earlier keypoints; these go to %s", self.configured_path, self.path)
        self.written = 0
        self.stopped_reason: str | None = None

    def write(self, result: FrameResult, model_name: str, delegate: str) -> None:
        if self.stopped_reason is not None:
            return
        pose, decision, activity = result.pose, result.decision, result.activity
        record = {
            "frame": result.frame.index,
            "t": round(result.frame.timestamp, 6),
            **({"file": result.frame.name} if result.frame.name is not None else {}),
            "keypoints": None if pose is None else [[round(float(v), 2) for v in kp] for kp in pose.keypoints],
            "label": decision.label,
            "label_score": round(decision.score, 4),
            "crop": None if pose is None else [round(float(v), 5) + 0.0 for v in pose.crop],
            "hold_s": round(activity.hold_s, 2),
            "reps": activity.reps,
            "events": [event.type for event in activity.events],
            "model": model_name,
            "delegate": delegate,
        }
        try:
            self._file.write((self._to_json(record) + "\n").encode())
            self._file.mark_whole()
        except OSError as exc:  # the file is cut back to its last whole line
            self._stop(exc)
            return
        self.written += 1

    def _stop(self, exc: OSError) -> None:
        self.stopped_reason = f"cannot write {self.path}: {exc.strerror or exc}"
        log.error("keypoint recording stopped after %d frames: %s; the lines written so far are kept, the "
                  "appliance goes on without recording keypoints", self.written, self.stopped_reason)
        self.close()

    def close(self) -> None:
        self._file.close()


class Pipeline:
    """Runs source -> stages -> display on three threads until the source ends or ``stop()``.

    ``activity`` (hold timer, repetition counter) sees every processed frame; ``events`` gets every result
    on the inference thread beside the display (its ``offer`` only hands it over).
    """

    def __init__(self, source: FrameSource, stages: Stages, display: Display, *,
                 recorder: KeypointRecorder | None = None, max_frames: int = 0,
                 activity: ActivityStage | None = None, events: EventSink | None = None,
                 on_finished: Callable[[], None] | None = None):
        self._stages = stages
        self._display = display
        self.activity: ActivityStage = activity or ActivityTracker()
        self._events: EventSink = events or NullEventSink()
        self._last_activity = Activity()
        self._recorder = recorder
        self._max_frames = max_frames
        self.stats = PipelineStats()
        self.first_result = threading.Event()
        self.first_shown = threading.Event()  # the first result went to the display (opened by that frame)
        self.finished = threading.Event()
        self._on_finished = on_finished  # called once on the display thread when the last result is shown
        self._stopping = threading.Event()
        self._source = source
        self._frames = LatestFrameMailbox(drop_when_full=source.live)
        self._capture = CaptureThread(source, self._frames)
        self._results = LatestFrameMailbox(drop_when_full=source.live)
        self._dropped_by_old_sources = 0
        self._source_lost: BaseException | None = None
        self._last_label: tuple[str | None, float] = (None, 0.0)
        self._logged_errors: set[str] = set()
        self._inference_thread = threading.Thread(target=self._inference_loop, name="inference", daemon=True)
        self._display_thread = threading.Thread(target=self._display_loop, name="display", daemon=True)

    # ------------------------------------------------------------------ control (called from the main thread)
    @property
    def stages(self) -> Stages:
        return self._stages

    @property
    def source(self) -> FrameSource:
        return self._source

    @property
    def display(self) -> Display:
        return self._display

    @property
    def capture_dropped(self) -> int:
        """Frames that never reached the model: skipped by the source itself, or replaced unread in the box."""
        return self._dropped_by_old_sources + self._source.dropped + self._frames.dropped

    def start(self) -> None:
        keep_opencv_on_the_calling_thread()
        self._capture.start()
        self._inference_thread.start()
        self._display_thread.start()

    def swap_stages(self, stages: Stages) -> Stages:
        """Use new stages from the next frame on; returns the old ones. They are not closed: a frame may still be
        in flight on them, and they are freed when the pipeline lets go of them."""
        old, self._stages = self._stages, stages
        return old

    def swap_display(self, display: Display) -> Display:
        old, self._display = self._display, display
        return old

    @property
    def events(self) -> EventSink:
        return self._events

    def swap_events(self, events: EventSink) -> EventSink:
        """Offer results to ``events`` from the next frame on; returns the old sink (the caller closes it)."""
        old, self._events = self._events, events
        return old

    def replace_source(self, make_source: Callable[[], FrameSource]) -> None:
        """Restart only the camera; the inference and display threads keep running.

        The old source is stopped before ``make_source()`` opens the new one, because a camera can be opened only
        once. If ``make_source`` raises, no source runs and the error propagates: the caller brings one back,
        or ends the pipeline with ``end_without_source``.
        """
        old_capture, old_frames, old_source = self._capture, self._frames, self._source
        self._frames = LatestFrameMailbox()  # installed first, so the inference thread never sees the end
        old_capture.stop()
        old_frames.close()
        self._dropped_by_old_sources += old_frames.dropped
        old_source.stop()
        source = make_source()
        self._frames.drop_when_full = self._results.drop_when_full = source.live
        # Counted once the new source replaces it: if make_source raised, it is still the pipeline's source. And
        # after, so capture_dropped, read meanwhile by the status, never counts it as old and current at once.
        self._source = source
        self._dropped_by_old_sources += old_source.dropped
        self._capture = CaptureThread(source, self._frames)
        self._capture.start()

    def end_without_source(self, error: BaseException) -> None:
        """No source runs any more (``replace_source`` failed and the old one did not come back): ``error``
        becomes the capture error and the pipeline ends after the frames it still holds."""
        self._source_lost = error
        self._frames.close()

    def status(self) -> dict:
        stages = self._stages
        status = self.stats.as_dict(self.capture_dropped, self._results.dropped)
        status.update(model=stages.model_name, delegate=stages.estimator.delegate,
                      label=self._last_label[0], label_score=round(self._last_label[1], 3),
                      hold_s=round(self._last_activity.hold_s, 1), reps=self._last_activity.reps,
                      exercise=self._last_activity.exercise)
        return status

    def stop(self, timeout: float = 1.5) -> None:
        self._stopping.set()
        self._capture.stop()
        self._frames.close()
        self._results.close()
        deadline = time.monotonic() + timeout
        for thread in (self._inference_thread, self._display_thread):
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def capture_error(self) -> BaseException | None:
        return self._source_lost or self._capture.error

    # ---------------------------------------------------------------------------------------- threads
    def _inference_loop(self) -> None:
        invoker = _Invoker(self.stats.record_model_run)
        in_flight: collections.deque[_InFlight] = collections.deque()
        try:
            while not self._stopping.is_set() and not self._done_enough():
                if self._max_frames and self.stats.processed + len(in_flight) >= self._max_frames:
                    self._finish_all(in_flight, invoker)  # the last frames wanted are in flight: no more are read
                    continue
                frames = self._frames
                # With a frame in flight, a live source's next frame is taken only if it is already there.
                live_and_waiting = bool(in_flight) and frames.drop_when_full
                frame = frames.get(timeout=0 if live_and_waiting else 0.25)
                if frame is None:
                    if in_flight and (live_and_waiting or frames.closed):
                        self._finish_all(in_flight, invoker)
                    elif frames is self._frames and frames.closed:
                        break
                    continue
                stages = self._stages
                if frame.cut or (in_flight and in_flight[-1].stages is not stages):
                    self._finish_all(in_flight, invoker)
                if frame.cut:  # another camera, or a file back at its start: no crop or filter from before
                    stages.estimator.reset()
                started = time.perf_counter()
                if frame.still:
                    self._finish_all(in_flight, invoker)
                    self._guarded(frame, functools.partial(self._process_serially, frame, stages, started))
                    continue
                prepared = self._guarded(frame, functools.partial(stages.estimator.prepare, frame.model_image))
                if prepared is None:
                    continue
                # Queued behind the frame still running, so the model goes from one frame to the next without
                # waiting for this thread; the older frame is finished here meanwhile.
                invoker.submit(stages.estimator, prepared)
                in_flight.append(_InFlight(frame, stages, prepared, started))
                if len(in_flight) > 1:
                    self._finish(in_flight.popleft(), invoker)
        finally:
            for pending in in_flight:
                self._guarded(pending.frame, invoker.result)  # never leave the model running
            invoker.close()
            self._results.close()

    def _process_serially(self, frame: Frame, stages: Stages, started: float) -> None:
        self._publish(frame, stages, started, *stages.process(frame))

    def _done_enough(self) -> bool:
        return bool(self._max_frames) and self.stats.processed >= self._max_frames

    def _finish_all(self, in_flight: collections.deque[_InFlight], invoker: _Invoker) -> None:
        while in_flight:
            self._finish(in_flight.popleft(), invoker)

    def _finish(self, in_flight: _InFlight, invoker: _Invoker) -> None:
        outputs = self._guarded(in_flight.frame, invoker.result, default=_FAILED)
        if outputs is not _FAILED:
            self._guarded(in_flight.frame, lambda: self._complete(in_flight, outputs))

    def _complete(self, in_flight: _InFlight, outputs: list[np.ndarray]) -> None:
        frame, stages = in_flight.frame, in_flight.stages
        pose = stages.estimator.finish(in_flight.prepared, outputs, timestamp=frame.timestamp,
                                       output_size=frame.size)
        self._publish(frame, stages, in_flight.started, pose, stages.decide(pose, frame))

    def _guarded(self, frame: Frame, step: Callable[[], Any], default: Any = None) -> Any:
        """Run one step of a frame; a failure is counted and logged once per kind, and the frame is dropped."""
        try:
            return step()
        except Exception as exc:  # one bad frame must not stop the appliance
            self.stats.errors += 1
            kind = f"{type(exc).__name__}: {exc}"
            if kind not in self._logged_errors:
                self._logged_errors.add(kind)
                log.error("frame %d failed: %s", frame.index, kind)
            return default

    def _publish(self, frame: Frame, stages: Stages, started: float, pose: Pose | None,
                 decision: LabelDecision) -> None:
        now = time.perf_counter()
        activity = self.activity.update(pose, decision.label, frame.timestamp, cut=frame.cut)
        # fps: shown per second so far, for the event sinks; the display thread counts this frame in for its copy.
        result = FrameResult(frame=frame, pose=pose, decision=decision, fps=self.stats.fps,
                             inference_ms=(now - started) * 1000.0, activity=activity)
        self._last_label = (decision.label, decision.score)
        self._last_activity = activity
        if self._recorder is not None:
            self._recorder.write(result, stages.model_name, stages.estimator.delegate)
        self._events.offer(result, stages.model_name, stages.estimator.delegate)
        self.stats.inference_ms.append(result.inference_ms)
        self.stats.processed += 1
        self.stats.last_processed_at = time.monotonic()
        if self.stats.processed == 1:
            self.stats.first_processed_at = self.stats.last_processed_at
        self.first_result.set()
        self._results.put(result)

    def _display_loop(self) -> None:
        try:
            while True:
                result = self._results.get(timeout=0.25)
                if result is None:
                    if self._results.closed:
                        break
                    continue
                stages, display = self._stages, self._display
                now = time.monotonic()
                self.stats.shown_rate.tick(now)
                # A copy: the event sinks may still read the original on their own thread.
                result = dataclasses.replace(result, fps=self.stats.shown_rate.rate(now))  # what the viewer gets
                display.show(result, stages.renderer, self.status())
                self.first_shown.set()
                self.stats.shown += 1
                self.stats.latencies.append(time.monotonic() - result.frame.timestamp)
        finally:
            self.finished.set()
            if self._on_finished is not None:
                self._on_finished()


def keep_opencv_on_the_calling_thread() -> None:
    """Make OpenCV run each call (colour conversion, resize, drawing) on the thread that makes it.

    By default OpenCV splits large calls across its own pool of one thread per core. The pipeline already runs
    capture, inference and display beside the model's threads, and that pool only adds wake-ups and migrations.
    Measured with a BGR->RGB conversion per frame on the capture thread (2 cores, 24 interleaved blocks each,
    scripts/compare-tf-sample's in-process loop): 0.75 of bare invoke() with the pool, 0.91 without it, and a
    tenth of the CPU migrations. The setting is per process.
    """
    import cv2

    cv2.setNumThreads(1)
