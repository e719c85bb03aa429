"""picamera2 buffer layouts -> RGB, against the exact formulas written out here."""

from __future__ import annotations

import numpy as np
import pytest

from pose_appliance.camera.pixel_formats import i420_to_rgb, picamera2_to_rgb


def full_range_bt601(y, u, v):
    """The exact sYCC (full-range BT.601) decode with chroma repeated over each 2x2 block, in float64."""
    cb = np.repeat(np.repeat(u.astype(np.float64) - 128, 2, 0), 2, 1)
    cr = np.repeat(np.repeat(v.astype(np.float64) - 128, 2, 0), 2, 1)
    luma = y.astype(np.float64)
    rgb = np.stack([luma + 1.402 * cr, luma - 0.344136 * cb - 0.714136 * cr, luma + 1.772 * cb], axis=-1)
    return np.clip(np.rint(rgb), 0, 255)


def i420_buffer(y, u, v, stride):
    """An I420 buffer as picamera2 returns it: (h*3/2, stride), rows padded, U then V at half the stride."""
    height, width = y.shape
    flat = np.full(stride * height * 3 // 2, 0x55, np.uint8)  # padding bytes must never be read
    flat[:stride * height].reshape(height, stride)[:, :width] = y
    chroma = stride * height, stride * height + (stride // 2) * (height // 2)
    flat[chroma[0]:chroma[1]].reshape(height // 2, stride // 2)[:, :width // 2] = u
    flat[chroma[1]:].reshape(height // 2, stride // 2)[:, :width // 2] = v
    return flat.reshape(height * 3 // 2, stride)


@pytest.mark.parametrize("width, height, stride", [(256, 192, 256), (250, 190, 256), (342, 192, 384)])
def test_i420_matches_the_full_range_formula_within_two_levels(width, height, stride):
    rng = np.random.default_rng(width)
    y = rng.integers(0, 256, (height, width), dtype=np.uint8)
    u = rng.integers(0, 256, (height // 2, width // 2), dtype=np.uint8)
    v = rng.integers(0, 256, (height // 2, width // 2), dtype=np.uint8)
    y[0, :4], u[0, :2], v[0, :2] = (0, 255, 0, 255), (0, 255), (255, 0)  # the range ends saturate, not wrap
    expected = full_range_bt601(y, u, v)
    buffer = i420_buffer(y, u, v, stride)

    rgb = i420_to_rgb(buffer, width, height)
    assert rgb.shape == (height, width, 3) and rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    error = np.abs(rgb.astype(np.float64) - expected)
    assert error.max() <= 2 and error.mean() < 0.6

    swapped = i420_buffer(y, v, u, stride)  # YVU420: V plane first
    assert np.array_equal(picamera2_to_rgb(swapped, "YVU420", (width, height)), rgb)
    assert np.array_equal(picamera2_to_rgb(buffer, "YUV420", (width, height)), rgb)


def test_grey_levels_survive_the_limited_range_detour():
    levels = np.arange(256, dtype=np.uint8)
    y = np.repeat(levels.reshape(16, 16), 2, 0).repeat(2, 1)  # 32x32, every level
    neutral = np.full((16, 16), 128, np.uint8)
    rgb = i420_to_rgb(i420_buffer(y, neutral, neutral, 32), 32, 32)
    assert np.abs(rgb.astype(int) - y[..., None].astype(int)).max() <= 1
    assert rgb[0, 0].tolist() == [0, 0, 0] and rgb[-1, -1].tolist() == [255, 255, 255]


def test_bad_yuv_buffers_are_refused():
    with pytest.raises(ValueError, match="even width and height"):
        i420_to_rgb(np.zeros((30, 21), np.uint8), 21, 20)
    with pytest.raises(ValueError, match="needs"):
        i420_to_rgb(np.zeros((20, 32), np.uint8), 32, 20)
