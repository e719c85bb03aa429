"""OpenCV images -> the RGB uint8 frames of the pipeline, and size handling shared by the file/camera sources."""

from __future__ import annotations

import numpy as np


def cv_to_rgb(image: np.ndarray) -> np.ndarray:
    """An image as OpenCV reads it (BGR, BGRA, gray; 8 or 16 bit) as contiguous RGB uint8.

    Alpha is dropped, as ``cv2.imread`` does by default (the TF sample's expected keypoints were made that way).
    """
    import cv2

    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"unsupported pixel type {image.dtype}")
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_rgb(path) -> np.ndarray | None:
    """An image file as RGB uint8, or None when it cannot be read or decoded.

    Decoded as ``cv2.imread`` does by default: EXIF orientation applied (phone photos), alpha dropped, 16-bit and
    gray converted; read through numpy so any path works.
    """
    import cv2

    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def target_size(width: int, height: int, source_size: tuple[int, int]) -> tuple[int, int] | None:
    """The (w, h) to resize to: both given = exactly that; one given = keep the aspect ratio; none = None."""
    if width <= 0 and height <= 0:
        return None
    src_w, src_h = source_size
    if width <= 0:
        width = max(1, round(src_w * height / src_h))
    if height <= 0:
        height = max(1, round(src_h * width / src_w))
    return (width, height) if (width, height) != (src_w, src_h) else None


def resize_to(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize per camera.width/height (0 = keep); INTER_AREA when shrinking, INTER_LINEAR when growing."""
    import cv2

    size = target_size(width, height, (image.shape[1], image.shape[0]))
    if size is None:
        return image
    shrink = size[0] * size[1] < image.shape[0] * image.shape[1]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
