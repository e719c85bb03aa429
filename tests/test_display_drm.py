"""The DRM target through the picamera2 fake: preview on the screen, overlay plane only when it changed,
"no DRM master" as a clear error, the camera's request loop kept alive when the display goes away."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import keypoint_xy, save_screenshot
from fakes import picamera2 as fake_picamera2

from pose_appliance.config import DisplayConfig, DrmDisplayConfig, OverlayConfig
from pose_appliance.display import DisplayError, ResilientDisplay, letterbox, open_display
from pose_appliance.display.drm_display import DrmDisplay
from pose_appliance.render import OverlayRenderer
from pose_appliance.render.overlay_renderer import KEYPOINT_COLOR

SCREEN = (1920, 1080)


@pytest.fixture
def sysfs(tmp_path):
    drm = tmp_path / "sys" / "class" / "drm"
    for name, status, modes in (("card1-HDMI-A-1", "disconnected", ""),
                                ("card1-HDMI-A-2", "connected", "1920x1080\n1280x720\n")):
        (drm / name).mkdir(parents=True)
        (drm / name / "status").write_text(status + "\n")
        (drm / name / "modes").write_text(modes)
    return tmp_path / "sys"


def started_camera(monkeypatch, size=(576, 576), buffer_count=4, **switches):
    """A picamera2 fake camera as the Picamera2 source leaves it: configured and started (NULL preview)."""
    module = fake_picamera2.install(monkeypatch, **switches)
    picam2 = module.Picamera2()
    picam2.configure(picam2.create_preview_configuration(main={"size": size}, buffer_count=buffer_count))
    picam2.start()
    return SimpleNamespace(picam2=picam2), module


def drm_display(camera, sysfs, fullscreen=True):
    return DrmDisplay(DrmDisplayConfig(fullscreen=fullscreen), camera=camera, sysfs_root=str(sysfs))


def test_overlay_goes_on_its_own_plane_over_the_fullscreen_preview(monkeypatch, sysfs, result):
    camera, module = started_camera(monkeypatch)
    display = drm_display(camera, sysfs)
    display.open(result.frame.size)
    display.show(result, OverlayRenderer(OverlayConfig()), {})
    picam2 = camera.picam2
    assert picam2.preview.kind == module.Preview.DRM
    assert (picam2.preview.x, picam2.preview.y, picam2.preview.width, picam2.preview.height) == (0, 0, *SCREEN)
    overlay = picam2.preview.overlay
    assert overlay.shape == (576, 576, 4) and overlay.dtype == np.uint8
    x, y = keypoint_xy(result, "left_hip")
    assert tuple(overlay[y, x]) == (*KEYPOINT_COLOR, 255)
    assert overlay[-1, 0, 3] == 0 and overlay[300, 20, 3] == 0  # transparent: the camera picture shows
    assert display.overlay_only

    # What the screen shows: the preview letterboxes the camera image and stretches the overlay over it.
    left, top, w, h = letterbox(result.frame.size, SCREEN)
    import cv2
    picture = cv2.resize(result.frame.image, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    plane = cv2.resize(overlay, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    alpha = plane[:, :, 3:] / 255
    screen = np.zeros((SCREEN[1], SCREEN[0], 3), np.uint8)
    screen[top:top + h, left:left + w] = np.rint(plane[:, :, :3] * alpha + picture * (1 - alpha))
    save_screenshot(screen, "drm")


def test_set_overlay_is_called_only_when_the_overlay_changed(monkeypatch, sysfs, result):
    camera, _ = started_camera(monkeypatch)
    display = drm_display(camera, sysfs)
    display.open(result.frame.size)
    renderer = OverlayRenderer(OverlayConfig())
    for _ in range(10):
        display.show(result, renderer, {})
    assert camera.picam2.overlay_buffers_allocated == 1
    display.show(dataclasses.replace(result, fps=12.0), renderer, {})
    moved = result.pose.keypoints.copy()
    moved[:, 0] += 5
    display.show(dataclasses.replace(result, pose=dataclasses.replace(result.pose, keypoints=moved)), renderer, {})
    assert camera.picam2.overlay_buffers_allocated == 3


def test_window_is_centred_when_not_fullscreen(monkeypatch, sysfs, result):
    camera, _ = started_camera(monkeypatch, size=(640, 480))
    display = drm_display(camera, sysfs, fullscreen=False)
    display.open((640, 480))
    preview = camera.picam2.preview
    assert (preview.x, preview.y, preview.width, preview.height) == (640, 300, 640, 480)


def test_no_drm_master_is_a_clear_error_and_the_camera_keeps_running(monkeypatch, sysfs, result):
    camera, module = started_camera(monkeypatch, drm_master=False)
    with pytest.raises(DisplayError, match=r"desktop is running\)\. Boot to the console .* \"window\" or \"web\""):
        drm_display(camera, sysfs).open(result.frame.size)
    assert camera.picam2.preview.kind == module.Preview.NULL
    request = camera.picam2.capture_request()
    request.release()


def test_close_hands_the_camera_back_a_null_preview(monkeypatch, sysfs, result):
    camera, module = started_camera(monkeypatch)
    display = drm_display(camera, sysfs)
    display.open(result.frame.size)
    display.show(result, OverlayRenderer(OverlayConfig()), {})
    display.close()
    assert camera.picam2.preview.kind == module.Preview.NULL
    display.close()  # twice is fine
    assert [kind.name for kind, _ in camera.picam2.preview_history] == ["NULL", "DRM", "NULL"]


def test_other_sources_and_bad_setups_are_clear_errors(monkeypatch, sysfs, result):
    with pytest.raises(DisplayError, match=r'needs camera.type = "picamera2"'):
        drm_display(SimpleNamespace(frame_rate=30.0), sysfs).open(result.frame.size)
    camera, _ = started_camera(monkeypatch, buffer_count=1)
    with pytest.raises(DisplayError, match="buffer_count >= 2"):
        drm_display(camera, sysfs).open(result.frame.size)
    camera, _ = started_camera(monkeypatch)
    (sysfs / "class/drm/card1-HDMI-A-2/status").write_text("disconnected\n")
    with pytest.raises(DisplayError, match="no connected screen"):
        drm_display(camera, sysfs).open(result.frame.size)


def test_no_overlay_plane_is_a_clear_error(monkeypatch, sysfs, result):
    camera, _ = started_camera(monkeypatch, overlay_planes=False)
    display = drm_display(camera, sysfs)
    display.open(result.frame.size)
    monkeypatch.setattr("pose_appliance.display.drm_display.PLANE_GRACE_SECONDS", 0.0)
    with pytest.raises(DisplayError, match="no spare DRM plane"):
        display.show(result, OverlayRenderer(OverlayConfig()), {})


def test_resilient_drm_runs_headless_while_a_desktop_holds_the_screen(monkeypatch, sysfs, result):
    camera, module = started_camera(monkeypatch, drm_master=False)
    display = ResilientDisplay(lambda: DrmDisplay(DrmDisplayConfig(), camera=camera, sysfs_root=str(sysfs)),
                               DisplayConfig(type="drm"))
    for _ in range(5):
        display.show(result, OverlayRenderer(OverlayConfig()), {})
    assert display.headless and "Boot to the console" in display.last_error
    assert camera.picam2.preview.kind == module.Preview.NULL
    display.close()


def test_open_display_builds_the_drm_target(monkeypatch, result):
    camera, _ = started_camera(monkeypatch)
    display = open_display(DisplayConfig(type="drm"), camera=camera)
    assert isinstance(display, DrmDisplay) and display.fullscreen


def test_with_the_picamera2_source_and_a_camera_restart(sysfs, result):
    from pose_appliance.camera.picamera2_source import Picamera2Source
    from pose_appliance.config import Picamera2SourceConfig

    module = fake_picamera2.make_module()  # injected into the source, not installed in sys.modules
    source = Picamera2Source(Picamera2SourceConfig(), width=576, height=576, picamera2_module=module)
    source.start()
    display = ResilientDisplay(lambda: DrmDisplay(DrmDisplayConfig(), camera=source, sysfs_root=str(sysfs)),
                               DisplayConfig(type="drm"))
    renderer = OverlayRenderer(OverlayConfig())
    try:
        display.show(result, renderer, {})
        first = source.picam2
        assert not display.headless and first.preview.kind == module.Preview.DRM
        assert first.overlay_buffers_allocated == 1
        source.stop()  # the pipeline restarts only the camera
        source.start()
        display.show(result, renderer, {})
        assert not display.headless and source.picam2 is not first
        assert source.picam2.preview.kind == module.Preview.DRM
        assert source.picam2.overlay_buffers_allocated == 1  # the same overlay, sent again to the new camera
    finally:
        display.close()
        source.stop()
