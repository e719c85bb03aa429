"""The values that flow between the stages: camera -> inference -> classify -> render -> display.

Conventions, fixed once for the whole package:
- Images are numpy ``uint8`` arrays ``HxWx3`` in **RGB** order (never BGR; OpenCV readers convert once).
- Keypoints are ``(17, 3) float32`` rows of ``(x, y, score)`` with x, y in **pixels of Frame.image**.
- Crops are ``(ymin, xmin, ymax, xmax)`` normalized to the frame; they may extend past 0..1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
KEYPOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(KEYPOINT_NAMES)}

# COCO-17 skeleton as drawn by the MoveNet samples.
SKELETON_EDGES: tuple[tuple[int, int], ...] = (
    (0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (0, 6), (5, 7), (7, 9), (6, 8), (8, 10),
    (5, 6), (5, 11), (6, 12), (11, 12), (11, 13), (13, 15), (12, 14), (14, 16),
)

FULL_FRAME_CROP: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)


@dataclass(slots=True)
class Frame:
    """One captured frame.

    ``image`` is what the screen shows. ``lores`` is an optional smaller image of the same field of view
    (picamera2's lores stream) that the model reads instead, so the resampling per frame is cheap.
    ``still`` marks a frame unrelated to the one before (a folder of photos): no tracking, no smoothing.
    ``cut`` marks a video frame that does not follow the one before it (the first frame of a camera or file, the
    first after a file looped back to its start): crop tracking and keypoint smoothing start again from it.
    ``name`` is the image file a still came from (relative to the folder), so results can be joined to photos.
    """

    image: np.ndarray
    index: int
    timestamp: float
    lores: np.ndarray | None = None
    still: bool = False
    name: str | None = None
    cut: bool = False

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the display image."""
        return self.image.shape[1], self.image.shape[0]

    @property
    def model_image(self) -> np.ndarray:
        return self.image if self.lores is None else self.lores


@dataclass(slots=True)
class Pose:
    """One person's keypoints in frame pixels, and the crop the model looked at."""

    keypoints: np.ndarray
    crop: tuple[float, float, float, float] = FULL_FRAME_CROP

    @property
    def scores(self) -> np.ndarray:
        return self.keypoints[:, 2]

    @property
    def score(self) -> float:
        return float(self.keypoints[:, 2].mean())


@dataclass(slots=True)
class LabelDecision:
    """What the overlay says about the pose: a stable label, or why there is none."""

    label: str | None
    score: float = 0.0
    top: list[tuple[str, float]] = field(default_factory=list)
    message: str | None = None


@dataclass(slots=True, frozen=True)
class ActivityEvent:
    """Something that happened at one frame: a pose held from now on, a pose let go, one more repetition."""

    type: str  # "pose_start" | "pose_end" | "rep"
    t: float  # the frame's timestamp
    pose: str | None = None  # pose_start, pose_end
    held_s: float = 0.0  # pose_end: how long the pose was held
    exercise: str | None = None  # rep
    reps: int = 0  # rep: the count including this one


@dataclass(slots=True)
class Activity:
    """The hold timer and the repetition counter after one frame."""

    pose: str | None = None  # the label being held (kept through a short loss)
    hold_s: float = 0.0
    exercise: str | None = None  # None = no counting
    reps: int = 0
    angle: float | None = None  # the counted joint angle, median-filtered, when measurable
    events: tuple[ActivityEvent, ...] = ()


@dataclass(slots=True)
class FrameResult:
    """Everything drawn for one frame. ``fps``: frames shown per second up to this one (None before the second)."""

    frame: Frame
    pose: Pose | None
    decision: LabelDecision
    fps: float | None = None
    inference_ms: float = 0.0
    activity: Activity = field(default_factory=Activity)
