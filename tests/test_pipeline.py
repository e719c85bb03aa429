"""The pipeline on a real model: it tells its owner the moment the last result is shown."""

from __future__ import annotations

import time

import pytest

from pose_appliance.camera import VideoFileSource
from pose_appliance.config import Config, replace
from pose_appliance.display import NullDisplay
from pose_appliance.pipeline import Pipeline
from pose_appliance.service import SignalWaker


@pytest.fixture
def stages_and_video(models_dir, shared):
    """The default stages on the real model and a started source playing pose_1.mp4 (stopped afterwards)."""
    from pose_appliance.app import build_stages

    stages = build_stages(replace(Config(), "service.models_dir", str(models_dir)))
    source = VideoFileSource(shared / "data/tfjs_pose_detection/pose_1.mp4")
    source.start()
    yield stages, source
    source.stop()
    stages.estimator.close()


def test_the_end_of_the_work_wakes_the_main_loop(stages_and_video):
    stages, source = stages_and_video
    calls: list[tuple[bool, int]] = []
    waker = SignalWaker()
    try:
        def finished() -> None:
            calls.append((pipeline.finished.is_set(), pipeline.stats.shown))
            waker.wake()

        pipeline = Pipeline(source, stages, NullDisplay(), max_frames=12, on_finished=finished)
        pipeline.start()
        assert waker.wait(60.0) == set()  # returns when the pipeline calls wake(), not after the timeout
        assert calls == [(True, 12)]  # once, after the last of the 12 results was shown
        pipeline.stop()
        assert pipeline.stats.model_runs == 12, "the model ran on a frame past the last one wanted"
    finally:
        waker.close()


def test_opencv_runs_each_call_on_the_pipeline_thread_that_makes_it(stages_and_video):
    """OpenCV's own pool of threads competes with the model's for the cores (docs/performance.md): a started
    pipeline turns it off for the process."""
    import cv2

    stages, source = stages_and_video
    cv2.setNumThreads(4)
    assert cv2.getNumThreads() == 4
    pipeline = Pipeline(source, stages, NullDisplay(), max_frames=3)
    pipeline.start()
    assert pipeline.finished.wait(60.0)
    assert cv2.getNumThreads() == 1
    pipeline.stop()


def test_frames_a_paced_source_skips_itself_are_counted_as_dropped(shared):
    """A paced video whose decoding is slower than its frame rate (a large file on a busy Pi) skips the frames
    that fell due meanwhile: every frame of the file is processed or counted as dropped, none is hidden."""
    from pose_appliance.inference.estimator import NullEstimator
    from pose_appliance.pipeline import Stages

    class SlowDecoding(VideoFileSource):
        def _next_image(self, capture):
            time.sleep(0.055)  # the file runs at 30 fps: 33 ms a frame
            return super()._next_image(capture)

    source = SlowDecoding(shared / "data/tfjs_pose_detection/pose_1.mp4", realtime=True)
    source.start()
    try:
        pipeline = Pipeline(source, Stages(NullEstimator(), None, None, None, "none"), NullDisplay())
        pipeline.start()
        assert pipeline.finished.wait(60.0)
        pipeline.stop()
    finally:
        source.stop()
    status = pipeline.status()
    assert status["dropped"] >= 30 and pipeline.capture_dropped == status["dropped"]
    assert status["frames"] + status["dropped"] == 120


def test_replacing_the_source_never_counts_the_old_ones_drops_twice(shared):
    """capture_dropped is read by the status page and MQTT while a reload replaces the camera: at no line of
    replace_source may it count the old source's dropped frames both as the old source's and as the current's."""
    import sys

    from pose_appliance.inference.estimator import NullEstimator
    from pose_appliance.pipeline import Stages

    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    old = VideoFileSource(video)
    old.start()
    old.dropped = 7  # as a paced file or a camera that skipped frames has counted
    pipeline = Pipeline(old, Stages(NullEstimator(), None, None, None, "none"), NullDisplay())
    pipeline.start()
    seen: list[int] = []

    def each_line(frame, event, arg):
        if event == "line":
            seen.append(pipeline.capture_dropped)
        return each_line

    def in_replace_source(frame, event, arg):
        return each_line if frame.f_code is Pipeline.replace_source.__code__ else None

    def make_source():
        source = VideoFileSource(video)
        source.start()
        return source

    sys.settrace(in_replace_source)
    try:
        pipeline.replace_source(make_source)
    finally:
        sys.settrace(None)
        pipeline.stop()
        pipeline.source.stop()
    assert seen and max(seen) == 7, seen


def test_a_looping_squat_video_counts_the_same_squats_in_every_pass(models_dir, shared, tmp_path):
    """pose_squats.mp4 ends at the bottom of a third squat and starts standing: the jump back is no repetition.
    Every pass counts its two squats at the same frames, and the count goes on across passes."""
    from conftest import looping_records

    frames = 65  # the clip's length
    records = looping_records(tmp_path, models_dir, shared / "data/tfjs_pose_detection/pose_squats.mp4",
                              3 * frames, exercise="squat")
    passes = [records[k * frames:(k + 1) * frames] for k in range(3)]
    rep_frames = [[r["frame"] - k * frames for r in one_pass if "rep" in r["events"]]
                  for k, one_pass in enumerate(passes)]
    assert len(rep_frames[0]) == 2 and rep_frames[1] == rep_frames[2] == rep_frames[0], rep_frames
    assert [p[-1]["reps"] for p in passes] == [2, 4, 6]


def test_a_looping_file_starts_tracking_again_at_each_pass(models_dir, shared, tmp_path):
    """The jump from the clip's last frame back to its first is a cut: the second pass is read whole at first
    and smoothed from scratch, exactly as the first pass was, not cropped where the person stood at the end."""
    import numpy as np
    from conftest import looping_records

    records = looping_records(tmp_path, models_dir, shared / "data/tfjs_pose_detection/pose_1.mp4", 240)
    assert [r["frame"] for r in records] == list(range(240))
    first, second = records[:120], records[120:]
    assert first[-1]["crop"] != [0.0, 0.0, 1.0, 1.0]
    assert second[0]["crop"] == first[0]["crop"] == [0.0, 0.0, 1.0, 1.0]  # the padded full frame of 576x576
    np.testing.assert_allclose([r["crop"] for r in second], [r["crop"] for r in first], atol=2e-5)
    np.testing.assert_allclose([r["keypoints"] for r in second], [r["keypoints"] for r in first], atol=0.011)
