"""MoveNet single-pose smart cropping, as tfjs pose-detection ``src/movenet`` does it.

The next frame is cropped to a square (in pixels) around the person found in this frame: centred on the hip
mid-point, half-size = max(1.9 x torso range, 1.2 x body range), capped by the distance from the centre to the
farthest image edge. When the torso is not visible or the square would be larger than the image, the model sees
the whole frame padded to a square. The crop box is low-pass filtered (alpha 0.9) and the filter restarts when the
person is lost. Crops are ``(ymin, xmin, ymax, xmax)`` normalized to the frame and may extend past 0..1.
"""

from __future__ import annotations

import numpy as np

from pose_appliance.types import KEYPOINT_INDEX

MIN_CROP_KEYPOINT_SCORE = 0.2
TORSO_EXPANSION_RATIO = 1.9
BODY_EXPANSION_RATIO = 1.2
CROP_FILTER_ALPHA = 0.9

Crop = tuple[float, float, float, float]

_SHOULDERS = (KEYPOINT_INDEX["left_shoulder"], KEYPOINT_INDEX["right_shoulder"])
_HIPS = (KEYPOINT_INDEX["left_hip"], KEYPOINT_INDEX["right_hip"])
_TORSO = _SHOULDERS + _HIPS


def padded_full_frame(width: int, height: int) -> Crop:
    """The whole frame padded on both sides of its short axis to a square."""
    if width > height:
        pad = (width / height - 1.0) / 2.0
        return (-pad, 0.0, 1.0 + pad, 1.0)
    pad = (height / width - 1.0) / 2.0
    return (0.0, -pad, 1.0, 1.0 + pad)


def torso_visible(keypoints: np.ndarray, min_score: float = MIN_CROP_KEYPOINT_SCORE) -> bool:
    """A hip and a shoulder score above ``min_score``. ``keypoints`` rows are (x, y, score)."""
    scores = keypoints[:, 2]
    # Compared in the scores' own precision: numpy 1.x would compare float32 scores in float64, where the
    # float32 nearest to 0.2 is above 0.2, so a score of exactly the threshold would count on one numpy only.
    threshold = scores.dtype.type(min_score)
    return bool(scores[list(_HIPS)].max() > threshold and scores[list(_SHOULDERS)].max() > threshold)


def next_crop_region(keypoints: np.ndarray, width: int, height: int,
                     min_score: float = MIN_CROP_KEYPOINT_SCORE) -> Crop:
    """The crop for the next frame from this frame's keypoints ``(17, 3)`` of (x, y, score) in pixels."""
    if not torso_visible(keypoints, min_score):
        return padded_full_frame(width, height)
    xy = keypoints[:, :2].astype(np.float64)
    center = (xy[_HIPS[0]] + xy[_HIPS[1]]) / 2.0
    torso_range = np.abs(xy[list(_TORSO)] - center).max(axis=0)
    confident = keypoints[:, 2] >= min_score  # tfjs skips only keypoints below the threshold here
    body_range = np.abs(xy[confident] - center).max(axis=0) if confident.any() else np.zeros(2)
    half = max(float(torso_range.max()) * TORSO_EXPANSION_RATIO, float(body_range.max()) * BODY_EXPANSION_RATIO)
    cx, cy = float(center[0]), float(center[1])
    half = min(half, max(cx, width - cx, cy, height - cy))
    if half > max(width, height) / 2.0:
        return padded_full_frame(width, height)
    return ((cy - half) / height, (cx - half) / width, (cy + half) / height, (cx + half) / width)


class CropRegionTracker:
    """Holds the crop the model reads next; ``update`` moves it to follow the person, ``reset`` forgets them."""

    def __init__(self, min_score: float = MIN_CROP_KEYPOINT_SCORE, alpha: float = CROP_FILTER_ALPHA):
        self.min_score = min_score
        self.alpha = alpha
        self._filtered: np.ndarray | None = None

    def crop(self, width: int, height: int) -> Crop:
        """The crop for the next frame: the tracked one, or the padded full frame when nobody is tracked."""
        if self._filtered is None:
            return padded_full_frame(width, height)
        ymin, xmin, ymax, xmax = (float(v) for v in self._filtered)
        return ymin, xmin, ymax, xmax

    def update(self, keypoints: np.ndarray, width: int, height: int) -> Crop:
        """Follow the person of ``keypoints`` (pixels of a ``width`` x ``height`` frame); low-pass the box."""
        target = np.asarray(next_crop_region(keypoints, width, height, self.min_score))
        if self._filtered is None:
            self._filtered = target
        else:
            self._filtered = self._filtered + self.alpha * (target - self._filtered)
        return self.crop(width, height)

    def reset(self) -> None:
        self._filtered = None
