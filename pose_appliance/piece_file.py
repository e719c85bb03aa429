"""A recording file written in whole pieces (a video fragment, a JSON line): a failed write (disk full) cuts it
back to the end of the last whole piece, so what was recorded stays readable to its end."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def free_path(path: Path, *, folder: bool = False) -> Path:
    """``path`` if nothing is recorded there yet, else the first free ``name-N`` beside it (an empty folder is
    free): an earlier recording is never overwritten. ``FileExistsError`` when 99999 numbered ones exist too."""
    def taken(candidate: Path) -> bool:
        if folder and candidate.is_dir():
            return any(candidate.iterdir())
        return candidate.exists() or candidate.is_symlink()

    if not taken(path):
        return path
    for number in range(1, 100_000):
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
        if not taken(candidate):
            return candidate
    raise FileExistsError(f"{path} and 99999 numbered recordings beside it exist (move old recordings away)")


class PieceFile:
    """``write`` bytes, ``mark_whole`` after each complete piece. Once a write failed, the file is cut back to the
    last mark and takes no more bytes (a muxer's trailer must not land after a gap). ``replace=False`` refuses a
    file that exists (a recording is never overwritten). Also a file object for PyAV (``seek``/``tell``).

    The bytes of a piece are held until ``mark_whole`` (or a ``seek``, ``tell``, ``sync``, ``close``) and then
    written in one system call: a SIGKILL lands between pieces, not in the middle of a video fragment that a muxer
    hands over in several writes. A failed write raises ``OSError`` from the call that wrote."""

    def __init__(self, path: Path, *, replace: bool):
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_TRUNC if replace else os.O_EXCL)
        self._fd = os.open(path, flags, 0o644)
        self._whole = 0
        self._pending = bytearray()
        self.failed = False

    def write(self, data: Any) -> int:
        if self.failed:
            raise OSError("the recording already failed")
        if self._fd < 0:  # as os.write on the closed descriptor did before the bytes were held
            raise OSError(errno.EBADF, "the recording is closed")
        before = len(self._pending)
        self._pending += data
        return len(self._pending) - before

    def _flush(self) -> None:
        if not self._pending:
            return
        view, self._pending = memoryview(self._pending), bytearray()
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError:
            self.fail()
            raise

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._flush()
        return os.lseek(self._fd, offset, whence)

    def tell(self) -> int:
        self._flush()
        return os.lseek(self._fd, 0, os.SEEK_CUR)

    def mark_whole(self) -> None:
        """Everything written so far is whole pieces."""
        self._flush()
        self._whole = max(self._whole, os.fstat(self._fd).st_size)

    def sync(self) -> None:
        if self._fd >= 0 and not self.failed:
            self._flush()
            os.fsync(self._fd)

    def fail(self) -> None:
        """Cut the file back to its last whole piece and take no more bytes."""
        if self.failed or self._fd < 0:
            return
        self.failed = True
        self._pending = bytearray()
        try:
            os.ftruncate(self._fd, self._whole)
            os.fsync(self._fd)
        except OSError as exc:
            log.debug("cutting back the failed recording: %s", exc)

    def close(self) -> None:
        if self._fd >= 0:
            try:
                if not self.failed:
                    self._flush()
            finally:
                os.close(self._fd)
                self._fd = -1
