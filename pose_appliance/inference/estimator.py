"""The Estimator interface every pose model family implements, and its null object."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from pose_appliance.types import Pose


class Estimator(Protocol):
    """Image in, one person's keypoints out.

    ``estimate(image, *, timestamp=None, output_size=None)`` keeps tracking state between video frames;
    ``estimate_still(image, passes=2, *, output_size=None)`` treats the image on its own. Both return keypoints in
    pixels of ``output_size`` = (width, height) when given (the display image when ``image`` is the lores stream of
    the same field of view), else of ``image``; ``None`` when nobody is found.

    An estimator whose model can run while the next frame is prepared also has ``prepare(image) -> prepared``
    (crop and resize into an input buffer of its own), ``infer(prepared) -> outputs`` (the only call that touches
    the interpreter; the pipeline runs it on its invoke thread) and ``finish(prepared, outputs, *, timestamp,
    output_size) -> Pose | None`` (decode, smooth, update the tracking crop). ``estimate`` is the three in a row.
    The pipeline overlaps frames only for estimators that have ``finish``; the others run frame by frame.
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

    def reset(self) -> None: ...


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

    def reset(self) -> None:
        pass
