"""The display interface every target implements."""

from __future__ import annotations

from typing import Protocol

from pose_appliance.render.renderer import Renderer
from pose_appliance.types import FrameResult


class DisplayError(RuntimeError):
    """A display cannot be opened or written: one line saying what is wrong and what to do."""


class Display(Protocol):
    """Shows each frame's result. ``open`` before the first ``show``; ``close`` releases the device.

    ``overlay_only`` displays (DRM) leave the picture to the camera's own preview and draw only the overlay.
    ``status`` is the pipeline's dict: fps (shown per second), model_fps (the model alone), model, delegate,
    label, label_score, hold_s, reps, exercise, frames, dropped. Backends subclass it for the defaults below;
    wrappers (``ResilientDisplay``, the benchmark's timing display) too.
    """

    name: str = "display"

    @property
    def overlay_only(self) -> bool:
        return False

    def open(self, frame_size: tuple[int, int]) -> None:
        """Acquire the device for frames of ``frame_size`` (w, h). Raises ``DisplayError``."""
        return None

    def show(self, result: FrameResult, renderer: Renderer, status: dict) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device; safe to call twice or without open."""
        return None

    def __enter__(self) -> Display:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
