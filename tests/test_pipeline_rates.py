"""The figures a viewer reads: frames shown per second over a sliding window, and the model's own rate."""

from __future__ import annotations

import time

import pytest

from pose_appliance.app import build_stages
from pose_appliance.camera import open_source, resolve_playback
from pose_appliance.config import Config, replace
from pose_appliance.display import NullDisplay
from pose_appliance.pipeline import FrameRate, Pipeline


def test_frame_rate_counts_the_last_window_only():
    rate = FrameRate(window=2.0)
    assert rate.rate(0.0) is None
    rate.tick(0.0)
    assert rate.rate(0.0) is None  # one frame is no rate, not "0 fps"
    for i in range(1, 31):  # 30 fps for a second
        rate.tick(i / 30)
    assert rate.rate(1.0) == pytest.approx(30.0)
    for i in range(1, 21):  # then 10 fps for two seconds: the old frames leave the window
        rate.tick(1.0 + i / 10)
    assert rate.rate(3.0) == pytest.approx(10.0)
    assert rate.rate(5.5) == 0.0  # nothing shown for a whole window


class SlowDisplay(NullDisplay):
    """A screen that takes 1/8 s per frame, far slower than the model even on a loaded 2-core host (where the
    model alone was measured at 37 fps)."""

    def show(self, result, renderer, status):
        self.fps_drawn = result.fps
        time.sleep(0.125)


def test_status_reports_shown_rate_and_model_rate_apart(models_dir):
    """An unpaced file through an 8 fps display: the viewer sees ~8 fps, the model alone runs far faster."""
    config = replace(Config(), "service.models_dir", str(models_dir))
    stages = build_stages(config)
    source = open_source(config.camera, models_dir=models_dir, lores_size=stages.estimator.input_size)
    source.start()
    display = SlowDisplay()
    pipeline = Pipeline(source, stages, display, max_frames=24)
    pipeline.start()
    try:
        assert pipeline.finished.wait(30)
        status = pipeline.status()
    finally:
        pipeline.stop()
        source.stop()
    assert 6 <= status["fps"] <= 8.5 and 6 <= display.fps_drawn <= 8.5
    assert status["model_fps"] > 2 * status["fps"]  # the model is not what limits this picture


def test_files_play_live_and_loop_for_a_watched_display_unless_the_config_says():
    auto = Config().camera
    assert (auto.video.loop, auto.video.realtime) == ("auto", "auto")
    watched = resolve_playback(auto, live_display=True)
    assert (watched.video.loop, watched.video.realtime, watched.images.loop, watched.images.realtime) == (True,) * 4
    recorded = resolve_playback(auto, live_display=False)
    assert (recorded.video.loop, recorded.video.realtime) == (False, False)
    written = replace(replace(Config(), "camera.video.loop", False), "camera.images.realtime", False).camera
    kept = resolve_playback(written, live_display=True)
    assert (kept.video.loop, kept.video.realtime, kept.images.realtime) == (False, True, False)
