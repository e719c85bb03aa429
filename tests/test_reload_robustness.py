"""Nothing a reload reads can stop the running setup: whatever replaces the config file mid-run, the appliance
keeps processing frames with its last good config and logs why the new one was rejected."""

from __future__ import annotations

import logging
import os
import threading
import time

import pytest
from test_live_reload import assert_no_gap, base_config, records, wait_for

from pose_appliance.app import Appliance, Overrides


def run_with_replacement(tmp_path, config_text: str, replace, *, frames: int = 90):
    """Run the appliance in this (main) thread; ``replace(config_path)`` runs after 30 processed frames."""
    config = tmp_path / "config.toml"
    config.write_text(config_text)
    keypoints = tmp_path / "keypoints.jsonl"
    appliance = Appliance(config, Overrides([]), max_frames=frames, keypoints_path=keypoints)
    replaced = threading.Event()

    def editor():
        if wait_for(lambda: len(records(keypoints)) >= 30):
            replace(config)
            replaced.set()

    thread = threading.Thread(target=editor, daemon=True)
    thread.start()
    started = time.monotonic()
    status = appliance.run()
    thread.join(1)
    assert replaced.is_set(), "the run ended before the config was replaced"
    return status, records(keypoints), appliance, time.monotonic() - started


def rejected(caplog) -> list[str]:
    return [m for m in caplog.messages if "rejected, still running the previous config" in m]


@pytest.mark.parametrize("new_lines, words", [
    ("[overlay]\nline_width = " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
    ("[overlay]\nstyle = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n", "nested too deeply"),
    ("min_crop_keypoint_score = nan\n", "expected a finite number"),  # lands in the base's last table, [model]
    ('[camera]\ntype = "images"\n[camera.images]\npath = "{yoga}"\nfps = nan\nrealtime = true\n',
     "camera.images.fps"),
    ("[classifier]\nsmoothing = -inf\n", "classifier.smoothing"),
])
def test_a_reload_that_reads_bad_values_keeps_running(tmp_path, models_dir, shared, caplog, new_lines, words):
    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    yoga = shared / "data/yoga_cg_subset/test/tree"
    caplog.set_level(logging.INFO)
    text = base_config(video, models_dir)
    new_text = text.replace('[camera]\ntype = "video"\n', "") if "[camera]" in new_lines else text
    status, recs, appliance, _ = run_with_replacement(
        tmp_path, text, lambda path: path.write_text(new_text + new_lines.replace("{yoga}", str(yoga))))
    assert status == 0 and len(recs) == 90
    assert_no_gap(recs)
    assert rejected(caplog) and words in rejected(caplog)[0]
    assert appliance.config.camera.type == "video" and appliance.config.overlay.line_width == 3


def test_a_fifo_in_place_of_the_config_is_refused_without_blocking(tmp_path, models_dir, shared, caplog):
    video = shared / "data/tfjs_pose_detection/pose_1.mp4"
    caplog.set_level(logging.INFO)
    text = base_config(video, models_dir)

    def swap_in_fifo(path):
        path.unlink()
        os.mkfifo(path)
        # If the appliance blocked on it, a writer after 20 s lets the test end (and fail on the timing).
        threading.Timer(20, lambda: path.write_text(text)).start()

    status, recs, _, seconds = run_with_replacement(tmp_path, text, swap_in_fifo)
    assert status == 0 and len(recs) == 90
    assert seconds < 15, "the main thread blocked on the FIFO"
    assert rejected(caplog) and "not a regular file" in rejected(caplog)[0]
