"""What the TFLite pose estimators share: the loaded model, writing a crop into its input, smoothing, and mapping
keypoints from the crop back to frame pixels."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from pose_appliance.config import ModelConfig
from pose_appliance.inference.crop_region import Crop
from pose_appliance.inference.crop_resize import CropResizer
from pose_appliance.inference.estimator import PreparedInput
from pose_appliance.inference.one_euro import OneEuroFilter
from pose_appliance.inference.runtime import LoadedModel
from pose_appliance.types import FULL_FRAME_CROP, Pose

SUPPORTED_INPUT_TYPES = (np.uint8, np.int32, np.float32)


class TFLiteEstimator:
    """Base of the estimators. Subclasses decode outputs; this class owns the interpreter side.

    The input size and dtype are read from the model: uint8 and int32 inputs get pixel values 0..255, float32
    inputs ``value * input_scale + input_offset`` (the family decides; MoveNet wants 0..255, PoseNet [-1, 1]).
    """

    input_scale = 1.0
    input_offset = 0.0

    def __init__(self, model: LoadedModel, config: ModelConfig | None = None, *, name: str = ""):
        self.model = model
        self.config = config or ModelConfig()
        self.name = name or model.path.stem
        self._filter = OneEuroFilter()
        self._interpreter: Any = None
        self._buffers: list[np.ndarray] | None = None
        self._next_buffer = 0
        self._resizer = self._bind(model.interpreter, None)

    @property
    def delegate(self) -> str:
        return self.model.delegate

    @property
    def fallback_reason(self) -> str | None:
        return self.model.fallback_reason

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) the model reads."""
        return self._resizer.width, self._resizer.height

    def reset(self) -> None:
        self._filter.reset()

    def close(self) -> None:
        """Let go of the interpreter (and the Edge TPU with it)."""
        self.model.interpreter = None
        self._interpreter = None

    # ------------------------------------------------------------------------------------------ model side
    def _bind(self, interpreter: Any, resizer: CropResizer | None) -> CropResizer:
        """Read input/output details of ``interpreter`` (again after a fallback to the CPU model). Returns the
        crop resizer for its input size: ``resizer`` itself when that size is unchanged."""
        detail = interpreter.get_input_details()[0]
        shape = [int(v) for v in detail["shape"]]
        if len(shape) != 4 or shape[3] != 3:
            raise ValueError(f"{self.model.path}: expected an image input [1, h, w, 3], got {shape}")
        dtype = np.dtype(detail["dtype"])
        if dtype not in [np.dtype(t) for t in SUPPORTED_INPUT_TYPES]:
            raise ValueError(f"{self.model.path}: input type {dtype} is not supported (uint8, int32, float32)")
        self._input_index, self._input_dtype = detail["index"], dtype
        self._outputs = interpreter.get_output_details()
        if resizer is None or (resizer.height, resizer.width) != tuple(shape[1:3]):
            resizer = CropResizer(shape[2], shape[1])
        self._interpreter = interpreter
        return resizer

    def _resize_input(self, width: int, height: int) -> None:
        """For models with a dynamic input size (MoveNet MultiPose): make the input [1, height, width, 3]."""
        interpreter = self.model.interpreter
        interpreter.resize_tensor_input(self._input_index, [1, height, width, 3])
        interpreter.allocate_tensors()
        self._resizer = self._bind(interpreter, self._resizer)

    def _prepare(self, image: np.ndarray, crop: Crop) -> PreparedInput:
        """Crop-and-resize ``image`` into the next of two input buffers of this estimator's own, so frame N+1 can
        be prepared on one thread while frame N is invoked on another (``infer``). The turn passes to the other
        buffer only when the resize succeeded: after a failed one, the next frame must not be written into the
        buffer of the frame in flight."""
        shape = (1, self._resizer.height, self._resizer.width, 3)
        if self._buffers is None or self._buffers[0].shape != shape or self._buffers[0].dtype != self._input_dtype:
            self._buffers = [np.empty(shape, self._input_dtype) for _ in range(2)]
        buffer = self._buffers[self._next_buffer]
        self._resizer(image, crop, buffer, scale=self.input_scale, offset=self.input_offset)
        self._next_buffer ^= 1
        return PreparedInput(buffer, crop, (image.shape[1], image.shape[0]))

    def infer(self, prepared: PreparedInput) -> list[np.ndarray]:
        """Copy a prepared input into the input tensor (a memcpy of the model input), invoke, return copies of
        the outputs in model order. Touches only the interpreter: safe beside ``prepare`` on another thread."""
        return self._invoke(lambda tensor: np.copyto(tensor, prepared.buffer))

    def _run(self, image: np.ndarray, crop: Crop) -> list[np.ndarray]:
        """Crop-and-resize ``image`` into the input tensor, invoke, return copies of the outputs in model order."""
        return self._invoke(lambda tensor: self._resizer(image, crop, tensor, scale=self.input_scale,
                                                         offset=self.input_offset))

    def _invoke(self, fill_input: Callable[[np.ndarray], object]) -> list[np.ndarray]:
        """``fill_input(view of the input tensor)``, invoke, copies of the outputs in model order. After a
        fallback to the CPU model the new interpreter is bound and filled again."""

        def write_input(interpreter: Any) -> None:
            if interpreter is not self._interpreter:
                self._resizer = self._bind(interpreter, self._resizer)
            fill_input(interpreter.tensor(self._input_index)())  # the view is dropped before invoke

        self.model.invoke(write_input)
        return [self._interpreter.get_tensor(d["index"]) for d in self._outputs]

    # ------------------------------------------------------------------------------------------ pose side
    def _to_pose(self, keypoints_yxs: np.ndarray, crop: Crop,
                 image_size: tuple[int, int], output_size: tuple[int, int] | None,
                 timestamp: float | None = None) -> tuple[Pose, np.ndarray] | None:
        """Crop-normalized (y, x, score) -> Pose in output pixels, plus the keypoints in ``image_size`` pixels
        (for the next crop). Smoothed when ``timestamp`` is given and smoothing is on; None when no keypoint
        scores above ``min_crop_keypoint_score`` (nobody there)."""
        scores = keypoints_yxs[:, 2].astype(np.float64)
        if not (scores > self.config.min_crop_keypoint_score).any():
            return None
        ymin, xmin, ymax, xmax = crop
        xy = np.stack([xmin + keypoints_yxs[:, 1] * (xmax - xmin), ymin + keypoints_yxs[:, 0] * (ymax - ymin)],
                      axis=1).astype(np.float64)
        if timestamp is not None and self.config.smoothing:
            xy = self._filter(xy, timestamp)
        in_pixels = np.column_stack([xy * image_size, scores]).astype(np.float32)
        out = np.column_stack([xy * (output_size or image_size), scores]).astype(np.float32)
        return Pose(out, (float(ymin), float(xmin), float(ymax), float(xmax))), in_pixels


class SinglePassEstimator(TFLiteEstimator):
    """An estimator without crop tracking: a video frame and a still image take the same single pass."""

    def estimate(self, image: np.ndarray, *, timestamp: float | None = None,
                 output_size: tuple[int, int] | None = None) -> Pose | None:
        prepared = self.prepare(image)
        return self.finish(prepared, self.infer(prepared), timestamp=timestamp, output_size=output_size)

    def estimate_still(self, image: np.ndarray, passes: int = 2, *,
                       output_size: tuple[int, int] | None = None) -> Pose | None:
        return self._pose(self._keypoints(image), (image.shape[1], image.shape[0]), output_size, None)

    # The three steps of ``estimate``: with nothing to crop ahead, the whole pass (resize, invoke, decode) is
    # ``infer``, which touches only the interpreter and this estimator's input-size state.
    def prepare(self, image: np.ndarray) -> PreparedInput:
        return PreparedInput(image, FULL_FRAME_CROP, (image.shape[1], image.shape[0]))

    def infer(self, prepared: PreparedInput) -> list[np.ndarray]:
        """``[keypoints (y, x, score) normalized to the crop, the crop]``, or ``[]`` when nobody is found."""
        found = self._keypoints(prepared.buffer)
        return [] if found is None else [found[0], np.array(found[1], np.float64)]

    def finish(self, prepared: PreparedInput, outputs: list[np.ndarray], *, timestamp: float | None = None,
               output_size: tuple[int, int] | None = None) -> Pose | None:
        found = None
        if outputs:
            ymin, xmin, ymax, xmax = (float(v) for v in outputs[1])
            found = (outputs[0], (ymin, xmin, ymax, xmax))
        return self._pose(found, prepared.image_size, output_size,
                          time.monotonic() if timestamp is None else timestamp)

    def _pose(self, found: tuple[np.ndarray, Crop] | None, image_size: tuple[int, int],
              output_size: tuple[int, int] | None, timestamp: float | None) -> Pose | None:
        pose = None if found is None else self._to_pose(*found, image_size, output_size, timestamp)
        if pose is None:
            self.reset()
            return None
        return pose[0]

    def _keypoints(self, image: np.ndarray) -> tuple[np.ndarray, Crop] | None:
        """One pass of the model: crop-normalized ``(17, 3)`` (y, x, score) and the crop, or None for nobody."""
        raise NotImplementedError
