"""MoveNet SinglePose (Lightning 192 / Thunder 256, INT8 or FP16) with tfjs-style crop tracking and smoothing."""

from __future__ import annotations

import time

import numpy as np

from pose_appliance.inference.crop_region import (
    Crop,
    CropRegionTracker,
    next_crop_region,
    padded_full_frame,
    torso_visible,
)
from pose_appliance.inference.decoders import decode_singlepose
from pose_appliance.inference.estimator import PreparedInput
from pose_appliance.inference.tflite_estimator import TFLiteEstimator
from pose_appliance.types import Pose


class MoveNetEstimator(TFLiteEstimator):
    """One person per frame.

    Video (``estimate``): the first frame, and any frame after the torso was lost, is read whole (padded to a
    square); then each frame is cropped around the previous keypoints (``model.tracking``), which are first
    smoothed with a one-euro filter (``model.smoothing``), as tfjs pose-detection does. Stills
    (``estimate_still``): a whole-frame pass, then passes on the crop the previous pass found.

    Keypoints come out as (x, y, score) in pixels of ``output_size`` = (width, height) when given, else of the
    image passed in. Give the display image's size when passing ``Frame.lores`` (same field of view).
    """

    def __init__(self, model, config=None, *, name: str = ""):
        super().__init__(model, config, name=name)
        self._tracker = CropRegionTracker(self.config.min_crop_keypoint_score)
        if self._outputs[0]["shape"][-1] != 3 or int(np.prod(self._outputs[0]["shape"])) != 51:
            raise ValueError(f"{model.path}: not a MoveNet SinglePose model (output "
                             f"{list(self._outputs[0]['shape'])}, expected [1, 1, 17, 3])")

    def estimate(self, image: np.ndarray, *, timestamp: float | None = None,
                 output_size: tuple[int, int] | None = None) -> Pose | None:
        prepared = self.prepare(image)
        return self.finish(prepared, self.infer(prepared), timestamp=timestamp, output_size=output_size)

    # ``estimate`` in three steps, for a pipeline that prepares frame N+1 while frame N is invoked: ``prepare``
    # crops around the newest pose ``finish`` has seen, ``infer`` runs the model (any thread), ``finish`` decodes,
    # smooths and moves the crop. ``prepare`` and ``finish`` keep the tracking state: call them on one thread.
    def prepare(self, image: np.ndarray) -> PreparedInput:
        height, width = image.shape[:2]
        crop = self._tracker.crop(width, height) if self.config.tracking else padded_full_frame(width, height)
        return self._prepare(image, crop)

    def finish(self, prepared: PreparedInput, outputs: list[np.ndarray], *, timestamp: float | None = None,
               output_size: tuple[int, int] | None = None) -> Pose | None:
        width, height = prepared.image_size
        keypoints = decode_singlepose(outputs[0])
        found = self._to_pose(keypoints, prepared.crop, (width, height), output_size,
                              time.monotonic() if timestamp is None else timestamp)
        if found is None:
            self.reset()
            return None
        pose, in_pixels = found
        if self.config.tracking:
            self._tracker.update(in_pixels, width, height)
        return pose

    def estimate_still(self, image: np.ndarray, passes: int = 2, *, output_size: tuple[int, int] | None = None,
                       crop: Crop | None = None) -> Pose | None:
        """``passes`` - 1 refinements on the crop found by the previous pass; tracking state is left alone.

        The first pass reads ``crop`` (normalized ymin, xmin, ymax, xmax), by default the whole image padded to
        a square; ``(0, 0, 1, 1)`` stretches the image to the model input as Coral's examples do.
        """
        height, width = image.shape[:2]
        crop = padded_full_frame(width, height) if crop is None else crop
        found = None
        for _ in range(max(1, passes)):
            result = self._to_pose(decode_singlepose(self._run(image, crop)[0]), crop, (width, height),
                                   output_size)
            if result is None:
                break
            found = result
            in_pixels = result[1]
            if not torso_visible(in_pixels, self.config.min_crop_keypoint_score):
                break
            crop = next_crop_region(in_pixels, width, height, self.config.min_crop_keypoint_score)
        return None if found is None else found[0]

    def reset(self) -> None:
        super().reset()
        self._tracker.reset()
