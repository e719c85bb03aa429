"""Filling a models dir: local mirror folders first, then the official URLs; a file only lands in the models dir
after its size and checksums match the manifest, so a partial or wrong download never replaces a good file."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pose_appliance.modelstore.manifest import ModelEntry, ModelError, get_entry, load_manifest

USER_AGENT = "pose-appliance-fetch/1"
MAX_DOWNLOAD = 256 * 1024 * 1024  # bytes; no model here is near this, an endless stream is cut off
CHUNK = 1 << 16
# A temp file of a fetch that was killed (power cut, kill -9) is removed by a later fetch once untouched this long; a
# running download writes to its own at least every `timeout` seconds.
STALE_PART_S = 600

Progress = Callable[[str, int, int], None]  # (entry name, bytes done, bytes total or 0 if unknown)


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


def fetch(names: Iterable[str], models_dir: str | os.PathLike, *, mirrors: Iterable[str | os.PathLike] = (),
          progress: Progress | None = None, urlopen: Callable[..., Any] | None = None, force: bool = False,
          manifest: dict[str, ModelEntry] | None = None, timeout: float = 60.0) -> list[FetchResult]:
    """Bring each named entry (and a classifier's labels and reference keypoints) into models_dir, verified.

    Order per entry: already present and verified (skipped unless force), a mirror folder (any file under it
    with the right size and checksums), then url and alt_urls. Unknown names raise ModelError before any work;
    other failures are reported in the results, one per entry, and never touch an existing file.
    """
    manifest = load_manifest() if manifest is None else manifest
    wanted: list[ModelEntry] = []
    for name in names:
        entry = get_entry(name, manifest)
        wanted.append(entry)
        wanted += [manifest[ref] for ref in (entry.labels, entry.reference) if ref]
    wanted = list({entry.name: entry for entry in wanted}.values())
    models_dir = Path(models_dir).expanduser()
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"{models_dir}: cannot create the models dir: {exc.strerror or exc}") from None
    mirror_index = _MirrorIndex([Path(m).expanduser() for m in mirrors])
    results = [_fetch_one(entry, models_dir, mirror_index, progress, urlopen, force, timeout) for entry in wanted]
    return [_derive_reference(result) if entry.kind == "keypoints" and result.ok else result
            for entry, result in zip(wanted, results)]


def _derive_reference(result: FetchResult) -> FetchResult:
    """Build the pose reference of a verified keypoints CSV now (a few seconds), so the appliance starts
    without that wait."""
    from pose_appliance.classify.reference import reference_from_csv

    try:
        reference_from_csv(result.path)
    except (OSError, ValueError) as exc:
        return replace(result, status="failed", error=f"{result.name}: cannot derive the pose reference: {exc}")
    return result


def _fetch_one(entry: ModelEntry, models_dir: Path, mirror_index: _MirrorIndex, progress: Progress | None,
               urlopen: Callable[..., Any] | None, force: bool, timeout: float) -> FetchResult:
    dest = models_dir / entry.file
    _remove_stale_parts(entry, models_dir)
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
            _install(entry, dest, functools.partial(_download, entry, url, progress=progress, urlopen=urlopen,
                                                    timeout=timeout))
            return FetchResult(entry.name, dest, "downloaded", url)
        except ModelError as exc:
            errors.append(f"{url}: {_strip_name(entry, exc)}")
    if not entry.urls:
        errors.append("no URL in the manifest")
    return FetchResult(entry.name, dest, "failed", error=f"{entry.name}: " + "; ".join(errors))


def _remove_stale_parts(entry: ModelEntry, models_dir: Path) -> None:
    """Temp files of this entry that an interrupted fetch left behind (see ``_install``)."""
    for part in models_dir.glob(f".{entry.file}.*.part"):
        try:
            if time.time() - part.stat().st_mtime > STALE_PART_S:
                part.unlink()
        except OSError:
            pass  # gone meanwhile, or not ours to remove: it is only clutter


def _strip_name(entry: ModelEntry, exc: Exception) -> str:
    text = str(exc)
    return text[len(entry.name) + 2:] if text.startswith(entry.name + ": ") else text


def _install(entry: ModelEntry, dest: Path, produce: Callable[[Path], object]) -> None:
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
    # Timeouts, resets, a bad URL; http.client's IncompleteRead (a connection dropped inside a chunk) and other
    # protocol errors are no OSError.
    except (OSError, ValueError, http.client.HTTPException) as exc:
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
