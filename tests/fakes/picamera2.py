"""A fake of picamera2 (and the bits of libcamera it needs) at picamera2's documented API boundary.

Written from picamera2's own sources (raspberrypi/picamera2: picamera2.py, request.py, controls.py, platform.py,
previews/drm_preview.py, previews/null_preview.py), so code that runs on this fake runs on a Pi:

- ``Picamera2(camera_num)``; ``camera_properties``, ``sensor_resolution``, ``global_camera_info()``;
  ``Picamera2.platform`` is ``Platform.VC4`` (Pi 4 and earlier) or ``Platform.PISP`` (Pi 5), as picamera2 detects it.
- ``create_preview_configuration`` / ``create_video_configuration`` / ``create_still_configuration`` return the
  same dict layout with the same defaults (preview main XBGR8888 640x480, 4 buffers; video main XBGR8888
  1280x720, 6 buffers; lores YUV420 at the main size) and reject the same stream keys.
- ``configure`` runs picamera2's checks: even sizes, known formats, lores no larger than main, and on VC4
  "lores stream must be YUV". It fills in ``stride`` and ``framesize`` like libcamera (rows padded).
- ``capture_request()`` -> request with ``make_array(name)`` (a copy), ``make_buffer``, ``get_metadata()``,
  ``release()``; ``MappedArray(request, name)`` maps the buffer without a copy. A released request's buffers are
  handed back to the camera: the fake scribbles over them, so reading through a stale view shows garbage, and
  using a released request raises. Holding every buffer stalls a real camera; here capture_request raises.
- Memory layouts as picamera2 documents them (request.py's PIL mode table): "RGB888" is B,G,R in memory,
  "BGR888" is R,G,B, "XBGR8888" is R,G,B,255, "XRGB8888" is B,G,R,255, "YUV420" is I420 returned as an
  ``(h*3/2, stride)`` array (Y rows, then U, then V planes, each chroma row half the stride).
- Preview half: ``start_preview(Preview.DRM, x=, y=, width=, height=, transform=)`` (raises when the process
  cannot be DRM master, e.g. a desktop runs; switch ``drm_master``), ``stop_preview()``, ``set_overlay(overlay)``
  with picamera2's rules (4-channel HxWx4; uint8 because DRM copies the bytes into an AB24 buffer; None clears;
  DRM needs the camera configured with ``buffer_count >= 2`` and a frame shown first, else "Overlays not supported
  on this device"), each DRM call allocates a new overlay buffer (``overlay_buffers_allocated``).

Frames show a checkable scene: mid-grey background, a fixed pure-blue block at the top-left (so flips are
visible) and a pure-red block that moves right by 2 % of the width per frame (so frame numbers are visible);
or, with ``video=``, the frames of a video file resized to each stream. hflip/vflip of the transform are applied.

Use ``make_module(platform="vc4"|"pisp", ...)`` to get a fresh module object (pass it where code accepts an
injected ``picamera2`` module; its ``libcamera`` attribute stands in for the libcamera module), or
``install(monkeypatch, ...)`` to put it in ``sys.modules`` as ``picamera2`` / ``libcamera``.
"""

from __future__ import annotations

import threading
import time
import types
from enum import Enum
from pathlib import Path

import numpy as np

# ------------------------------------------------------------------------------------------------ libcamera


class Transform:
    """libcamera.Transform: Transform(hflip=0, vflip=0, transpose=0)."""

    def __init__(self, hflip: int = 0, vflip: int = 0, transpose: int = 0, rotation: int = 0):
        if rotation not in (0, 180):
            raise ValueError("the fake supports rotation 0 or 180 only")
        flip = 1 if rotation == 180 else 0
        self.hflip = int(bool(hflip)) ^ flip
        self.vflip = int(bool(vflip)) ^ flip
        self.transpose = int(bool(transpose))

    def __eq__(self, other):
        return isinstance(other, Transform) and (self.hflip, self.vflip, self.transpose) == (
            other.hflip, other.vflip, other.transpose)

    def __repr__(self):
        return f"<libcamera.Transform 'hflip={self.hflip} vflip={self.vflip} transpose={self.transpose}'>"


class ColorSpace:
    """libcamera.ColorSpace: the presets picamera2 uses. ``ycbcr`` / ``full_range`` drive the fake's YUV encoding."""

    def __init__(self, name: str, ycbcr: str, full_range: bool):
        self.name, self.ycbcr, self.full_range = name, ycbcr, full_range

    @staticmethod
    def Sycc():
        return ColorSpace("sYCC", "Rec601", True)

    @staticmethod
    def Smpte170m():
        return ColorSpace("SMPTE170M", "Rec601", False)

    @staticmethod
    def Rec709():
        return ColorSpace("Rec709", "Rec709", False)

    @staticmethod
    def Raw():
        return ColorSpace("RAW", "None", True)

    def __eq__(self, other):
        return isinstance(other, ColorSpace) and self.name == other.name

    def __repr__(self):
        return f"<libcamera.ColorSpace '{self.name}'>"


# ------------------------------------------------------------------------------------------------ picamera2


class Platform(Enum):
    """picamera2.platform.Platform."""

    VC4 = 0
    PISP = 1


class Preview(Enum):
    """picamera2.Preview."""

    NULL = 0
    DRM = 1
    QT = 2
    QTGL = 3


BYTES_PER_PIXEL = {"RGB888": 3, "BGR888": 3, "XBGR8888": 4, "XRGB8888": 4}
RGB_FORMATS = tuple(BYTES_PER_PIXEL)
YUV_FORMATS = ("YUV420", "YVU420")

SCENE_BACKGROUND = (128, 128, 128)
SCENE_BLUE = (0, 0, 255)  # fixed block, normalized box (x0, y0, x1, y1) below
SCENE_BLUE_BOX = (0.05, 0.05, 0.25, 0.25)
SCENE_RED = (255, 0, 0)  # moving block
SCENE_RED_Y = (0.5, 0.8)
SCENE_RED_WIDTH = 0.2


def scene_red_box(frame_number: int) -> tuple[float, float, float, float]:
    """Where the red block is in frame ``frame_number`` (normalized x0, y0, x1, y1, before any flip)."""
    x0 = 0.3 + 0.02 * (frame_number % 20)
    return (x0, SCENE_RED_Y[0], x0 + SCENE_RED_WIDTH, SCENE_RED_Y[1])


def render_scene(frame_number: int, width: int, height: int) -> np.ndarray:
    """The synthetic scene as RGB uint8 (what the sensor 'sees', before the transform)."""
    image = np.empty((height, width, 3), np.uint8)
    image[:] = SCENE_BACKGROUND
    for box, colour in ((SCENE_BLUE_BOX, SCENE_BLUE), (scene_red_box(frame_number), SCENE_RED)):
        x0, y0, x1, y1 = box
        image[round(y0 * height):round(y1 * height), round(x0 * width):round(x1 * width)] = colour
    return image


def rgb_to_i420(rgb: np.ndarray, stride: int, colour_space: ColorSpace) -> np.ndarray:
    """Encode RGB as the (h*3/2, stride) I420 buffer libcamera hands out (Y plane, then U, then V)."""
    h, w = rgb.shape[:2]
    if colour_space.ycbcr == "Rec709":
        kr, kb = 0.2126, 0.0722
    else:
        kr, kb = 0.299, 0.114
    f = rgb.astype(np.float32)
    y = kr * f[..., 0] + (1 - kr - kb) * f[..., 1] + kb * f[..., 2]
    cb = (f[..., 2] - y) / (2 * (1 - kb))
    cr = (f[..., 0] - y) / (2 * (1 - kr))
    if colour_space.full_range:
        y_out, cb_out, cr_out = y, cb + 128, cr + 128
    else:
        y_out, cb_out, cr_out = 16 + y * 219 / 255, 128 + cb * 224 / 255, 128 + cr * 224 / 255

    def sub(plane):  # 2x2 average, the usual 4:2:0 siting
        return plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    flat = np.zeros(stride * h * 3 // 2, np.uint8)
    ys = flat[:stride * h].reshape(h, stride)
    ys[:, :w] = np.clip(np.rint(y_out), 0, 255)
    half = stride // 2
    u_start, v_start = stride * h, stride * h + half * (h // 2)
    flat[u_start:v_start].reshape(h // 2, half)[:, :w // 2] = np.clip(np.rint(sub(cb_out)), 0, 255)
    flat[v_start:v_start + half * (h // 2)].reshape(h // 2, half)[:, :w // 2] = np.clip(np.rint(sub(cr_out)), 0, 255)
    return flat


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


class _Hardware:
    """What the fake camera system is: the switches a test sets through make_module()."""

    def __init__(self, platform, drm_master, overlay_planes, num_cameras, sensor_resolution, model, video,
                 realtime, stall_while=None):
        self.platform = platform
        self.drm_master = drm_master
        self.overlay_planes = overlay_planes
        self.num_cameras = num_cameras
        self.sensor_resolution = tuple(sensor_resolution)
        self.model = model
        self.video = Path(video) if video is not None else None
        self.realtime = realtime
        self.stall_while = stall_while
        self.instances: list = []
        self._video_frames = None

    def video_frame(self, frame_number: int) -> np.ndarray:
        if self._video_frames is None:
            import cv2
            capture = cv2.VideoCapture(str(self.video))
            frames = []
            while True:
                ok, bgr = capture.read()
                if not ok:
                    break
                frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            capture.release()
            if not frames:
                raise RuntimeError(f"fake picamera2: cannot read video {self.video}")
            self._video_frames = frames
        return self._video_frames[frame_number % len(self._video_frames)]


class CompletedRequest:
    """picamera2.request.CompletedRequest: buffers of one frame, held until release()."""

    def __init__(self, picam2, frame_number: int, buffers: dict, metadata: dict):
        self.picam2 = picam2
        self.frame_number = frame_number
        self.config = dict(picam2.camera_config)
        self.stream_map = {name: name if self.config.get(name) else None for name in ("main", "lores", "raw")}
        self._buffers = buffers
        self._metadata = metadata
        self.ref_count = 1
        self._lock = threading.Lock()

    def _check_alive(self):
        if self.ref_count <= 0:
            raise RuntimeError("CompletedRequest used after release(): its buffers went back to the camera")

    def acquire(self):
        with self._lock:
            if self.ref_count == 0:
                raise RuntimeError("CompletedRequest: acquiring lock with ref_count 0")
            self.ref_count += 1

    def release(self):
        with self._lock:
            self.ref_count -= 1
            if self.ref_count < 0:
                raise RuntimeError("CompletedRequest: lock now has negative ref_count")
            if self.ref_count == 0:
                for buffer in self._buffers.values():
                    buffer[:] = 0x55  # the camera refills recycled buffers: stale views see garbage
                self.picam2._request_released(self)

    def make_buffer(self, name: str) -> np.ndarray:
        self._check_alive()
        if self.stream_map.get(name) is None:
            raise RuntimeError(f"Stream {name!r} is not defined")
        return self._buffers[name].copy()

    def make_array(self, name: str) -> np.ndarray:
        """A 2d image copied out of the named stream (picamera2 Helpers.make_array)."""
        config = self.config[name]
        return _shape_buffer(self.make_buffer(name), config, copy=True)

    def get_metadata(self) -> dict:
        self._check_alive()
        return dict(self._metadata)


def _shape_buffer(flat: np.ndarray, config: dict, copy: bool) -> np.ndarray:
    fmt, (w, h), stride = config["format"], config["size"], config["stride"]
    if fmt in RGB_FORMATS:
        channels = BYTES_PER_PIXEL[fmt]
        array = flat.reshape(h, stride)[:, :w * channels]
        if copy:
            array = np.ascontiguousarray(array)
        return array.reshape(h, w, channels)
    if fmt in YUV_FORMATS:
        return flat.reshape(h * 3 // 2, stride)
    raise RuntimeError("Format " + fmt + " not supported")


class MappedArray:
    """picamera2.MappedArray: ``with MappedArray(request, "main") as m: m.array`` maps the buffer, no copy."""

    def __init__(self, request, stream, reshape=True, write=True):
        self._request, self._stream, self._reshape = request, stream, reshape
        self._array = None

    def __enter__(self):
        self._request._check_alive()
        flat = self._request._buffers[self._stream]
        self._array = _shape_buffer(flat, self._request.config[self._stream], copy=False) if self._reshape else flat
        return self

    def __exit__(self, *exc):
        self._array = None

    @property
    def array(self):
        return self._array


class _Preview:
    def __init__(self, kind: Preview, kwargs: dict):
        self.kind = kind
        self.x, self.y = kwargs.get("x", 0), kwargs.get("y", 0)
        self.width, self.height = kwargs.get("width", 640), kwargs.get("height", 480)
        self.transform = kwargs.get("transform")
        self.overlay = None
        self.overlay_plane = False  # DRM reserves it when the first frame is shown


class Picamera2:
    """picamera2.Picamera2 bound to one fake camera system (make_module gives each module its own subclass)."""

    _hw: _Hardware = None
    platform = Platform.VC4

    # Controls every Raspberry Pi camera advertises that the fake understands.
    _CONTROLS = ("FrameDurationLimits", "ExposureTime", "AnalogueGain", "AeEnable", "AwbEnable", "NoiseReductionMode",
                 "ScalerCrop", "Brightness", "Contrast")

    @classmethod
    def global_camera_info(cls) -> list:
        return [{"Model": cls._hw.model, "Location": 2, "Rotation": 0,
                 "Id": f"/base/soc/i2c0mux/i2c@{i}/{cls._hw.model}@10", "Num": i}
                for i in range(cls._hw.num_cameras)]

    def __init__(self, camera_num: int = 0, verbose_console=None, tuning=None, allocator=None):
        self._preview = None
        self.is_open = False
        try:
            self.camera_idx = self.global_camera_info()[camera_num]["Num"]
        except IndexError:
            raise IndexError("list index out of range") from None  # what picamera2 raises for a missing camera
        if any(other.is_open and other.camera_idx == self.camera_idx for other in self._hw.instances):
            # libcamera hands a camera to one owner at a time; picamera2 then fails in its constructor.
            raise RuntimeError("Failed to acquire camera: Device or resource busy")
        self.camera = f"camera{self.camera_idx}"
        self.is_open = True
        self.camera_config = None
        self.started = False
        self.sensor_resolution = self._hw.sensor_resolution
        self.camera_properties_ = {"Model": self._hw.model, "PixelArraySize": self._hw.sensor_resolution,
                                   "ColorFilterArrangement": 0, "Location": 2, "Rotation": 0}
        self.controls_set: dict = {}
        self.frames = 0
        self.configure_count = 0
        self.stop_count = 0
        self.requests_captured = 0
        self.requests_outstanding = 0
        self.overlay_calls: list = []
        self.overlay_buffers_allocated = 0
        self.preview_history: list = []
        self._lock = threading.Lock()
        self._t0 = None
        self._last_frame = -1
        self._last_timestamp_ns = int(1e9)
        self._hw.instances.append(self)

    # -- properties
    @property
    def camera_properties(self) -> dict:
        return {} if self.camera is None else dict(self.camera_properties_)

    @property
    def camera_controls(self) -> dict:
        return {"FrameDurationLimits": (33333, 1000000, 33333), "ExposureTime": (75, 66666, 20000),
                "AnalogueGain": (1.0, 16.0, 1.0), "NoiseReductionMode": (0, 4, 0)}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- configuration
    @staticmethod
    def _make_initial_stream_config(stream_config: dict, updates: dict | None) -> dict | None:
        if updates is None:
            return None
        valid = ("format", "size", "stride", "preserve_ar")
        for key, value in updates.items():
            if key not in valid:
                raise ValueError(f"Bad key {key!r}: valid stream configuration keys are {valid}")
            stream_config[key] = value
        return stream_config

    @classmethod
    def align_stream(cls, stream_config: dict, optimal: bool = True) -> None:
        align = 2
        if optimal:
            align = 32 if cls.platform == Platform.VC4 else 64
            if stream_config["format"] in YUV_FORMATS:
                align *= 2
            elif stream_config["format"] in ("XBGR8888", "XRGB8888"):
                align //= 2
        w, h = stream_config["size"]
        stream_config["size"] = (w - w % align, h - h % 2)

    @classmethod
    def align_configuration(cls, config: dict, optimal: bool = True) -> None:
        cls.align_stream(config["main"], optimal=optimal)
        if config.get("lores") is not None:
            cls.align_stream(config["lores"], optimal=optimal)

    def _create(self, use_case, main_default, buffer_default, main, lores, raw, transform, colour_space,
                buffer_count, controls, display, encode, queue, sensor):
        if self.camera is None:
            raise RuntimeError("Camera not opened")
        main = self._make_initial_stream_config({"format": main_default[0], "size": main_default[1],
                                                 "preserve_ar": True}, dict(main))
        self.align_stream(main, optimal=False)
        lores = self._make_initial_stream_config({"format": "YUV420", "size": main["size"], "preserve_ar": False},
                                                 None if lores is None else dict(lores))
        if lores is not None:
            self.align_stream(lores, optimal=False)
        raw = self._make_initial_stream_config({"format": "SBGGR10_CSI2P", "size": main["size"]},
                                               None if raw is None else {k: v for k, v in raw.items()
                                                                         if k in ("format", "size")})
        if colour_space is None:
            colour_space = (ColorSpace.Smpte170m() if main["size"][0] < 1280 or main["size"][1] < 720
                            else ColorSpace.Rec709())
        config = {"use_case": use_case, "transform": Transform() if transform is None else transform,
                  "colour_space": colour_space,
                  "buffer_count": buffer_default if buffer_count is None else buffer_count, "queue": queue,
                  "main": main, "lores": lores, "raw": raw, "controls": dict(controls), "sensor": sensor}
        for stream, role in ((display, "Display"), (encode, "Encode")):
            if stream is not None and config.get(stream) is None:
                raise RuntimeError(f"{role} stream {stream} was not defined")
        config["display"], config["encode"] = display, encode
        return config

    def create_preview_configuration(self, main={}, lores=None, raw={}, transform=None, colour_space=None,
                                     buffer_count=4, controls={}, display="main", encode="main", queue=True,
                                     sensor={}, use_case="preview") -> dict:
        return self._create(use_case, ("XBGR8888", (640, 480)), 4, main, lores, raw, transform,
                            ColorSpace.Sycc() if colour_space is None else colour_space, buffer_count, controls,
                            display, encode, queue, sensor)

    def create_video_configuration(self, main={}, lores=None, raw={}, transform=None, colour_space=None,
                                   buffer_count=6, controls={}, display="main", encode="main", queue=True,
                                   sensor={}, use_case="video") -> dict:
        return self._create(use_case, ("XBGR8888", (1280, 720)), 6, main, lores, raw, transform, colour_space,
                            buffer_count, controls, display, encode, queue, sensor)

    def create_still_configuration(self, main={}, lores=None, raw={}, transform=None, colour_space=None,
                                   buffer_count=1, controls={}, display=None, encode=None, queue=True,
                                   sensor={}, use_case="still") -> dict:
        return self._create(use_case, ("BGR888", self.sensor_resolution), 1, main, lores, raw, transform,
                            ColorSpace.Sycc() if colour_space is None else colour_space, buffer_count, controls,
                            display, encode, queue, sensor)

    def _check_stream_config(self, stream_config, name):
        if type(stream_config) is not dict:
            raise RuntimeError(name + " stream should be a dictionary")
        for key in ("format", "size"):
            if key not in stream_config:
                raise RuntimeError(f"{key} not found in {name} stream")
        fmt = stream_config["format"]
        if type(fmt) is not str:
            raise RuntimeError("format in " + name + " stream should be a string")
        if name != "raw" and fmt not in RGB_FORMATS + YUV_FORMATS:
            raise RuntimeError("Bad format " + fmt + " in stream " + name)
        size = stream_config["size"]
        if type(size) is not tuple or len(size) != 2:
            raise RuntimeError("size in " + name + " stream should be (width, height)")
        if size[0] % 2 or size[1] % 2:
            raise RuntimeError("width and height should be even")

    def _stride(self, fmt: str, width: int) -> int:
        pisp = self.platform == Platform.PISP
        if fmt in YUV_FORMATS:
            return _align(width, 128 if pisp else 64)
        return _align(width * BYTES_PER_PIXEL[fmt], 64 if pisp else 32)

    def configure(self, camera_config=None) -> None:
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        if camera_config is None or camera_config == "preview":
            camera_config = self.create_preview_configuration()
        elif camera_config == "video":
            camera_config = self.create_video_configuration()
        elif camera_config == "still":
            camera_config = self.create_still_configuration()
        config = dict(camera_config)
        for key in ("colour_space", "transform", "main", "lores", "raw"):
            if key not in config:
                raise RuntimeError(f"{key!r} key expected in camera configuration")
        if not isinstance(config["transform"], Transform):
            raise RuntimeError("Transform has incorrect type")
        if not isinstance(config["colour_space"], ColorSpace):
            raise RuntimeError("Colour space has incorrect type")
        self._check_stream_config(config["main"], "main")
        if config["lores"] is not None:
            self._check_stream_config(config["lores"], "lores")
            (mw, mh), (lw, lh) = config["main"]["size"], config["lores"]["size"]
            if lw > mw or lh > mh:
                raise RuntimeError("lores stream dimensions may not exceed main stream")
            if self.platform == Platform.VC4 and config["lores"]["format"] not in YUV_FORMATS:
                raise RuntimeError("lores stream must be YUV")
        if config["raw"] is not None:
            self._check_stream_config(config["raw"], "raw")
        for name in ("main", "lores"):
            if config[name] is not None:
                stream = dict(config[name])
                w, h = stream["size"]
                stream["stride"] = self._stride(stream["format"], w)
                stream["framesize"] = stream["stride"] * (h * 3 // 2 if stream["format"] in YUV_FORMATS else h)
                config[name] = stream
        config["controls"] = dict(config.get("controls", {}))
        self.camera_config = config
        self.controls_set = {}
        self.set_controls(config["controls"])
        self.configure_count += 1

    def camera_configuration(self) -> dict:
        return self.camera_config

    def stream_configuration(self, name="main") -> dict:
        return self.camera_config[name]

    # -- controls
    def set_controls(self, controls: dict) -> None:
        for name, value in controls.items():
            if name == "FrameRate":  # picamera2's virtual control
                rates = value if isinstance(value, (tuple, list)) else (value, value)
                name, value = "FrameDurationLimits", (int(1000000 / rates[1]), int(1000000 / rates[0]))
            if name not in self._CONTROLS:
                raise RuntimeError(f"Control {name} is not advertised by libcamera")
            self.controls_set[name] = value

    @property
    def frame_duration_us(self) -> int:
        limits = self.controls_set.get("FrameDurationLimits", (33333, 33333))
        return int(limits[0])

    # -- running
    def start(self, config=None, show_preview=False) -> None:
        if self.camera_config is None and config is None:
            config = "preview"
        if config is not None:
            self.configure(config)
        if show_preview is not None and self._preview is None:
            self.start_preview(show_preview)
        if self.started:
            return
        self.started = True
        self._t0 = time.monotonic()
        self._last_frame = -1
        self._last_timestamp_ns = int(1e9)
        if self._preview is not None and self._preview.kind == Preview.DRM:
            self._preview.overlay_plane = self._hw.overlay_planes  # first frame shown: planes reserved

    def stop(self) -> None:
        if self.started:
            self.started = False
            self.stop_count += 1

    def close(self) -> None:
        if self._preview is not None:
            self.stop_preview()
        if not self.is_open:
            return
        self.stop()
        self.is_open = False
        self.camera = None
        self.camera_config = None

    def _next_frame_number(self) -> int:
        if not self._hw.realtime:
            return self._last_frame + 1
        duration = self.frame_duration_us / 1e6
        latest = int((time.monotonic() - self._t0) / duration)
        if latest <= self._last_frame:
            wake = self._t0 + (self._last_frame + 1) * duration
            time.sleep(max(0.0, wake - time.monotonic()))
            latest = self._last_frame + 1
        return latest

    def capture_request(self, wait=None, signal_function=None, flush=None):
        if not self.started:
            raise RuntimeError("fake picamera2: capture_request() before start() would wait forever on a Pi")
        while self._hw.stall_while is not None and self._hw.stall_while():
            time.sleep(0.05)  # a camera that stopped delivering: libcamera's wait never returns
        with self._lock:
            if self.requests_outstanding >= self.camera_config["buffer_count"]:
                raise RuntimeError(f"fake picamera2: the application holds all {self.requests_outstanding} "
                                   "buffers; a real camera stalls here. release() requests promptly")
            number = self._next_frame_number()
            duration = self.frame_duration_us
            # The sensor clock runs on by the current frame duration a frame, as auto-exposure changes it.
            timestamp_ns = self._last_timestamp_ns + (number - self._last_frame) * duration * 1000
            self._last_frame, self._last_timestamp_ns = number, timestamp_ns
            self.requests_outstanding += 1
            self.requests_captured += 1
            self.frames = number + 1
        buffers = {name: self._render_stream(name, number) for name in ("main", "lores")
                   if self.camera_config.get(name) is not None}
        metadata = {"SensorTimestamp": timestamp_ns, "FrameDuration": duration,
                    "ExposureTime": min(duration, 20000), "AnalogueGain": 1.0, "DigitalGain": 1.0}
        return CompletedRequest(self, number, buffers, metadata)

    def _request_released(self, request):
        with self._lock:
            self.requests_outstanding -= 1

    def capture_array(self, name="main", wait=None, signal_function=None):
        request = self.capture_request()
        try:
            return request.make_array(name)
        finally:
            request.release()

    def capture_metadata(self, wait=None, signal_function=None):
        request = self.capture_request()
        try:
            return request.get_metadata()
        finally:
            request.release()

    def _render_stream(self, name: str, number: int) -> np.ndarray:
        stream = self.camera_config[name]
        w, h = stream["size"]
        if self._hw.video is not None:
            import cv2
            rgb = cv2.resize(self._hw.video_frame(number), (w, h), interpolation=cv2.INTER_AREA)
        else:
            rgb = render_scene(number, w, h)
        transform = self.camera_config["transform"]
        if transform.hflip:
            rgb = rgb[:, ::-1]
        if transform.vflip:
            rgb = rgb[::-1]
        fmt, stride = stream["format"], stream["stride"]
        if fmt in YUV_FORMATS:
            flat = rgb_to_i420(rgb, stride, self.camera_config["colour_space"])
            if fmt == "YVU420":  # V plane before U
                y_size, chroma = stride * h, (stride // 2) * (h // 2)
                u = flat[y_size:y_size + chroma].copy()
                flat[y_size:y_size + chroma] = flat[y_size + chroma:y_size + 2 * chroma]
                flat[y_size + chroma:y_size + 2 * chroma] = u
            return flat
        memory_order = {"RGB888": rgb[..., ::-1], "BGR888": rgb}.get(fmt)
        if memory_order is None:
            alpha = np.full((h, w, 1), 255, np.uint8)
            memory_order = np.concatenate([rgb if fmt == "XBGR8888" else rgb[..., ::-1], alpha], axis=2)
        flat = np.zeros(stride * h, np.uint8)
        rows = flat.reshape(h, stride)
        rows[:, :memory_order.shape[1] * memory_order.shape[2]] = memory_order.reshape(h, -1)
        return flat

    # -- preview
    def start_preview(self, preview=False, **kwargs) -> None:
        if self._preview is not None:
            raise RuntimeError("An event loop is already running")
        if preview is True:
            preview = Preview.DRM
        if not preview:
            preview = Preview.NULL
        if not isinstance(preview, Preview):
            raise TypeError("fake picamera2 accepts Preview enum values, True, False or None")
        if preview == Preview.DRM and not self._hw.drm_master:
            # On a Pi with a desktop running, DRM planes belong to the compositor (pykms raises in DrmPreview).
            raise RuntimeError("Failed to reserve DRM plane: another process is DRM master (a desktop is running)")
        if preview in (Preview.QT, Preview.QTGL):
            raise RuntimeError("fake picamera2: Qt previews need a desktop, which this appliance does not use")
        self._preview = _Preview(preview, kwargs)
        self.preview_history.append((preview, dict(kwargs)))
        if preview == Preview.DRM and self.started:
            self._preview.overlay_plane = self._hw.overlay_planes

    def stop_preview(self) -> None:
        if self._preview is None:
            raise RuntimeError("No preview specified.")
        self._preview = None

    @property
    def preview(self):
        """The fake's record of the running preview (kind, x, y, width, height, transform, overlay) or None."""
        return self._preview

    def set_overlay(self, overlay) -> None:
        if overlay is not None and (overlay.ndim != 3 or overlay.shape[2] != 4):
            raise RuntimeError("Overlay must be a 4-channel image")
        if self._preview is None:
            raise AttributeError("'NoneType' object has no attribute 'set_overlay' (no preview was started)")
        self.overlay_calls.append(None if overlay is None else np.array(overlay, copy=True))
        if self._preview.kind != Preview.DRM:
            return  # NullPreview.set_overlay does nothing
        if self.camera_config is None:
            raise RuntimeError("Preview must be configured before setting an overlay")
        if self.camera_config["buffer_count"] < 2:
            raise RuntimeError("Need at least buffer_count=2 to set overlay")
        if not self._preview.overlay_plane:
            raise RuntimeError("Overlays not supported on this device")
        if overlay is not None:
            if overlay.dtype != np.uint8:
                raise ValueError(f"data out of range (DRM copies h*w*4 bytes; overlay dtype is {overlay.dtype}, "
                                 "must be uint8)")
            self.overlay_buffers_allocated += 1  # a new AB24 DumbFramebuffer on every call
        self._preview.overlay = None if overlay is None else np.array(overlay, copy=True)


def make_module(*, platform: str | Platform = "vc4", drm_master: bool = True, overlay_planes: bool = True,
                num_cameras: int = 1, sensor_resolution=(3280, 2464), model: str = "imx219",
                video: str | Path | None = None, realtime: bool = False, stall_while=None) -> types.ModuleType:
    """A fresh fake ``picamera2`` module.

    platform: "vc4" (Pi 4 and earlier) or "pisp" (Pi 5). drm_master: False makes start_preview(Preview.DRM)
    fail as with a desktop running. overlay_planes: False = a display without a spare plane. realtime: frames
    come at the FrameDurationLimits pace and frames nobody captured are skipped (metadata says which);
    otherwise every capture_request returns the next frame at once. stall_while: a callable; while it returns
    True, capture_request blocks like a camera that stopped delivering.
    """
    if isinstance(platform, str):
        platform = {"vc4": Platform.VC4, "pi4": Platform.VC4, "pisp": Platform.PISP, "pi5": Platform.PISP}[
            platform.lower()]
    hw = _Hardware(platform, drm_master, overlay_planes, num_cameras, sensor_resolution, model, video, realtime,
                   stall_while)
    camera_class = type("Picamera2", (Picamera2,), {"_hw": hw, "platform": platform})

    module = types.ModuleType("picamera2", "fake picamera2 (tests/fakes/picamera2.py)")
    module.Picamera2 = camera_class
    module.Preview = Preview
    module.MappedArray = MappedArray
    module.CompletedRequest = CompletedRequest
    module.platform = types.ModuleType("picamera2.platform")
    module.platform.Platform = Platform
    module.platform.get_platform = lambda: platform
    module.libcamera = types.ModuleType("libcamera", "fake libcamera")
    module.libcamera.Transform = Transform
    module.libcamera.ColorSpace = ColorSpace
    module.hardware = hw  # test-side view: hw.instances lists every Picamera2 made
    return module


def install(monkeypatch, **kwargs) -> types.ModuleType:
    """Put a fresh fake in sys.modules as ``picamera2``, ``picamera2.platform`` and ``libcamera``."""
    module = make_module(**kwargs)
    monkeypatch.setitem(__import__("sys").modules, "picamera2", module)
    monkeypatch.setitem(__import__("sys").modules, "picamera2.platform", module.platform)
    monkeypatch.setitem(__import__("sys").modules, "libcamera", module.libcamera)
    return module
