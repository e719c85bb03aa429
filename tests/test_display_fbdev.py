"""The fbdev target on a file-backed framebuffer with a fake sysfs tree: pixels, format, stride, letterbox."""

from __future__ import annotations

import functools

import cv2
import numpy as np
import pytest
from conftest import keypoint_xy, save_screenshot

from pose_appliance.config import FbdevDisplayConfig, OverlayConfig
from pose_appliance.display import DisplayError
from pose_appliance.display.fbdev_display import FbdevDisplay
from pose_appliance.render import OverlayRenderer
from pose_appliance.render.overlay_renderer import KEYPOINT_COLOR

SCREEN_W, SCREEN_H = 800, 480
STRIDE_PADDING = 64  # bytes past the visible line, as some drivers have; must stay untouched
UNTOUCHED = 0xAA


def fake_framebuffer(tmp_path, bits_per_pixel, *, name="fb1"):
    stride = SCREEN_W * bits_per_pixel // 8 + STRIDE_PADDING
    sysfs = tmp_path / "sys"
    info = sysfs / "class" / "graphics" / name
    info.mkdir(parents=True)
    (info / "virtual_size").write_text(f"{SCREEN_W},{SCREEN_H}\n")
    (info / "bits_per_pixel").write_text(f"{bits_per_pixel}\n")
    (info / "stride").write_text(f"{stride}\n")
    device = tmp_path / "dev" / name
    device.parent.mkdir()
    device.write_bytes(bytes([UNTOUCHED]) * stride * SCREEN_H)
    make_display = functools.partial(FbdevDisplay, FbdevDisplayConfig(device=str(device)), sysfs_root=str(sysfs))
    return make_display, device, stride


def read_screen(device, stride, bytes_per_pixel):
    raw = np.frombuffer(device.read_bytes(), np.uint8).reshape(SCREEN_H, stride)
    return raw[:, : SCREEN_W * bytes_per_pixel].reshape(SCREEN_H, SCREEN_W, bytes_per_pixel), raw


def show_once(make_display, result):
    """One frame shown; the display stays open (closing blanks the screen)."""
    display = make_display()
    display.open(result.frame.size)
    display.show(result, OverlayRenderer(OverlayConfig()), {})
    return display


# 576x576 frame on 800x480: scaled by 480/576 into x = 160..639, black bars left and right.
SCALE = SCREEN_H / 576
LEFT = (SCREEN_W - SCREEN_H) // 2


def screen_xy(result, name):
    return keypoint_xy(result, name, scale=SCALE, offset=(LEFT, 0))


def test_32bpp_is_xrgb8888_little_endian_letterboxed(tmp_path, result):
    make_display, device, stride = fake_framebuffer(tmp_path, 32)
    display = show_once(make_display, result)
    assert display.pixel_format == "XRGB8888" and display.size == (SCREEN_W, SCREEN_H)
    screen, raw = read_screen(device, stride, 4)
    for name in ("left_hip", "right_knee", "nose"):
        x, y = screen_xy(result, name)
        b, g, r, _ = screen[y, x]
        assert (r, g, b) == KEYPOINT_COLOR, name
    assert not screen[:, :LEFT].any() and not screen[:, LEFT + SCREEN_H:].any()  # black bars
    assert (raw[:, SCREEN_W * 4:] == UNTOUCHED).all()  # stride padding left alone
    rgb = np.ascontiguousarray(screen[:, :, 2::-1])
    picture = cv2.resize(result.frame.image, (SCREEN_H, SCREEN_H), interpolation=cv2.INTER_AREA)
    background = rgb[SCREEN_H - 60:, LEFT:LEFT + SCREEN_H].astype(int)  # floor: no overlay drawn there
    assert np.abs(background - picture[SCREEN_H - 60:]).max() <= 1
    save_screenshot(rgb, "fbdev")


def test_16bpp_is_rgb565(tmp_path, result):
    make_display, device, stride = fake_framebuffer(tmp_path, 16)
    display = show_once(make_display, result)
    assert display.pixel_format == "RGB565"
    screen, raw = read_screen(device, stride, 2)
    pixels = screen.copy().view("<u2")[:, :, 0]
    r, g, b = KEYPOINT_COLOR
    expected = (r >> 3) << 11 | (g >> 2) << 5 | b >> 3
    x, y = screen_xy(result, "left_hip")
    assert pixels[y, x] == expected
    assert not pixels[:, :LEFT].any() and not pixels[:, LEFT + SCREEN_H:].any()
    assert (raw[:, SCREEN_W * 2:] == UNTOUCHED).all()
    red, green, blue = (pixels >> 11) << 3, ((pixels >> 5) & 63) << 2, (pixels & 31) << 3
    picture = cv2.resize(result.frame.image, (SCREEN_H, SCREEN_H), interpolation=cv2.INTER_AREA).astype(int)
    decoded = np.dstack([red, green, blue])[SCREEN_H - 60:, LEFT:LEFT + SCREEN_H].astype(int)
    assert np.abs(decoded - picture[SCREEN_H - 60:]).max() <= 8  # 5/6-bit channels


def test_a_smaller_frame_is_scaled_up_and_the_bars_repainted_when_the_size_changes(tmp_path, result):
    make_display, device, stride = fake_framebuffer(tmp_path, 32)
    display = make_display()
    display.open(result.frame.size)
    renderer = OverlayRenderer(OverlayConfig())
    display.show(result, renderer, {})
    wide = cv2.resize(result.frame.image, (640, 360))
    scaled = type(result)(frame=type(result.frame)(image=wide, index=1, timestamp=0.0), pose=None,
                          decision=result.decision)
    display.show(scaled, renderer, {})
    screen, _ = read_screen(device, stride, 4)
    assert not screen[:15].any() and not screen[-15:].any()  # 16:9 on 800x480: bars top and bottom now
    assert screen[240, 5].any() and screen[240, 795].any()
    display.close()


def test_closing_blanks_the_screen_and_leaves_the_stride_padding(tmp_path, result):
    make_display, device, stride = fake_framebuffer(tmp_path, 32)
    display = show_once(make_display, result)
    assert read_screen(device, stride, 4)[0].any()
    display.close()
    screen, raw = read_screen(device, stride, 4)
    assert not screen.any()
    assert (raw[:, SCREEN_W * 4:] == UNTOUCHED).all()


def test_missing_framebuffer_is_a_clear_error(tmp_path, result):
    display = FbdevDisplay(FbdevDisplayConfig(device=str(tmp_path / "fb7")), sysfs_root=str(tmp_path))
    with pytest.raises(DisplayError, match=r"display\.fbdev\.device: .*fb7 does not exist"):
        display.open((640, 480))


def test_unsupported_depth_is_a_clear_error(tmp_path, result):
    make_display, _, _ = fake_framebuffer(tmp_path, 32)
    (tmp_path / "sys/class/graphics/fb1/bits_per_pixel").write_text("24\n")
    with pytest.raises(DisplayError, match="24 bits per pixel; supported are 16"):
        make_display().open((640, 480))
