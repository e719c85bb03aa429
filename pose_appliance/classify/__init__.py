"""Naming the pose: classifier features, the TFLite classifier and label smoothing.

``create_classifier`` is the stage factory the app calls. Training a classifier is :mod:`pose_appliance.training`
(the ``train-classifier`` command), which reads the same features.
"""

from __future__ import annotations

from pathlib import Path

from pose_appliance.classify.features import normalized_landmarks, yoga_classifier_input
from pose_appliance.classify.label_smoother import WHOLE_BODY_MESSAGE, LabelSmoother
from pose_appliance.classify.pose_classifier import ClassifierError, PoseClassifier, read_labels
from pose_appliance.config import ClassifierConfig


def create_classifier(classifier_config: ClassifierConfig, models_dir: str | Path) -> PoseClassifier | None:
    """The configured classifier, or None when ``classifier.enabled`` is false.

    Model: ``classifier.path`` if set, else the manifest entry ``classifier.name`` in ``models_dir``.
    Labels: ``classifier.labels`` if set; else, for a ``path``, ``<path without .tflite>_labels.txt`` or
    ``labels.txt`` beside it; else the manifest's labels entry of the named classifier.
    """
    if not classifier_config.enabled:
        return None
    model_path, labels_path = resolve_classifier_files(classifier_config, models_dir)
    return PoseClassifier(model_path, labels_path)


def resolve_classifier_files(classifier_config: ClassifierConfig, models_dir: str | Path) -> tuple[Path, Path]:
    """(model file, labels file) for the config, following :func:`create_classifier`'s rules."""
    labels = Path(classifier_config.labels).expanduser() if classifier_config.labels else None
    if classifier_config.path:
        model = Path(classifier_config.path).expanduser()
        if not model.is_file():
            raise ClassifierError(f"classifier.path: {model}: no such file (train one with "
                                  "pose-appliance train-classifier, or leave path empty to use classifier.name)")
        if labels is None:
            candidates = [model.with_name(model.stem + "_labels.txt"), model.with_name("labels.txt")]
            labels = next((c for c in candidates if c.is_file()), None)
            if labels is None:
                raise ClassifierError(f"classifier.labels: no labels for {model} (looked for "
                                      f"{candidates[0].name} and {candidates[1].name} beside it; set "
                                      "classifier.labels)")
        return model, labels
    from pose_appliance import modelstore

    manifest = modelstore.load_manifest()
    entry = manifest.get(classifier_config.name)
    if entry is None:
        raise ClassifierError(f"classifier.name: {classifier_config.name!r} is not in the model manifest "
                              f"(known: {', '.join(sorted(manifest))})")
    model = modelstore.model_file(classifier_config.name, models_dir, manifest=manifest)
    if labels is None:
        if not entry.labels:
            raise ClassifierError(f"classifier.labels: the manifest lists no labels for "
                                  f"{classifier_config.name!r}; set classifier.labels")
        labels = modelstore.model_file(entry.labels, models_dir, manifest=manifest)
    return model, labels


__all__ = [
    "ClassifierError", "LabelSmoother", "PoseClassifier", "WHOLE_BODY_MESSAGE", "create_classifier",
    "normalized_landmarks", "read_labels", "resolve_classifier_files", "yoga_classifier_input",
]
