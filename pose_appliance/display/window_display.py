"""A window (or the whole screen) through pygame/SDL2: x11 or wayland on a desktop, kmsdrm on a console.

The composed RGB canvas is wrapped once in a pygame surface that shares its memory, so each frame is drawn once
and blitted to the screen without another conversion or copy in Python.
"""

from __future__ import annotations

import os
from typing import Any

from pose_appliance.config import WindowDisplayConfig
from pose_appliance.display.compositor import Compositor
from pose_appliance.display.display import Display, DisplayError
from pose_appliance.render.renderer import Renderer
from pose_appliance.types import FrameResult


class WindowDisplay(Display):
    name = "window"

    def __init__(self, window_config: WindowDisplayConfig, *, camera: Any = None):
        self.title = window_config.title
        self.fullscreen = window_config.fullscreen
        self.driver = window_config.driver
        self.size: tuple[int, int] | None = None
        self._pygame: Any = None
        self._screen: Any = None
        self._surface: Any = None
        self._compositor = Compositor()  # its output size is set when the window opens

    def open(self, frame_size: tuple[int, int]) -> None:
        if self.driver:
            os.environ["SDL_VIDEODRIVER"] = self.driver
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        try:
            import pygame
        except ImportError:
            raise DisplayError("display.type = \"window\" needs pygame: pip install pygame (or the project's "
                               "[window] extra)") from None
        try:
            pygame.display.init()
            flags = pygame.FULLSCREEN if self.fullscreen else 0
            self._screen = pygame.display.set_mode((0, 0) if self.fullscreen else frame_size, flags)
        except pygame.error as exc:
            pygame.display.quit()
            driver = self.driver or os.environ.get("SDL_VIDEODRIVER") or "SDL's choice"
            raise DisplayError(f"display.window: SDL cannot open a window with driver {driver}: {exc} (on a "
                               f"desktop set display.window.driver = \"x11\" or \"wayland\"; on a console "
                               f"\"kmsdrm\", or use display.type = \"drm\" or \"fbdev\")") from None
        pygame.display.set_caption(self.title)
        pygame.mouse.set_visible(not self.fullscreen)
        self._pygame = pygame
        self.size = self._screen.get_size()
        self._compositor = Compositor(self.size)  # the window's size is known now
        self._fit(frame_size)

    def show(self, result: FrameResult, renderer: Renderer, status: dict) -> None:
        pygame = self._pygame
        if pygame is None:
            raise DisplayError("window display used before open()")
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                raise DisplayError("the window was closed")
        self._fit(result.frame.size)
        self._compositor.compose(result, renderer)
        x, y, w, h = self._compositor.rect
        self._screen.blit(self._surface, (x, y))
        pygame.display.update((x, y, w, h))

    def close(self) -> None:
        if self._pygame is not None:
            self._pygame.display.quit()
            self._pygame = None
        self._surface = self._screen = None

    def _fit(self, frame_size: tuple[int, int]) -> None:
        if not self._compositor.fit(frame_size) and self._surface is not None:
            return
        canvas, pygame = self._compositor.canvas, self._pygame
        if pygame is None:
            raise DisplayError("window display used before open()")
        # The surface reads the canvas's memory: composing into the canvas updates it.
        self._surface = pygame.image.frombuffer(canvas, (canvas.shape[1], canvas.shape[0]), "RGB")
        self._screen.fill((0, 0, 0))
        pygame.display.flip()
