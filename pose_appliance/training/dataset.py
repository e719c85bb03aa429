"""Datasets for training: an image folder ``<class>/*.jpg`` turned into keypoints with the pose model the appliance
runs, or a keypoint CSV in the tutorial's format; checks that every class is usable, and stratified splits."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from pose_appliance.classify.keypoint_csv import KeypointSet, read_keypoint_csv
from pose_appliance.classify.view_check import view_problem
from pose_appliance.config import ClassifierConfig
from pose_appliance.errors import UserError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass
class LoadedSamples:
    samples: KeypointSet
    source: str
    from_images: bool
    skipped: list[tuple[str, str]] = field(default_factory=list)


def load_samples(path: Path, estimator: Callable[[], tuple[Any, str]],
                 classifier_config: ClassifierConfig | None = None) -> LoadedSamples:
    """Samples from a keypoint CSV (every row, as given) or an image folder (images whose pose the appliance
    would refuse are skipped and listed). ``estimator()`` gives (estimator, model name)."""
    if path.is_file():
        try:
            return LoadedSamples(read_keypoint_csv(path), f"CSV {path.name}", False)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    images = find_images(path)
    model, name = estimator()
    samples, skipped = extract_keypoints(path, images, model, name, classifier_config)
    return LoadedSamples(samples, name, True, skipped)


def find_images(folder: Path) -> dict[str, list[Path]]:
    """``{class: images}`` of a ``<class>/<image>`` folder, classes in name order. Bad layouts, and files OpenCV
    cannot decode, raise UserError before any model is loaded. Hidden folders and files (``.Trashes``, the
    ``._<name>`` AppleDouble files macOS leaves on USB sticks and shares) are left out."""
    import cv2

    if not folder.exists():
        raise UserError(f"{folder}: no such folder or file (give a folder of <class>/ image folders or a "
                        "keypoint CSV)")
    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder or a keypoint CSV")
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        loose = [p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS]
        hint = " (the images must be in one sub-folder per class)" if loose else ""
        raise UserError(f"{folder}: no class folders{hint}; expected {folder}/<class>/*.jpg")
    if len(class_dirs) < 2:
        raise UserError(f"{folder}: only one class ({class_dirs[0].name}); a classifier needs at least two "
                        "class folders")
    images = {}
    for class_dir in class_dirs:
        files = sorted(p for p in class_dir.iterdir()
                       if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise UserError(f"{class_dir}: empty class folder (no {'/'.join(IMAGE_EXTENSIONS)} images); add "
                            "images or remove the folder")
        for path in files:
            if not cv2.haveImageReader(str(path)):
                raise UserError(_unreadable(path))
        images[class_dir.name] = files
    return images


def _unreadable(path: Path) -> str:
    return f"{path}: cannot read this image (remove it or save it again as JPEG/PNG)"


def extract_keypoints(root: Path, images: dict[str, list[Path]], estimator: Any, model_name: str,
                      classifier_config: ClassifierConfig | None = None) -> tuple[KeypointSet, list[tuple[str, str]]]:
    """Keypoints of every image (x, y, score pixels), with a progress bar on stderr. An image is skipped when it
    cannot be decoded (damaged or cut short; its header passed :func:`find_images`), or when the appliance would
    refuse its pose (the same view check, with the hint as the reason)."""
    check = classifier_config or ClassifierConfig()
    from pose_appliance.camera.imageops import read_rgb

    classes = list(images)
    keypoints, targets, files, skipped = [], [], [], []
    total = sum(len(paths) for paths in images.values())
    progress = tqdm(total=total, desc=f"keypoints ({model_name})", unit="image", file=sys.stderr)
    for target, name in enumerate(classes):
        for path in images[name]:
            relative = path.relative_to(root).as_posix()
            image = read_rgb(path)
            pose = None if image is None else estimator.estimate_still(image)
            if image is None:
                skipped.append((relative, "cannot decode this image (damaged or cut short)"))
            elif pose is None:
                skipped.append((relative, "no person found"))
            elif (hint := view_problem(pose, (image.shape[1], image.shape[0]), min_score=check.min_keypoint_score,
                                       min_visible=check.min_visible_keypoints)) is not None:
                skipped.append((relative, f"not enough of the body in view ({hint})"))
            else:
                keypoints.append(np.asarray(pose.keypoints, np.float32))
                targets.append(target)
                files.append(relative)
            progress.set_postfix_str(relative, refresh=False)
            progress.update()
    progress.close()
    if skipped:
        print(f"skipped {len(skipped)} of {total} images (undecodable, or a pose the appliance would refuse):",
              file=sys.stderr)
        for relative, reason in skipped[:20]:
            print(f"  {relative}: {reason}", file=sys.stderr)
        if len(skipped) > 20:
            print(f"  ... and {len(skipped) - 20} more (listed in report.md)", file=sys.stderr)
    stacked = np.stack(keypoints) if keypoints else np.zeros((0, 17, 3), np.float32)
    return KeypointSet(classes, stacked, np.array(targets, np.int64), files), skipped


def appliance_estimator(models_dir_setting: str, model_name: str) -> tuple[Any, str]:
    """The pose model the appliance runs (``model.name``), on the CPU, without tracking: training keypoints must
    come from the model whose keypoints the classifier will see."""
    from pose_appliance import modelstore
    from pose_appliance.config import ModelConfig
    from pose_appliance.inference import create_estimator

    models_dir = modelstore.resolve_models_dir(models_dir_setting)
    try:
        modelstore.model_file(model_name, models_dir)
    except modelstore.ModelError as exc:
        raise UserError(f"{exc} (train-classifier uses the appliance's model.name; pass --model to choose "
                        "another, or --models-dir)") from None
    config = ModelConfig(name=model_name, delegate="cpu", tracking=False, smoothing=False)
    return create_estimator(config, models_dir), model_name


def check_usable(samples: KeypointSet, dataset: str, skipped: list[tuple[str, str]]) -> None:
    counts = samples.counts()
    if len(counts) < 2:
        raise UserError(f"{dataset}: only one class ({', '.join(counts)}); a classifier needs at least two")
    for name, count in counts.items():
        if count < 3:
            lost = sum(1 for f, _ in skipped if f.split("/")[0] == name)
            raise UserError(f"{dataset}: class {name!r} has {count} usable samples ({lost} skipped: undecodable or "
                            "without a confident whole-body pose); each class needs at least 3")


def match_classes(test: KeypointSet, classes: list[str], source: str) -> KeypointSet:
    unknown = [name for name in test.classes if name not in classes]
    if unknown:
        raise UserError(f"{source}: test class {unknown[0]!r} is not a training class "
                        f"({', '.join(classes)})")
    index = np.array([classes.index(name) for name in test.classes], np.int64)
    return KeypointSet(list(classes), test.keypoints, index[test.targets], list(test.files))


def stratified_split(samples: KeypointSet, fraction: float, rng: np.random.Generator, source: str
                     ) -> tuple[KeypointSet, KeypointSet]:
    """(kept, held out): about ``fraction`` of every class held out, at least one, and at least one kept."""
    kept: list[int] = []
    held: list[int] = []
    for target in range(len(samples.classes)):
        members = rng.permutation(np.flatnonzero(samples.targets == target))
        if len(members) < 2:
            raise UserError(f"{source}: class {samples.classes[target]!r} has {len(members)} usable sample(s); "
                            "it needs more to be split for validation and testing")
        count = min(max(1, round(len(members) * fraction)), len(members) - 1)
        held.extend(members[:count])
        kept.extend(members[count:])
    return samples.subset(np.sort(kept)), samples.subset(np.sort(held))
