"""Hold timer and repetition counter: the rules on constructed poses, and the squat count through the real model."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from pose_appliance.activity import ActivityTracker, HoldTimer, RepCounter, joint_angle
from pose_appliance.config import CountingConfig, SquatCountingConfig
from pose_appliance.piece_file import free_path
from pose_appliance.types import KEYPOINT_INDEX, Pose

SQUAT = CountingConfig(exercise="squat")


def legs(left_knee: float, right_knee: float | None = None, *, score: float = 0.9,
         right_score: float | None = None) -> Pose:
    """A standing body whose knees bend to the given hip-knee-ankle angles (degrees)."""
    right_knee = left_knee if right_knee is None else right_knee
    keypoints = np.zeros((17, 3), np.float32)
    keypoints[:, 2] = score
    for side, angle, x in (("left", left_knee, 220.0), ("right", right_knee, 180.0)):
        hip, knee = np.array([x, 300.0]), np.array([x, 400.0])
        bend = math.radians(180.0 - angle)  # the shin turns away from straight down by this much
        ankle = knee + 100.0 * np.array([math.sin(bend), math.cos(bend)])
        for name, xy in (("hip", hip), ("knee", knee), ("ankle", ankle)):
            keypoints[KEYPOINT_INDEX[f"{side}_{name}"], :2] = xy
    if right_score is not None:
        for name in ("hip", "knee", "ankle"):
            keypoints[KEYPOINT_INDEX[f"right_{name}"], 2] = right_score
    return Pose(keypoints)


def count(angles, config: CountingConfig = SQUAT, *, fps: float = 10.0) -> tuple[int, list]:
    counter = RepCounter(config)
    events = []
    for i, angle in enumerate(angles):
        pose = None if angle is None else (angle if isinstance(angle, Pose) else legs(angle))
        events += counter.update(pose, i / fps)[1]
    return counter.reps, events


def test_joint_angle_of_the_constructed_legs():
    for angle in (180.0, 150.0, 90.0, 45.0):
        pose = legs(angle)
        i = KEYPOINT_INDEX
        measured = joint_angle(pose.keypoints, i["left_hip"], i["left_knee"], i["left_ankle"])
        assert measured == pytest.approx(angle, abs=0.01)


def test_a_squat_counts_when_the_person_is_back_up():
    down_and_up = [175, 170, 150, 130, 110, 100, 100, 110, 130, 150]
    reps, events = count([175, 175] + down_and_up)
    assert reps == 0 and events == []  # at the bottom and on the way up: not yet
    reps, events = count([175, 175] + down_and_up + [170, 175, 175])
    assert reps == 1
    assert [(e.type, e.exercise, e.reps) for e in events] == [("rep", "squat", 1)]


def test_jitter_around_either_threshold_counts_once():
    turn, start = SQUAT.squat.turn_angle, SQUAT.squat.start_angle
    wobble_bottom = [turn + d for d in (3, -3, 4, -4, 3, -3, 4, -4)]
    wobble_top = [start + d for d in (3, -3, 4, -4, 3, -3)]
    assert count([175, 175, 140] + wobble_bottom + [140] + wobble_top + [175, 175])[0] == 1


def test_a_single_wrong_frame_neither_counts_nor_cancels():
    assert count([175] * 5 + [90] + [175] * 5)[0] == 0  # one glitch frame at the bottom is no squat
    assert count([175] * 3 + [100] * 4 + [175] + [100] * 3 + [175] * 4)[0] == 1  # one glitch on the way


def test_missed_and_low_score_frames_keep_the_phase():
    unsure = legs(175, score=0.1)
    reps, _ = count([175, 175, 100, 100, None, unsure, None, 100, 170, 175, 175])
    assert reps == 1


def test_nobody_for_longer_than_lost_seconds_forgets_the_phase_but_not_the_count():
    fps = 10.0
    lost = int(SQUAT.lost_seconds * fps) + 2
    one = [175, 175, 100, 100, 100, 175, 175, 175]
    # Down, gone for a while, seen standing again: that was no repetition we saw.
    assert count(one + [175, 100, 100, 100] + [None] * lost + [175, 175, 175], fps=fps)[0] == 1


def test_a_cut_forgets_the_phase_but_not_the_count():
    """A jump in the picture (another camera, a video back at its start) from a squat's bottom to someone standing
    is no movement: not counted. The count so far stays, and the next real squat counts."""
    counter = RepCounter(SQUAT)
    one_then_down = [175, 175, 100, 100, 175, 175, 175, 100, 100, 100]
    for i, angle in enumerate(one_then_down):
        counter.update(legs(angle), i / 10)
    assert counter.reps == 1 and counter.phase == "turn"
    t = len(one_then_down) / 10
    counter.update(legs(175), t, cut=True)
    for i in range(1, 4):
        counter.update(legs(175), t + i / 10)
    assert counter.reps == 1, "the cut from the bottom to standing was counted"
    for i, angle in enumerate([100, 100, 100, 175, 175, 175], start=4):
        counter.update(legs(angle), t + i / 10)
    assert counter.reps == 2
    tracker = ActivityTracker(SQUAT)
    for i, angle in enumerate(one_then_down):
        tracker.update(legs(angle), "chair", i / 10)
    after_cut = [tracker.update(legs(175), "chair", t + i / 10, cut=i == 0) for i in range(4)]
    assert [a.reps for a in after_cut] == [1, 1, 1, 1]
    assert after_cut[-1].hold_s > 1.0, "the cut restarted the hold of the same pose"


def test_entering_the_picture_crouched_is_not_a_repetition():
    assert count([100, 100, 100, 175, 175, 175])[0] == 0


def test_one_bent_knee_at_a_time_is_walking_not_squatting():
    strides = []
    for _ in range(6):
        strides += [legs(175, 110), legs(165, 140), legs(110, 175), legs(140, 165)]
    assert count(strides)[0] == 0


def test_a_side_with_a_low_score_is_not_measured():
    # The right leg is unsure and reads bent; the left one is measured and stands: no squat.
    frames = [legs(175, 90, right_score=0.1)] * 10
    assert count(frames)[0] == 0
    assert RepCounter(SQUAT).measure(legs(175, 90, right_score=0.1)) == pytest.approx(175, abs=0.01)


def test_arm_raise_starts_low():
    config = CountingConfig(exercise="arm_raise")
    counter = RepCounter(config)
    i = KEYPOINT_INDEX

    def arms(angle: float) -> Pose:
        keypoints = np.zeros((17, 3), np.float32)
        keypoints[:, 2] = 0.9
        for side, x, sign in (("left", 240.0, 1.0), ("right", 160.0, -1.0)):
            shoulder = np.array([x, 200.0])
            keypoints[i[f"{side}_shoulder"], :2] = shoulder
            keypoints[i[f"{side}_hip"], :2] = shoulder + (0.0, 150.0)
            rad = math.radians(angle)
            keypoints[i[f"{side}_elbow"], :2] = shoulder + 80.0 * np.array([sign * math.sin(rad), math.cos(rad)])
        return Pose(keypoints)

    for n, angle in enumerate([10, 10, 60, 120, 160, 165, 160, 90, 30, 10, 10, 10]):
        counter.update(arms(angle), n / 10)
    assert counter.reps == 1


def pushup_pose(elbow: float, *, lying: bool) -> Pose:
    """Arms whose elbows bend to ``elbow`` degrees, the body horizontal (lying) or upright."""
    i = KEYPOINT_INDEX
    keypoints = np.zeros((17, 3), np.float32)
    keypoints[:, 2] = 0.9
    for side, offset in (("left", 0.0), ("right", 10.0)):
        shoulder = np.array([200.0 + offset, 200.0])
        keypoints[i[f"{side}_shoulder"], :2] = shoulder
        keypoints[i[f"{side}_hip"], :2] = shoulder + ((200.0, 20.0) if lying else (10.0, 200.0))
        elbow_xy = shoulder + (0.0, 80.0)
        keypoints[i[f"{side}_elbow"], :2] = elbow_xy
        bend = math.radians(180.0 - elbow)
        keypoints[i[f"{side}_wrist"], :2] = elbow_xy + 80.0 * np.array([math.sin(bend), math.cos(bend)])
    return Pose(keypoints)


def test_pushups_count_only_while_lying():
    angles = [170, 170, 140, 100, 90, 90, 120, 165, 170, 170]
    lying = count([pushup_pose(a, lying=True) for a in angles], CountingConfig(exercise="pushup"))
    upright = count([pushup_pose(a, lying=False) for a in angles], CountingConfig(exercise="pushup"))
    assert (lying[0], upright[0]) == (1, 0)


def test_contradicting_thresholds_name_the_key():
    bad = dataclasses.replace(SQUAT, squat=SquatCountingConfig(start_angle=100.0, turn_angle=120.0))
    with pytest.raises(ValueError, match=r"counting\.squat: start_angle"):
        ActivityTracker(bad)


def test_tracker_reset_and_reconfigure_apply_at_the_next_frame():
    tracker = ActivityTracker(SQUAT)
    t = 0.0
    for angle in [175, 175, 100, 100, 100, 175, 175, 175]:
        activity = tracker.update(legs(angle), "chair", t)
        t += 0.1
    assert activity.reps == 1 and activity.exercise == "squat"
    # Other thresholds for the same exercise keep the count; another exercise starts from 0.
    tracker.configure(dataclasses.replace(SQUAT, squat=SquatCountingConfig(start_angle=160.0, turn_angle=120.0)))
    assert tracker.update(legs(175), "chair", t).reps == 1
    tracker.request_reset()
    assert tracker.update(legs(175), "chair", t + 0.1).reps == 0
    tracker.configure(CountingConfig(exercise="none"))
    activity = tracker.update(legs(175), "chair", t + 0.2)
    assert activity.exercise is None and activity.reps == 0


def test_hold_timer_runs_through_short_gaps_and_restarts_on_a_new_pose():
    timer = HoldTimer(grace_s=1.0)
    assert timer.update(None, 0.0) == (0.0, [])
    hold, events = timer.update("tree", 1.0)
    assert hold == 0.0 and [(e.type, e.pose) for e in events] == [("pose_start", "tree")]
    assert timer.update("tree", 3.0)[0] == pytest.approx(2.0)
    assert timer.update(None, 3.5)[0] == pytest.approx(2.5)  # a short gap: still held, the clock runs
    assert timer.update("tree", 4.0)[0] == pytest.approx(3.0)
    hold, events = timer.update("warrior", 5.0)
    assert hold == 0.0
    assert [(e.type, e.pose, round(e.held_s, 3)) for e in events] == [("pose_end", "tree", 3.0),
                                                                      ("pose_start", "warrior", 0.0)]
    timer.update(None, 5.5)
    hold, events = timer.update(None, 6.2)  # lost for longer than the grace: ended, held until last seen
    assert hold == 0.0 and [(e.type, e.pose, e.held_s) for e in events] == [("pose_end", "warrior", 0.0)]
    timer.update("tree", 7.0)
    hold, events = timer.update("tree", 2.0)  # time went backwards (a looping file): a new hold
    assert [e.type for e in events] == ["pose_end", "pose_start"] and hold == 0.0


# ------------------------------------------------------------------------------- through the real model
def run_appliance(tmp_path, models_dir, video, exercise: str, *, name_every_pose: bool = False) -> list[dict]:
    """``name_every_pose`` turns the open-set check off (classifier.min_familiarity = 0), so a person who is
    doing no yoga pose still gets labels for the hold timer to follow."""
    records = free_path(tmp_path / "keypoints.jsonl")  # a fresh file each call: earlier records are kept
    config = tmp_path / "config.toml"
    classifier = "[classifier]\nmin_familiarity = 0.0\n" if name_every_pose else ""
    config.write_text(f"""{classifier}
[camera]
type = "video"
[camera.video]
path = "{video}"
[display]
type = "null"
[counting]
exercise = "{exercise}"
[service]
models_dir = "{models_dir}"
""")
    subprocess.run([sys.executable, "-m", "pose_appliance", "run", "--config", str(config),
                    "--record-keypoints", str(records)], check=True, capture_output=True, timeout=120)
    return [json.loads(line) for line in records.read_text().splitlines()]


def test_pose_squats_counts_two_squats_end_to_end(tmp_path, models_dir, shared):
    """Two squats come back up; the third is still down when the clip ends."""
    video = shared / "data/tfjs_pose_detection/pose_squats.mp4"
    # Squats are no yoga pose: with the open-set check on they get no label at all (tests/test_labels.py), so
    # it is off here to give the hold timer labels to follow.
    records = run_appliance(tmp_path, models_dir, video, "squat", name_every_pose=True)
    assert len(records) == 65
    assert records[-1]["reps"] == 2
    rep_frames = [r["frame"] for r in records if "rep" in r["events"]]
    assert len(rep_frames) == 2
    # Each count lands when she is standing again, between the squats (not at a bottom).
    assert 12 < rep_frames[0] < 28 < rep_frames[1] < 53
    # The hold timer follows the labels: it grows while a label is held and starts from 0 with a new one.
    starts = [r for r in records if "pose_start" in r["events"]]
    assert starts and all(r["hold_s"] == 0.0 for r in starts)
    assert max(r["hold_s"] for r in records) > 1.0


def test_walking_counts_no_squats(tmp_path, models_dir, shared):
    records = run_appliance(tmp_path, models_dir, shared / "data/tfjs_pose_detection/pose_1.mp4", "squat")
    assert len(records) == 120
    assert records[-1]["reps"] == 0


def test_squatting_is_no_pushup_and_raised_arms_are_one_arm_raise(tmp_path, models_dir, shared):
    clips = shared / "data/tfjs_pose_detection"
    assert run_appliance(tmp_path, models_dir, clips / "pose_squats.mp4", "pushup")[-1]["reps"] == 0
    # pose_1.mp4 raises both arms overhead once (about frames 40-75) and lowers them again.
    records = run_appliance(tmp_path, models_dir, clips / "pose_1.mp4", "arm_raise")
    assert records[-1]["reps"] == 1
    assert 60 < next(r["frame"] for r in records if "rep" in r["events"]) < 100


def test_overlay_shows_the_hold_time_and_the_count():
    from pose_appliance.config import OverlayConfig
    from pose_appliance.render import OverlayRenderer
    from pose_appliance.types import Activity, Frame, FrameResult, LabelDecision

    frame = Frame(image=np.zeros((480, 640, 3), np.uint8), index=0, timestamp=0.0)

    def drawn(activity: Activity) -> np.ndarray:
        canvas = np.full((480, 640, 3), 90, np.uint8)
        result = FrameResult(frame=frame, pose=None, decision=LabelDecision("tree", 0.9), activity=activity)
        OverlayRenderer(OverlayConfig(fps=False)).draw(canvas, result)
        return canvas

    plain = drawn(Activity())
    held = drawn(Activity(pose="tree", hold_s=12.0))
    counted = drawn(Activity(pose="tree", hold_s=0.5, exercise="squat", reps=3))

    def box_right(canvas: np.ndarray, rows: slice) -> int:
        changed = np.nonzero((canvas[rows] != 90).any(axis=(0, 2)))[0]
        return int(changed.max()) if changed.size else -1

    label_bottom = int(np.nonzero((plain != 90).any(axis=(1, 2)))[0].max())
    label_rows, below = slice(0, label_bottom + 1), slice(label_bottom + 2, label_bottom + 60)
    assert box_right(held, label_rows) > box_right(plain, label_rows) + 30  # "tree 90%  12 s" is longer
    assert box_right(plain, below) == -1 and box_right(held, below) == -1
    assert box_right(counted, label_rows) == box_right(plain, label_rows)  # under a second: no hold time shown
    assert box_right(counted, below) > 100  # "squat reps: 3" in a box under the label


def test_status_json_of_the_web_display_has_hold_and_reps(tmp_path, models_dir, shared):
    import time
    import urllib.request

    from mqtt_broker import free_port

    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f"""
[camera]
type = "video"
[camera.video]
path = "{shared / 'data/tfjs_pose_detection/pose_squats.mp4'}"
loop = true
realtime = true
[display]
type = "web"
[display.web]
port = {port}
[counting]
exercise = "squat"
[service]
models_dir = "{models_dir}"
""")
    process = subprocess.Popen([sys.executable, "-m", "pose_appliance", "run", "--config", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, status = time.monotonic() + 60, {}
        while time.monotonic() < deadline and status.get("reps", 0) < 1:
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/status.json", timeout=2) as response:
                    status = json.load(response)
            except OSError:
                continue
        assert status.get("reps", 0) >= 1 and status["exercise"] == "squat"
        assert isinstance(status["hold_s"], float)
    finally:
        process.terminate()
        process.wait(20)


def test_contradicting_thresholds_stop_the_start_with_one_line(tmp_path, models_dir, shared):
    config = tmp_path / "config.toml"
    config.write_text(f"""
[camera]
type = "video"
[camera.video]
path = "{shared / 'data/tfjs_pose_detection/pose_squats.mp4'}"
[display]
type = "null"
[counting]
exercise = "squat"
[counting.squat]
start_angle = 100.0
turn_angle = 120.0
[service]
models_dir = "{models_dir}"
""")
    run = subprocess.run([sys.executable, "-m", "pose_appliance", "run", "--config", str(config)], check=False,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "counting.squat: start_angle (100) must be above turn_angle (120)" in run.stderr
    assert "Traceback" not in run.stderr
