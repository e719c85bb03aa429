"""The models: the manifest (data), the models dir, and fetching and checking files (I/O). Standard library only.

``pose_appliance/data/manifest.toml`` is the one list of models (and the demo video); ``fetch`` fills a models
dir from mirror folders and the official URLs, verified. The ``models`` command is in
:mod:`pose_appliance.commands.models`.
"""

from pose_appliance.modelstore.fetch import FetchResult, Progress, digests, fetch, status, verify
from pose_appliance.modelstore.manifest import (
    DEFAULT_NAMES,
    MANIFEST,
    ModelEntry,
    ModelError,
    get_entry,
    load_manifest,
    pose_models,
)
from pose_appliance.modelstore.models_dir import SERVICE_MODELS_DIR, USER_MODELS_DIR, model_file, resolve_models_dir

__all__ = ["DEFAULT_NAMES", "MANIFEST", "FetchResult", "ModelEntry", "ModelError", "Progress", "digests", "fetch",
           "get_entry", "load_manifest", "model_file", "pose_models", "resolve_models_dir", "status", "verify",
           "SERVICE_MODELS_DIR", "USER_MODELS_DIR"]
