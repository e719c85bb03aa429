"""``pose-appliance estimate IMAGE... --json``: keypoints of still images, one JSON object per line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from pose_appliance.errors import UserError

MAX_PASSES = 10  # each pass is one model run; more than a few changes nothing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files (.jpg, .png, .bmp, ...)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per image and line: image, width, height, keypoints = 17 x "
                             "[x, y, score] in image pixels (null when nobody is found), score")
    parser.add_argument("--config", help="config file whose [model] section is used (default: built-in defaults)")
    parser.add_argument("--model", help="pose model name from the manifest (overrides the config)")
    parser.add_argument("--models-dir", help="where fetched models are (overrides the config)")
    parser.add_argument("--passes", type=int, default=2,
                        help=f"crop-refined passes per image, 1 to {MAX_PASSES} (default 2)")


def run(args: argparse.Namespace) -> int:
    """0 when every image was estimated, 1 when any failed (its line says why); the batch always goes on."""
    from pose_appliance.config import Config, ConfigError, load_config, replace
    from pose_appliance.inference import ModelLoadError, create_estimator
    from pose_appliance.modelstore import resolve_models_dir

    if not 1 <= args.passes <= MAX_PASSES:
        raise UserError(f"--passes must be 1 to {MAX_PASSES}, got {args.passes}")
    try:
        config = load_config(args.config) if args.config else Config()
        if args.model:
            config = replace(config, "model.name", args.model)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    models_dir = args.models_dir or str(resolve_models_dir(config.service.models_dir))
    try:
        estimator = create_estimator(config.model, models_dir)
    except ModelLoadError as exc:
        raise UserError(str(exc)) from None
    failed = 0
    for path in args.images:
        try:
            record = estimate_one(estimator, path, args.passes)
        except ImageError as exc:
            record = {"image": path, "error": str(exc)}
        failed += "error" in record
        if args.json:
            print(json.dumps(record), flush=True)
        elif "error" in record:
            print(f"{path}: error: {record['error']}", flush=True)
        elif record["keypoints"] is None:
            print(f"{path}: nobody found", flush=True)
        else:
            print(f"{path}: score {record['score']:.2f}, keypoints (x, y, score): "
                  + " ".join(f"{x:.0f},{y:.0f},{s:.2f}" for x, y, s in record["keypoints"]), flush=True)
    return 1 if failed else 0


class ImageError(Exception):
    """One image of the batch cannot be estimated; the message says why."""


def estimate_one(estimator: Any, path: str, passes: int) -> dict:
    image = read_rgb(path)
    try:
        pose = estimator.estimate_still(image, passes=passes)
    except (ValueError, RuntimeError) as exc:  # the model refused this image; the next one may be fine
        raise ImageError(f"estimation failed: {exc}") from None
    return {
        "image": path, "width": int(image.shape[1]), "height": int(image.shape[0]),
        "keypoints": None if pose is None else [[round(float(v), 2) for v in kp] for kp in pose.keypoints],
        "score": 0.0 if pose is None else round(pose.score, 4),
    }


def read_rgb(path: str) -> np.ndarray:
    """An image file as HxWx3 uint8 RGB (alpha dropped); ImageError saying why when it cannot be read."""
    from pose_appliance.camera.imageops import read_rgb

    file = Path(path)
    if file.is_dir():
        raise ImageError("is a directory (name the image files, e.g. DIR/*.jpg)")
    if not file.exists():
        raise ImageError("no such file")
    image = read_rgb(path)
    if image is None:
        raise ImageError("cannot read this image (not a JPEG/PNG/BMP file, or unreadable)")
    return image
