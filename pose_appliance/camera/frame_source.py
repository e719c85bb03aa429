"""The frame source interface every camera backend implements."""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np

from pose_appliance.types import Frame


class SourceError(RuntimeError):
    """A frame source cannot start or stopped working: one line naming the device or file and the fix."""


class FrameSource(Protocol):
    """Where frames come from.

    ``live`` sources (cameras, paced files) run at their own rate: a slow consumer drops frames rather than
    building a backlog. Other sources wait for the consumer. ``read()`` blocks until the next frame and returns
    ``None`` at the end of the stream. Frames are RGB uint8; ``Frame.index`` counts the frames the source produced,
    so a gap between two indices is frames skipped; ``Frame.timestamp`` is ``time.monotonic()`` at capture.
    ``dropped`` counts the frames the source skipped itself since ``start()`` (a paced file that fell behind,
    camera frames nobody captured): the pipeline reports them with the frames it dropped.
    A source that jumps within its stream (a file looping back to its start) sets ``Frame.cut`` on the first frame
    after the jump; the first frame after ``start()`` is marked by the :class:`CaptureThread` that hands it over.
    Backends subclass it for the defaults below.
    """

    name: str = "source"
    frame_rate: float | None = None
    dropped: int = 0

    @property
    def live(self) -> bool:
        return False

    def start(self) -> None:
        """Open the device or file. Raises SourceError."""
        return None

    def read(self) -> Frame | None:
        raise NotImplementedError

    def stop(self) -> None:
        """Release the device or file. Safe to call twice."""
        return None

    def __enter__(self) -> FrameSource:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @staticmethod
    def make_frame(image: np.ndarray, index: int, lores: np.ndarray | None = None,
                   timestamp: float | None = None, still: bool = False, name: str | None = None,
                   cut: bool = False) -> Frame:
        return Frame(image=image, index=index, timestamp=time.monotonic() if timestamp is None else timestamp,
                     lores=lores, still=still, name=name, cut=cut)
