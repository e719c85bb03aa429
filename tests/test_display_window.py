"""The window target: a real pygame/SDL window on Xvfb, checked through an X screenshot (xwd)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

import numpy as np
import pytest
from conftest import keypoint_xy, save_screenshot

from pose_appliance.config import DisplayConfig, OverlayConfig, WindowDisplayConfig
from pose_appliance.display import DisplayError, ResilientDisplay, open_display
from pose_appliance.render import OverlayRenderer
from pose_appliance.render.overlay_renderer import KEYPOINT_COLOR

SCREEN_W, SCREEN_H = 800, 600


@pytest.fixture(scope="module")
def xvfb():
    """An Xvfb server on a display number it picks itself (-displayfd); stopped after the module."""
    binary = shutil.which("Xvfb")
    assert binary, "Xvfb is needed for this test: apt-get install -y xvfb x11-apps"
    read_end, write_end = os.pipe()
    server = subprocess.Popen([binary, "-displayfd", str(write_end), "-screen", "0", f"{SCREEN_W}x{SCREEN_H}x24",
                               "-nolisten", "tcp"], pass_fds=(write_end,), stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        with os.fdopen(read_end) as numbers:
            number = numbers.readline().strip()
        assert number, "Xvfb did not start"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def x_display(xvfb, monkeypatch):
    monkeypatch.setenv("DISPLAY", xvfb)
    monkeypatch.setenv("SDL_VIDEODRIVER", "x11")  # restored after the test; WindowDisplay sets it from config
    return xvfb


def x_screenshot(display: str, *args: str) -> np.ndarray:
    """RGB pixels of the X root window (or of ``-name TITLE``), read from xwd's output."""
    binary = shutil.which("xwd")
    assert binary, "xwd is needed for this test: apt-get install -y x11-apps"
    data = subprocess.run([binary, "-silent", "-display", display, *(args or ("-root",))], capture_output=True,
                          check=True, timeout=30).stdout
    header = np.frombuffer(data[:100], ">u4")
    header_size, width, height, byte_order = header[0], header[4], header[5], header[7]
    bits_per_pixel, bytes_per_line, ncolors = header[11], header[12], header[19]
    red_mask, green_mask, blue_mask = header[14], header[15], header[16]
    assert bits_per_pixel == 32, f"unexpected xwd depth {bits_per_pixel}"
    start = int(header_size + ncolors * 12)
    rows = np.frombuffer(data[start:start + int(bytes_per_line * height)], "<u4" if byte_order == 0 else ">u4")
    pixels = rows.reshape(int(height), int(bytes_per_line) // 4)[:, : int(width)]

    def channel(mask):
        shift = (int(mask) & -int(mask)).bit_length() - 1
        return ((pixels & mask) >> shift).astype(np.uint8)

    return np.dstack([channel(red_mask), channel(green_mask), channel(blue_mask)])


def window_id(display: str, title: str) -> str:
    """X id of the top-level window with this title (xwd -name reads WM_NAME, SDL sets _NET_WM_NAME)."""
    binary = shutil.which("xwininfo")
    assert binary, "xwininfo is needed for this test: apt-get install -y x11-utils"
    tree = subprocess.run([binary, "-root", "-tree", "-display", display], capture_output=True, text=True,
                          check=True, timeout=30).stdout
    match = re.search(rf'^\s+(0x[0-9a-f]+) "{re.escape(title)}"', tree, re.MULTILINE)
    assert match, f"no window titled {title!r}:\n{tree}"
    return match[1]


def screenshot_until(display, check, *args):
    """X draws asynchronously from another client: look again for a moment until ``check`` passes."""
    deadline = time.monotonic() + 5
    while True:
        shot = x_screenshot(display, *args)
        if check(shot) or time.monotonic() > deadline:
            return shot
        time.sleep(0.1)


def window(**settings):
    return open_display(DisplayConfig(type="window", window=WindowDisplayConfig(driver="x11", **settings)))


def test_fullscreen_window_on_x_shows_the_letterboxed_overlay(x_display, result):
    display = window(fullscreen=True)
    display.open(result.frame.size)
    try:
        assert display.size == (SCREEN_W, SCREEN_H)
        display.show(result, OverlayRenderer(OverlayConfig()), {})
        scale, left = SCREEN_H / 576, (SCREEN_W - SCREEN_H) // 2  # 576x576 -> 600x600 at x = 100
        hip = keypoint_xy(result, "left_hip", scale=scale, offset=(left, 0))
        shot = screenshot_until(x_display, lambda s: tuple(s[hip[1], hip[0]]) == KEYPOINT_COLOR)
    finally:
        display.close()
    for name in ("left_hip", "right_knee", "nose"):
        x, y = keypoint_xy(result, name, scale=scale, offset=(left, 0))
        assert tuple(shot[y, x]) == KEYPOINT_COLOR, name
    assert not shot[:, :left].any() and not shot[:, left + SCREEN_H:].any()  # black bars
    assert shot[SCREEN_H - 30, SCREEN_W // 2].mean() > 80  # the (light) floor of the picture
    save_screenshot(shot, "window")


def test_window_has_the_frame_size_and_title(x_display, result):
    display = window(title="pose-appliance test")
    display.open(result.frame.size)
    try:
        display.show(result, OverlayRenderer(OverlayConfig()), {})
        x, y = keypoint_xy(result, "left_hip")
        shot = screenshot_until(x_display, lambda s: s.shape[:2] == (576, 576) and tuple(s[y, x]) == KEYPOINT_COLOR,
                                "-id", window_id(x_display, "pose-appliance test"))
    finally:
        display.close()
    assert shot.shape[:2] == (576, 576)
    assert tuple(shot[y, x]) == KEYPOINT_COLOR


def test_no_x_server_is_a_clear_error_and_resilient_stays_headless(x_display, monkeypatch, result):
    monkeypatch.setenv("DISPLAY", ":1999")  # nothing listens there
    with pytest.raises(DisplayError, match=r"SDL cannot open a window with driver x11: .*display\.window\.driver"):
        window().open(result.frame.size)
    resilient = ResilientDisplay(window, DisplayConfig(type="window"))
    resilient.show(result, OverlayRenderer(OverlayConfig()), {})
    assert resilient.headless and "SDL cannot open a window" in resilient.last_error


def test_without_a_driver_setting_a_desktop_session_gets_its_window(xvfb, monkeypatch, result):
    """No display.window.driver and no SDL_VIDEODRIVER: the X session in $DISPLAY is found by itself."""
    monkeypatch.setenv("DISPLAY", xvfb)
    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    display = open_display(DisplayConfig(type="window", window=WindowDisplayConfig(title="auto driver")))
    display.open(result.frame.size)
    try:
        assert display._pygame.display.get_driver() == "x11"
        display.show(result, OverlayRenderer(OverlayConfig()), {})
        x, y = keypoint_xy(result, "left_hip")
        shot = screenshot_until(xvfb, lambda s: tuple(s[y, x]) == KEYPOINT_COLOR,
                                "-id", window_id(xvfb, "auto driver"))
    finally:
        display.close()
    assert tuple(shot[y, x]) == KEYPOINT_COLOR
    assert "SDL_VIDEODRIVER" not in os.environ  # only set while SDL started


def test_no_screen_at_all_is_said_and_runs_headless(monkeypatch, result):
    """No X, no Wayland, no KMS: SDL would settle on its invisible off-screen driver; we say there is no screen."""
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(name, raising=False)
    display = open_display(DisplayConfig(type="window"))
    with pytest.raises(DisplayError, match=r"no screen to open a window on .*\$DISPLAY and \$WAYLAND_DISPLAY are "
                                           r"unset.*display\.type = \"web\""):
        display.open(result.frame.size)
    resilient = ResilientDisplay(lambda: open_display(DisplayConfig(type="window")), DisplayConfig(type="window"))
    resilient.show(result, OverlayRenderer(OverlayConfig()), {})
    assert resilient.headless and "no screen to open a window on" in resilient.last_error


def test_run_with_a_window_and_no_screen_says_so_on_the_real_stderr(tmp_path, models_dir):
    """The whole command, as a user starts it over SSH: one clear warning, no libwayland noise, frames go on."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER", "XDG_RUNTIME_DIR")}
    run = subprocess.run([sys.executable, "-m", "pose_appliance", "run", "--models-dir", str(models_dir),
                          "--display", "window", "--frames", "20"], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "no screen to open a window on" in run.stderr and "running headless" in run.stderr
    assert "XDG_RUNTIME_DIR" not in run.stderr
    assert run.stdout.startswith("20 frames")
