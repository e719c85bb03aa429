"""``pose-appliance estimate IMAGE... --json``: keypoints of still images, one JSON object per line."""

from __future__ import annotations

import argparse
import json

import numpy as np

from pose_appliance.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files (.jpg, .png, .bmp, ...)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per image and line: image, width, height, keypoints = 17 x "
                             "[x, y, score] in image pixels (null when nobody is found), score")
    parser.add_argument("--config", help="config file whose [model] section is used (default: built-in defaults)")
    parser.add_argument("--model", help="pose model name from the manifest (overrides the config)")
    parser.add_argument("--models-dir", help="where fetched models are (overrides the config)")
    parser.add_argument("--passes", type=int, default=2, help="crop-refined passes per image (default 2)")


def run(args: argparse.Namespace) -> int:
    from pose_appliance.config import Config, ConfigError, load_config, replace
    from pose_appliance.inference import ModelLoadError, create_estimator
    from pose_appliance.modelstore import resolve_models_dir

    try:
        config = load_config(args.config) if args.config else Config()
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    if args.model:
        config = replace(config, "model.name", args.model)
    models_dir = args.models_dir or str(resolve_models_dir(config.service.models_dir))
    try:
        estimator = create_estimator(config.model, models_dir)
    except ModelLoadError as exc:
        raise UserError(str(exc)) from None
    for path in args.images:
        image = read_rgb(path)
        pose = estimator.estimate_still(image, passes=args.passes)
        record = {
            "image": path, "width": int(image.shape[1]), "height": int(image.shape[0]),
            "keypoints": None if pose is None else [[round(float(v), 2) for v in kp] for kp in pose.keypoints],
            "score": 0.0 if pose is None else round(pose.score, 4),
        }
        if args.json:
            print(json.dumps(record), flush=True)
        elif pose is None:
            print(f"{path}: nobody found")
        else:
            print(f"{path}: score {pose.score:.2f}, keypoints (x, y, score): "
                  + " ".join(f"{x:.0f},{y:.0f},{s:.2f}" for x, y, s in pose.keypoints))
    return 0


def read_rgb(path: str) -> np.ndarray:
    """An image file as HxWx3 uint8 RGB (alpha dropped); UserError naming the file when it cannot be read."""
    from pose_appliance.camera.imageops import read_rgb

    image = read_rgb(path)
    if image is None:
        raise UserError(f"{path}: cannot read this image (missing, or not a JPEG/PNG/BMP file)")
    return image

