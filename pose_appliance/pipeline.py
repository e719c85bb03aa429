"""The running pipeline: a capture thread, an inference thread and a display thread joined by one-slot mailboxes.

A live source never builds a backlog: the newest frame replaces an unread one and the drop is counted. A file
source that is not paced waits for the pipeline instead, so every frame is processed and recorded.

The stages that turn a frame into a result (estimator, classifier, label smoother, renderer) are one immutable
``Stages`` value. ``swap_stages`` replaces it between two frames; the camera and the display keep running.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, TextIO

from pose_appliance.camera import CaptureThread, FrameSource, LatestFrameMailbox
from pose_appliance.types import Frame, FrameResult, LabelDecision

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stages:
    """Everything the inference thread applies to a frame, swapped as one value."""

    estimator: Any
    classifier: Any | None
    smoother: Any | None
    renderer: Any
    model_name: str

    def process(self, frame: Frame) -> tuple[Any, LabelDecision]:
        pose = self.estimator.estimate(frame.model_image, timestamp=frame.timestamp, output_size=frame.size)
        if pose is None or self.classifier is None or self.smoother is None:
            return pose, LabelDecision(label=None)
        scores = self.classifier.classify(pose) if self.smoother.pose_is_classifiable(pose) else None
        return pose, self.smoother.update(pose, scores)


class PipelineStats:
    """Counters the service reports and the benchmark reads. Written by the pipeline threads only."""

    def __init__(self, latency_window: int = 1000):
        self.processed = 0
        self.shown = 0
        self.errors = 0
        self.fps = 0.0
        self.last_processed_at = 0.0
        self.latencies = collections.deque(maxlen=latency_window)
        self.inference_ms = collections.deque(maxlen=latency_window)

    def as_dict(self, capture_dropped: int, display_dropped: int) -> dict:
        return {"frames": self.processed, "shown": self.shown, "errors": self.errors,
                "dropped": capture_dropped, "display_dropped": display_dropped, "fps": round(self.fps, 1)}


class KeypointRecorder:
    """JSON Lines, one object per processed frame (the `--record-keypoints` file)."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, result: FrameResult, model_name: str, delegate: str) -> None:
        pose, decision = result.pose, result.decision
        record = {
            "frame": result.frame.index,
            "t": round(result.frame.timestamp, 6),
            "keypoints": None if pose is None else [[round(float(v), 2) for v in kp] for kp in pose.keypoints],
            "label": decision.label,
            "label_score": round(decision.score, 4),
            "crop": None if pose is None else [round(float(v), 5) + 0.0 for v in pose.crop],
            "model": model_name,
            "delegate": delegate,
        }
        self._stream.write(json.dumps(record) + "\n")
        self._stream.flush()


class Pipeline:
    """Runs source -> stages -> display on three threads until the source ends or ``stop()``."""

    def __init__(self, source: FrameSource, stages: Stages, display: Any, *,
                 recorder: KeypointRecorder | None = None, max_frames: int = 0):
        self._stages = stages
        self._display = display
        self._recorder = recorder
        self._max_frames = max_frames
        self.stats = PipelineStats()
        self.first_result = threading.Event()
        self.finished = threading.Event()
        self._stopping = threading.Event()
        self._source = source
        self._frames = LatestFrameMailbox(drop_when_full=source.live)
        self._capture = CaptureThread(source, self._frames)
        self._results = LatestFrameMailbox(drop_when_full=source.live)
        self._dropped_by_old_sources = 0
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
    def display(self) -> Any:
        return self._display

    @property
    def capture_dropped(self) -> int:
        return self._dropped_by_old_sources + self._frames.dropped

    def start(self) -> None:
        self._capture.start()
        self._inference_thread.start()
        self._display_thread.start()

    def swap_stages(self, stages: Stages) -> Stages:
        """Use new stages from the next frame on; returns the old ones (the caller closes them)."""
        old, self._stages = self._stages, stages
        return old

    def swap_display(self, display: Any) -> Any:
        old, self._display = self._display, display
        return old

    def replace_source(self, source: FrameSource) -> None:
        """Restart only the camera: the inference and display threads keep running."""
        old_capture, old_frames = self._capture, self._frames
        self._frames = LatestFrameMailbox(drop_when_full=source.live)
        self._capture = CaptureThread(source, self._frames)
        self._results.drop_when_full = source.live
        old_capture.stop()
        old_frames.close()
        self._dropped_by_old_sources += old_frames.dropped
        self._source = source
        self._capture.start()

    def status(self) -> dict:
        stages = self._stages
        status = self.stats.as_dict(self.capture_dropped, self._results.dropped)
        status.update(model=stages.model_name, delegate=getattr(stages.estimator, "delegate", "cpu"),
                      label=self._last_label[0], label_score=round(self._last_label[1], 3))
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
        return self._capture.error

    # ---------------------------------------------------------------------------------------- threads
    _last_label: tuple[str | None, float] = (None, 0.0)

    def _inference_loop(self) -> None:
        last_time = None
        logged_errors: set[str] = set()
        try:
            while not self._stopping.is_set():
                frames = self._frames
                frame = frames.get(timeout=0.25)
                if frame is None:
                    if frames is self._frames and frames.closed:
                        break
                    continue
                stages = self._stages
                started = time.perf_counter()
                try:
                    pose, decision = stages.process(frame)
                except Exception as exc:  # one bad frame must not stop the appliance
                    self.stats.errors += 1
                    kind = f"{type(exc).__name__}: {exc}"
                    if kind not in logged_errors:
                        logged_errors.add(kind)
                        log.error("frame %d failed: %s", frame.index, kind)
                    continue
                now = time.perf_counter()
                if last_time is not None:
                    instant = 1.0 / max(now - last_time, 1e-6)
                    self.stats.fps = instant if self.stats.fps == 0 else 0.9 * self.stats.fps + 0.1 * instant
                last_time = now
                result = FrameResult(frame=frame, pose=pose, decision=decision, fps=self.stats.fps,
                                     inference_ms=(now - started) * 1000.0)
                self._last_label = (decision.label, decision.score)
                if self._recorder is not None:
                    self._recorder.write(result, stages.model_name, getattr(stages.estimator, "delegate", "cpu"))
                self.stats.inference_ms.append(result.inference_ms)
                self.stats.processed += 1
                self.stats.last_processed_at = time.monotonic()
                self.first_result.set()
                self._results.put(result)
                if self._max_frames and self.stats.processed >= self._max_frames:
                    break
        finally:
            self._results.close()

    def _display_loop(self) -> None:
        try:
            while True:
                result = self._results.get(timeout=0.25)
                if result is None:
                    if self._results.closed:
                        break
                    continue
                stages, display = self._stages, self._display
                display.show(result, stages.renderer, self.status())
                self.stats.shown += 1
                self.stats.latencies.append(time.monotonic() - result.frame.timestamp)
        finally:
            self.finished.set()
