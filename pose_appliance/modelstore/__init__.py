"""The models: the manifest (data), the models dir, and fetching and checking files (I/O). Standard library only.

``pose_appliance/data/manifest.toml`` is the one list of models (and the demo video); ``fetch`` fills a models
dir from mirror folders and the official URLs, verified. The ``models`` command is in
:mod:`pose_appliance.commands.models`.
"""

from typing import TYPE_CHECKING, Any

from pose_appliance.modelstore.manifest import (
    DEFAULT_NAMES,
    MANIFEST,
    ModelEntry,
    ModelError,
    edgetpu_build_problem,
    get_entry,
    load_manifest,
    pose_models,
)
from pose_appliance.modelstore.models_dir import SERVICE_MODELS_DIR, USER_MODELS_DIR, model_file, resolve_models_dir

if TYPE_CHECKING:
    from pose_appliance.modelstore.fetch import FetchResult, Progress, digests, fetch, status, verify

_FETCH_NAMES = ("FetchResult", "Progress", "digests", "fetch", "status", "verify")


def __getattr__(name: str) -> Any:
    """The fetching side (tarfile, gzip, hashlib, tempfile) is imported on first use: ``run`` never needs it.

    Importing the submodule ``fetch`` binds that name to the module; the names are then rebound to the functions,
    so ``modelstore.fetch`` is the function, as before. (Import the submodule only through this package.)"""
    if name not in _FETCH_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module = importlib.import_module("pose_appliance.modelstore.fetch")
    globals().update({n: getattr(module, n) for n in _FETCH_NAMES})
    return globals()[name]


__all__ = ["DEFAULT_NAMES", "MANIFEST", "FetchResult", "ModelEntry", "ModelError", "Progress", "digests",
           "edgetpu_build_problem", "fetch", "get_entry", "load_manifest", "model_file", "pose_models",
           "resolve_models_dir", "status", "verify", "SERVICE_MODELS_DIR", "USER_MODELS_DIR"]
