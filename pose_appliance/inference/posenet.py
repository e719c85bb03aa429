"""PoseNet MobileNetV1 (257 x 257, float input in [-1, 1]): single-pose decoding of heatmaps + offsets."""

from __future__ import annotations

import numpy as np

from pose_appliance.inference.crop_region import Crop, padded_full_frame
from pose_appliance.inference.decoders import NUM_KEYPOINTS, decode_posenet
from pose_appliance.inference.tflite_estimator import SinglePassEstimator


class PoseNetEstimator(SinglePassEstimator):
    """Reads the whole frame padded to a square (no crop tracking: that is MoveNet's). Keypoints come out in
    pixels of ``output_size`` (width, height) when given, else of the image."""

    input_scale = 1.0 / 127.5
    input_offset = -1.0

    def __init__(self, model, config=None, *, name: str = ""):
        super().__init__(model, config, name=name)
        last_dims = [int(d["shape"][-1]) for d in self._outputs]
        if NUM_KEYPOINTS not in last_dims or 2 * NUM_KEYPOINTS not in last_dims:
            raise ValueError(f"{model.path}: not a PoseNet model (outputs end in {last_dims}; expected heatmaps "
                             "[..., 17] and offsets [..., 34])")
        self._heatmaps = last_dims.index(NUM_KEYPOINTS)
        self._offsets = last_dims.index(2 * NUM_KEYPOINTS)

    def _keypoints(self, image: np.ndarray) -> tuple[np.ndarray, Crop]:
        height, width = image.shape[:2]
        crop = padded_full_frame(width, height)
        outputs = self._run(image, crop)
        input_w, input_h = self.input_size
        return decode_posenet(outputs[self._heatmaps], outputs[self._offsets], input_h, input_w), crop
