"""picamera2 buffers -> RGB uint8 in one pass and one copy (numpy; OpenCV for the 32-bit formats).

Memory layouts, as picamera2 maps them (request.py: its PIL mode table and make_array):
"RGB888" is B,G,R per pixel (libcamera names formats by the 24-bit word, little-endian); "BGR888" is R,G,B;
"XBGR8888" is R,G,B,X; "XRGB8888" is B,G,R,X; "YUV420" is I420 as an ``(h*3/2, stride)`` array: ``h`` rows of Y,
then the U plane and the V plane, each ``h/2`` rows of ``stride/2`` bytes ("YVU420": V before U).
"""

from __future__ import annotations

import numpy as np

# Full-range BT.601 (libcamera ColorSpace.Sycc(), which the picamera2 source asks for).
_CR_TO_R, _CB_TO_G, _CR_TO_G, _CB_TO_B = 1.402, 0.344136, 0.714136, 1.772


def picamera2_to_rgb(array: np.ndarray, fmt: str, size: tuple[int, int]) -> np.ndarray:
    """A picamera2 array (from MappedArray or make_array) of stream format ``fmt`` and ``size`` (w, h) as a new
    contiguous RGB uint8 image (never a view of the camera's buffer, so the request can be released)."""
    w, h = size
    if fmt == "BGR888":
        return np.ascontiguousarray(array[:h, :w, :3])
    if fmt == "RGB888":
        return np.ascontiguousarray(array[:h, :w, 2::-1])
    if fmt in ("XBGR8888", "XRGB8888"):
        # Dropping the 4th byte is a strided gather in numpy (~1 ms at 640x480 on x86, far more on a Pi);
        # OpenCV's SIMD conversion does the same copy in ~0.01 ms.
        import cv2
        code = cv2.COLOR_RGBA2RGB if fmt == "XBGR8888" else cv2.COLOR_BGRA2RGB
        return cv2.cvtColor(array[:h, :w], code)
    if fmt in ("YUV420", "YVU420"):
        return i420_to_rgb(array, w, h, swap_uv=fmt == "YVU420")
    raise ValueError(f"picamera2 format {fmt!r} is not supported (use XBGR8888, RGB888, BGR888 or YUV420)")


def i420_to_rgb(array: np.ndarray, width: int, height: int, *, swap_uv: bool = False) -> np.ndarray:
    """Full-range BT.601 I420 ``(h*3/2, stride)`` -> RGB ``(h, w, 3)`` uint8; chroma is upsampled 2x2 nearest."""
    if height % 2 or width % 2:
        raise ValueError(f"YUV420 needs even width and height, got {width}x{height}")
    stride = array.shape[1] if array.ndim == 2 else width
    flat = np.ascontiguousarray(array).reshape(-1)
    need = stride * height + 2 * (stride // 2) * (height // 2)
    if flat.size < need:
        raise ValueError(f"YUV420 buffer has {flat.size} bytes, {width}x{height} stride {stride} needs {need}")
    half_w, half_h, chroma_stride = width // 2, height // 2, stride // 2
    y = flat[:stride * height].reshape(height, stride)[:, :width]
    first = stride * height
    second = first + chroma_stride * half_h
    u = flat[first:second].reshape(half_h, chroma_stride)[:, :half_w]
    v = flat[second:second + chroma_stride * half_h].reshape(half_h, chroma_stride)[:, :half_w]
    if swap_uv:
        u, v = v, u
    cb = u.astype(np.float32) - 128.0
    cr = v.astype(np.float32) - 128.0
    # Chroma terms at quarter resolution, then spread over each 2x2 block.
    chroma = np.stack([_CR_TO_R * cr, -_CB_TO_G * cb - _CR_TO_G * cr, _CB_TO_B * cb], axis=-1)
    chroma = chroma.repeat(2, axis=0).repeat(2, axis=1)
    rgb = chroma + y.astype(np.float32)[..., None]
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
