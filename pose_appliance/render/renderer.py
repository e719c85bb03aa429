"""The interface of the render stage: draw one frame's overlay onto a canvas in place."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from pose_appliance.types import FrameResult


class Renderer(Protocol):
    """``scale`` and ``offset`` map frame pixels (where the keypoints are) to canvas pixels:
    ``canvas_xy = frame_xy * scale + offset``. The canvas is uint8 RGB or RGBA."""

    def draw(self, canvas: np.ndarray, result: FrameResult, *, scale: float = 1.0,
             offset: tuple[float, float] = (0, 0)) -> None: ...
