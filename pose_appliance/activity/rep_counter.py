"""Counting repetitions of an exercise from one joint angle with two thresholds.

Each exercise watches one joint on both sides of the body (the knee for squats, the elbow for push-ups, the
shoulder for arm raises). A side is measured only when its three keypoints all score at least
``min_keypoint_score``; a frame with no measurable side is skipped and the phase is kept, so dropped frames and
occluded limbs cannot count or cancel a repetition. Of two measurable sides the one farther from the turn is
used: a squat or a push-up bends both limbs, so walking (one knee bent at a time) never reaches the turn.
The median over the last few measured frames removes single-frame glitches.

Push-ups are measured only while the body lies (shoulder to hip nearer horizontal than vertical), so someone
standing with bending elbows is not doing push-ups.

Phases: unknown -> start (at or past ``start_angle``) -> turn (at or past ``turn_angle``) -> start again, which
counts one. The band between the two angles keeps whatever phase it had (hysteresis), so jitter around either
threshold cannot count twice. A person who first appears mid-movement is not counted until seen in the
start position; nothing measurable for ``lost_seconds``, and a cut (another camera, a video back at its start),
forget the phase but keep the count: a jump in the picture is not a movement.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass

import numpy as np

from pose_appliance.config import CountingConfig
from pose_appliance.types import KEYPOINT_INDEX, ActivityEvent, Pose


@dataclass(frozen=True)
class Exercise:
    """Which joint angle an exercise moves, on each side: (end, vertex, end) keypoint indices."""

    name: str
    sides: tuple[tuple[int, int, int], ...]
    start_is_high: bool  # squats and push-ups start extended (large angle); arm raises start low
    lying: bool = False  # push-ups: only measured while the body (shoulder to hip) is nearer horizontal than upright


def _joint(a: str, b: str, c: str) -> tuple[tuple[int, int, int], ...]:
    return tuple((KEYPOINT_INDEX[f"{side}_{a}"], KEYPOINT_INDEX[f"{side}_{b}"], KEYPOINT_INDEX[f"{side}_{c}"])
                 for side in ("left", "right"))


TORSOS = tuple((KEYPOINT_INDEX[f"{side}_shoulder"], KEYPOINT_INDEX[f"{side}_hip"]) for side in ("left", "right"))

EXERCISES: dict[str, Exercise] = {
    "squat": Exercise("squat", _joint("hip", "knee", "ankle"), start_is_high=True),
    "pushup": Exercise("pushup", _joint("shoulder", "elbow", "wrist"), start_is_high=True, lying=True),
    "arm_raise": Exercise("arm_raise", _joint("hip", "shoulder", "elbow"), start_is_high=False),
}


def joint_angle(keypoints: np.ndarray, a: int, b: int, c: int) -> float:
    """Angle at keypoint ``b`` between the segments to ``a`` and ``c``, in degrees (0..180)."""
    u = keypoints[a, :2] - keypoints[b, :2]
    v = keypoints[c, :2] - keypoints[b, :2]
    norms = float(np.linalg.norm(u) * np.linalg.norm(v))
    if norms == 0.0:
        return math.nan
    return math.degrees(math.acos(max(-1.0, min(1.0, float(np.dot(u, v)) / norms))))


class RepCounter:
    """Repetitions of one exercise; ``update`` once per frame, ``reset`` to start again from 0."""

    def __init__(self, counting_config: CountingConfig):
        self.exercise = EXERCISES[counting_config.exercise]
        self.reps = 0
        self.phase: str | None = None  # None (unknown), "start", "turn"
        self._last_measured: float | None = None
        self._last_t: float | None = None
        self.configure(counting_config)

    def configure(self, counting_config: CountingConfig) -> None:
        """New thresholds for the same exercise; the count and the phase stay."""
        if counting_config.exercise != self.exercise.name:
            raise ValueError(f"counting.exercise changed ({self.exercise.name} -> {counting_config.exercise}): "
                             "make a new counter")
        thresholds = getattr(counting_config, self.exercise.name)
        start, turn = thresholds.start_angle, thresholds.turn_angle
        if self.exercise.start_is_high and not start > turn:
            raise ValueError(f"counting.{self.exercise.name}: start_angle ({start:g}) must be above turn_angle "
                             f"({turn:g}): the start position is the straighter joint")
        if not self.exercise.start_is_high and not start < turn:
            raise ValueError(f"counting.{self.exercise.name}: start_angle ({start:g}) must be below turn_angle "
                             f"({turn:g}): the arms start down")
        self.start_angle, self.turn_angle = start, turn
        self.min_score = counting_config.min_keypoint_score
        self.lost_seconds = counting_config.lost_seconds
        self._recent: collections.deque[float] = collections.deque(maxlen=counting_config.median_frames)

    def reset(self) -> None:
        self.reps = 0

    def measure(self, pose: Pose | None) -> float | None:
        """This frame's joint angle, or None when no side is measurable."""
        if pose is None:
            return None
        keypoints = pose.keypoints
        if self.exercise.lying and not self._lying(keypoints):
            return None
        angles = [joint_angle(keypoints, *side) for side in self.exercise.sides
                  if keypoints[list(side), 2].min() >= self.min_score]
        angles = [a for a in angles if not math.isnan(a)]
        if not angles:
            return None
        return max(angles) if self.exercise.start_is_high else min(angles)

    def _lying(self, keypoints: np.ndarray) -> bool:
        """A measurable shoulder-to-hip line within 45 degrees of horizontal (someone standing with bent elbows
        is not doing push-ups)."""
        for shoulder, hip in TORSOS:
            if min(keypoints[shoulder, 2], keypoints[hip, 2]) >= self.min_score:
                dx, dy = np.abs(keypoints[hip, :2] - keypoints[shoulder, :2])
                return bool(dx >= dy)
        return False

    def update(self, pose: Pose | None, t: float, *, cut: bool = False) -> tuple[float | None, list[ActivityEvent]]:
        """(median angle or None, events) after a frame at time ``t``; ``cut``: it does not follow the one before."""
        if cut or (self._last_t is not None and t < self._last_t):
            self._forget()
        self._last_t = t
        angle = self.measure(pose)
        if angle is None:
            if self._last_measured is not None and t - self._last_measured > self.lost_seconds:
                self._forget()
            return None, []
        self._last_measured = t
        self._recent.append(angle)
        smoothed = float(np.median(self._recent))
        sign = 1.0 if self.exercise.start_is_high else -1.0
        at_start = sign * smoothed >= sign * self.start_angle
        at_turn = sign * smoothed <= sign * self.turn_angle
        if at_start:
            if self.phase == "turn":
                self.reps += 1
                self.phase = "start"
                return smoothed, [ActivityEvent("rep", t, exercise=self.exercise.name, reps=self.reps)]
            self.phase = "start"
        elif at_turn and self.phase == "start":
            self.phase = "turn"
        return smoothed, []

    def _forget(self) -> None:
        self.phase = None
        self._last_measured = None
        self._recent.clear()
