"""MoveNet MultiPose Lightning: up to 6 people per frame; the person nearest the frame centre is returned."""

from __future__ import annotations

import math

import numpy as np

from pose_appliance.inference.crop_region import Crop
from pose_appliance.inference.decoders import decode_multipose
from pose_appliance.inference.tflite_estimator import SinglePassEstimator

DIMENSION_DIVISOR = 32  # the model's input sides must be multiples of 32
MIN_PERSON_SCORE = 0.2


class MoveNetMultiPoseEstimator(SinglePassEstimator):
    """The image is scaled so its long side is ``long_side`` pixels and padded (bottom/right, black) to multiples
    of 32; the dynamic input tensor is resized to that once per image size. Keypoints come out in pixels of
    ``output_size`` (width, height) when given, else of the image.
    """

    def __init__(self, model, config=None, *, name: str = "", long_side: int = 256):
        super().__init__(model, config, name=name)
        if long_side % DIMENSION_DIVISOR:
            raise ValueError(f"long_side must be a multiple of {DIMENSION_DIVISOR}, got {long_side}")
        self.long_side = long_side
        self._image_size: tuple[int, int] | None = None
        self._box = (0.0, 0.0, 1.0, 1.0)

    @property
    def input_size(self) -> tuple[int, int]:
        if self._image_size is None:
            return self.long_side, self.long_side
        return super().input_size

    def _keypoints(self, image: np.ndarray) -> tuple[np.ndarray, Crop] | None:
        height, width = image.shape[:2]
        self._fit_input(width, height)
        keypoints, boxes, scores = decode_multipose(self._run(image, self._box)[0])
        person = self._central_person(boxes, scores, width, height)
        return None if person is None else (keypoints[person], self._box)

    def _fit_input(self, width: int, height: int) -> None:
        if self._image_size == (width, height):
            return
        scale = self.long_side / max(width, height)
        resized_w, resized_h = round(width * scale), round(height * scale)
        padded_w = math.ceil(resized_w / DIMENSION_DIVISOR) * DIMENSION_DIVISOR
        padded_h = math.ceil(resized_h / DIMENSION_DIVISOR) * DIMENSION_DIVISOR
        self._resize_input(padded_w, padded_h)
        # The crop box reaches past the bottom/right edge so the padding comes out black.
        self._box = (0.0, 0.0, padded_h / resized_h, padded_w / resized_w)
        self._image_size = (width, height)

    def _central_person(self, boxes: np.ndarray, scores: np.ndarray, width: int, height: int) -> int | None:
        """Index of the detected person whose box centre is nearest the frame centre (in frame pixels)."""
        candidates = np.flatnonzero(scores >= MIN_PERSON_SCORE)
        if candidates.size == 0:
            return None
        ymin, xmin, ymax, xmax = self._box
        centre_y = ymin + (boxes[candidates, 0] + boxes[candidates, 2]) / 2 * (ymax - ymin)
        centre_x = xmin + (boxes[candidates, 1] + boxes[candidates, 3]) / 2 * (xmax - xmin)
        distance = np.hypot((centre_x - 0.5) * width, (centre_y - 0.5) * height)
        return int(candidates[distance.argmin()])
