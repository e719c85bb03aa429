"""Frames from a folder of still images (and its sub-folders), in path order."""

from __future__ import annotations

import logging
from pathlib import Path

from pose_appliance.camera.frame_source import FrameSource, SourceError
from pose_appliance.camera.imageops import read_rgb, resize_to
from pose_appliance.camera.pacer import Pacer
from pose_appliance.errors import shorten
from pose_appliance.types import Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class ImageFolderSource(FrameSource):
    """The .jpg/.jpeg/.png/.bmp files of a folder and its sub-folders (e.g. ``<pose>/<image>``), sorted by
    relative path; each frame carries that path as ``Frame.name``. Gray and RGBA images become RGB; a file that
    cannot be decoded is logged once and skipped (its slot is a gap in ``Frame.index``). ``realtime`` paces the
    images at ``fps`` and makes the source live; otherwise every image is handed over as fast as it is taken."""

    name = "images"

    def __init__(self, path: str | Path, *, loop: bool = False, fps: float = 5.0, realtime: bool = False,
                 width: int = 0, height: int = 0):
        self.path = Path(path)
        self.loop = loop
        self.realtime = realtime
        self.frame_rate: float = float(fps)
        self.width, self.height = width, height
        self.files: list[Path] = []
        self.skipped: list[Path] = []
        self._slot = 0
        self._pacer: Pacer | None = None
        self._readable_in_pass = 0

    @property
    def live(self) -> bool:
        """Paced files behave like a camera: frames the pipeline cannot take are dropped."""
        return self.realtime

    def start(self) -> None:
        shown = shorten(str(self.path))
        try:
            next(self.path.iterdir(), None)  # raises for a missing, file or unreadable path; rglob would not
        except (NotADirectoryError, FileNotFoundError) as exc:
            what = "it does not exist" if isinstance(exc, FileNotFoundError) else "it is a file"
            raise SourceError(f"camera.images.path: {shown} is not a folder ({what}; give a folder of "
                              "images)") from None
        except OSError as exc:
            raise SourceError(f"camera.images.path: {shown}: {exc.strerror} (give a folder of images)") from None
        self.files = sorted((p for p in self.path.rglob("*")
                             if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                             and not any(part.startswith(".") for part in p.relative_to(self.path).parts)),
                            key=lambda p: p.relative_to(self.path).as_posix())
        if not self.files:
            raise SourceError(f"camera.images.path: {shown} has no {'/'.join(IMAGE_SUFFIXES)} images")
        self.skipped = []
        self._slot = 0
        self._readable_in_pass = 0
        self.dropped = 0
        self._pacer = Pacer(self.frame_rate) if self.realtime else None

    def read(self) -> Frame | None:
        if not self.files:
            raise SourceError("ImageFolderSource.read() before start()")
        count = len(self.files)
        wanted = self._slot if self._pacer is None else self._pacer.next_slot(self._slot)
        while True:
            if self._slot % count == 0 and self._slot > 0:  # a pass just ended
                if self._readable_in_pass == 0:
                    raise SourceError(f"camera.images.path: none of the images in {self.path} can be read")
                if not self.loop:
                    return None
                self._readable_in_pass = 0
            slot, path = self._slot, self.files[self._slot % count]
            self._slot += 1
            if slot < wanted:  # overdue in realtime mode: skip without decoding
                self._readable_in_pass += 1
                self.dropped += 1
                continue
            image = self._load(path)
            if image is None:
                continue
            self._readable_in_pass += 1
            return self.make_frame(image, slot, still=True, name=path.relative_to(self.path).as_posix())

    def _load(self, path: Path):
        image = read_rgb(path)
        if image is None:
            if path not in self.skipped:
                self.skipped.append(path)
                log.warning("skipping %s: not a readable image", path)
            return None
        return resize_to(image, self.width, self.height)
