"""Real devices, when they are there (`pytest -m hardware` on a Pi); each test skips when its device is absent.

Everywhere else the same code is tested against fakes at the device's API boundary.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from pose_appliance.config import FbdevDisplayConfig, OverlayConfig, Picamera2SourceConfig
from pose_appliance.render import OverlayRenderer
from pose_appliance.types import Frame, FrameResult, LabelDecision

pytestmark = pytest.mark.hardware


def _camera_connected() -> bool:
    if importlib.util.find_spec("picamera2") is None:
        return False
    from picamera2 import Picamera2
    return bool(Picamera2.global_camera_info())


@pytest.mark.skipif(not _camera_connected(), reason="no Pi camera (or picamera2 not importable)")
def test_real_pi_camera_gives_rgb_main_and_lores_frames():
    from pose_appliance.camera import Picamera2Source

    with Picamera2Source(Picamera2SourceConfig(), width=640, height=480, lores_size=(192, 192)) as source:
        frames = [source.read() for _ in range(10)]
    assert all(f.image.shape == (480, 640, 3) and f.image.dtype == np.uint8 for f in frames)
    assert all(f.lores is not None and f.lores.shape[0] >= 192 and f.lores.shape[1] >= 192 for f in frames)
    assert [f.index for f in frames] == sorted({f.index for f in frames})
    assert frames[-1].image.std() > 1.0, "the camera delivered a flat image (lens cap on?)"


@pytest.mark.skipif(not (os.access("/dev/video0", os.R_OK) and Path("/sys/class/video4linux/video0").exists()),
                    reason="no V4L2 camera at /dev/video0")
def test_real_v4l2_camera_gives_frames():
    from pose_appliance.camera import OpenCVCameraSource

    with OpenCVCameraSource("/dev/video0", width=640, height=480, fps=30) as source:
        frames = [source.read() for _ in range(5)]
    assert all(f is not None and f.image.shape == (480, 640, 3) for f in frames)


@pytest.mark.skipif(not (os.access("/dev/fb0", os.W_OK) and Path("/sys/class/graphics/fb0").exists()),
                    reason="no writable framebuffer /dev/fb0")
def test_real_framebuffer_shows_a_frame_and_is_blanked_on_close():
    from pose_appliance.display.fbdev_display import FbdevDisplay

    image = np.zeros((480, 640, 3), np.uint8)
    image[:, :, 1] = 200
    result = FrameResult(frame=Frame(image=image, index=0, timestamp=0.0), pose=None,
                         decision=LabelDecision(label=None))
    display = FbdevDisplay(FbdevDisplayConfig(device="/dev/fb0"))
    display.open((640, 480))
    display.show(result, OverlayRenderer(OverlayConfig()), {})
    width, height = display.size
    shown = np.fromfile("/dev/fb0", np.uint8, count=display.stride * height).reshape(height, display.stride)
    assert shown.any(), "nothing reached the framebuffer"
    display.close()
    blank = np.fromfile("/dev/fb0", np.uint8, count=display.stride * height).reshape(height, display.stride)
    assert not blank[:, : width * display.bits_per_pixel // 8].any()
