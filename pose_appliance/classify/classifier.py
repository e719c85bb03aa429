"""The interfaces of the classify stage: a classifier (pose in, one score per label out) and the smoother that
turns those per-frame scores into a label steady enough to show."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from pose_appliance.types import LabelDecision, Pose


class Classifier(Protocol):
    """Scores one pose against ``labels`` (softmax, float32 of shape ``(len(labels),)``)."""

    labels: list[str]

    def classify(self, pose: Pose) -> np.ndarray: ...


class Smoother(Protocol):
    """The label shown, from a stream of per-frame scores (:class:`~pose_appliance.classify.LabelSmoother`)."""

    def pose_is_classifiable(self, pose: Pose) -> bool:
        """False when the pose is not worth classifying (part of the body out of view)."""
        ...

    def update(self, pose: Pose, scores: np.ndarray | None, *, still: bool = False) -> LabelDecision: ...

    def reset(self) -> None: ...
