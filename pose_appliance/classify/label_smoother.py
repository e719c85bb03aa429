"""Turns per-frame classifier evidence into a label that is steady enough to show."""

from __future__ import annotations

import numpy as np

from pose_appliance.classify.classifier import Assessment
from pose_appliance.config import ClassifierConfig
from pose_appliance.types import LabelDecision

_SAME_TIME = 1e-3  # seconds: frame timestamps are floats


class LabelSmoother:
    """The label the overlay shows, from a stream of per-frame :class:`Assessment` values.

    "No label" is a candidate like the classes, so the open-set decision and the hysteresis cannot fight:

    1. **Evidence.** A frame whose pose is classified and familiar gives the classifier's scores; a frame with
       the person out of view, or a pose unlike every class, gives all its weight to "no label".
    2. **Smoothing.** Every candidate (each class and "no label") keeps an exponential moving average,
       ``avg = (1 - smoothing) * avg + smoothing * evidence``, starting from 0 with "no label" shown.
    3. **Threshold.** With nothing decided yet, the candidate with the highest average is taken once its
       average reaches ``min_label_score``.
    4. **Hysteresis.** The shown candidate stays while its average is at least ``min_label_score - hysteresis``.
       Another replaces it only when it has reached ``min_label_score`` and beats the shown one's average by at
       least ``hysteresis``. So a label neither appears nor disappears on one odd frame.
    5. **Grace.** A shown label that would give way to "no label" stays after the last frame that kept it by the
       rules above for as long as it had been shown until then, at most ``label_grace_seconds`` (frame
       timestamps). So a held pose that the open-set check refuses for a few frames, as its view changes, does
       not blink, and a label that flashed up on a frame or two does not linger. Another class replaces it at
       once.

    ``message`` is the view hint of the newest frame while no label is shown. ``top`` lists the ``top_k``
    classes by average score; ``score`` is the shown label's average (0 if none).

    A ``still`` image (a photo of a folder) has no history: its own evidence decides and nothing is carried over.
    """

    def __init__(self, labels: list[str], classifier_config: ClassifierConfig):
        if not labels:
            raise ValueError("LabelSmoother needs at least one label")
        self.labels = list(labels)
        self.config = classifier_config
        self._none = len(self.labels)
        self._average = np.zeros(len(self.labels) + 1, np.float32)
        self._shown: int | None = None
        self._kept_at: float | None = None
        self._since: float | None = None

    def reset(self) -> None:
        self._average[:] = 0.0
        self._shown = None
        self._kept_at = self._since = None

    def update(self, assessment: Assessment, *, still: bool = False, timestamp: float | None = None
               ) -> LabelDecision:
        """``timestamp`` (seconds, the frame's) times the grace; without it there is none."""
        evidence = np.zeros(len(self.labels) + 1, np.float32)
        if assessment.scores is None:
            evidence[self._none] = 1.0
        else:
            scores = np.asarray(assessment.scores, np.float32).reshape(-1)
            if scores.shape[0] != len(self.labels):
                raise ValueError(f"{scores.shape[0]} scores for {len(self.labels)} labels")
            evidence[:-1] = scores
        if still:
            self.reset()
        alpha = 1.0 if still else self.config.smoothing
        self._average = (1.0 - alpha) * self._average + alpha * evidence
        self._shown = self._with_grace(self._choose(self._average), None if still else timestamp)
        classes = self._average[:-1].tolist()  # a handful of values: Python sorts them faster than numpy
        ranked = sorted((i for i, score in enumerate(classes) if score > 0.0), key=lambda i: -classes[i])
        top = [(self.labels[i], classes[i]) for i in ranked[: self.config.top_k]]
        if self._shown is None or self._shown == self._none:
            return LabelDecision(label=None, score=0.0, top=top, message=assessment.hint)
        return LabelDecision(label=self.labels[self._shown], score=float(self._average[self._shown]), top=top)

    def _with_grace(self, chosen: int | None, timestamp: float | None) -> int | None:
        """``chosen`` by the rules, or the shown class in its grace: a lost label stays as long as it had been
        shown before, and at most ``label_grace_seconds``, so a label that flashed up for a frame does not."""
        shown = self._shown
        if timestamp is not None and self._kept_at is not None and timestamp < self._kept_at:
            self._kept_at = self._since = None  # the clock went back (a video opened again): start over
        if chosen is not None and chosen != self._none:
            if chosen != shown or self._since is None:
                self._since = timestamp
            self._kept_at = timestamp
            return chosen
        if (shown is not None and shown != self._none and timestamp is not None
                and self._kept_at is not None and self._since is not None):
            grace = min(self.config.label_grace_seconds, self._kept_at - self._since)
            if timestamp - self._kept_at <= grace + _SAME_TIME:
                return shown
        self._kept_at = self._since = None
        return chosen

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
