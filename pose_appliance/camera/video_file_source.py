"""Frames of a video file (OpenCV), either every frame as fast as the consumer takes them or paced like a camera."""

from __future__ import annotations

import logging
import math
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pose_appliance.camera.frame_source import FrameSource, SourceError
from pose_appliance.camera.imageops import cv_to_rgb, resize_to
from pose_appliance.camera.pacer import Pacer
from pose_appliance.errors import shorten
from pose_appliance.types import Frame

if TYPE_CHECKING:
    import cv2

log = logging.getLogger(__name__)

DEFAULT_FPS = 30.0


class VideoFileSource(FrameSource):
    """A video file. ``realtime=False``: every frame in order, the consumer sets the pace (not live).
    ``realtime=True``: played at the file's frame rate, frames the consumer cannot take are dropped (live), and
    frames already overdue when ``read()`` is called are skipped (a gap in ``Frame.index``).
    ``loop``: start again at the end; ``Frame.index`` keeps counting across loops, and the first frame of each
    new pass is ``Frame.cut`` (the picture jumps back: no tracking from the last frame into it).
    ``Frame.timestamp`` is the capture time when paced, and the media time (start + index / fps) otherwise, so the
    keypoint filter sees the real spacing of the frames and a run's keypoints are the same every time."""

    name = "video"

    def __init__(self, path: str | Path, *, loop: bool = False, realtime: bool = False,
                 width: int = 0, height: int = 0):
        self.path = Path(path)
        self.loop = loop
        self.realtime = realtime
        self.width, self.height = width, height
        self.frame_rate: float | None = None
        self.frame_count = 0
        self._capture: cv2.VideoCapture | None = None
        self._position = 0  # index of the next frame the file will decode, counted across loops
        self._loop_start = 0  # index of the file's first frame in the current loop
        self._pacer: Pacer | None = None
        self._first_grabbed = False
        self._rewound = False  # the next frame made is the first after a jump back to the start
        self._decoded: np.ndarray | None = None  # each frame is decoded into this array (converted, never handed on)

    @property
    def live(self) -> bool:
        """Paced files behave like a camera: frames the pipeline cannot take are dropped."""
        return self.realtime

    def start(self) -> None:
        import cv2

        if self._capture is not None:
            return
        shown = shorten(str(self.path))
        try:
            kind = self.path.stat().st_mode
        except FileNotFoundError:
            raise SourceError(f"camera.video.path: {shown} does not exist (give a readable video file)") from None
        except OSError as exc:
            raise SourceError(f"camera.video.path: {shown}: {exc.strerror}") from None
        if stat.S_ISDIR(kind):
            raise SourceError(f"camera.video.path: {shown} is a directory (give a video file; for a folder of "
                              "images use camera.type = \"images\")")
        if not stat.S_ISREG(kind):
            raise SourceError(f"camera.video.path: {shown} is not a regular file (give a video file)")
        capture = cv2.VideoCapture(str(self.path))
        ok = capture.isOpened() and capture.grab()
        if not ok:
            capture.release()
            raise SourceError(f"camera.video.path: cannot read {shown} as a video "
                              "(unsupported or corrupt file; try an .mp4 with H.264)")
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.frame_rate = float(fps) if fps and math.isfinite(fps) and 0 < fps < 1000 else DEFAULT_FPS
        self.frame_count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self._capture = capture
        self._position = self._loop_start = 0
        self._rewound = False
        self.dropped = 0
        self._first_grabbed = True  # frame 0 is decoded already: read it with retrieve(), no seek back (~20 ms)
        self._pacer = Pacer(self.frame_rate) if self.realtime else None
        self._started_at = time.monotonic()

    def read(self) -> Frame | None:
        capture = self._capture
        if capture is None:
            raise SourceError("VideoFileSource.read() before start()")
        wanted = self._position
        if self._pacer is not None:
            wanted = self._pacer.next_slot(self._position)
        while self._position < wanted:  # overdue frames: skip without decoding
            if not self._grab(capture):
                return None
            self.dropped += 1
        bgr = self._next_image(capture)
        if bgr is None:
            return None
        index = self._position
        self._position += 1
        image = cv_to_rgb(resize_to(bgr, self.width, self.height))
        timestamp = None if self.realtime else self._started_at + index / (self.frame_rate or DEFAULT_FPS)
        cut, self._rewound = self._rewound, False
        return self.make_frame(image, index, timestamp=timestamp, cut=cut)

    def _next_image(self, capture: cv2.VideoCapture) -> np.ndarray | None:
        if self._first_grabbed:
            self._first_grabbed = False
            ok, bgr = capture.retrieve(self._decoded)
        else:
            ok, bgr = capture.read(self._decoded)
        if not ok:
            if not self._rewind(capture):
                return None
            ok, bgr = capture.read(self._decoded)
            if not ok:
                return None
        self._decoded = bgr
        return bgr

    def _grab(self, capture: cv2.VideoCapture) -> bool:
        if self._first_grabbed:
            self._first_grabbed = False
            self._position += 1
            return True
        if capture.grab() or (self._rewind(capture) and capture.grab()):
            self._position += 1
            return True
        return False

    def _rewind(self, capture: cv2.VideoCapture) -> bool:
        """At the end of the file: go back to its start when looping. False = the stream has ended."""
        import cv2

        if not self.loop or self._position == self._loop_start:  # not looping, or an empty pass
            return False
        self._loop_start = self._position
        self._rewound = True
        capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        return True

    def stop(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
