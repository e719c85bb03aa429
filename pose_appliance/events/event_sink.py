"""The interface of event consumers (MQTT, ...) and the baseline that sends nothing."""

from __future__ import annotations

from typing import Protocol

from pose_appliance.types import ActivityEvent, FrameResult


class EventsError(ValueError):
    """An events setting that cannot work: names the key and the fix."""


class EventSink(Protocol):
    """Receives every frame's result beside the display.

    ``offer`` is called on the pipeline's inference thread for every frame: it must return at once (hand the
    result over and let its own thread do the sending), never wait for a network. ``start`` begins sending,
    ``close`` says goodbye (for MQTT: "offline") and stops; both run on the main thread. ``outdated`` (main
    thread, at a reload): what the sink read beside the config when it was made (a password file) now reads
    otherwise, so a reload makes a new one even if its config section is unchanged.
    """

    name: str

    def start(self) -> None: ...

    def outdated(self) -> bool: ...

    def offer(self, result: FrameResult, model_name: str, delegate: str) -> None: ...

    def close(self) -> None: ...


class NullEventSink:
    """events.type = "none": nothing is sent."""

    name = "none"

    def start(self) -> None:
        pass

    def outdated(self) -> bool:
        return False

    def offer(self, result: FrameResult, model_name: str, delegate: str) -> None:
        pass

    def close(self) -> None:
        pass


def state_document(result: FrameResult, model_name: str, delegate: str) -> dict:
    """The state as consumers see it (MQTT ``state``): pose, score, hold_s, reps, fps, model, delegate."""
    activity, decision = result.activity, result.decision
    return {
        "pose": decision.label,
        "score": round(float(decision.score), 3) if decision.label is not None else 0.0,
        "hold_s": round(activity.hold_s, 1),
        "reps": activity.reps,
        "exercise": activity.exercise,
        "fps": None if result.fps is None else round(result.fps, 1),  # None before two frames were shown
        "model": model_name,
        "delegate": delegate,
    }


def event_document(event: ActivityEvent, wall_time: str) -> dict:
    """One event as consumers see it (MQTT ``event``): type plus what that type carries."""
    document: dict = {"type": event.type, "time": wall_time}
    if event.type in ("pose_start", "pose_end"):
        document["pose"] = event.pose
    if event.type == "pose_end":
        document["held_s"] = round(event.held_s, 1)
    if event.type == "rep":
        document["exercise"] = event.exercise
        document["reps"] = event.reps
    return document
