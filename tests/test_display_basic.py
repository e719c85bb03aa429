"""open_display picks the backend by type; NullDisplay; ResilientDisplay keeps the pipeline running headless."""

from __future__ import annotations

import logging

import numpy as np

from pose_appliance.config import DisplayConfig, OverlayConfig
from pose_appliance.display import Display, DisplayError, NullDisplay, ResilientDisplay, open_display
from pose_appliance.render import OverlayRenderer


class FlakyScreen(Display):
    """A screen that can be unplugged: open and show fail while ``plugged`` is False."""

    name = "flaky"

    def __init__(self, state):
        self.state = state
        state["made"] += 1

    def open(self, frame_size):
        if not self.state["plugged"]:
            raise DisplayError("screen unplugged")
        self.state["opened"] = frame_size

    def show(self, result, renderer, status):
        if not self.state["plugged"]:
            raise OSError(5, "Input/output error")
        self.state["shown"] += 1

    def close(self):
        self.state["closed"] += 1


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_open_display_chooses_by_type(tmp_path):
    assert isinstance(open_display(DisplayConfig(type="null")), NullDisplay)
    record = open_display(DisplayConfig(type="record"))
    assert type(record).__name__ == "RecordDisplay"
    fbdev = open_display(DisplayConfig(type="fbdev"))
    assert type(fbdev).__name__ == "FbdevDisplay" and str(fbdev.device) == "/dev/fb0"


def test_null_display_shows_nothing(result):
    picture = result.frame.image.copy()
    with NullDisplay() as display:
        display.open(result.frame.size)
        display.show(result, OverlayRenderer(OverlayConfig()), {})
    assert not display.overlay_only
    assert np.array_equal(result.frame.image, picture)  # nothing drawn, not even on the frame


def test_resilient_display_runs_headless_logs_once_and_retries(result, caplog):
    state = {"plugged": False, "made": 0, "shown": 0, "closed": 0, "opened": None}
    clock = Clock()
    display = ResilientDisplay(lambda: FlakyScreen(state), DisplayConfig(type="fbdev", retry_seconds=5),
                               clock=clock)
    renderer = OverlayRenderer(OverlayConfig())
    with caplog.at_level(logging.INFO, logger="pose_appliance.display.resilient_display"):
        for _ in range(50):  # unplugged from the start: opened lazily on the first frame, fails once
            display.show(result, renderer, {})
        assert display.headless and state["made"] == 1 and state["shown"] == 0
        clock.now += 5.1
        for _ in range(10):  # one retry, same reason: not logged again
            display.show(result, renderer, {})
        assert state["made"] == 2
        state["plugged"] = True
        clock.now += 5.1
        display.show(result, renderer, {})
        assert not display.headless and state["opened"] == result.frame.size and state["shown"] == 1
        state["plugged"] = False  # unplugged while showing: closed, headless, reopened later
        for _ in range(20):
            display.show(result, renderer, {})
        assert display.headless and state["closed"] >= 1
        state["plugged"] = True
        clock.now += 5.1
        display.show(result, renderer, {})
        assert state["shown"] == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings
    assert "screen unplugged" in warnings[0] and "retrying every 5 s" in warnings[0]
    assert "Input/output error" in warnings[1]
    assert sum("works again" in r.getMessage() for r in caplog.records) == 2
    display.close()
    display.show(result, renderer, {})  # after close: ignored, never raises
    assert state["shown"] == 2


def test_resilient_display_survives_a_factory_that_raises(result, caplog):
    def broken():
        raise ImportError("No module named 'pygame'")

    display = ResilientDisplay(broken, DisplayConfig(type="window"))
    with caplog.at_level(logging.WARNING):
        display.show(result, OverlayRenderer(OverlayConfig()), {})
    assert display.headless and "pygame" in display.last_error
