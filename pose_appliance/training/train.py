"""``train_classifier``: dataset -> keypoints -> trained model -> exported TFLite files and the report."""

from __future__ import annotations

import functools
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose_appliance.classify.features import normalized_landmarks
from pose_appliance.classify.keypoint_csv import write_keypoint_csv
from pose_appliance.errors import UserError
from pose_appliance.training.dataset import (
    best_estimator,
    check_usable,
    load_samples,
    match_classes,
    stratified_split,
)
from pose_appliance.training.model import export_tflite, import_tensorflow, train_model
from pose_appliance.training.report import evaluate, report_markdown, write_confusion_png

TEST_FRACTION = 0.2
FLOAT_MODEL, INT8_MODEL, LABELS_FILE = "model.tflite", "model_int8.tflite", "labels.txt"


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


def train_classifier(options: TrainingOptions) -> dict:
    """Train, export and evaluate; write the report into ``options.out``. Returns the report (``report.json``)."""
    if options.epochs < 1:
        raise UserError("--epochs must be 1 or more")
    if not 0.0 < options.val_split < 0.9:
        raise UserError("--val-split must be between 0 and 0.9, e.g. 0.15")
    out = Path(options.out)
    if (out / FLOAT_MODEL).exists() and not options.force:
        raise UserError(f"{out / FLOAT_MODEL} already exists (an appliance may be using it): choose another "
                        "--out, or pass --force to replace it")
    times: dict[str, float] = {}
    # Loaded once, and only when a dataset is an image folder whose layout checked out.
    estimator = functools.cache(lambda: best_estimator(options.models_dir))

    started = time.perf_counter()
    dataset = load_samples(Path(options.dataset), estimator)
    test = load_samples(Path(options.test), estimator) if options.test else None
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
    (out / LABELS_FILE).write_text("\n".join(samples.classes) + "\n", encoding="utf-8")
    exported = {FLOAT_MODEL: export_tflite(tf, model, out / FLOAT_MODEL)}
    if options.int8:
        exported[INT8_MODEL] = export_tflite(tf, model, out / INT8_MODEL,
                                             representative=normalized_landmarks(train.keypoints))
    times["export_s"] = time.perf_counter() - started

    evaluations = {name: evaluate(path, out / LABELS_FILE, test_samples) for name, path in exported.items()}
    write_confusion_png(out / "confusion.png", evaluations[FLOAT_MODEL]["confusion"], samples.classes)
    report = {
        "dataset": str(options.dataset),
        "keypoints_from": dataset.source if test is None else f"{dataset.source}; test: {test.source}",
        "classes": samples.classes,
        "samples": {"train": train.counts(), "validation": validation.counts(), "test": test_samples.counts()},
        "test_set": test_source,
        "skipped": [{"file": f, "reason": r} for f, r in dataset.skipped + (test.skipped if test else [])],
        "training": fit,
        "seed": options.seed,
        "times_s": {key: round(value, 2) for key, value in times.items()},
        "models": {name: {"size_bytes": path.stat().st_size, **evaluations[name]}
                   for name, path in exported.items()},
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(report_markdown(report), encoding="utf-8")
    return report


