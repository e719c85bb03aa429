"""HDMI without X or DRM: the Linux framebuffer /dev/fbN, memory-mapped.

Geometry comes from sysfs (``<sysfs_root>/class/graphics/fbN/``: ``virtual_size``, ``bits_per_pixel``, ``stride``,
and the visible mode from ``modes`` when listed). sysfs does not give the colour channel offsets, so the pixel
format follows the depth: 16 bpp is RGB565, 32 bpp is XRGB8888 little-endian (bytes B, G, R, X; the Pi's HDMI
default). Each frame is composed once (picture letterboxed + overlay) and converted straight into the mapped
screen; the black bars are painted once.
"""

from __future__ import annotations

import mmap
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from pose_appliance.config import FbdevDisplayConfig
from pose_appliance.display.compositor import Compositor
from pose_appliance.display.display import Display, DisplayError
from pose_appliance.render.renderer import Renderer
from pose_appliance.types import FrameResult

# bits_per_pixel -> (bytes per pixel, OpenCV conversion from RGB, name)
PIXEL_FORMATS = {16: (2, "COLOR_RGB2BGR565", "RGB565"), 32: (4, "COLOR_RGB2BGRA", "XRGB8888")}


class FbdevDisplay(Display):
    name = "fbdev"

    def __init__(self, fbdev_config: FbdevDisplayConfig, *, camera: Any = None, sysfs_root: str = "/sys"):
        """``sysfs_root`` is where sysfs is mounted (tests and the benchmark give a fake tree)."""
        self.device = Path(fbdev_config.device)
        self.sysfs_dir = Path(sysfs_root) / "class" / "graphics" / self.device.name
        self.size: tuple[int, int] = (0, 0)
        self.bits_per_pixel = 0
        self.stride = 0
        self.pixel_format = ""
        self._fd: int | None = None
        self._map: mmap.mmap | None = None
        self._screen: np.ndarray | None = None
        self._conversion = 0
        self._compositor = Compositor()  # its output size is set when the framebuffer opens

    def open(self, frame_size: tuple[int, int]) -> None:
        import cv2

        if not self.device.exists():
            raise DisplayError(f"display.fbdev.device: {self.device} does not exist (no framebuffer here: "
                               f"`ls /dev/fb*` lists them; or choose another display.type, e.g. drm or web)")
        self._read_geometry()
        bytes_per_pixel, conversion, self.pixel_format = PIXEL_FORMATS[self.bits_per_pixel]
        self._conversion = getattr(cv2, conversion)
        width, height = self.size
        length = self.stride * height
        try:
            fd = os.open(self.device, os.O_RDWR)
        except OSError as exc:
            raise DisplayError(f"display.fbdev.device: cannot open {self.device}: {exc.strerror} (the service "
                               f"user needs to be in the 'video' group)") from None
        try:
            if self.device.is_file() and os.fstat(fd).st_size < length:
                raise DisplayError(f"display.fbdev.device: {self.device} holds {os.fstat(fd).st_size} bytes, "
                                   f"less than stride x height = {length} from {self.sysfs_dir}")
            self._map = mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError as exc:
            os.close(fd)
            raise DisplayError(f"display.fbdev.device: cannot map {length} bytes of {self.device}: "
                               f"{exc.strerror}") from None
        except DisplayError:
            os.close(fd)
            raise
        self._fd = fd
        self._screen = np.ndarray((height, width, bytes_per_pixel), np.uint8, buffer=self._map,
                                  strides=(self.stride, bytes_per_pixel, 1))
        self._compositor = Compositor(self.size)
        self._compositor.fit(frame_size)
        self._screen[:] = 0

    def show(self, result: FrameResult, renderer: Renderer, status: dict) -> None:
        import cv2

        if self._screen is None:
            raise DisplayError("fbdev display used before open()")
        if self._compositor.fit(result.frame.size):
            self._screen[:] = 0
        canvas = self._compositor.compose(result, renderer)
        x, y, w, h = self._compositor.rect
        cv2.cvtColor(canvas, self._conversion, dst=self._screen[y:y + h, x:x + w])

    def close(self) -> None:
        """Black screen (no frozen last frame after the appliance stops), then release the device."""
        if self._screen is not None:
            self._screen[:] = 0
        self._screen = None  # drop the view before unmapping
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _read_geometry(self) -> None:
        def read(name: str) -> str:
            try:
                return (self.sysfs_dir / name).read_text().strip()
            except OSError:
                raise DisplayError(f"display.fbdev: cannot read {self.sysfs_dir / name} (is {self.device} a "
                                   f"framebuffer? set display.fbdev.device to one of /dev/fb*)") from None

        try:
            virtual_w, virtual_h = (int(v) for v in read("virtual_size").split(","))
            self.bits_per_pixel = int(read("bits_per_pixel"))
            self.stride = int(read("stride"))
        except ValueError:
            raise DisplayError(f"display.fbdev: unreadable virtual_size, bits_per_pixel or stride in {self.sysfs_dir} "
                               "(is sysfs mounted at /sys?)") from None
        if self.bits_per_pixel not in PIXEL_FORMATS:
            raise DisplayError(f"display.fbdev: {self.device} is {self.bits_per_pixel} bits per pixel; supported "
                               f"are 16 (RGB565) and 32 (XRGB8888) (set it with `fbset -depth 32`)")
        width, height = virtual_w, virtual_h
        # The visible mode may be smaller than the virtual screen (panning / double buffering).
        try:
            mode = (self.sysfs_dir / "modes").read_text().split()
        except OSError:
            mode = []
        match = re.search(r"(\d+)x(\d+)", mode[0]) if mode else None
        if match and int(match[1]) <= virtual_w and int(match[2]) <= virtual_h:
            width, height = int(match[1]), int(match[2])
        if self.stride < width * PIXEL_FORMATS[self.bits_per_pixel][0] or width <= 0 or height <= 0:
            raise DisplayError(f"display.fbdev: inconsistent geometry in {self.sysfs_dir}: {width}x{height}, "
                               f"{self.bits_per_pixel} bpp, stride {self.stride}")
        self.size = (width, height)
