"""Turns per-frame classifier scores into a label that is steady enough to show."""

from __future__ import annotations

import numpy as np

from pose_appliance.config import ClassifierConfig
from pose_appliance.types import LabelDecision, Pose

WHOLE_BODY_MESSAGE = "make sure the whole body is visible"


class LabelSmoother:
    """The label the overlay shows, from a stream of per-frame scores.

    Rule, applied on every frame:

    1. **Whole body visible.** If any keypoint scores below ``min_keypoint_score``, the pose is not classified
       (the pipeline asks :meth:`pose_is_classifiable` first and passes ``scores=None``): no label, the message
       "make sure the whole body is visible", and the smoothing starts over.
    2. **Smoothing.** Each class keeps an exponential moving average of its score,
       ``avg = (1 - smoothing) * avg + smoothing * score``, starting from 0, so a label needs several
       agreeing frames before it appears.
    3. **Threshold.** With no label shown, the class with the highest average is shown once its average
       reaches ``min_label_score``.
    4. **Hysteresis.** The shown label stays while its average is at least ``min_label_score - hysteresis``.
       Another class replaces it only when that class has reached ``min_label_score`` and beats the shown
       label's average by at least ``hysteresis``.

    ``top`` lists the ``top_k`` classes by average score; ``score`` is the shown label's average (0 if none).

    A ``still`` image (a photo of a folder) has no history: its own scores are the averages and nothing is
    carried over to the next image.
    """

    def __init__(self, labels: list[str], classifier_config: ClassifierConfig):
        if not labels:
            raise ValueError("LabelSmoother needs at least one label")
        self.labels = list(labels)
        self.config = classifier_config
        self._average = np.zeros(len(self.labels), np.float32)
        self._shown: int | None = None

    def reset(self) -> None:
        self._average[:] = 0.0
        self._shown = None

    def pose_is_classifiable(self, pose: Pose) -> bool:
        """True when every keypoint scores at least ``min_keypoint_score`` (the whole body is visible)."""
        return bool(np.all(pose.scores >= self.config.min_keypoint_score))

    def update(self, pose: Pose, scores: np.ndarray | None, *, still: bool = False) -> LabelDecision:
        if scores is None or not self.pose_is_classifiable(pose):
            self.reset()
            return LabelDecision(label=None, message=WHOLE_BODY_MESSAGE)
        scores = np.asarray(scores, np.float32).reshape(-1)
        if scores.shape[0] != len(self.labels):
            raise ValueError(f"{scores.shape[0]} scores for {len(self.labels)} labels")
        if still:
            self.reset()
        alpha = 1.0 if still else self.config.smoothing
        self._average = (1.0 - alpha) * self._average + alpha * scores
        self._shown = self._choose(self._average)
        order = np.argsort(-self._average, kind="stable")[: self.config.top_k]
        top = [(self.labels[i], float(self._average[i])) for i in order]
        if self._shown is None:
            return LabelDecision(label=None, score=0.0, top=top)
        return LabelDecision(label=self.labels[self._shown], score=float(self._average[self._shown]), top=top)

    def _choose(self, average: np.ndarray) -> int | None:
        threshold, margin = self.config.min_label_score, self.config.hysteresis
        best = int(np.argmax(average))
        shown = self._shown
        if shown is not None and average[shown] < threshold - margin:
            shown = None
        if shown is None:
            return best if average[best] >= threshold else None
        if best != shown and average[best] >= threshold and average[best] >= average[shown] + margin:
            return best
        return shown
