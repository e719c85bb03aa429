"""Naming the pose: classifier features, the TFLite classifier and label smoothing.

``create_classifier`` is the stage factory the app calls. Training a classifier is :mod:`pose_appliance.training`
(the ``train-classifier`` command), which reads the same features.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pose_appliance.classify.classifier import Assessment
from pose_appliance.classify.features import normalized_landmarks, yoga_classifier_input
from pose_appliance.classify.label_smoother import LabelSmoother
from pose_appliance.classify.pose_classifier import ClassifierError, PoseClassifier, read_labels
from pose_appliance.classify.reference import PoseReference, reference_from_csv
from pose_appliance.config import ClassifierConfig

log = logging.getLogger(__name__)
REFERENCE_FILE, SIDECAR_FILE = "reference.npz", "model.json"


def create_classifier(classifier_config: ClassifierConfig, models_dir: str | Path, *,
                      pose_model: str | None = None) -> PoseClassifier | None:
    """The configured classifier, or None when ``classifier.enabled`` is false.

    Model: ``classifier.path`` if set, else the manifest entry ``classifier.name`` in ``models_dir``.
    Labels: ``classifier.labels`` if set; else, for a ``path``, ``<path without .tflite>_labels.txt`` or
    ``labels.txt`` beside it; else the manifest's labels entry of the named classifier.
    A train-classifier model's ``model.json`` says which pose model and feature version it was trained with; a
    warning is logged when they differ from ``pose_model`` (the appliance's model.name) and this build.
    """
    if not classifier_config.enabled:
        return None
    model_path, labels_path = resolve_classifier_files(classifier_config, models_dir)
    if classifier_config.path:
        warn_if_trained_for_another_setup(model_path, pose_model)
    reference = load_reference(classifier_config, models_dir)
    if reference is None and classifier_config.path and classifier_config.min_familiarity > 0:
        log.warning("classifier: no pose reference for %s (looked for %s beside it): every person gets one of its "
                    "labels; train it again with pose-appliance train-classifier, or set classifier.reference",
                    model_path, REFERENCE_FILE)
    return PoseClassifier(model_path, labels_path, reference=reference,
                          min_keypoint_score=classifier_config.min_keypoint_score,
                          min_visible_keypoints=classifier_config.min_visible_keypoints,
                          min_familiarity=classifier_config.min_familiarity)


def warn_if_trained_for_another_setup(model_path: Path, pose_model: str | None) -> list[str]:
    """Log (and return) a warning per difference between ``model.json`` beside the model and what runs now."""
    import json

    from pose_appliance.classify.features import FEATURE_VERSION

    sidecar = model_path.with_name(SIDECAR_FILE)
    try:
        trained = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    warnings = []
    if pose_model and trained.get("pose_model") and trained["pose_model"] != pose_model:
        warnings.append(f"classifier {model_path} was trained on keypoints of {trained['pose_model']} but the "
                        f"appliance runs {pose_model}: labels may be less reliable (train again with "
                        f"--model {pose_model}, or set model.name = \"{trained['pose_model']}\")")
    if trained.get("feature_version") not in (None, FEATURE_VERSION):
        warnings.append(f"classifier {model_path} was trained with feature version {trained['feature_version']}, "
                        f"this pose-appliance computes version {FEATURE_VERSION}: train it again")
    for warning in warnings:
        log.warning("%s", warning)
    return warnings


def load_reference(classifier_config: ClassifierConfig, models_dir: str | Path) -> PoseReference | None:
    """The open-set reference: ``classifier.reference`` (.npz or keypoint CSV); else ``reference.npz`` beside
    ``classifier.path``; else the manifest's reference keypoints of ``classifier.name`` (derived once and cached
    beside the CSV). None when there is none: a ``path`` classifier without reference.npz, or models fetched before
    the reference keypoints were in the manifest (logged with the fetch command)."""
    try:
        if classifier_config.reference:
            path = Path(classifier_config.reference).expanduser()
            if not path.is_file():
                raise ClassifierError(f"classifier.reference: {path}: no such file (a reference.npz made by "
                                      "train-classifier, or a keypoint CSV; empty = the default)")
            return reference_from_csv(path) if path.suffix.lower() == ".csv" else PoseReference.load(path)
        if classifier_config.path:
            beside = Path(classifier_config.path).expanduser().with_name(REFERENCE_FILE)
            if not beside.is_file():
                return None
            try:
                return PoseReference.load(beside)
            except ValueError as exc:
                raise ClassifierError(f"classifier.path: the pose reference beside it is damaged: {exc}; train the "
                                      "classifier again (pose-appliance train-classifier ... --force), or delete "
                                      f"{beside} to name poses without the open-set check") from None
        from pose_appliance import modelstore

        manifest = modelstore.load_manifest()
        entry = manifest.get(classifier_config.name)
        if entry is None or not entry.reference:
            return None
        try:
            keypoints = modelstore.model_file(entry.reference, models_dir, manifest=manifest)
        except modelstore.ModelError as exc:
            # Models fetched before the reference existed: name poses as before, and say how to fix it.
            log.warning("classifier: %s; until then every person gets one of its labels (no open-set check)", exc)
            return None
        return reference_from_csv(keypoints)
    except ValueError as exc:
        if isinstance(exc, ClassifierError):
            raise
        raise ClassifierError(f"classifier.reference: {exc}") from None


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
    "REFERENCE_FILE", "SIDECAR_FILE", "Assessment", "ClassifierError", "LabelSmoother", "PoseClassifier",
    "PoseReference", "create_classifier", "load_reference", "normalized_landmarks", "read_labels",
    "reference_from_csv", "resolve_classifier_files", "warn_if_trained_for_another_setup", "yoga_classifier_input",
]
