"""How long the current pose has been held, from the stream of smoothed labels."""

from __future__ import annotations

from pose_appliance.types import ActivityEvent


class HoldTimer:
    """Seconds since the current label appeared.

    A different label ends the hold and starts a new one at once. No label (nobody, or a pose the classifier
    cannot name) for longer than ``grace_s`` ends it; a shorter gap is bridged, the clock keeps running.
    Time is the frames' timestamps, so a recorded file gives the same holds as the live camera did. Time that
    goes backwards (a looping file, a new camera) ends the hold.
    """

    def __init__(self, grace_s: float):
        self.grace_s = grace_s
        self.pose: str | None = None
        self._started = 0.0
        self._last_seen = 0.0
        self._last_t: float | None = None

    def update(self, label: str | None, t: float) -> tuple[float, list[ActivityEvent]]:
        """(seconds held so far, events) after a frame at time ``t`` whose label is ``label``."""
        events: list[ActivityEvent] = []
        if self._last_t is not None and t < self._last_t:
            self._end(self._last_t, events)
        self._last_t = t
        if label is not None:
            if label != self.pose:
                self._end(t, events)
                self.pose, self._started = label, t
                events.append(ActivityEvent("pose_start", t, pose=label))
            self._last_seen = t
        elif self.pose is not None and t - self._last_seen > self.grace_s:
            self._end(t, events)
        return (t - self._started if self.pose is not None else 0.0), events

    def _end(self, t: float, events: list[ActivityEvent]) -> None:
        if self.pose is not None:
            events.append(ActivityEvent("pose_end", t, pose=self.pose, held_s=self._last_seen - self._started))
            self.pose = None
