"""Where frames come from: files, image folders, V4L2 cameras and the Pi camera, plus the capture thread.

``open_source(config.camera, models_dir=..., lores_size=...)`` picks the backend by ``camera.type`` and imports
it lazily; the returned source is not started yet.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from pose_appliance.camera.capture_thread import CaptureThread
from pose_appliance.camera.frame_source import FrameSource, SourceError
from pose_appliance.camera.mailbox import LatestFrameMailbox

if TYPE_CHECKING:
    from pose_appliance.config import CameraConfig

_BACKENDS = {
    "video": ("pose_appliance.camera.video_file_source", "VideoFileSource"),
    "images": ("pose_appliance.camera.image_folder_source", "ImageFolderSource"),
    "opencv": ("pose_appliance.camera.opencv_camera_source", "OpenCVCameraSource"),
    "picamera2": ("pose_appliance.camera.picamera2_source", "Picamera2Source"),
}


def resolve_playback(camera: CameraConfig, *, live_display: bool) -> CameraConfig:
    """The camera config with the files' ``loop``/``realtime`` = "auto" decided: a file is played like a camera,
    in real time and over and over, when someone watches the display live; every frame once when it records."""
    def decided(settings):
        return dataclasses.replace(settings, **{name: live_display for name in ("loop", "realtime")
                                                if getattr(settings, name) == "auto"})
    return dataclasses.replace(camera, video=decided(camera.video), images=decided(camera.images))


def open_source(camera: CameraConfig, *, models_dir: str | Path | None = None,
                lores_size: tuple[int, int] | None = None) -> FrameSource:
    """The frame source ``camera.type`` names, configured but not started. ``lores_size`` (w, h) is the size
    the model reads; only the picamera2 source uses it (its lores stream). Raises SourceError. A file's
    ``loop``/``realtime`` left at "auto" is off here: ``resolve_playback`` decides it from the display first."""
    camera = resolve_playback(camera, live_display=False)
    if camera.type == "video":
        return _video_source(camera, models_dir)
    if camera.type == "images":
        settings = camera.images
        if not settings.path:
            raise SourceError("camera.images.path is empty (give a folder of .jpg/.png images)")
        return _backend("images")(settings.path, loop=settings.loop, fps=settings.fps, realtime=settings.realtime,
                                  width=camera.width, height=camera.height)
    if camera.type == "opencv":
        return _backend("opencv")(camera.opencv.device, width=camera.width, height=camera.height, fps=camera.fps)
    if camera.type == "picamera2":
        return _backend("picamera2")(camera.picamera2, width=camera.width, height=camera.height, fps=camera.fps,
                                     lores_size=lores_size)
    raise SourceError(f"camera.type: unknown source {camera.type!r} (one of {', '.join(_BACKENDS)})")


def lores_size_of(camera: CameraConfig, model_input_size: tuple[int, int] | None) -> tuple[int, int] | None:
    """The lores stream (w, h) the source of ``camera`` opens for a model reading ``model_input_size`` images;
    None for every source but picamera2. A new model that changes it needs the camera restarted."""
    if camera.type != "picamera2":
        return None
    from pose_appliance.camera.picamera2_source import lores_size_for, main_size_for

    return lores_size_for(main_size_for(camera.width, camera.height), model_input_size)


def _video_source(camera: CameraConfig, models_dir: str | Path | None) -> FrameSource:
    settings = camera.video
    path: str | Path = settings.path
    if not path:
        from pose_appliance.modelstore import ModelError, model_file, resolve_models_dir
        try:
            path = model_file("demo_video", resolve_models_dir() if models_dir is None else models_dir)
        except ModelError as exc:  # says which fetch command brings the demo video
            raise SourceError(f"camera.video.path is empty and the demo video is missing: {exc}") from exc
    return _backend("video")(path, loop=settings.loop, realtime=settings.realtime, width=camera.width,
                             height=camera.height)


def _backend(kind: str) -> type:
    import importlib

    module_name, class_name = _BACKENDS[kind]
    return getattr(importlib.import_module(module_name), class_name)


def __getattr__(name: str):
    """Lazy re-exports of the backend classes (``from pose_appliance.camera import Picamera2Source``)."""
    for kind, (_, class_name) in _BACKENDS.items():
        if name == class_name:
            return _backend(kind)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["FrameSource", "SourceError", "LatestFrameMailbox", "CaptureThread", "open_source", "resolve_playback",
           "lores_size_of",
           "VideoFileSource", "ImageFolderSource", "OpenCVCameraSource", "Picamera2Source"]
