"""Landmark normalization (per sample) and the yoga classifier's (y, x, score) input."""

from __future__ import annotations

import numpy as np
import pytest

from pose_appliance.classify.features import normalized_landmarks, yoga_classifier_input
from pose_appliance.classify.keypoint_csv import KeypointSet, read_keypoint_csv, write_keypoint_csv
from pose_appliance.types import KEYPOINT_INDEX, Pose


def standing_pose() -> np.ndarray:
    """Hips at (100, 200) and (120, 200), shoulders 100 px above, everything else near the torso."""
    keypoints = np.zeros((17, 3), np.float32)
    keypoints[:, :2] = (110, 150)
    keypoints[:, 2] = 0.9
    keypoints[KEYPOINT_INDEX["left_hip"], :2] = (100, 200)
    keypoints[KEYPOINT_INDEX["right_hip"], :2] = (120, 200)
    keypoints[KEYPOINT_INDEX["left_shoulder"], :2] = (100, 100)
    keypoints[KEYPOINT_INDEX["right_shoulder"], :2] = (120, 100)
    return keypoints


def test_torso_sets_the_pose_size_when_no_keypoint_is_far():
    features = normalized_landmarks(standing_pose()).reshape(17, 2)
    # hip mid (110, 200); torso 100 px -> pose size 2.5 * 100 = 250.
    assert features[KEYPOINT_INDEX["left_shoulder"]] == pytest.approx([(100 - 110) / 250, (100 - 200) / 250])
    assert features[KEYPOINT_INDEX["right_hip"]] == pytest.approx([10 / 250, 0.0])


def test_the_farthest_keypoint_sets_the_pose_size_when_it_is_beyond_the_torso_rule():
    keypoints = standing_pose()
    keypoints[KEYPOINT_INDEX["left_ankle"], :2] = (110, 600)  # 400 px below the hip mid-point
    features = normalized_landmarks(keypoints).reshape(17, 2)
    assert features[KEYPOINT_INDEX["left_ankle"]] == pytest.approx([0.0, 1.0])
    assert features[KEYPOINT_INDEX["left_shoulder"]] == pytest.approx([-10 / 400, -100 / 400])


def test_features_ignore_scores_position_and_scale():
    keypoints = standing_pose()
    moved = keypoints.copy()
    moved[:, :2] = keypoints[:, :2] * 3.0 + (500, -40)
    moved[:, 2] = np.linspace(0.0, 1.0, 17)
    assert normalized_landmarks(moved) == pytest.approx(normalized_landmarks(keypoints), abs=1e-6)


def test_a_batch_is_normalized_per_sample(shared):
    # The tutorial's in-graph version mixes the samples of a batch; here sample i alone gives the same row.
    samples = read_keypoint_csv(shared / "data/yoga_poses_csv/yoga_test_data.csv")
    batch = samples.keypoints[:64]
    together = normalized_landmarks(batch)
    assert together.shape == (64, 34)
    for i in (0, 17, 63):
        assert together[i] == pytest.approx(normalized_landmarks(Pose(batch[i])), abs=1e-6)
    # Each row is scaled by its own pose size: no keypoint lies farther than 1 from its own hip mid-point.
    distances = np.linalg.norm(together.reshape(64, 17, 2), axis=-1).max(axis=1)
    assert (distances <= 1.0 + 1e-5).all() and distances.min() > 0.3


def test_degenerate_pose_gives_zeros_not_nan():
    keypoints = np.zeros((17, 3), np.float32)
    assert np.array_equal(normalized_landmarks(keypoints), np.zeros(34, np.float32))


def test_bad_shape_is_rejected():
    with pytest.raises(ValueError, match=r"17, 3\) = \(x, y, score\)"):
        normalized_landmarks(np.zeros((17, 2)))


def test_yoga_input_is_y_x_score_in_pixels():
    keypoints = standing_pose()
    keypoints[0] = (12.0, 34.0, 0.5)  # x, y, score
    values = yoga_classifier_input(Pose(keypoints))
    assert values.shape == (1, 51) and values.dtype == np.float32
    assert values[0, :3] == pytest.approx([34.0, 12.0, 0.5])


def test_tutorial_csv_columns_named_x_hold_y(shared):
    samples = read_keypoint_csv(shared / "data/yoga_poses_csv/yoga_test_data.csv")
    assert samples.classes == ["chair", "cobra", "dog", "tree", "warrior"]
    assert len(samples) == 495 and samples.files[0] == "chair/guy3_chair070.jpg"
    # First row: nose_x = 100.77516 (a row, y), nose_y = 149.45404 (a column, x).
    assert samples.keypoints[0, 0] == pytest.approx([149.45404, 100.77516, 0.48081332])


def test_keypoint_csv_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    samples = KeypointSet(["a", "b"], rng.uniform(0, 300, (4, 17, 3)).astype(np.float32),
                          np.array([0, 1, 1, 0]), ["a/1.jpg", "b/2.jpg", "b/3.jpg", "a/4.jpg"])
    write_keypoint_csv(tmp_path / "k.csv", samples)
    again = read_keypoint_csv(tmp_path / "k.csv")
    assert again.classes == ["a", "b"] and again.files == samples.files
    assert np.array_equal(again.targets, samples.targets)
    assert again.keypoints == pytest.approx(samples.keypoints, rel=1e-5)


def test_a_keypoint_csv_saved_with_a_byte_order_mark_reads_the_same(tmp_path, shared):
    """Excel's "CSV UTF-8" and Windows Notepad start the file with U+FEFF, which would be part of "file_name"."""
    plain = shared / "data/yoga_poses_csv/yoga_test_data.csv"
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    samples, again = read_keypoint_csv(plain), read_keypoint_csv(tmp_path / "bom.csv")
    assert again.files == samples.files and again.classes == samples.classes
    assert np.array_equal(again.keypoints, samples.keypoints)


def test_not_a_keypoint_csv_names_the_file(tmp_path):
    bad = tmp_path / "notes.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"notes.csv: not a keypoint CSV"):
        read_keypoint_csv(bad)
