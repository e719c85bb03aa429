"""The interfaces of the classify stage: a classifier (pose in, an assessment out: one score per label, or why
there is nothing to name) and the smoother that turns those per-frame assessments into a label steady enough to
show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from pose_appliance.types import LabelDecision, Pose

# A class of this name holds the poses that are none of the others (train-classifier takes it from a folder or CSV
# class of that name): the classifier and the pose reference learn it like any class; the appliance never shows it.
OTHER_LABEL = "other"


def other_index(labels: list[str]) -> int:
    """The index of ``OTHER_LABEL`` in ``labels``, or -1 when the classifier has no such class."""
    return labels.index(OTHER_LABEL) if OTHER_LABEL in labels else -1


@dataclass
class Assessment:
    """One frame's evidence for the label smoother.

    ``scores``: the classifier's scores per label (all the weight on one class when the pose reference overrules
    the classifier, see ``PoseReference.choose``), or None when there is nothing to name: ``hint`` says why when
    the person is not (fully) in view; otherwise the pose is unlike every class (``familiarity`` tells how
    typical it is of each class; None without a pose reference)."""

    scores: np.ndarray | None
    hint: str | None = None
    familiarity: np.ndarray | None = None


class Classifier(Protocol):
    """Scores one pose against ``labels`` (softmax, float32 of shape ``(len(labels),)``)."""

    labels: list[str]

    def classify(self, pose: Pose) -> np.ndarray: ...

    @property
    def checks_mirror_image(self) -> bool:
        """Whether ``assess`` looks at ``mirror``: callers find the mirror pose only then."""
        ...

    def assess(self, pose: Pose, frame_size: tuple[int, int] | None = None, *, mirror: Pose | None = None
               ) -> Assessment:
        """View check, classifier and open-set check for one pose (``frame_size`` = (w, h) of its frame).
        ``mirror``: for a still, the pose found in the picture flipped left to right, in the picture's own
        pixels; the photo is then judged on both views."""
        ...


class Smoother(Protocol):
    """The label shown, from a stream of per-frame assessments (:class:`~pose_appliance.classify.LabelSmoother`)."""

    def update(self, assessment: Assessment, *, still: bool = False, timestamp: float | None = None
               ) -> LabelDecision: ...

    def reset(self) -> None: ...
