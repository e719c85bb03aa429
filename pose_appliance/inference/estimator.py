"""The Estimator interface every pose model family implements, and its null object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from pose_appliance.inference.crop_region import Crop
from pose_appliance.types import FULL_FRAME_CROP, Pose


@dataclass(slots=True)
class PreparedInput:
    """One frame's model input, written ahead of its invoke: the buffer, the crop it shows, the image size.

    Estimators that crop per frame (MoveNet) write the crop into a model-sized buffer of their own; single-pass
    estimators keep the image itself as the buffer and do the whole pass in ``infer``."""

    buffer: np.ndarray
    crop: Crop
    image_size: tuple[int, int]


class Estimator(Protocol):
    """Image in, one person's keypoints out.

    ``estimate(image, *, timestamp=None, output_size=None)`` keeps tracking state between video frames;
    ``estimate_still(image, passes=2, *, output_size=None)`` treats the image on its own. Both return keypoints in
    pixels of ``output_size`` = (width, height) when given (the display image when ``image`` is the lores stream of
    the same field of view), else of ``image``; ``None`` when nobody is found.

    ``estimate`` is three steps the pipeline runs on two threads, so the model works on frame N+1 while frame N
    is finished: ``prepare(image) -> PreparedInput`` (crop and resize into an input buffer of its own),
    ``infer(prepared) -> outputs`` (the only call that touches the interpreter; run on the invoke thread) and
    ``finish(prepared, outputs, *, timestamp, output_size) -> Pose | None`` (decode, smooth, update the tracking
    crop). ``prepare`` and ``finish`` keep the tracking state: call them on one thread, in frame order.
    """

    name: str

    @property
    def delegate(self) -> str: ...

    @property
    def fallback_reason(self) -> str | None: ...

    @property
    def input_size(self) -> tuple[int, int]: ...

    def estimate(self, image: np.ndarray, *, timestamp: float | None = None,
                 output_size: tuple[int, int] | None = None) -> Pose | None: ...

    def estimate_still(self, image: np.ndarray, passes: int = 2, *,
                       output_size: tuple[int, int] | None = None) -> Pose | None: ...

    def prepare(self, image: np.ndarray) -> PreparedInput: ...

    def infer(self, prepared: PreparedInput) -> list[np.ndarray]: ...

    def finish(self, prepared: PreparedInput, outputs: list[np.ndarray], *, timestamp: float | None = None,
               output_size: tuple[int, int] | None = None) -> Pose | None: ...

    def reset(self) -> None: ...

    def close(self) -> None:
        """Let go of the interpreter (and the Edge TPU with it)."""


class NullEstimator:
    """Finds nobody; the baseline when no model is wanted (and a stand-in for tests of other stages)."""

    name = "none"
    delegate = "cpu"
    fallback_reason = None
    input_size = (192, 192)

    def estimate(self, image: np.ndarray, *, timestamp: float | None = None,
                 output_size: tuple[int, int] | None = None) -> Pose | None:
        return None

    def estimate_still(self, image: np.ndarray, passes: int = 2, *,
                       output_size: tuple[int, int] | None = None) -> Pose | None:
        return None

    def prepare(self, image: np.ndarray) -> PreparedInput:
        return PreparedInput(image, FULL_FRAME_CROP, (image.shape[1], image.shape[0]))

    def infer(self, prepared: PreparedInput) -> list[np.ndarray]:
        return []

    def finish(self, prepared: PreparedInput, outputs: list[np.ndarray], *, timestamp: float | None = None,
               output_size: tuple[int, int] | None = None) -> Pose | None:
        return None

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass
