"""The baseline display: shows nothing (headless runs, benchmarks)."""

from __future__ import annotations

from pose_appliance.display.display import Display
from pose_appliance.render.renderer import Renderer
from pose_appliance.types import FrameResult


class NullDisplay(Display):
    name = "null"

    def show(self, result: FrameResult, renderer: Renderer, status: dict) -> None:
        pass
