"""The model manifest and the fetch step: which files exist, where they come from, and checking their bytes.

``models/manifest.toml`` is the one list of models (and the demo video). ``fetch`` fills a models dir from local
mirror folders first, then from the official URLs; a file only lands in the models dir after its size and
checksums match the manifest, so a partial or wrong download never replaces a good file. Standard library only.
"""

from __future__ import annotations

import argparse
import difflib
import gzip
import hashlib
import os
import shutil
import sys
import sysconfig
import tarfile
import tempfile
import tomllib
import zlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Iterable

MANIFEST_NAME = "manifest.toml"
# Where `pip install .` puts the manifest: pyproject [tool.setuptools.data-files] "share/pose-appliance".
INSTALLED_MANIFEST = Path("share", "pose-appliance", MANIFEST_NAME)
DEFAULT_NAMES = ("movenet_lightning_int8", "yoga_classifier", "yoga_labels", "demo_video")
KINDS = ("pose", "classifier", "labels", "video")
FAMILIES = ("movenet_singlepose", "movenet_multipose", "posenet", "")
USER_AGENT = "pose-appliance-fetch/1"
MAX_DOWNLOAD = 256 * 1024 * 1024  # bytes; no model here is near this, an endless stream is cut off
CHUNK = 1 << 16

Progress = Callable[[str, int, int], None]  # (entry name, bytes done, bytes total or 0 if unknown)


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
    license: str = ""
    description: str = ""
    input_size: int = 0
    precision: str = ""

    @property
    def urls(self) -> tuple[str, ...]:
        return (self.url, *self.alt_urls) if self.url else self.alt_urls


@dataclass(frozen=True)
class FetchResult:
    name: str
    path: Path
    status: str  # "present" (already there and verified), "copied" (from a mirror), "downloaded", "failed"
    source: str = ""  # the mirror file or URL it came from
    error: str = ""  # one line when status == "failed"; failures of earlier sources are joined with "; "

    @property
    def ok(self) -> bool:
        return self.status != "failed"


# -------------------------------------------------------------------------------------------------- manifest
def default_manifest_path() -> Path:
    """models/manifest.toml of a source checkout, else the copy `pip install` put in <prefix>/share."""
    candidates = [Path(__file__).resolve().parent.parent / "models" / MANIFEST_NAME]
    schemes = [None, f"{os.name}_user"]
    for scheme in schemes:
        try:
            data = sysconfig.get_path("data", scheme) if scheme else sysconfig.get_path("data")
        except KeyError:
            continue
        candidates.append(Path(data) / INSTALLED_MANIFEST)
    candidates += [Path(sys.prefix) / INSTALLED_MANIFEST, Path("/usr/local") / INSTALLED_MANIFEST,
                   Path("/usr") / INSTALLED_MANIFEST]
    for path in candidates:
        if path.is_file():
            return path
    raise ModelError(f"model manifest not found (looked in {', '.join(map(str, dict.fromkeys(candidates)))}); "
                     "reinstall pose-appliance or pass the manifest path")


_STR_KEYS = {f.name for f in fields(ModelEntry) if f.type == "str"} - {"name"}
_INT_KEYS = {"size", "input_size"}
_REQUIRED = ("kind", "file", "url")


def load_manifest(path: str | os.PathLike | None = None) -> dict[str, ModelEntry]:
    """Read and check the manifest; raises ModelError naming the file, the entry and the key."""
    path = Path(path) if path else default_manifest_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model manifest: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: not valid TOML: {exc}") from None
    tables = data.get("models")
    if not isinstance(tables, dict) or set(data) != {"models"}:
        raise ModelError(f"{path}: expected only [models.NAME] tables")
    entries = {name: _entry(path, name, table) for name, table in tables.items()}
    for entry in entries.values():
        for key in ("edgetpu", "labels"):
            ref = getattr(entry, key)
            if ref and ref not in entries:
                raise ModelError(f"{path}: models.{entry.name}.{key}: {ref!r} is not an entry of the manifest")
    return entries


def _entry(path: Path, name: str, table: Any) -> ModelEntry:
    where = f"{path}: models.{name}"
    if not isinstance(table, dict):
        raise ModelError(f"{where}: expected a table")
    known = {f.name for f in fields(ModelEntry)} - {"name"}
    for key, value in table.items():
        if key not in known:
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
    if entry.sha256 and len(entry.sha256) != 64 or entry.git_blob and len(entry.git_blob) != 40:
        raise ModelError(f"{where}: sha256 must be 64 and git_blob 40 hex digits")
    if entry.archive not in ("", "tar.gz"):
        raise ModelError(f"{where}.archive: only \"tar.gz\" is supported")
    if Path(entry.file).name != entry.file or entry.file.startswith("."):
        raise ModelError(f"{where}.file: must be a plain file name, got {entry.file!r}")
    return entry


# ------------------------------------------------------------------------------------------------ models dir
def resolve_models_dir(configured: str | os.PathLike = "") -> Path:
    """service.models_dir if set, else $POSE_APPLIANCE_MODELS, else ~/.cache/pose-appliance/models."""
    chosen = str(configured) or os.environ.get("POSE_APPLIANCE_MODELS", "")
    if chosen:
        return Path(chosen).expanduser()
    return Path("~/.cache/pose-appliance/models").expanduser()


def get_entry(name: str, manifest: dict[str, ModelEntry] | None = None) -> ModelEntry:
    manifest = load_manifest() if manifest is None else manifest
    entry = manifest.get(name)
    if entry is None:
        close = difflib.get_close_matches(name, manifest, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ModelError(f"unknown model {name!r} ({hint}see `pose-appliance models list`)")
    return entry


def pose_models(manifest: dict[str, ModelEntry]) -> list[ModelEntry]:
    """The pose models in manifest order, without the Edge TPU builds (those are loaded through their CPU
    model's ``edgetpu`` key)."""
    edgetpu_builds = {entry.edgetpu for entry in manifest.values() if entry.edgetpu}
    return [entry for entry in manifest.values() if entry.kind == "pose" and entry.name not in edgetpu_builds]


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


# ------------------------------------------------------------------------------------------------- checking
def digests(path: str | os.PathLike) -> tuple[int, str, str]:
    """(size, sha256 hex, git blob id) of a file, read once."""
    path = Path(path)
    size = path.stat().st_size
    sha256, blob = hashlib.sha256(), hashlib.sha1(b"blob %d\0" % size)
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            sha256.update(chunk)
            blob.update(chunk)
    return size, sha256.hexdigest(), blob.hexdigest()


def verify(entry: ModelEntry, path: str | os.PathLike) -> None:
    """Raise ModelError unless the file has the entry's size, sha256 and git blob id (those that are known)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{entry.name}: {path} is missing")
    size = path.stat().st_size
    if entry.size and size != entry.size:
        raise ModelError(f"{entry.name}: wrong size: expected {entry.size} bytes, got {size}")
    _, sha256, blob = digests(path)
    if entry.sha256 and sha256 != entry.sha256.lower():
        raise ModelError(f"{entry.name}: wrong sha256: expected {entry.sha256}, got {sha256}")
    if entry.git_blob and blob != entry.git_blob.lower():
        raise ModelError(f"{entry.name}: wrong git blob id: expected {entry.git_blob}, got {blob}")


def status(entry: ModelEntry, models_dir: str | os.PathLike) -> str:
    """"present" (verified), "missing" or "corrupt"."""
    path = Path(models_dir).expanduser() / entry.file
    if not path.is_file():
        return "missing"
    try:
        verify(entry, path)
    except ModelError:
        return "corrupt"
    return "present"


# ---------------------------------------------------------------------------------------------------- fetch
def fetch(names: Iterable[str], models_dir: str | os.PathLike, *, mirrors: Iterable[str | os.PathLike] = (),
          progress: Progress | None = None, urlopen: Callable[..., Any] | None = None, force: bool = False,
          manifest: dict[str, ModelEntry] | None = None, timeout: float = 60.0) -> list[FetchResult]:
    """Bring each named entry (and a classifier's labels) into models_dir, verified.

    Order per entry: already present and verified (skipped unless force), a mirror folder (any file under it
    with the right size and checksums), then url and alt_urls. Unknown names raise ModelError before any work;
    other failures are reported in the results, one per entry, and never touch an existing file.
    """
    manifest = load_manifest() if manifest is None else manifest
    wanted: list[ModelEntry] = []
    for name in names:
        entry = get_entry(name, manifest)
        wanted.append(entry)
        if entry.labels:
            wanted.append(manifest[entry.labels])
    wanted = list({entry.name: entry for entry in wanted}.values())
    models_dir = Path(models_dir).expanduser()
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"{models_dir}: cannot create the models dir: {exc.strerror or exc}") from None
    mirror_index = _MirrorIndex([Path(m).expanduser() for m in mirrors])
    return [_fetch_one(entry, models_dir, mirror_index, progress, urlopen, force, timeout) for entry in wanted]


def _fetch_one(entry: ModelEntry, models_dir: Path, mirror_index: "_MirrorIndex", progress: Progress | None,
               urlopen: Callable[..., Any] | None, force: bool, timeout: float) -> FetchResult:
    dest = models_dir / entry.file
    if not force and dest.is_file():
        try:
            verify(entry, dest)
            return FetchResult(entry.name, dest, "present", str(dest))
        except ModelError:
            pass  # damaged: fetch a good copy over it
    errors = []
    found = mirror_index.find(entry)
    if found is not None:
        try:
            _install(entry, dest, lambda tmp: shutil.copyfile(found, tmp))
            return FetchResult(entry.name, dest, "copied", str(found))
        except ModelError as exc:
            errors.append(f"{found}: {_strip_name(entry, exc)}")
    for url in entry.urls:
        try:
            _install(entry, dest, lambda tmp: _download(entry, url, tmp, progress, urlopen, timeout))
            return FetchResult(entry.name, dest, "downloaded", url)
        except ModelError as exc:
            errors.append(f"{url}: {_strip_name(entry, exc)}")
    if not entry.urls:
        errors.append("no URL in the manifest")
    return FetchResult(entry.name, dest, "failed", error=f"{entry.name}: " + "; ".join(errors))


def _strip_name(entry: ModelEntry, exc: Exception) -> str:
    text = str(exc)
    return text[len(entry.name) + 2:] if text.startswith(entry.name + ": ") else text


def _install(entry: ModelEntry, dest: Path, produce: Callable[[Path], None]) -> None:
    """produce() writes a temp file beside dest; it replaces dest only once verified."""
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{entry.file}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise ModelError(f"{entry.name}: cannot write in {dest.parent}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        produce(tmp)
        _unpack_if_archive(entry, tmp)
        verify(entry, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except OSError as exc:
        raise ModelError(f"{entry.name}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _download(entry: ModelEntry, url: str, tmp: Path, progress: Progress | None,
              urlopen: Callable[..., Any] | None, timeout: float) -> None:
    import urllib.error
    import urllib.request

    opener = urlopen or urllib.request.urlopen
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with opener(request, timeout=timeout) as response, tmp.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0) if getattr(response, "headers", None) else 0
            done = 0
            while chunk := response.read(CHUNK):
                done += len(chunk)
                if done > MAX_DOWNLOAD:
                    raise ModelError(f"{entry.name}: download larger than {MAX_DOWNLOAD} bytes, refused")
                out.write(chunk)
                if progress:
                    progress(entry.name, done, total)
            if total and done != total:
                raise ModelError(f"{entry.name}: download cut short ({done} of {total} bytes)")
    except urllib.error.HTTPError as exc:
        raise ModelError(f"{entry.name}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise ModelError(f"{entry.name}: cannot connect: {exc.reason}") from None
    except (OSError, ValueError) as exc:  # timeouts, resets, IncompleteRead, bad URL
        if isinstance(exc, ModelError):
            raise
        raise ModelError(f"{entry.name}: download failed: {exc.__class__.__name__}: {exc}") from None


def _unpack_if_archive(entry: ModelEntry, path: Path) -> None:
    """Kaggle serves a .tar.gz holding 4.tflite or 1.tflite: recognised by its gzip magic, whatever the URL."""
    with path.open("rb") as f:
        if f.read(2) != b"\x1f\x8b":
            return
    try:
        with tarfile.open(path, "r:gz") as tar:
            files = [m for m in tar.getmembers() if m.isfile()]
            member = _pick_member(entry, files)
            if member.size > MAX_DOWNLOAD:
                raise ModelError(f"{entry.name}: archive member {member.name} is too large")
            source = tar.extractfile(member)
            data = source.read() if source else b""
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ModelError(f"{entry.name}: damaged tar.gz: {exc}") from None
    path.write_bytes(data)


def _pick_member(entry: ModelEntry, files: list[tarfile.TarInfo]) -> tarfile.TarInfo:
    by_name = {Path(m.name).name: m for m in files}
    if entry.member and entry.member in by_name:
        return by_name[entry.member]
    suffix = Path(entry.file).suffix
    matching = [m for m in files if m.name.endswith(suffix)]
    if len(matching) == 1:
        return matching[0]
    names = ", ".join(m.name for m in files) or "nothing"
    raise ModelError(f"{entry.name}: the archive holds {names}; expected {entry.member or 'one ' + suffix + ' file'}")


class _MirrorIndex:
    """Files under the mirror folders, by size; checksummed lazily, so any layout works."""

    def __init__(self, roots: list[Path]):
        self.roots = roots
        self._by_size: dict[int, list[Path]] | None = None

    def find(self, entry: ModelEntry) -> Path | None:
        if not self.roots:
            return None
        if self._by_size is None:
            self._by_size = {}
            for root in self.roots:
                for path in sorted(root.rglob("*")) if root.is_dir() else []:
                    if path.is_file():
                        self._by_size.setdefault(path.stat().st_size, []).append(path)
        if entry.size:
            candidates = self._by_size.get(entry.size, [])
        else:  # size unknown: same extension, any size
            suffix = Path(entry.file).suffix
            candidates = [p for paths in self._by_size.values() for p in paths if p.suffix == suffix]
        for path in candidates:
            try:
                verify(entry, path)
                return path
            except (ModelError, OSError):
                continue
        return None


# ------------------------------------------------------------------------------------------------------ CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="every model of the manifest and its state in the models dir")
    getting = sub.add_parser("fetch", help="download models into the models dir (verified)")
    for p in (listing, getting):
        p.add_argument("--models-dir", help="models dir (default: $POSE_APPLIANCE_MODELS, else "
                                            "~/.cache/pose-appliance/models)")
        p.add_argument("--manifest", help=argparse.SUPPRESS)
    getting.add_argument("names", nargs="*", metavar="NAME",
                         help=f"models to fetch (default: {' '.join(DEFAULT_NAMES)})")
    getting.add_argument("--all", action="store_true", help="fetch every model of the manifest")
    getting.add_argument("--mirror", action="append", default=[], metavar="DIR",
                         help="look for the files under this folder first (any layout; repeatable)")
    getting.add_argument("--force", action="store_true", help="download again even if the file is good")


def run(args: argparse.Namespace) -> int:
    from pose_appliance.cli import CommandError

    try:
        manifest = load_manifest(args.manifest)
        models_dir = resolve_models_dir(args.models_dir or "")
        if args.models_command == "list":
            return _list(manifest, models_dir)
        if args.all and args.names:
            raise ModelError("give model names or --all, not both")
        names = list(manifest) if args.all else args.names or list(DEFAULT_NAMES)
        return _fetch_command(names, manifest, models_dir, args.mirror, args.force)
    except ModelError as exc:
        raise CommandError(str(exc)) from None


def _list(manifest: dict[str, ModelEntry], models_dir: Path, out=None) -> int:
    out = out or sys.stdout
    print(f"models dir: {models_dir}", file=out)
    rows = [("NAME", "KIND", "SIZE", "STATE", "DESCRIPTION")]
    for entry in manifest.values():
        size = f"{entry.size / 1e6:.2f} MB" if entry.size >= 100_000 else (f"{entry.size} B" if entry.size else "?")
        rows.append((entry.name, entry.kind, size, status(entry, models_dir), entry.description))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[4], file=out)
    return 0


def _fetch_command(names: list[str], manifest: dict[str, ModelEntry], models_dir: Path, mirrors: list[str],
                   force: bool) -> int:
    show = sys.stderr.isatty()

    def progress(name: str, done: int, total: int) -> None:
        if show:
            of = f" of {total / 1e6:.1f}" if total else ""
            print(f"\r{name}: {done / 1e6:.1f}{of} MB ", end="", file=sys.stderr, flush=True)

    results = fetch(names, models_dir, mirrors=mirrors, progress=progress, force=force, manifest=manifest)
    if show:
        print("\r", end="", file=sys.stderr)
    for result in results:
        if result.ok:
            print(f"{result.name}: {result.status} {result.path}" +
                  (f" (from {result.source})" if result.status != "present" else ""))
    failed = [r for r in results if not r.ok]
    for result in failed:
        print(f"pose-appliance models fetch: {result.error}", file=sys.stderr)
    return 1 if failed else 0


__all__ = ["DEFAULT_NAMES", "FetchResult", "ModelEntry", "ModelError", "default_manifest_path", "digests",
           "fetch", "get_entry", "load_manifest", "model_file", "pose_models", "resolve_models_dir", "status",
           "verify"]
