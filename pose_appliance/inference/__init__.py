"""Pose estimation: image -> one person's keypoints, on the CPU or a Coral Edge TPU.

``create_estimator(config.model, models_dir)`` picks the estimator by the model's family in the manifest.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pose_appliance.config import ModelConfig
from pose_appliance.inference.crop_region import CropRegionTracker
from pose_appliance.inference.crop_resize import CropResizer
from pose_appliance.inference.estimator import Estimator, NullEstimator
from pose_appliance.inference.movenet import MoveNetEstimator
from pose_appliance.inference.movenet_multipose import MoveNetMultiPoseEstimator
from pose_appliance.inference.one_euro import OneEuroFilter
from pose_appliance.inference.posenet import PoseNetEstimator
from pose_appliance.inference.runtime import LoadedModel, ModelLoadError, find_edgetpu, load_model
from pose_appliance.inference.tflite_estimator import TFLiteEstimator

# By manifest family: the constructor, called as (model, model_config, name=...).
ESTIMATORS: dict[str, Callable[..., Estimator]] = {
    "movenet_singlepose": MoveNetEstimator,
    "movenet_multipose": MoveNetMultiPoseEstimator,
    "posenet": PoseNetEstimator,
}


def create_estimator(model_config: ModelConfig, models_dir: str | os.PathLike, *,
                     load_delegate: Callable[..., Any] | None = None, **load_options: Any) -> Estimator:
    """The estimator for ``model_config.name`` (a pose model of the manifest), loaded from ``models_dir``.

    ``model_config.path``, when set, replaces the fetched file (the name still picks the decoder); its Edge TPU
    build is then ``<stem>_edgetpu.tflite`` beside it. ``load_options`` go to ``load_model`` (tests).
    """
    from pose_appliance import modelstore

    manifest = modelstore.load_manifest()
    entry = manifest.get(model_config.name)
    if entry is None or entry.kind != "pose":
        poses = ", ".join(sorted(name for name, e in manifest.items() if e.kind == "pose"))
        raise ModelLoadError(f"model.name = {model_config.name!r} is not a pose model of the manifest "
                             f"(choose one of: {poses})")
    if (edgetpu_build := modelstore.edgetpu_build_problem(manifest, entry.name)) is not None:
        problem, fix = edgetpu_build
        raise ModelLoadError(f"model.name = {problem}: {fix}")
    if entry.family not in ESTIMATORS:
        raise ModelLoadError(f"model {entry.name}: unknown family {entry.family!r}")
    if model_config.path:
        path = Path(model_config.path).expanduser()
        edgetpu_path: Path | None = path.with_name(f"{path.stem}_edgetpu{path.suffix}")
    else:
        try:
            path = Path(modelstore.model_file(entry.name, models_dir, manifest=manifest))
        except modelstore.ModelError as exc:
            raise ModelLoadError(str(exc)) from None
        # Where the Edge TPU build is, or would be once fetched; load_model checks that it is there.
        edgetpu_path = Path(models_dir).expanduser() / manifest[entry.edgetpu].file if entry.edgetpu else None
    model = load_model(path, threads=model_config.threads, delegate=model_config.delegate,
                       edgetpu_device=model_config.edgetpu_device, load_delegate=load_delegate,
                       edgetpu_path=edgetpu_path, name=entry.name, **load_options)
    return ESTIMATORS[entry.family](model, model_config, name=entry.name)


__all__ = [
    "Estimator", "NullEstimator", "TFLiteEstimator", "MoveNetEstimator", "MoveNetMultiPoseEstimator",
    "PoseNetEstimator", "LoadedModel", "ModelLoadError", "load_model", "find_edgetpu", "create_estimator",
    "CropRegionTracker", "CropResizer", "OneEuroFilter", "ESTIMATORS",
]
