"""HDMI on a console-booted Pi: picamera2's DRM preview shows the camera stream, the overlay rides on its own plane.

The picture never passes through Python: the camera's buffers go straight to a DRM plane. This display draws only
the overlay, into a reused transparent RGBA buffer, and hands it to ``Picamera2.set_overlay``. picamera2's rules
(raspberrypi/picamera2, previews/drm_preview.py): the overlay is ``HxWx4`` uint8 (copied into an AB24 = R,G,B,A
buffer; straight, not pre-multiplied alpha) and stretched over the rectangle where the preview letterboxes the
camera image, so it has the camera image's aspect ratio; it needs ``buffer_count >= 2``; the overlay plane exists
only once the preview has shown a frame; and every call allocates a new DRM buffer, so it is called only when
the overlay changed. The preview needs to be DRM master: with a desktop running, the compositor is.
"""

from __future__ import annotations

import importlib
import logging
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from pose_appliance.config import DrmDisplayConfig
from pose_appliance.display.display import Display, DisplayError
from pose_appliance.render.renderer import Renderer
from pose_appliance.types import FrameResult

log = logging.getLogger(__name__)

MAX_OVERLAY_SIDE = 1280  # larger camera streams get a smaller overlay; DRM scales it up
PLANE_GRACE_SECONDS = 2.0  # the overlay plane appears with the preview's first frame

NO_MASTER_HINT = ("the DRM preview cannot take the screen: another program is DRM master (a desktop is running). "
                  "Boot to the console (sudo raspi-config: System Options > Boot > Console) or use "
                  "display.type = \"window\" or \"web\"")


class DrmDisplay(Display):
    name = "drm"
    overlay_only = True

    def __init__(self, drm_config: DrmDisplayConfig, *, camera: Any = None, sysfs_root: str = "/sys"):
        self.fullscreen = drm_config.fullscreen
        self._camera = camera
        self._drm_dir = Path(sysfs_root) / "class" / "drm"
        self._picam2: Any = None
        # Sized by open(): the canvas drawn this frame, what the overlay plane holds, and canvas == shown per
        # pixel (reused every frame).
        self._canvas = np.zeros((0, 0, 4), np.uint8)
        self._shown = np.zeros((0, 0, 4), np.uint8)
        self._same_pixels = np.zeros((0, 0), bool)
        self._opened_at = 0.0
        self.screen_size: tuple[int, int] | None = None
        self.window: tuple[int, int, int, int] | None = None
        self.overlays_sent = 0
        self._plane_current = False  # the overlay plane holds what _shown holds

    def open(self, frame_size: tuple[int, int]) -> None:
        picam2 = getattr(self._camera, "picam2", None)
        if picam2 is None:
            raise DisplayError("display.type = \"drm\" shows the Pi camera's own preview, so it needs "
                               "camera.type = \"picamera2\" (for other sources use fbdev, window or web)")
        self.screen_size = self._connected_screen()
        screen_w, screen_h = self.screen_size
        frame_w, frame_h = frame_size
        if self.fullscreen or frame_w > screen_w or frame_h > screen_h:
            self.window = (0, 0, screen_w, screen_h)
        else:
            self.window = ((screen_w - frame_w) // 2, (screen_h - frame_h) // 2, frame_w, frame_h)
        self._attach(picam2)
        scale = min(1.0, MAX_OVERLAY_SIDE / max(frame_size))
        size = (max(1, round(frame_h * scale)), max(1, round(frame_w * scale)), 4)
        self._canvas = np.zeros(size, np.uint8)
        self._shown = np.zeros(size, np.uint8)
        self._same_pixels = np.empty(size[:2], bool)

    def show(self, result: FrameResult, renderer: Renderer, status: dict) -> None:
        if self.window is None:
            raise DisplayError("drm display used before open()")
        camera_now = getattr(self._camera, "picam2", None)
        if camera_now is not self._picam2:  # the source restarted the camera: its preview went with it
            if camera_now is None:
                raise DisplayError("the camera stopped")
            self._picam2 = None
            self._attach(camera_now)
        canvas = self._canvas
        canvas.fill(0)
        renderer.draw(canvas, result, scale=canvas.shape[1] / result.frame.size[0])
        if self._plane_current and self._unchanged(canvas):
            return
        try:
            camera_now.set_overlay(canvas)  # the camera attached now
        except RuntimeError as exc:
            if "not supported" in str(exc) and time.monotonic() - self._opened_at < PLANE_GRACE_SECONDS:
                return  # the preview has not shown its first frame yet
            if "not supported" in str(exc):
                raise DisplayError("this screen has no spare DRM plane for the overlay (picamera2: "
                                   f"{exc}); use display.type = \"fbdev\" or \"web\"") from None
            raise
        # set_overlay copied the canvas into a DRM buffer: it becomes the shown copy, the old one the next canvas.
        self._canvas, self._shown = self._shown, canvas
        self._plane_current = True
        self.overlays_sent += 1

    def _unchanged(self, canvas: np.ndarray) -> bool:
        """canvas == what the plane shows, one 32-bit pixel at a time into a reused buffer (no per-frame allocation
        of a display-sized array, as np.array_equal would make)."""
        np.equal(canvas.view(np.uint32)[..., 0], self._shown.view(np.uint32)[..., 0], out=self._same_pixels)
        return bool(self._same_pixels.all())

    def close(self) -> None:
        picam2, self._picam2 = self._picam2, None
        if picam2 is None:
            return
        try:
            picam2.stop_preview()
        finally:
            # picamera2 runs its request loop inside the preview: without one, capture_request would stall.
            if getattr(picam2, "started", True):
                picam2.start_preview(self._preview_enum().NULL)

    def _attach(self, picam2: Any) -> None:
        """Show ``picam2``'s stream in a DRM preview; the next overlay is sent whatever it holds."""
        config = getattr(picam2, "camera_config", None)
        if config is not None and config.get("buffer_count", 0) < 2:
            raise DisplayError("the DRM overlay needs camera.picamera2.buffer_count >= 2")
        self._start_preview(picam2)
        self._picam2 = picam2
        self._opened_at = time.monotonic()
        self._plane_current = False

    def _start_preview(self, picam2: Any) -> None:
        preview = self._preview_enum()
        if self.window is None:
            raise DisplayError("drm display used before open()")
        x, y, w, h = self.window
        try:
            try:
                picam2.start_preview(preview.DRM, x=x, y=y, width=w, height=h)
            except RuntimeError as exc:
                if "already running" not in str(exc):
                    raise
                picam2.stop_preview()  # the source's headless (NULL) preview: swap it for DRM
                try:
                    picam2.start_preview(preview.DRM, x=x, y=y, width=w, height=h)
                except Exception:
                    picam2.start_preview(preview.NULL)
                    raise
        except Exception as exc:
            text = str(exc)
            if re.search(r"master|DRM plane|Permission denied|Device or resource busy", text, re.IGNORECASE):
                raise DisplayError(f"{NO_MASTER_HINT} (picamera2: {text})") from None
            raise DisplayError(f"DRM preview failed: {type(exc).__name__}: {text} (use display.type = \"fbdev\" or "
                               "\"web\")") from None

    def _connected_screen(self) -> tuple[int, int]:
        """Size of the first mode of the first connected connector (/sys/class/drm/cardN-HDMI-A-1/...)."""
        for connector in sorted(self._drm_dir.glob("card*-*")):
            try:
                if (connector / "status").read_text().strip() != "connected":
                    continue
                modes = (connector / "modes").read_text().split()
            except OSError:
                continue
            match = re.fullmatch(r"(\d+)x(\d+)\S*", modes[0]) if modes else None
            if match:
                return int(match[1]), int(match[2])
        raise DisplayError(f"no connected screen found in {self._drm_dir} (is the HDMI cable plugged in and the "
                           f"screen on?)")

    def _preview_enum(self) -> Any:
        """picamera2's Preview enum, from the module the source imported (tests inject a fake one)."""
        module = getattr(self._camera, "picamera2_module", None) or importlib.import_module("picamera2")
        return module.Preview
