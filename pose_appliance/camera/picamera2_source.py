"""The Raspberry Pi camera through picamera2: a display-sized main stream and a model-sized lores stream.

Facts this follows (picamera2's sources, raspberrypi/picamera2):
- ``Picamera2.platform`` is ``Platform.VC4`` on a Pi 4 and earlier, ``Platform.PISP`` on a Pi 5. On VC4 the lores
  stream must be YUV (``configure`` raises "lores stream must be YUV"); on PiSP it may be RGB.
- "RGB888" holds B,G,R in memory; "XBGR8888" holds R,G,B,X. The main stream is XBGR8888: the preview and video
  configurations' default, which the DRM preview can show, and already RGB order.
- ``capture_request()`` hands out the buffers of one frame until ``release()``; holding them stalls the camera.
  ``MappedArray`` reads them without a copy; we copy out exactly once (while converting) and release at once.
- "FrameRate" is picamera2's shorthand for FrameDurationLimits; flips are a libcamera ``Transform``.
- ``start()`` runs a null preview (picamera2's request loop); the DRM display swaps it for ``Preview.DRM`` on
  ``source.picam2`` and sets its overlay there (overlays need ``buffer_count >= 2``).
"""

from __future__ import annotations

import importlib
import logging
import math
import types
from typing import Any

from pose_appliance.camera.frame_source import FrameSource, SourceError
from pose_appliance.camera.pixel_formats import picamera2_to_rgb
from pose_appliance.types import Frame

log = logging.getLogger(__name__)

DEFAULT_SIZE = (640, 480)
MAIN_FORMAT = "XBGR8888"
INSTALL_HINT = ("on Raspberry Pi OS: `sudo apt install python3-picamera2` and make the venv with "
                "--system-site-packages")


def even(value: float) -> int:
    """The nearest even size."""
    return max(2, int(round(value / 2.0)) * 2)


def even_up(value: float) -> int:
    """The smallest even size >= value (ignoring float noise like 256.00000000000003)."""
    return max(2, math.ceil(value / 2.0 - 1e-6) * 2)


def main_size_for(width: int, height: int) -> tuple[int, int]:
    """The main stream (w, h) for ``camera.width``/``camera.height`` (0: the default size), even."""
    return even(width or DEFAULT_SIZE[0]), even(height or DEFAULT_SIZE[1])


def lores_size_for(main_size: tuple[int, int], wanted: tuple[int, int] | None) -> tuple[int, int] | None:
    """The lores (w, h): the main stream's aspect ratio, just large enough to cover ``wanted`` in both directions,
    even, no larger than main. None when no lores stream is wanted or it would be as large as main."""
    if not wanted:
        return None
    main_w, main_h = main_size
    scale = max(wanted[0] / main_w, wanted[1] / main_h)
    if scale >= 1.0:
        return None
    size = (min(main_w, even_up(main_w * scale)), min(main_h, even_up(main_h * scale)))
    return size if size != (main_w, main_h) else None


class Picamera2Source(FrameSource):
    """Frames from a Pi camera. ``Frame.image`` is the main stream (RGB, display size); ``Frame.lores`` the lores
    stream (RGB, about ``lores_size``) when one was asked for. ``picamera2_module`` / ``libcamera_module`` replace
    ``import picamera2`` / ``import libcamera`` (tests pass the fake); both are imported only in ``start()``."""

    name = "picamera2"
    live = True

    def __init__(self, settings: Any, *, width: int = 0, height: int = 0, fps: float = 30.0,
                 lores_size: tuple[int, int] | None = None, picamera2_module: types.ModuleType | None = None,
                 libcamera_module: types.ModuleType | None = None):
        self.settings = settings  # Picamera2SourceConfig: camera_num, hflip, vflip, buffer_count
        self.main_size = main_size_for(width, height)
        self.frame_rate: float | None = float(fps)
        self.lores_size = lores_size_for(self.main_size, lores_size)
        self.lores_format: str | None = None
        self.platform_name: str | None = None
        self._module = picamera2_module
        self._libcamera = libcamera_module
        self._camera = None
        self._last_timestamp: int | None = None
        self._last_duration_us = 0
        self._last_index = -1

    # ------------------------------------------------------------------------------------------ lifecycle
    @property
    def picam2(self):
        """The running ``Picamera2`` object (None before start): the DRM display runs its preview and overlay."""
        return self._camera

    @property
    def picamera2_module(self):
        return self._module

    def start(self) -> None:
        if self._camera is not None:
            return
        picamera2, _ = self._import_modules()
        camera_class = picamera2.Picamera2
        num = self.settings.camera_num
        try:
            cameras = camera_class.global_camera_info()
        except Exception as exc:
            raise SourceError(f"picamera2: cannot list cameras: {exc} (check libcamera with "
                              "`rpicam-hello --list-cameras`)") from exc
        if num >= len(cameras):
            raise SourceError(f"camera.picamera2.camera_num: no camera {num} ({len(cameras)} found; check the "
                              "ribbon cable and `rpicam-hello --list-cameras`)")
        try:
            camera = camera_class(num)
        except Exception as exc:
            raise SourceError(f"picamera2: cannot open camera {num}: {exc} (is another program using it?)") from exc
        try:
            self._configure(camera)
            camera.start()
        except Exception as exc:
            camera.close()
            raise SourceError(f"picamera2: cannot start camera {num}: {exc} (check camera.width, camera.height, "
                              "camera.fps and camera.picamera2.buffer_count)") from exc
        self._camera = camera
        self._last_timestamp = None
        self._last_duration_us = 0
        self._last_index = -1
        self.dropped = 0

    def _import_modules(self) -> tuple[types.ModuleType, types.ModuleType]:
        """(picamera2, libcamera): the modules given to the constructor, else imported now (once)."""
        try:
            if self._module is None:
                self._module = importlib.import_module("picamera2")
            if self._libcamera is None:
                self._libcamera = (getattr(self._module, "libcamera", None)
                                   or importlib.import_module("libcamera"))
        except ImportError as exc:
            raise SourceError(f"camera.type = \"picamera2\": cannot import {exc.name} ({INSTALL_HINT})") from exc
        return self._module, self._libcamera

    def _configure(self, camera) -> None:
        picamera2, libcamera = self._import_modules()
        platform = getattr(picamera2.Picamera2, "platform", None)
        self.platform_name = getattr(platform, "name", "VC4")
        # VC4 (Pi 4) can only give a YUV lores stream; PiSP (Pi 5) can give RGB, saving the conversion.
        self.lores_format = None if self.lores_size is None else (
            "RGB888" if self.platform_name == "PISP" else "YUV420")
        lores = None if self.lores_size is None else {"size": self.lores_size, "format": self.lores_format}
        transform = libcamera.Transform(hflip=int(self.settings.hflip), vflip=int(self.settings.vflip))
        config = camera.create_video_configuration(
            main={"size": self.main_size, "format": MAIN_FORMAT}, lores=lores,
            buffer_count=self.settings.buffer_count, transform=transform,
            colour_space=libcamera.ColorSpace.Sycc(),  # full-range BT.601: what pixel_formats decodes
            controls={"FrameRate": self.frame_rate}, display="main", encode=None)
        camera.configure(config)
        actual = camera.camera_configuration()
        self.main_size = tuple(actual["main"]["size"])
        if actual.get("lores"):
            self.lores_size = tuple(actual["lores"]["size"])
        log.info("picamera2 camera %d (%s): main %dx%d %s, lores %s %s, %d buffers, %.1f fps",
                 self.settings.camera_num, self.platform_name, *self.main_size, MAIN_FORMAT,
                 "x".join(map(str, self.lores_size)) if self.lores_size else "none", self.lores_format or "",
                 self.settings.buffer_count, self.frame_rate)

    def read(self) -> Frame | None:
        camera = self._camera
        if camera is None:
            raise SourceError("Picamera2Source.read() before start()")
        mapped_array = self._module.MappedArray
        request = camera.capture_request()
        try:
            with mapped_array(request, "main") as mapped:
                image = picamera2_to_rgb(mapped.array, MAIN_FORMAT, self.main_size)
            lores = None
            if self.lores_size is not None:
                with mapped_array(request, "lores") as mapped:
                    lores = picamera2_to_rgb(mapped.array, self.lores_format, self.lores_size)
            metadata = request.get_metadata()
        finally:
            request.release()
        return self.make_frame(image, self._frame_index(metadata), lores=lores)

    def _frame_index(self, metadata: dict) -> int:
        """Frames since start, from the sensor timestamps, so frames nobody captured show as gaps. Only the gap
        since the previous frame is measured in frame durations: auto-exposure changes the duration as it goes.
        Where it just changed, the gap is measured in the longer of the two, so a frame taken is never counted
        as dropped (the gap after a long frame is that frame's duration, not the new one's)."""
        timestamp, duration_us = metadata.get("SensorTimestamp"), metadata.get("FrameDuration")
        index = self._last_index + 1
        if timestamp is not None and duration_us:
            if self._last_timestamp is not None:
                period_ns = max(duration_us, self._last_duration_us) * 1000.0
                index += max(0, int(round((timestamp - self._last_timestamp) / period_ns)) - 1)
            self._last_timestamp, self._last_duration_us = timestamp, duration_us
        self.dropped += index - self._last_index - 1
        self._last_index = index
        return index

    def stop(self) -> None:
        camera, self._camera = self._camera, None
        if camera is None:
            return
        try:
            camera.stop()
        finally:
            camera.close()
