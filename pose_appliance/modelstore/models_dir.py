"""The models dir: where fetched files live, and finding one entry's file there."""

from __future__ import annotations

import os
from pathlib import Path

from pose_appliance.modelstore.manifest import ModelEntry, ModelError, get_entry

USER_MODELS_DIR = "~/.cache/pose-appliance/models"  # when neither the config nor the environment names one
# The installed service's (deploy/pose-appliance.service sets POSE_APPLIANCE_MODELS to it).
SERVICE_MODELS_DIR = "/var/lib/pose-appliance/models"

def resolve_models_dir(configured: str | os.PathLike = "") -> Path:
    """service.models_dir if set, else $POSE_APPLIANCE_MODELS, else :data:`USER_MODELS_DIR`."""
    chosen = str(configured) or os.environ.get("POSE_APPLIANCE_MODELS", "")
    if chosen:
        return Path(chosen).expanduser()
    return Path(USER_MODELS_DIR).expanduser()


def model_file(name: str, models_dir: str | os.PathLike, *,
               manifest: dict[str, ModelEntry] | None = None) -> Path:
    """The fetched file of a manifest entry. Cheap: checks presence and size, not the checksum."""
    entry = get_entry(name, manifest)
    path = Path(models_dir).expanduser() / entry.file
    fetch = f"pose-appliance models fetch --models-dir {path.parent} {name}"
    if not path.is_file():
        raise ModelError(f"{name} is not fetched ({path} is missing): run `{fetch}`")
    if entry.size and path.stat().st_size != entry.size:
        raise ModelError(f"{name}: {path} is damaged (size {path.stat().st_size}, expected {entry.size}): "
                         f"run `{fetch}`")
    return path
