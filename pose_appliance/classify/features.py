"""Classifier inputs made from keypoints, shared by the trainer and the appliance (pure numpy).

Two input contracts exist, picked by the classifier model's input width:

- ``[1, 34]`` (models made by ``train-classifier``): :func:`normalized_landmarks` -- the pose-classification
  tutorial's landmark normalization, computed **per sample**. The tutorial's in-graph version takes the torso norm
  over the whole batch and the maximum keypoint distance from sample 0 only, so its training batches differ from
  batch-1 inference; here every pose is normalized on its own, the same way at training and at run time.
- ``[1, 51]`` (the published yoga classifier, which normalizes in its graph): :func:`yoga_classifier_input` --
  17 x ``(y, x, score)`` in pixels of the source image. Note the (y, x) order.

Keypoints come in our convention (``pose_appliance.types``): ``(17, 3)`` rows of ``(x, y, score)`` in pixels.
"""

from __future__ import annotations

import numpy as np

from pose_appliance.types import KEYPOINT_INDEX, Pose

FEATURE_SIZE = 34
# Bumped whenever normalized_landmarks changes: train-classifier records it (model.json) and the appliance warns
# when a classifier was trained on another version.
FEATURE_VERSION = 1
YOGA_INPUT_SIZE = 51
TORSO_SIZE_MULTIPLIER = 2.5

_LEFT_HIP, _RIGHT_HIP = KEYPOINT_INDEX["left_hip"], KEYPOINT_INDEX["right_hip"]
_LEFT_SHOULDER, _RIGHT_SHOULDER = KEYPOINT_INDEX["left_shoulder"], KEYPOINT_INDEX["right_shoulder"]


def _keypoints_of(pose_or_keypoints: Pose | np.ndarray) -> np.ndarray:
    keypoints = pose_or_keypoints.keypoints if isinstance(pose_or_keypoints, Pose) else pose_or_keypoints
    keypoints = np.asarray(keypoints, dtype=np.float32)
    if keypoints.shape[-2:] != (17, 3):
        raise ValueError(f"keypoints must have shape (..., 17, 3) = (x, y, score) rows, got {keypoints.shape}")
    return keypoints


def normalized_landmarks(pose_or_keypoints: Pose | np.ndarray) -> np.ndarray:
    """(x, y) of each keypoint relative to the hip mid-point, divided by the pose size, flattened.

    ``pose size = max(2.5 x |shoulder mid - hip mid|, largest distance of any keypoint from the hip mid)``.
    Scores are dropped. Accepts one pose (a Pose or ``(17, 3)``) -> ``(34,)``, or a batch ``(N, 17, 3)`` ->
    ``(N, 34)``; each sample is normalized by its own size. The result is invariant to where the person
    stands and how large they appear.
    """
    keypoints = _keypoints_of(pose_or_keypoints)
    xy = keypoints[..., :2]
    hip_mid = (xy[..., _LEFT_HIP, :] + xy[..., _RIGHT_HIP, :]) * 0.5
    shoulder_mid = (xy[..., _LEFT_SHOULDER, :] + xy[..., _RIGHT_SHOULDER, :]) * 0.5
    centered = xy - hip_mid[..., None, :]
    torso_size = np.linalg.norm(shoulder_mid - hip_mid, axis=-1)
    max_distance = np.linalg.norm(centered, axis=-1).max(axis=-1)
    pose_size = np.maximum(torso_size * TORSO_SIZE_MULTIPLIER, max_distance)
    # A degenerate pose (every keypoint on one spot) would divide by zero; it stays all zeros instead.
    pose_size = np.maximum(pose_size, np.float32(1e-6))
    normalized = centered / pose_size[..., None, None]
    return normalized.reshape(*normalized.shape[:-2], FEATURE_SIZE).astype(np.float32)


def yoga_classifier_input(pose_or_keypoints: Pose | np.ndarray) -> np.ndarray:
    """``[1, 51]`` float32 = 17 x (y, x, score) in pixels: the published yoga classifier's input."""
    keypoints = _keypoints_of(pose_or_keypoints)
    if keypoints.ndim != 2:
        raise ValueError(f"one pose at a time: expected (17, 3), got {keypoints.shape}")
    yx_score = keypoints[:, [1, 0, 2]]
    return yx_score.reshape(1, YOGA_INPUT_SIZE).astype(np.float32, copy=False)
