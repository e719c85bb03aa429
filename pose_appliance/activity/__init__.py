"""What the person does over time: how long a pose is held, how many repetitions of an exercise.

This stage sits between classify/ and render/: it reads each frame's pose and smoothed label and adds an
``Activity`` (hold_s, reps, events) to the result that the overlay, the status, the keypoint records and the
event sinks read. It runs on the inference thread, once per frame, in pure Python/numpy (microseconds).
"""

from __future__ import annotations

import threading

from pose_appliance.activity.activity_stage import ActivityStage
from pose_appliance.activity.hold_timer import HoldTimer
from pose_appliance.activity.rep_counter import (
    EXERCISES,
    Exercise,
    RepCounter,
    joint_angle,
)
from pose_appliance.config import CountingConfig
from pose_appliance.types import Activity, Pose


class ActivityTracker:
    """Hold timer + repetition counter for one pipeline.

    ``update`` runs on the pipeline's inference thread. ``configure`` (a reload) and ``request_reset`` (SIGUSR1,
    an MQTT command) may come from any thread: they are applied at the start of the next ``update``.
    """

    def __init__(self, counting_config: CountingConfig | None = None):
        config = counting_config or CountingConfig()
        check_counting(config)
        self._config = config
        self._hold = HoldTimer(config.hold_grace_seconds)
        self._counter = RepCounter(config) if config.exercise != "none" else None
        self._lock = threading.Lock()
        self._pending_config: CountingConfig | None = None
        self._reset_requested = False

    def configure(self, counting_config: CountingConfig) -> None:
        """Use new settings from the next frame on. Same exercise: count kept; another exercise: from 0."""
        check_counting(counting_config)
        with self._lock:
            self._pending_config = counting_config

    def request_reset(self) -> None:
        """Set the repetition count back to 0 at the next frame."""
        with self._lock:
            self._reset_requested = True

    def update(self, pose: Pose | None, label: str | None, t: float, *, cut: bool = False) -> Activity:
        """``cut``: the picture jumped (another camera, a video's new pass): a repetition in progress is
        forgotten, the count and the hold of the shown pose are kept."""
        self._apply_requests()
        hold_s, events = self._hold.update(label, t)
        counter = self._counter
        if counter is None:
            return Activity(pose=self._hold.pose, hold_s=hold_s, events=tuple(events))
        angle, rep_events = counter.update(pose, t, cut=cut)
        return Activity(pose=self._hold.pose, hold_s=hold_s, exercise=counter.exercise.name, reps=counter.reps,
                        angle=angle, events=tuple(events + rep_events))

    def _apply_requests(self) -> None:
        with self._lock:
            config, self._pending_config = self._pending_config, None
            reset, self._reset_requested = self._reset_requested, False
        if config is not None:
            self._hold.grace_s = config.hold_grace_seconds
            if config.exercise == "none":
                self._counter = None
            elif self._counter is not None and self._counter.exercise.name == config.exercise:
                self._counter.configure(config)
            else:
                self._counter = RepCounter(config)
            self._config = config
        if reset and self._counter is not None:
            self._counter.reset()


def check_counting(counting_config: CountingConfig) -> None:
    """Raise ValueError naming the key when the thresholds of the chosen exercise contradict each other."""
    if counting_config.exercise != "none":
        RepCounter(counting_config)


__all__ = ["EXERCISES", "ActivityStage", "ActivityTracker", "Exercise", "HoldTimer", "RepCounter", "check_counting",
           "joint_angle"]
