"""``pose-appliance models list|fetch``: the models of the manifest and their state; fetch them, verified."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from pose_appliance.errors import UserError
from pose_appliance.modelstore import (
    DEFAULT_NAMES,
    USER_MODELS_DIR,
    ModelEntry,
    ModelError,
    fetch,
    load_manifest,
    resolve_models_dir,
    status,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="every model of the manifest and its state in the models dir")
    getting = sub.add_parser("fetch", help="download models into the models dir (verified)")
    for p in (listing, getting):
        p.add_argument("--models-dir", help=f"models dir (default: $POSE_APPLIANCE_MODELS, else {USER_MODELS_DIR})")
        p.add_argument("--manifest", help=argparse.SUPPRESS)
    getting.add_argument("names", nargs="*", metavar="NAME",
                         help=f"models to fetch (default: {' '.join(DEFAULT_NAMES)})")
    getting.add_argument("--all", action="store_true", help="fetch every model of the manifest")
    getting.add_argument("--config", metavar="FILE",
                         help="also fetch what this config reads: its pose model (and the Edge TPU build with "
                              "model.delegate = \"edgetpu\"), its classifier and labels, the demo video when it "
                              "plays it (the models dir is still --models-dir)")
    getting.add_argument("--mirror", action="append", default=[], metavar="DIR",
                         help="look for the files under this folder first (any layout; repeatable)")
    getting.add_argument("--force", action="store_true", help="download again even if the file is good")


def run(args: argparse.Namespace) -> int:
    try:
        manifest = load_manifest(args.manifest)
        models_dir = resolve_models_dir(args.models_dir or "")
        if args.models_command == "list":
            return _list(manifest, models_dir)
        if args.all and args.names:
            raise ModelError("give model names or --all, not both")
        names = list(manifest) if args.all else args.names or list(DEFAULT_NAMES)
        if args.config:
            names += _names_for_config(args.config, manifest)
        return _fetch_command(names, manifest, models_dir, args.mirror, args.force)
    except ModelError as exc:
        raise UserError(str(exc)) from None


def _names_for_config(path: str, manifest: dict[str, ModelEntry]) -> list[str]:
    from pose_appliance.config import ConfigError, load_config
    from pose_appliance.doctor import model_names

    try:
        config = load_config(path)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    return [name for name, required in model_names(config, manifest, edgetpu_found=False) if required]


def _list(manifest: dict[str, ModelEntry], models_dir: Path, out=None) -> int:
    out = out or sys.stdout
    print(f"models dir: {models_dir}", file=out)
    rows = [("NAME", "KIND", "SIZE", "STATE", "DESCRIPTION")]
    # An Edge TPU build is no model.name of its own (run refuses it): it is listed right under its CPU model as
    # that model's Edge TPU file, still by its entry name, which `models fetch` takes.
    edgetpu_builds = {entry.edgetpu for entry in manifest.values() if entry.edgetpu}
    for entry in manifest.values():
        if entry.name in edgetpu_builds:
            continue
        rows.append(_row(entry, entry.kind, entry.description, models_dir))
        if entry.edgetpu:
            rows.append(_row(manifest[entry.edgetpu], "edgetpu",
                             f"Edge TPU build of {entry.name} (not a model.name): model.delegate = \"edgetpu\" or "
                             "\"auto\" picks it. Needs libedgetpu.", models_dir))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[4], file=out)
    return 0


def _row(entry: ModelEntry, kind: str, description: str, models_dir: Path) -> tuple[str, str, str, str, str]:
    state = status(entry, models_dir)
    size = entry.size or ((models_dir / entry.file).stat().st_size if state == "present" else 0)
    return entry.name, kind, human_size(size) if size else "unknown", state, description


def human_size(size: int) -> str:
    """Bytes in one style for every row: 28 B, 37.0 kB, 2.9 MB (SI units, like the download sites)."""
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1e3:.1f} kB"
    return f"{size / 1e6:.1f} MB"


def _fetch_command(names: list[str], manifest: dict[str, ModelEntry], models_dir: Path, mirrors: list[str],
                   force: bool) -> int:
    bars: dict[str, tqdm] = {}

    def progress(name: str, done: int, total: int) -> None:
        if name not in bars:  # on a terminal only (disable=None)
            bars[name] = tqdm(total=total or None, desc=name, unit="B", unit_scale=True, file=sys.stderr,
                              leave=False, disable=None)
        bars[name].update(done - bars[name].n)

    results = fetch(names, models_dir, mirrors=mirrors, progress=progress, force=force, manifest=manifest)
    for bar in bars.values():
        bar.close()
    for result in results:
        if result.ok:
            print(f"{result.name}: {result.status} {result.path}" +
                  (f" (from {result.source})" if result.status != "present" else ""))
    failed = [r for r in results if not r.ok]
    for result in failed:
        print(f"pose-appliance models fetch: {result.error}", file=sys.stderr)
    return 1 if failed else 0
