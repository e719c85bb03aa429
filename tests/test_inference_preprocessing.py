"""Preprocessing: crop tracking as tfjs does it, crop-and-resize like tf.image.crop_and_resize, one-euro."""

from __future__ import annotations

import numpy as np
import pytest

from pose_appliance.inference.crop_region import CropRegionTracker, next_crop_region, padded_full_frame, torso_visible
from pose_appliance.inference.crop_resize import CropResizer
from pose_appliance.inference.one_euro import OneEuroFilter
from pose_appliance.types import KEYPOINT_INDEX as K


def standing(cx=320.0, hip_y=300.0, score=0.9) -> np.ndarray:
    """A person standing at x=cx: shoulders 100 px above the hips, ankles 160 px below, in pixels (x, y, s)."""
    kps = np.zeros((17, 3), np.float32)
    kps[:, 2] = score
    kps[:, 0], kps[:, 1] = cx, hip_y - 120
    for side, dx in (("left", 20), ("right", -20)):
        kps[K[f"{side}_shoulder"]] = (cx + dx, hip_y - 100, score)
        kps[K[f"{side}_hip"]] = (cx + dx / 2, hip_y, score)
        kps[K[f"{side}_elbow"]] = (cx + 2 * dx, hip_y - 60, score)
        kps[K[f"{side}_wrist"]] = (cx + 2 * dx, hip_y - 20, score)
        kps[K[f"{side}_knee"]] = (cx + dx / 2, hip_y + 80, score)
        kps[K[f"{side}_ankle"]] = (cx + dx / 2, hip_y + 160, score)
    return kps


def test_padded_full_frame_is_square_in_pixels():
    assert padded_full_frame(640, 480) == pytest.approx((-1 / 6, 0.0, 1 + 1 / 6, 1.0))
    assert padded_full_frame(480, 640) == pytest.approx((0.0, -1 / 6, 1.0, 1 + 1 / 6))
    assert padded_full_frame(500, 500) == (0.0, 0.0, 1.0, 1.0)


def test_crop_is_square_around_the_hips():
    kps = standing()
    ymin, xmin, ymax, xmax = next_crop_region(kps, 640, 480)
    # Body range 160 px (ankles) x 1.2 = 192 beats torso range 100 x 1.9 = 190.
    assert (xmax - xmin) * 640 == pytest.approx(384) and (ymax - ymin) * 480 == pytest.approx(384)
    assert ((xmin + xmax) / 2 * 640, (ymin + ymax) / 2 * 480) == pytest.approx((320, 300))


def test_raised_arms_widen_the_crop():
    """The raspberry_pi sample's bug collapses the body term; here a raised wrist must enlarge the crop."""
    kps = standing()
    base = next_crop_region(kps, 640, 480)
    kps[K["left_wrist"]] = (320, 300 - 190, 0.9)
    raised = next_crop_region(kps, 640, 480)
    assert (raised[2] - raised[0]) * 480 == pytest.approx(2 * 190 * 1.2)
    assert raised[2] - raised[0] > base[2] - base[0]


def test_low_scores_do_not_shape_the_crop():
    kps = standing()
    kps[K["left_wrist"]] = (600, 0, 0.1)
    assert next_crop_region(kps, 640, 480) == pytest.approx(next_crop_region(standing(), 640, 480))


def test_torso_not_visible_or_too_big_gives_padded_full_frame():
    kps = standing()
    kps[[K["left_hip"], K["right_hip"]], 2] = 0.1
    assert not torso_visible(kps)
    assert next_crop_region(kps, 640, 480) == padded_full_frame(640, 480)
    kps = standing()
    kps[[K["left_shoulder"], K["right_shoulder"]], 2] = 0.2  # must be above 0.2
    assert not torso_visible(kps)
    big = standing(cx=150, hip_y=240)
    big[:, 1] = (big[:, 1] - 240) * 3 + 240  # three times as tall: half-size min(576, 490 to the edge) > 320
    assert next_crop_region(big, 640, 480) == padded_full_frame(640, 480)


def test_half_size_capped_by_distance_to_farthest_edge():
    kps = standing(cx=100, hip_y=100)
    kps[:, 1] = (kps[:, 1] - 100) * 1.2 + 100
    ymin, xmin, _ymax, xmax = next_crop_region(kps, 640, 480)
    half = (xmax - xmin) * 640 / 2
    assert half == pytest.approx(min(1.2 * 192, max(100, 540, 100, 380)))
    assert ymin < 0  # crops may extend past the frame


def test_tracker_low_pass_and_reset():
    tracker = CropRegionTracker()
    assert tracker.crop(640, 480) == padded_full_frame(640, 480)
    first = tracker.update(standing(cx=320), 640, 480)
    assert first == pytest.approx(next_crop_region(standing(cx=320), 640, 480))
    target = np.array(next_crop_region(standing(cx=420), 640, 480))
    second = np.array(tracker.update(standing(cx=420), 640, 480))
    assert second == pytest.approx(np.array(first) + 0.9 * (target - np.array(first)))
    tracker.reset()
    assert tracker.crop(640, 480) == padded_full_frame(640, 480)
    assert tracker.update(standing(cx=420), 640, 480) == pytest.approx(tuple(target))


def reference_crop_and_resize(image, crop, height, width):
    """tf.image.crop_and_resize (bilinear, extrapolation 0), written out per pixel in float64."""
    frame_h, frame_w = image.shape[:2]
    y1, x1, y2, x2 = crop
    out = np.zeros((height, width, 3))
    for i in range(height):
        y = y1 * (frame_h - 1) + i * (y2 - y1) * (frame_h - 1) / (height - 1)
        if not 0 <= y <= frame_h - 1:
            continue
        top, bottom = int(np.floor(y)), int(np.ceil(y))
        for j in range(width):
            x = x1 * (frame_w - 1) + j * (x2 - x1) * (frame_w - 1) / (width - 1)
            if not 0 <= x <= frame_w - 1:
                continue
            left, right = int(np.floor(x)), int(np.ceil(x))
            t = image[top, left] + (image[top, right].astype(float) - image[top, left]) * (x - left)
            b = image[bottom, left] + (image[bottom, right].astype(float) - image[bottom, left]) * (x - left)
            out[i, j] = t + (b - t) * (y - top)
    return out


@pytest.mark.parametrize("crop", [(-1 / 6, 0.0, 7 / 6, 1.0), (0.2, 0.3, 0.7, 0.9), (-0.5, -0.2, 0.4, 1.3),
                                  (0.0, 0.0, 1.0, 1.0)])
def test_crop_resize_matches_tf_bilinear(shared, crop):
    import cv2
    image = cv2.cvtColor(cv2.imread(str(shared / "data/coral_test_data/squat.bmp")), cv2.COLOR_BGR2RGB)
    expected = reference_crop_and_resize(image, crop, 40, 36)
    out = np.zeros((1, 40, 36, 3), np.uint8)
    CropResizer(36, 40)(image, crop, out)
    assert np.abs(out[0] - np.floor(expected)).max() <= 1  # truncated like tfjs, fixed-point within 1
    outside = expected.sum(axis=2) == 0
    if crop[0] < 0:
        assert outside[0].all() and (out[0][outside] == 0).all()  # black outside the image


def test_crop_resize_float_input_scaling_and_int32(shared):
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    resizer = CropResizer(8, 6)
    as_uint8 = resizer(image, (0.1, 0.1, 0.9, 0.9), np.empty((1, 6, 8, 3), np.uint8))
    as_float = resizer(image, (0.1, 0.1, 0.9, 0.9), np.empty((1, 6, 8, 3), np.float32), scale=1 / 127.5,
                       offset=-1.0)
    as_int32 = resizer(image, (0.1, 0.1, 0.9, 0.9), np.empty((1, 6, 8, 3), np.int32))
    assert np.allclose(as_float, as_uint8 / 127.5 - 1.0, atol=1e-6)
    assert as_float.min() >= -1 and as_float.max() <= 1
    assert (as_int32 == as_uint8).all()
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        resizer(image[..., :2], (0, 0, 1, 1), np.empty((1, 6, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="contiguous"):
        resizer(image, (0, 0, 1, 1), np.empty((1, 6, 9, 3), np.uint8)[:, :, :8])


def fixed_point_crop_and_resize(image, crop, height, width):
    """crop_resize's rule written out directly: the four neighbours of each output pixel with weights in 1/256 per
    axis (0 for samples outside the frame), the sum of pixel * wy * wx shifted right by 16."""
    if min(image.shape[:2]) < 2:
        image = np.repeat(np.repeat(image, 1 + (image.shape[0] < 2), axis=0), 1 + (image.shape[1] < 2), axis=1)

    def axis(lo, hi, size, frame_size):
        if size > 1:
            coords = lo * (frame_size - 1) + np.arange(size) * ((hi - lo) * (frame_size - 1) / (size - 1))
        else:
            coords = np.full(1, 0.5 * (lo + hi) * (frame_size - 1))
        slack = 1e-6 * frame_size
        inside = (coords >= -slack) & (coords <= frame_size - 1 + slack)
        first = np.clip(np.floor(coords), 0, frame_size - 2).astype(int)
        second = np.clip(np.rint((coords - first) * 256), 0, 256).astype(np.int64)
        return first, [(256 - second) * inside, second * inside]

    rows, row_weights = axis(crop[0], crop[2], height, image.shape[0])
    cols, col_weights = axis(crop[1], crop[3], width, image.shape[1])
    pixels = image.astype(np.int64)
    total = sum(pixels[rows + dy][:, cols + dx] * row_weights[dy][:, None, None] * col_weights[dx][None, :, None]
                for dy in (0, 1) for dx in (0, 1))
    return total >> 16


def test_crop_resize_gives_the_bytes_of_the_fixed_point_rule():
    """Byte for byte, for crops inside, across and outside the frame, zoomed in and out (both blend orders),
    one- and two-pixel frames, strided images, and uint8, int32 and float32 outputs."""
    rng = np.random.default_rng(5)
    # (frame, output, crop): the last row and column 7e-15 past the frame's edge (within the slack), the padded
    # full frame, a point, a crop outside the frame.
    fixed = [((64, 64), (5, 16), (0.212, 0.319, 1.0, 1.0)), ((48, 64), (16, 16), (-1 / 6, 0.0, 7 / 6, 1.0)),
             ((17, 17), (5, 5), (0.5, 0.5, 0.5, 0.5)), ((17, 64), (5, 2), (1.2, -0.5, 1.6, 0.2))]
    for i in range(400):
        (frame_h, frame_w), (height, width), crop = fixed[i] if i < len(fixed) else (
            rng.choice([1, 2, 3, 17, 64], 2), (int(v) for v in rng.choice([1, 2, 5, 16], 2)), None)
        image = rng.integers(0, 256, (frame_h, frame_w, 3), dtype=np.uint8)
        image = [image, image[::-1], image[:, ::-1], np.asfortranarray(image)][i % 4]
        if crop is None:
            top, left = rng.uniform(-0.6, 1.1, 2)
            crop = (top, left, top + rng.uniform(0, 1.2), left + rng.uniform(0, 1.2))
        expected = fixed_point_crop_and_resize(image, crop, height, width)
        resizer = CropResizer(width, height)
        assert np.array_equal(resizer(image, crop, np.full((1, height, width, 3), 7, np.uint8))[0], expected)
        assert np.array_equal(resizer(image, crop, np.full((height, width, 3), 7, np.int32)), expected)
        scale, offset = np.float32(1 / 127.5), np.float32(rng.choice([-1.0, 0.25]))
        as_float = resizer(image, crop, np.full((height, width, 3), 7, np.float32), scale=float(scale),
                           offset=float(offset))
        assert np.array_equal(as_float, expected.astype(np.float32) * scale + offset)


def test_one_euro_smooths_jitter_and_follows_motion():
    rng = np.random.default_rng(0)
    still = OneEuroFilter()
    noisy = 0.5 + rng.normal(0, 0.0005, (60, 34))  # about 0.3 px of jitter at 576 px
    filtered = np.array([still(v, t / 30) for t, v in enumerate(noisy)])
    assert filtered[10:].std(axis=0).mean() < 0.8 * noisy[10:].std(axis=0).mean()
    moving = OneEuroFilter()
    ramp = np.linspace(0, 0.5, 30)[:, None] * np.ones((1, 34))
    out = np.array([moving(v, t / 30) for t, v in enumerate(ramp)])
    assert np.abs(out[-1] - ramp[-1]).max() < 0.01  # high beta: fast motion barely lags
    assert (moving(ramp[-1] + 1, 29 / 30) == ramp[-1] + 1).all()  # same timestamp: passed through
    moving.reset()
    assert (moving(ramp[0] + 0.3, 5.0) == ramp[0] + 0.3).all()
