"""A TFLite pose classifier: keypoints in, one score per label out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from pose_appliance.classify.classifier import Assessment, other_index
from pose_appliance.classify.features import FEATURE_SIZE, YOGA_INPUT_SIZE, normalized_landmarks, yoga_classifier_input
from pose_appliance.classify.reference import PoseReference
from pose_appliance.classify.view_check import view_problem
from pose_appliance.inference.runtime import load_model
from pose_appliance.types import Pose


class ClassifierError(ValueError):
    """The classifier or its labels cannot be used; the message names the file and the fix."""


def read_labels(path: str | Path) -> list[str]:
    """One label per line, in output order; blank lines and surrounding spaces are ignored."""
    path = Path(path)
    if path.exists() and not path.is_file():  # a FIFO would block the reader (the service's main thread)
        raise ClassifierError(f"{path}: the labels file is not a regular file (a folder, FIFO or device)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ClassifierError(f"{path}: labels file not found (set classifier.labels to the labels file, one "
                              "label per line)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ClassifierError(f"{path}: cannot read labels file: {exc}") from None
    labels = [line.strip() for line in text.splitlines() if line.strip()]
    if not labels:
        raise ClassifierError(f"{path}: labels file is empty (write one label per line, in output order)")
    return labels


class PoseClassifier:
    """Classifies one Pose with a TFLite model; the input contract follows the model's input width.

    - ``[1, 51]``: 17 x (y, x, score) pixels -- the published yoga classifier, which normalizes in its graph.
    - ``[1, 34]``: :func:`~pose_appliance.classify.features.normalized_landmarks` -- models from
      ``train-classifier``, so training and the appliance share one normalization.

    Quantized (int8/uint8) input or output tensors are (de)quantized here, so float and INT8 exports both load.
    """

    def __init__(self, model_path: str | Path, labels_path: str | Path, *, threads: int = 1,
                 reference: PoseReference | None = None, min_keypoint_score: float = 0.2,
                 min_visible_keypoints: int = 8, min_familiarity: float = 0.02):
        self.model_path = Path(model_path)
        self.labels = read_labels(labels_path)
        self.reference = reference
        self.min_keypoint_score = min_keypoint_score
        self.min_visible_keypoints = min_visible_keypoints
        self.min_familiarity = min_familiarity
        if reference is not None and reference.classes != self.labels:
            raise ClassifierError(f"{Path(labels_path)}: the pose reference has classes "
                                  f"{', '.join(reference.classes)}, the labels are {', '.join(self.labels)} "
                                  "(use the reference made with this classifier)")
        # load_model raises ModelLoadError (a RuntimeError) naming the file for a missing or broken model.
        self._interpreter = load_model(self.model_path, threads=threads, delegate="cpu").interpreter
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        width = int(self._input["shape"][-1])
        self._make_input: Callable[[Pose | np.ndarray], np.ndarray]
        if width == YOGA_INPUT_SIZE:
            self._make_input = yoga_classifier_input
        elif width == FEATURE_SIZE:
            self._make_input = lambda pose: normalized_landmarks(pose).reshape(1, FEATURE_SIZE)
        else:
            shape = [int(d) for d in self._input["shape"]]
            raise ClassifierError(f"{self.model_path}: input shape {shape} is neither "
                                  f"[1, {YOGA_INPUT_SIZE}] (y, x, score pixels) nor [1, {FEATURE_SIZE}] "
                                  "(normalized landmarks from train-classifier)")
        self._other = other_index(self.labels)
        outputs = int(np.prod(self._output["shape"]))
        if outputs != len(self.labels):
            raise ClassifierError(f"{Path(labels_path)}: {len(self.labels)} labels but {self.model_path.name} has "
                                  f"{outputs} outputs (use the labels file made with this model)")

    @property
    def input_width(self) -> int:
        return int(self._input["shape"][-1])

    @property
    def checks_mirror_image(self) -> bool:
        """The mirror check is part of the open-set check: on with a reference and ``min_familiarity`` > 0."""
        return self.reference is not None and self.min_familiarity > 0.0

    def assess(self, pose: Pose, frame_size: tuple[int, int] | None = None, *, mirror: Pose | None = None
               ) -> Assessment:
        """View check, then the classifier on the pose (its unseen keypoints filled in from the nearest reference
        pose), then the open-set check (:meth:`PoseReference.choose`): the scores are kept for a pose familiar to
        the classifier's class; all the weight goes to the reference's class when it overrules the classifier.
        A pose whose class comes out as ``OTHER_LABEL`` gets no name, like one the open-set check refuses.

        ``mirror`` (stills): the pose MoveNet found in the picture flipped left to right, mirrored back. A pose
        and its mirror image are the same pose, seen twice with other keypoint noise, so the photo is judged on
        both views: the classifier's scores and the class distances are averaged over the two, and the
        reference overrules the classifier only when each view on its own is that distinct
        (:meth:`PoseReference.choose`). Looked at only when :attr:`checks_mirror_image`."""
        hint = view_problem(pose, frame_size, min_score=self.min_keypoint_score,
                            min_visible=self.min_visible_keypoints)
        if hint is not None:
            return Assessment(None, hint=hint)
        if self.reference is None:
            scores = self.classify(pose)
            return Assessment(None if int(np.argmax(scores)) == self._other else self._without_other(scores))
        distances, filled, coverage = self.reference.examine(pose.keypoints)
        scores = self.classify(filled)
        views = None
        if mirror is not None and self.checks_mirror_image:
            mirror_distances, mirror_filled, mirror_coverage = self.reference.examine(mirror.keypoints)
            views = [distances, mirror_distances]
            distances = (distances + mirror_distances) / 2
            scores = (scores + self.classify(mirror_filled)) / 2
            coverage = np.minimum(coverage, mirror_coverage)
        familiarity = self.reference.familiarity_of(distances)
        predicted = int(np.argmax(scores))
        chosen = self.reference.choose(predicted, distances, self.min_familiarity, familiarity=familiarity,
                                       coverage=coverage, views=views)
        if chosen is None or chosen == self._other:
            return Assessment(None, familiarity=familiarity)
        if chosen != predicted:
            scores = np.eye(len(self.labels), dtype=np.float32)[chosen]
        return Assessment(self._without_other(scores), familiarity=familiarity)

    def _without_other(self, scores: np.ndarray) -> np.ndarray:
        """The label smoother averages scores over frames: an ``other`` score left in could add up to a shown
        "other"."""
        if self._other >= 0:
            scores[self._other] = 0.0
        return scores

    def classify(self, pose: Pose | np.ndarray) -> np.ndarray:
        """Scores per label (softmax), float32 of shape ``(len(labels),)``."""
        values = self._make_input(pose)
        self._interpreter.set_tensor(self._input["index"], _quantize(values, self._input))
        self._interpreter.invoke()
        return _dequantize(self._interpreter.get_tensor(self._output["index"]), self._output).reshape(-1)


def _quantize(values: np.ndarray, detail: dict) -> np.ndarray:
    dtype = detail["dtype"]
    if dtype == np.float32:
        return values.astype(np.float32, copy=False)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(values / scale + zero_point), info.min, info.max).astype(dtype)


def _dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    if values.dtype == np.float32:
        return values.copy()
    scale, zero_point = detail["quantization"]
    return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)
