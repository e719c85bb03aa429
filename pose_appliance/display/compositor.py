"""Camera picture + overlay, letterboxed into an output of fixed size, drawn into one reused RGB buffer."""

from __future__ import annotations

import numpy as np

from pose_appliance.render.renderer import Renderer
from pose_appliance.types import FrameResult


def letterbox(frame_size: tuple[int, int], output_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the largest rectangle with the frame's aspect ratio centred in the output."""
    frame_w, frame_h = frame_size
    out_w, out_h = output_size
    scale = min(out_w / frame_w, out_h / frame_h)
    w = min(out_w, max(1, int(round(frame_w * scale))))
    h = min(out_h, max(1, int(round(frame_h * scale))))
    return (out_w - w) // 2, (out_h - h) // 2, w, h


class Compositor:
    """Draws each frame once: the picture is copied (or resized) into ``canvas``, then the overlay on top.

    ``canvas`` is only the picture's rectangle ``rect`` = (x, y, w, h) inside the output; the bars around it
    are the display's business (they stay black). ``output_size=None`` means the output is the frame's size.
    Buffers are reallocated only when the frame size changes.
    """

    def __init__(self, output_size: tuple[int, int] | None = None):
        self.output_size = output_size
        self.canvas = np.zeros((0, 0, 3), np.uint8)  # sized by the first fit()
        self.rect = (0, 0, 0, 0)
        self.scale = 1.0
        self._frame_size: tuple[int, int] | None = None

    def fit(self, frame_size: tuple[int, int]) -> bool:
        """Prepare for frames of this size; True when the geometry changed (the bars need repainting)."""
        if frame_size == self._frame_size:
            return False
        self._frame_size = frame_size
        self.rect = letterbox(frame_size, self.output_size or frame_size)
        self.scale = self.rect[2] / frame_size[0]
        self.canvas = np.zeros((self.rect[3], self.rect[2], 3), np.uint8)
        return True

    def compose(self, result: FrameResult, renderer: Renderer) -> np.ndarray:
        import cv2

        image = result.frame.image
        self.fit(result.frame.size)
        canvas = self.canvas
        if image.shape[:2] == canvas.shape[:2]:
            np.copyto(canvas, image[:, :, :3])
        else:
            cv2.resize(image[:, :, :3], (canvas.shape[1], canvas.shape[0]), dst=canvas,
                       interpolation=cv2.INTER_AREA if self.scale < 1 else cv2.INTER_LINEAR)
        renderer.draw(canvas, result, scale=self.scale)
        return canvas
