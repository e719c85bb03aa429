"""Frames decoded ahead of time, and a frame source over them (unpaced, or paced like a camera)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PreparedFrames:
    """Frames decoded (and resized) ahead of time, so reading one costs what a camera read costs.

    Plain sizes hold RGB images the source hands out as they are. Camera sizes hold picamera2's buffers, an
    XBGR8888 main stream and a YUV420 lores stream at the model's size, converted to RGB per read as
    ``Picamera2Source`` does. The frames are played forwards then backwards, so the motion stays continuous.
    """

    images: list
    lores: list
    size: tuple[int, int]
    lores_size: list | None

    @classmethod
    def from_video(cls, path: str, size: dict, model_size: tuple[int, int], budget: int) -> PreparedFrames:
        import cv2
        import numpy as np

        from pose_appliance.camera.picamera2_source import lores_size_for

        width, height = size["width"], size["height"]
        lores_size = lores_size_for((width, height), model_size) if size["camera"] else None
        per_frame = width * height * (4 if size["camera"] else 3)
        limit = max(8, budget // per_frame)
        capture = cv2.VideoCapture(str(path))
        images: list[np.ndarray] = []
        lores: list[np.ndarray] = []
        while len(images) < limit:
            ok, bgr = capture.read()
            if not ok:
                break
            rgb = cv2.cvtColor(cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
            if lores_size is None:
                images.append(rgb)
                continue
            images.append(np.dstack([rgb, np.full((height, width), 255, np.uint8)]))  # XBGR8888: R,G,B,X
            small = cv2.resize(rgb, lores_size, interpolation=cv2.INTER_AREA)
            lores.append(cv2.cvtColor(small, cv2.COLOR_RGB2YUV_I420))
        capture.release()
        if len(images) < 2:
            raise RuntimeError(f"{path}: fewer than 2 frames decoded")
        return cls(images, lores, (width, height), list(lores_size) if lores_size else None)

    def __len__(self) -> int:
        return len(self.images)

    def frame(self, index: int):
        """(image, lores) of frame ``index`` of the endless forwards-backwards play, as the source delivers it."""
        from pose_appliance.camera.pixel_formats import picamera2_to_rgb

        k = self._position(index)
        if self.lores_size is None:
            return self.images[k], None
        return (picamera2_to_rgb(self.images[k], "XBGR8888", self.size),
                picamera2_to_rgb(self.lores[k], "YUV420", tuple(self.lores_size)))

    def main(self, index: int):
        """Only the RGB display image of frame ``index`` (what an OpenCV capture of that size reads)."""
        from pose_appliance.camera.pixel_formats import picamera2_to_rgb

        k = self._position(index)
        return self.images[k] if self.lores_size is None else picamera2_to_rgb(self.images[k], "XBGR8888", self.size)

    def _position(self, index: int) -> int:
        period = 2 * len(self.images) - 2
        k = index % period
        return k if k < len(self.images) else period - k


def prepared_source(frames: PreparedFrames, count: int, fps: float | None):
    """A FrameSource over prepared frames: unpaced (waits for the pipeline) or a camera at ``fps``."""
    from pose_appliance.camera import FrameSource
    from pose_appliance.camera.pacer import Pacer

    class PreparedSource(FrameSource):
        name = "prepared"
        live = fps is not None
        frame_rate = fps

        def __init__(self):
            self._next = 0
            self._pacer = Pacer(fps) if fps else None

        def read(self):
            index = self._next
            if self._pacer is not None:
                index = self._pacer.next_slot(index)
            if index >= count:
                return None
            self._next = index + 1
            image, lores = frames.frame(index)
            return self.make_frame(image, index, lores=lores)

    return PreparedSource()
