"""Headless target: the overlaid frames go to a video file (OpenCV VideoWriter, mp4v) or to numbered PNGs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pose_appliance.config import RecordDisplayConfig
from pose_appliance.display.compositor import Compositor
from pose_appliance.display.display import Display, DisplayError
from pose_appliance.render.renderer import Renderer
from pose_appliance.types import FrameResult

if TYPE_CHECKING:
    import cv2

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv")
DEFAULT_FPS = 30.0


class RecordDisplay(Display):
    """Writes every ``every``-th frame. A path with a video suffix is a file; any other path is a folder of
    ``frame_000001.png``... The video's frame rate is the camera's (``camera.frame_rate``) divided by ``every``."""

    name = "record"

    def __init__(self, record_config: RecordDisplayConfig, *, camera: Any = None):
        self.path = Path(record_config.path).expanduser()
        self.every = record_config.every
        source_fps = getattr(camera, "frame_rate", None) or DEFAULT_FPS
        self.fps = max(0.1, source_fps / self.every)
        self.is_video = self.path.suffix.lower() in VIDEO_SUFFIXES
        self.written = 0
        self._seen = 0
        self._writer: cv2.VideoWriter | None = None
        self._compositor = Compositor()
        self._bgr: np.ndarray | None = None

    def open(self, frame_size: tuple[int, int]) -> None:
        import cv2

        self._compositor.fit(frame_size)
        w, h = frame_size
        self._bgr = np.zeros((h, w, 3), np.uint8)
        if not self.is_video:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DisplayError(f"display.record.path: cannot create the folder {self.path}: "
                                   f"{exc.strerror}") from None
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DisplayError(f"display.record.path: cannot create {self.path.parent}: {exc.strerror}") from None
        writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*"mp4v"), self.fps, (w, h))
        if not writer.isOpened():
            raise DisplayError(f"display.record.path: OpenCV cannot write {self.path} (is the folder writable? "
                               f"use .mp4, .avi or .mkv, or a folder for PNG frames)")
        self._writer = writer

    def show(self, result: FrameResult, renderer: Renderer, status: dict) -> None:
        import cv2

        if self._bgr is None:
            raise DisplayError("record display used before open()")
        self._seen += 1
        if (self._seen - 1) % self.every:
            return
        canvas = self._compositor.compose(result, renderer)
        # The output keeps the size the file was opened with; a camera that changes size is scaled into it.
        if canvas.shape[:2] != self._bgr.shape[:2]:
            canvas = cv2.resize(canvas, (self._bgr.shape[1], self._bgr.shape[0]))
        cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR, dst=self._bgr)
        self.written += 1
        if self._writer is not None:
            self._writer.write(self._bgr)
        else:
            target = self.path / f"frame_{self.written:06d}.png"
            if not cv2.imwrite(str(target), self._bgr):
                raise DisplayError(f"display.record.path: cannot write {target}")

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
