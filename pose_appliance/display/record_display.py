"""Headless target: the overlaid frames go to a video file (PyAV, H.264) or to numbered PNGs.

A recording survives what ends it early. Video is written in pieces a player can read without an index at the
end: fragmented MP4 (a fragment every ~0.25 s), Matroska clusters of the same length, or AVI chunks; after a
SIGKILL, a watchdog restart or a power cut the frames up to about then play. A write that fails (disk full)
stops the recording with one logged error and the file is cut back to its last whole piece, so what was
recorded stays playable; the appliance keeps running. An existing recording is never overwritten: the new one
gets the next free name (``overlay-1.mp4``, ``frames-1/``).
"""

from __future__ import annotations

import logging
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from pose_appliance.config import RecordDisplayConfig
from pose_appliance.display.compositor import Compositor
from pose_appliance.display.display import Display, DisplayError
from pose_appliance.piece_file import PieceFile, free_path
from pose_appliance.render.renderer import Renderer
from pose_appliance.types import FrameResult

log = logging.getLogger(__name__)

DEFAULT_FPS = 30.0
FRAGMENT_SECONDS = 0.25  # what a SIGKILL can cost at most
SYNC_SECONDS = 2.0  # how often the file is forced to the disk (what a power cut can cost)
# Frames of a live source are placed to the millisecond: Matroska's own unit, and a time base every encoder
# _codec() picks accepts (MPEG-4 part 2 refuses a denominator above 65535, so not MPEG's 1/90000).
TIMED_TIME_BASE = Fraction(1, 1000)
# suffix -> (PyAV muxer, muxer options that make every piece readable on its own)
CONTAINERS: dict[str, tuple[str, dict[str, str]]] = {
    ".mp4": ("mp4", {"movflags": "frag_keyframe+empty_moov+default_base_moof",
                     "frag_duration": str(int(FRAGMENT_SECONDS * 1e6))}),
    ".mkv": ("matroska", {"cluster_time_limit": str(int(FRAGMENT_SECONDS * 1000))}),
    ".avi": ("avi", {}),
}
VIDEO_SUFFIXES = tuple(CONTAINERS)


class RecordDisplay(Display):
    """Writes every ``every``-th frame. A path with a video suffix is a file; any other path is a folder of
    ``frame_000001.png``... The video's nominal frame rate is the camera's (``camera.frame_rate``) divided by
    ``every``. From a live source (``camera.live``: a camera, a paced file), which drops the frames the pipeline
    cannot take, each frame is placed at its capture time (``Frame.timestamp``, the first at 0), so the video
    plays in real time and a dropped frame lengthens the one before it. Other sources drop nothing: frame N is at
    N / frame rate, exactly.

    ``path`` is where this recording really goes (the configured path, or the next free name beside it).
    ``stopped_reason`` says why the recording ended early, else None."""

    name = "record"

    def __init__(self, record_config: RecordDisplayConfig, *, camera: Any = None):
        self.configured_path = Path(record_config.path).expanduser()
        self.path = self.configured_path
        self.every = record_config.every
        source_fps = getattr(camera, "frame_rate", None) or DEFAULT_FPS
        self.fps = max(0.1, source_fps / self.every)
        self.live = bool(getattr(camera, "live", False))
        self.is_video = self.path.suffix.lower() in VIDEO_SUFFIXES
        self.written = 0
        self.stopped_reason: str | None = None
        self._seen = 0
        self._video: _VideoWriter | None = None
        self._compositor = Compositor()
        self._frame_size: tuple[int, int] | None = None
        self._bgr: np.ndarray | None = None

    def open(self, frame_size: tuple[int, int]) -> None:
        self._compositor.fit(frame_size)
        self._frame_size = frame_size
        parent = self.configured_path.parent if self.is_video else self.configured_path
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DisplayError(f"display.record.path: cannot create {'the folder ' if not self.is_video else ''}"
                               f"{parent}: {exc.strerror}") from None
        try:
            self.path = free_path(self.configured_path, folder=not self.is_video)
        except FileExistsError as exc:
            raise DisplayError(f"display.record.path: {exc}") from None
        if self.path != self.configured_path:
            log.info("%s holds an earlier recording; this one goes to %s", self.configured_path, self.path)
        if self.is_video:
            self._video = _VideoWriter(self.path, frame_size, self.fps, timed=self.live)
        else:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DisplayError(f"display.record.path: cannot create the folder {self.path}: "
                                   f"{exc.strerror}") from None

    def show(self, result: FrameResult, renderer: Renderer, status: dict) -> None:
        import cv2

        if self._frame_size is None:
            raise DisplayError("record display used before open()")
        if self.stopped_reason is not None:
            return
        self._seen += 1
        if (self._seen - 1) % self.every:
            return
        canvas = self._compositor.compose(result, renderer)
        # The output keeps the size the file was opened with; a camera that changes size is scaled into it.
        w, h = self._frame_size
        if canvas.shape[:2] != (h, w):
            canvas = cv2.resize(canvas, (w, h))
        try:
            if self._video is not None:
                self._video.write(canvas, result.frame.timestamp)
            else:
                self._bgr = cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR, dst=self._bgr)
                self._write_png(self.path / f"frame_{self.written + 1:06d}.png", self._bgr)
        except OSError as exc:
            self._stop(exc)
            return
        self.written += 1

    @staticmethod
    def _write_png(target: Path, bgr: np.ndarray) -> None:
        import cv2

        ok, encoded = cv2.imencode(".png", bgr)
        if not ok:
            raise OSError(f"cannot encode {target.name} as PNG")
        try:
            with open(target, "xb") as stream:  # "x": never replace a frame that is there
                stream.write(encoded.tobytes())
        except OSError:
            target.unlink(missing_ok=True)  # no half-written frame left behind
            raise

    def _stop(self, exc: OSError) -> None:
        reason = exc.strerror or str(exc)
        self.stopped_reason = f"cannot write {self.path}: {reason}"
        kept = "the file plays up to there" if self.is_video else "the frames written so far are kept"
        log.error("display.record.path: recording stopped after %d frames: %s; %s. The appliance keeps "
                  "running without recording (free space, then restart or reload to record again)",
                  self.written, self.stopped_reason, kept)
        if self._video is not None:
            self._video.abandon()
            self._video = None

    def close(self) -> None:
        if self._video is not None:
            video, self._video = self._video, None
            try:
                video.close()
            except OSError as exc:
                self.stopped_reason = f"cannot finish {self.path}: {exc.strerror or exc}"
                log.error("display.record.path: %s; the file plays up to the last frame written",
                          self.stopped_reason)


class _VideoWriter:
    """One PyAV output into a file we own, so a failed write can be cut back to the last whole piece.

    ``timed``: frames are placed at their timestamps (seconds, any origin) on a fine time base; otherwise frame
    N is at N / ``fps``."""

    def __init__(self, path: Path, frame_size: tuple[int, int], fps: float, *, timed: bool = False):
        try:
            import av
        except ImportError:
            raise DisplayError("display.record.path: recording video needs PyAV (pip install av), or record "
                               "PNG frames to a folder") from None
        container_format, options = CONTAINERS[path.suffix.lower()]
        try:
            self._file = PieceFile(path, replace=False)
        except OSError as exc:
            raise DisplayError(f"display.record.path: cannot create {path}: {exc.strerror}") from None
        w, h = frame_size
        self._size = (w + w % 2, h + h % 2)  # 4:2:0 video needs even sides; odd frames get one black line
        self._padded = np.zeros((self._size[1], self._size[0], 3), np.uint8)
        self._av = av
        try:
            self._container = av.open(self._file, "w", format=container_format,
                                      options={**options, "flush_packets": "1"})
            self._stream = self._container.add_stream(*_codec(av, fps))
            self._stream.width, self._stream.height = self._size
            self._stream.pix_fmt = "yuv420p"
            self._stream.codec_context.gop_size = max(1, round(fps))
            # AVI has no timestamps (a frame slot left out is an empty chunk), so it keeps one tick a frame.
            self._tick = TIMED_TIME_BASE if timed and container_format != "avi" else 1 / _frame_rate(fps)
            self._stream.codec_context.time_base = self._stream.time_base = self._tick
        except (av.FFmpegError, OSError, ValueError) as exc:
            self._file.close()
            path.unlink(missing_ok=True)
            raise DisplayError(f"display.record.path: cannot record to {path}: {exc}") from None
        self._timed = timed
        self._first_timestamp: float | None = None
        self._pts = 0
        self._last_sync = time.monotonic()

    def write(self, rgb: np.ndarray, timestamp: float = 0.0) -> None:
        if rgb.shape[1::-1] != self._size:
            self._padded[:rgb.shape[0], :rgb.shape[1]] = rgb
            rgb = self._padded
        frame = self._av.VideoFrame.from_ndarray(rgb, format="rgb24")
        if self._timed:
            if self._first_timestamp is None:
                self._first_timestamp = timestamp
            # Never before the previous frame: a source whose clock stepped back gets the next tick.
            self._pts = max(self._pts, round((timestamp - self._first_timestamp) / self._tick))
        frame.pts = self._pts
        self._pts += 1
        try:
            packets = self._stream.encode(frame)
        except self._av.FFmpegError as exc:  # also what the encoder refuses when it opens, at the first frame
            raise OSError(str(exc)) from exc
        self._mux(packets)
        if time.monotonic() - self._last_sync >= SYNC_SECONDS:
            self._file.sync()
            self._last_sync = time.monotonic()

    def _mux(self, packets: list) -> None:
        try:
            for packet in packets:
                self._container.mux(packet)
        except self._av.FFmpegError as exc:  # a write error reported through FFmpeg
            raise OSError(str(exc)) from exc
        # With flush_packets every byte the muxer made is in the file now: the end of a whole piece.
        self._file.mark_whole()

    def close(self) -> None:
        """Encode what the codec still holds, write the index and close the file."""
        try:
            self._mux(self._stream.encode(None))
            self._container.close()
            self._file.sync()
        except OSError:
            self.abandon()
            raise
        except self._av.FFmpegError as exc:
            self.abandon()
            raise OSError(str(exc)) from exc
        self._file.close()

    def abandon(self) -> None:
        """After a failed write: cut the file back to its last whole piece and let go of it."""
        self._file.fail()
        try:
            self._container.close()
        except (self._av.FFmpegError, OSError) as exc:  # it cannot finish on a failed file; nothing is written
            log.debug("closing the failed recording: %s", exc)
        self._file.close()


def _frame_rate(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1001)


def _codec(av: Any, fps: float) -> tuple:
    rate = _frame_rate(fps)
    try:
        av.codec.Codec("libx264", "w")
    except ValueError:  # a PyAV built without x264: MPEG-4 part 2 plays almost everywhere too
        return ("mpeg4", rate)
    return ("libx264", rate, {"preset": "ultrafast", "tune": "zerolatency"})
