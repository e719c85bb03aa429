"""The model manifest: which models (and the demo video) exist, where they come from, and the bytes to expect.

The manifest ships inside the package (``pose_appliance/data/manifest.toml``) and is read with
:mod:`importlib.resources`, so a source checkout, an editable install and a wheel all read the same file.
"""

from __future__ import annotations

import functools
import os
import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

MANIFEST = resources.files("pose_appliance") / "data" / "manifest.toml"
DEFAULT_NAMES = ("movenet_lightning_int8", "yoga_classifier", "yoga_labels", "yoga_train_keypoints", "demo_video")
KINDS = ("pose", "classifier", "labels", "keypoints", "video")
FAMILIES = ("movenet_singlepose", "movenet_multipose", "posenet", "")


class ModelError(ValueError):
    """A model problem phrased for the user: one line, naming the model and the fix."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: str
    file: str
    url: str
    family: str = ""
    alt_urls: tuple[str, ...] = ()
    size: int = 0
    sha256: str = ""
    git_blob: str = ""
    archive: str = ""
    member: str = ""
    edgetpu: str = ""
    labels: str = ""
    reference: str = ""
    license: str = ""
    description: str = ""
    input_size: int = 0
    precision: str = ""

    @property
    def urls(self) -> tuple[str, ...]:
        return (self.url, *self.alt_urls) if self.url else self.alt_urls


_STR_KEYS = {f.name for f in fields(ModelEntry) if f.type == "str"} - {"name"}
_INT_KEYS = {"size", "input_size"}
_REQUIRED = ("kind", "file", "url")


def load_manifest(path: str | os.PathLike | None = None) -> dict[str, ModelEntry]:
    """Read and check the shipped manifest (or the file at ``path``); raises ModelError naming the file, the
    entry and the key. The shipped one is read once per process: a run looks up its model, classifier, labels
    and keypoints in it."""
    if not path:
        return dict(_shipped_manifest())
    return _read_manifest(Path(path))


@functools.cache
def _shipped_manifest() -> dict[str, ModelEntry]:
    return _read_manifest(MANIFEST)


def _read_manifest(source: Any) -> dict[str, ModelEntry]:
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"{source}: cannot read the model manifest: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{source}: not valid TOML: {exc}") from None
    tables = data.get("models")
    if not isinstance(tables, dict) or set(data) != {"models"}:
        raise ModelError(f"{source}: expected only [models.NAME] tables")
    entries = {name: _entry(str(source), name, table) for name, table in tables.items()}
    for entry in entries.values():
        for key in ("edgetpu", "labels", "reference"):
            ref = getattr(entry, key)
            if ref and ref not in entries:
                raise ModelError(f"{source}: models.{entry.name}.{key}: {ref!r} is not an entry of the manifest")
    return entries


def _entry(path: str, name: str, table: Any) -> ModelEntry:
    where = f"{path}: models.{name}"
    if not isinstance(table, dict):
        raise ModelError(f"{where}: expected a table")
    known = {f.name for f in fields(ModelEntry)} - {"name"}
    for key, value in table.items():
        if key not in known:
            import difflib
            hint = difflib.get_close_matches(key, known, n=1)
            raise ModelError(f"{where}.{key}: unknown key" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
        if key in _INT_KEYS and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ModelError(f"{where}.{key}: expected a whole number >= 0, got {value!r}")
        if key in _STR_KEYS and not isinstance(value, str):
            raise ModelError(f"{where}.{key}: expected a string, got {value!r}")
        if key == "alt_urls" and not (isinstance(value, list) and all(isinstance(u, str) for u in value)):
            raise ModelError(f"{where}.alt_urls: expected a list of strings")
    missing = [key for key in _REQUIRED if not table.get(key)]
    if missing:
        raise ModelError(f"{where}: missing {', '.join(missing)}")
    values = dict(table, alt_urls=tuple(table.get("alt_urls", ())))
    entry = ModelEntry(name=name, **values)
    if entry.kind not in KINDS:
        raise ModelError(f"{where}.kind: {entry.kind!r} is not one of {', '.join(KINDS)}")
    if entry.family not in FAMILIES or (entry.kind == "pose") != bool(entry.family):
        raise ModelError(f"{where}.family: pose models need one of {', '.join(filter(None, FAMILIES))}; "
                         "other kinds none")
    if not entry.sha256 and not entry.git_blob:
        raise ModelError(f"{where}: needs sha256 or git_blob, or a download could never be checked")
    if (entry.sha256 and len(entry.sha256) != 64) or (entry.git_blob and len(entry.git_blob) != 40):
        raise ModelError(f"{where}: sha256 must be 64 and git_blob 40 hex digits")
    if entry.archive not in ("", "tar.gz"):
        raise ModelError(f"{where}.archive: only \"tar.gz\" is supported")
    if Path(entry.file).name != entry.file or entry.file.startswith("."):
        raise ModelError(f"{where}.file: must be a plain file name, got {entry.file!r}")
    return entry


def get_entry(name: str, manifest: dict[str, ModelEntry] | None = None) -> ModelEntry:
    manifest = load_manifest() if manifest is None else manifest
    entry = manifest.get(name)
    if entry is None:
        import difflib
        close = difflib.get_close_matches(name, manifest, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ModelError(f"unknown model {name!r} ({hint}see `pose-appliance models list`)")
    return entry


def edgetpu_build_problem(manifest: dict[str, ModelEntry], name: str) -> tuple[str, str] | None:
    """(problem, fix) when ``name`` is the Edge TPU build of a pose model: it is no ``model.name`` of its own (named
    itself it would be handed to the CPU, which cannot run it), but loaded through its CPU model's ``edgetpu`` key."""
    model = next((entry for entry in manifest.values() if entry.edgetpu == name), None)
    if model is None:
        return None
    return (f"{name!r} is the Edge TPU build of {model.name!r}",
            f"use model.name = \"{model.name}\" with model.delegate = \"edgetpu\" (or \"auto\"); the Edge TPU "
            "build is picked automatically")


def pose_models(manifest: dict[str, ModelEntry]) -> list[ModelEntry]:
    """The pose models in manifest order, without the Edge TPU builds (those are loaded through their CPU
    model's ``edgetpu`` key)."""
    edgetpu_builds = {entry.edgetpu for entry in manifest.values() if entry.edgetpu}
    return [entry for entry in manifest.values() if entry.kind == "pose" and entry.name not in edgetpu_builds]
