"""A USB webcam (or any V4L2 device) through OpenCV."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pose_appliance.camera.frame_source import FrameSource, SourceError
from pose_appliance.camera.imageops import cv_to_rgb, resize_to
from pose_appliance.types import Frame

log = logging.getLogger(__name__)

MAX_FAILED_READS = 10


def parse_device(device: str) -> int | str:
    """"0" -> 0 (camera index); "/dev/video0" stays a path."""
    text = str(device).strip()
    return int(text) if text.isdigit() else text


class OpenCVCameraSource(FrameSource):
    """A live V4L2 camera. ``video_capture(device, api)`` makes the capture object (``cv2.VideoCapture`` unless a
    test injects one); only its isOpened/read/set/get/release are used."""

    name = "opencv"
    live = True

    def __init__(self, device: str, *, width: int = 0, height: int = 0, fps: float = 30.0,
                 video_capture: Callable[[Any, int], Any] | None = None):
        self.device = parse_device(device)
        self.width, self.height = width, height
        self.requested_fps = fps
        self.frame_rate: float | None = fps
        self.actual_size: tuple[int, int] | None = None
        self._video_capture = video_capture
        self._capture: Any = None  # cv2.VideoCapture, or what video_capture made
        self._index = 0
        self._warned_size = False

    def start(self) -> None:
        import cv2

        if self._capture is not None:
            return
        factory = self._video_capture or cv2.VideoCapture
        # OpenCV warns on stderr about a device it cannot open ("[ WARN:0@...] global cap.cpp..."); the error
        # below says it for the user, so only OpenCV's errors are let through while opening.
        # OpenCV 5 has the level calls in cv2.utils.logging, 4.x (the Pi's Bookworm) on cv2; 2 = errors in both.
        cv_log = getattr(cv2.utils, "logging", cv2)
        level = cv_log.getLogLevel()
        cv_log.setLogLevel(min(level, 2))
        try:
            capture = factory(self.device, cv2.CAP_V4L2)
        finally:
            cv_log.setLogLevel(level)
        if capture is None or not capture.isOpened():
            if capture is not None:
                capture.release()
            raise SourceError(f"camera.opencv.device: cannot open {self.device} (is it plugged in? "
                              "`v4l2-ctl --list-devices` lists cameras; the user needs the video group)")
        if self.width > 0:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height > 0:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        capture.set(cv2.CAP_PROP_FPS, self.requested_fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not one queued seconds ago
        self.actual_size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.frame_rate = float(fps) if fps and fps > 0 else self.requested_fps
        log.info("opencv camera %s: %dx%d at %.1f fps", self.device, *self.actual_size, self.frame_rate)
        self._capture = capture
        self._index = 0

    def read(self) -> Frame | None:
        if self._capture is None:
            raise SourceError("OpenCVCameraSource.read() before start()")
        for _ in range(MAX_FAILED_READS):
            ok, bgr = self._capture.read()
            if ok and bgr is not None:
                break
        else:
            raise SourceError(f"camera.opencv.device: {self.device} stopped delivering frames "
                              f"({MAX_FAILED_READS} failed reads; unplugged?)")
        size = (bgr.shape[1], bgr.shape[0])
        asked_other = (self.width and size[0] != self.width) or (self.height and size[1] != self.height)
        if not self._warned_size and asked_other:
            self._warned_size = True
            log.warning("opencv camera %s delivers %dx%d, not the %dx%d asked for: resizing", self.device, *size,
                        self.width, self.height)
        image = cv_to_rgb(resize_to(bgr, self.width, self.height))
        index = self._index
        self._index += 1
        return self.make_frame(image, index)

    def stop(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
