"""``train_classifier``: dataset -> keypoints -> trained model -> exported TFLite files and the report."""

from __future__ import annotations

import functools
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose_appliance.classify import REFERENCE_FILE, SIDECAR_FILE
from pose_appliance.classify.features import FEATURE_VERSION, normalized_landmarks
from pose_appliance.classify.keypoint_csv import KeypointSet, write_keypoint_csv
from pose_appliance.classify.reference import REFERENCE_VERSION, PoseReference
from pose_appliance.config import Config
from pose_appliance.errors import UserError
from pose_appliance.training.dataset import (
    appliance_estimator,
    check_usable,
    load_samples,
    match_classes,
    stratified_split,
)
from pose_appliance.training.model import export_tflite, import_tensorflow, require_tensorflow, train_model
from pose_appliance.training.report import (
    evaluate,
    evaluate_open_set,
    report_markdown,
    write_confusion_png,
    write_training_curve_png,
)

TEST_FRACTION = 0.2
FLOAT_MODEL, INT8_MODEL, LABELS_FILE = "model.tflite", "model_int8.tflite", "labels.txt"
APPLIANCE_CONFIG = "/etc/pose-appliance/config.toml"


@dataclass(frozen=True)
class TrainingOptions:
    dataset: str
    out: str
    epochs: int = 200
    int8: bool = False
    val_split: float = 0.15
    test: str | None = None
    models_dir: str = ""
    keypoints_csv: str | None = None
    seed: int = 0
    force: bool = False
    config: str = ""
    model: str = ""


def appliance_config(options: TrainingOptions) -> Config:
    """The config whose pose model and view check training follows: --config, else the installed appliance's
    config when there is one, else the built-in defaults."""
    from pose_appliance.config import ConfigError, load_config

    path = options.config or (APPLIANCE_CONFIG if Path(APPLIANCE_CONFIG).is_file() else "")
    if not path:
        return Config()
    try:
        return load_config(path)
    except ConfigError as exc:
        raise UserError(str(exc)) from None


def train_classifier(options: TrainingOptions) -> dict:
    """Train, export and evaluate; write the report into ``options.out``. Returns the report (``report.json``)."""
    if options.epochs < 1:
        raise UserError("--epochs must be 1 or more")
    if not 0.0 < options.val_split < 0.9:
        raise UserError("--val-split must be between 0 and 0.9, e.g. 0.15")
    out = Path(options.out)
    for name in (FLOAT_MODEL, INT8_MODEL):
        if (out / name).exists() and not options.force:
            raise UserError(f"{out / name} already exists (an appliance may be using it): choose another "
                            "--out, or pass --force to replace it")
    require_tensorflow()  # before a minute of pose estimation, not after
    config = appliance_config(options)
    pose_model = options.model or config.model.name
    models_dir = options.models_dir or config.service.models_dir
    times: dict[str, float] = {}
    # Loaded once, and only when a dataset is an image folder whose layout checked out.
    estimator = functools.cache(lambda: appliance_estimator(models_dir, pose_model))

    started = time.perf_counter()
    dataset = load_samples(Path(options.dataset), estimator, config.classifier)
    test = load_samples(Path(options.test), estimator, config.classifier) if options.test else None
    times["keypoints_s"] = time.perf_counter() - started
    if options.keypoints_csv and dataset.from_images:
        write_keypoint_csv(options.keypoints_csv, dataset.samples)
        print(f"keypoints written to {options.keypoints_csv}", file=sys.stderr)

    samples = dataset.samples
    check_usable(samples, options.dataset, dataset.skipped)
    rng = np.random.default_rng(options.seed)
    if test is None:
        samples, test_samples = stratified_split(samples, TEST_FRACTION, rng, options.dataset)
        test_source = f"{TEST_FRACTION:.0%} of the dataset held out, never trained on nor used for stopping"
    else:
        test_source = str(options.test)
        test_samples = match_classes(test.samples, samples.classes, test_source)
    train, validation = stratified_split(samples, options.val_split, rng, options.dataset)

    started = time.perf_counter()
    tf = import_tensorflow()
    model, fit = train_model(tf, train, validation, epochs=options.epochs, seed=options.seed)
    times["training_s"] = time.perf_counter() - started

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    if not options.int8:  # an earlier run's, which the new labels.txt and reference.npz do not describe
        (out / INT8_MODEL).unlink(missing_ok=True)
    (out / LABELS_FILE).write_text("\n".join(samples.classes) + "\n", encoding="utf-8")
    exported = {FLOAT_MODEL: export_tflite(tf, model, out / FLOAT_MODEL)}
    if options.int8:
        exported[INT8_MODEL] = export_tflite(tf, model, out / INT8_MODEL,
                                             representative=normalized_landmarks(train.keypoints))
    times["export_s"] = time.perf_counter() - started

    reference = PoseReference.build(*_reference_samples(train, validation))
    reference.save(out / REFERENCE_FILE)
    write_sidecar(out, samples.classes, pose_model if dataset.from_images else None, dataset.source)
    evaluations = {name: evaluate(path, out / LABELS_FILE, test_samples) for name, path in exported.items()}
    open_set = evaluate_open_set(out / FLOAT_MODEL, out / LABELS_FILE, reference, test_samples,
                                 config.classifier)
    write_confusion_png(out / "confusion.png", evaluations[FLOAT_MODEL]["confusion"], samples.classes)
    write_training_curve_png(out / "training.png", fit)
    report = {
        "dataset": str(options.dataset),
        "keypoints_from": dataset.source if test is None else f"{dataset.source}; test: {test.source}",
        "classes": samples.classes,
        "samples": {"train": train.counts(), "validation": validation.counts(), "test": test_samples.counts()},
        "test_set": test_source,
        "pose_model": pose_model if dataset.from_images else None,
        "skipped": [{"file": f, "reason": r} for f, r in dataset.skipped + (test.skipped if test else [])],
        "training": fit,
        "seed": options.seed,
        "times_s": {key: round(value, 2) for key, value in times.items()},
        "models": {name: {"size_bytes": path.stat().st_size, **evaluations[name]}
                   for name, path in exported.items()},
        "open_set": open_set,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(report_markdown(report), encoding="utf-8")
    return report




def _reference_samples(train: KeypointSet, validation: KeypointSet) -> tuple:
    """Every sample the model learnt from (train + validation, never the test set), for the pose reference."""
    keypoints = np.concatenate([train.keypoints, validation.keypoints])
    targets = np.concatenate([train.targets, validation.targets])
    return keypoints, targets, list(train.classes), list(train.files) + list(validation.files)


def write_sidecar(out: Path, classes: list[str], pose_model: str | None, keypoints_from: str) -> None:
    """``model.json`` beside labels.txt: what the appliance must feed this classifier. It warns when its own
    pose model or feature version differs."""
    sidecar = {"pose_model": pose_model, "keypoints_from": keypoints_from, "feature_version": FEATURE_VERSION,
               "reference": REFERENCE_FILE, "reference_version": REFERENCE_VERSION, "classes": classes}
    (out / SIDECAR_FILE).write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
