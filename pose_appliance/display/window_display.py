"""A window (or the whole screen) through pygame/SDL2: x11 or wayland on a desktop, kmsdrm on a console.

Left to itself, SDL ends up on its off-screen driver when it finds no screen: it "opens" a window nobody can
see. So without a configured driver only the drivers that show something are offered to SDL (wayland or x11 when
their session variables are set, then kmsdrm), and an off-screen or dummy driver that SDL still picks is an error,
so the appliance says there is no screen and runs headless like any other failed display.

The composed RGB canvas is wrapped once in a pygame surface that shares its memory, so each frame is drawn once
and blitted to the screen without another conversion or copy in Python.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from pose_appliance.config import WindowDisplayConfig
from pose_appliance.display.compositor import Compositor
from pose_appliance.display.display import Display, DisplayError
from pose_appliance.render.renderer import Renderer
from pose_appliance.types import FrameResult

INVISIBLE_DRIVERS = ("offscreen", "dummy")


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
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        try:
            import pygame
        except ImportError:
            raise DisplayError("display.type = \"window\" needs pygame: pip install pygame (or the project's "
                               "[window] extra)") from None
        asked = self.driver or os.environ.get("SDL_VIDEODRIVER", "")
        try:
            with _sdl_video_driver(asked or ",".join(visible_drivers())):
                pygame.display.init()
            driver = pygame.display.get_driver()
            if driver in INVISIBLE_DRIVERS and driver not in asked.split(","):
                raise DisplayError(f"display.window: no screen to open a window on: SDL fell back to its {driver} "
                                   f"driver, which shows nothing ({_no_screen_hint()})")
            flags = pygame.FULLSCREEN if self.fullscreen else 0
            self._screen = pygame.display.set_mode((0, 0) if self.fullscreen else frame_size, flags)
        except pygame.error as exc:
            pygame.display.quit()
            if asked:
                raise DisplayError(f"display.window: SDL cannot open a window with driver {asked}: {exc} (on a "
                                   f"desktop set display.window.driver = \"x11\" or \"wayland\"; on a console "
                                   f"\"kmsdrm\", or use display.type = \"drm\" or \"fbdev\")") from None
            raise DisplayError(f"display.window: no screen to open a window on ({_no_screen_hint()}; SDL: "
                               f"{exc})") from None
        except DisplayError:
            pygame.display.quit()
            raise
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


def visible_drivers() -> list[str]:
    """SDL drivers worth trying here, in SDL's own order: the desktop sessions whose variables are set, then the
    console (kmsdrm). Wayland is left out without WAYLAND_DISPLAY, so libwayland does not complain about
    XDG_RUNTIME_DIR on a machine that has no Wayland at all."""
    drivers = []
    if os.environ.get("WAYLAND_DISPLAY"):
        drivers.append("wayland")
    if os.environ.get("DISPLAY"):
        drivers.append("x11")
    return [*drivers, "kmsdrm"]


def _no_screen_hint() -> str:
    sessions = [f"${name}={os.environ[name]}" for name in ("WAYLAND_DISPLAY", "DISPLAY") if os.environ.get(name)]
    where = (f"the desktop session of {' and '.join(sessions)} did not take a window" if sessions
             else "no desktop session: $DISPLAY and $WAYLAND_DISPLAY are unset")
    return (f"{where}, and kmsdrm found no console screen; run it from a desktop terminal, on a Pi console use "
            "display.type = \"drm\" or \"fbdev\", or watch in a browser with display.type = \"web\"")


@contextlib.contextmanager
def _sdl_video_driver(value: str) -> Iterator[None]:
    """SDL_VIDEODRIVER set to ``value`` (a comma-separated list) while SDL initialises, then restored."""
    saved = os.environ.get("SDL_VIDEODRIVER")
    os.environ["SDL_VIDEODRIVER"] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("SDL_VIDEODRIVER", None)
        else:
            os.environ["SDL_VIDEODRIVER"] = saved
