"""The interface of the activity stage: what a person does over time, from each frame's pose and label."""

from __future__ import annotations

from typing import Protocol

from pose_appliance.config import CountingConfig
from pose_appliance.types import Activity, Pose


class ActivityStage(Protocol):
    """``update`` runs on the inference thread once per frame (``t`` is the frame's timestamp; ``cut``: the frame
    does not follow the one before, ``Frame.cut``); ``configure`` and ``request_reset`` may be called from any
    thread and take effect at the next ``update``."""

    def update(self, pose: Pose | None, label: str | None, t: float, *, cut: bool = False) -> Activity: ...

    def configure(self, counting_config: CountingConfig) -> None: ...

    def request_reset(self) -> None: ...
