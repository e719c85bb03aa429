"""MultiPose and PoseNet: decoding of output tensors built here with known keypoints, and the estimators'
input handling (shape, dtype, dynamic resize) through a fake interpreter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pose_appliance.config import ModelConfig
from pose_appliance.inference import MoveNetEstimator, MoveNetMultiPoseEstimator, PoseNetEstimator
from pose_appliance.inference.decoders import decode_multipose, decode_posenet, decode_singlepose
from pose_appliance.inference.runtime import LoadedModel


class FakeInterpreter:
    """The part of the TFLite Interpreter API the estimators use; outputs are set by the test."""

    def __init__(self, input_shape, input_dtype, outputs):
        self.input = np.zeros(input_shape, input_dtype)
        self.outputs = outputs
        self.resized = []
        self.invoked_with = None

    def get_input_details(self):
        return [{"index": 0, "shape": np.array(self.input.shape), "dtype": self.input.dtype.type}]

    def get_output_details(self):
        return [{"index": i + 1, "shape": np.array(o.shape)} for i, o in enumerate(self.outputs)]

    def resize_tensor_input(self, index, shape):
        self.resized.append(list(shape))
        self.input = np.zeros(shape, self.input.dtype)

    def allocate_tensors(self):
        pass

    def tensor(self, index):
        return lambda: self.input

    def invoke(self):
        self.invoked_with = self.input.copy()

    def get_tensor(self, index):
        return self.outputs[index - 1].copy()


def loaded(interpreter) -> LoadedModel:
    return LoadedModel(interpreter, Path("fake.tflite"), "cpu", None, "fake")


def multipose_output(people):
    """[1, 6, 56] from a list of (keypoints (17, 3) y, x, s; box (ymin, xmin, ymax, xmax); score)."""
    out = np.zeros((1, 6, 56), np.float32)
    for i, (kps, box, score) in enumerate(people):
        out[0, i, :51] = kps.reshape(-1)
        out[0, i, 51:55] = box
        out[0, i, 55] = score
    return out


def person_at(cy, cx, score=0.8):
    kps = np.zeros((17, 3), np.float32)
    kps[:, 0] = cy + np.linspace(-0.1, 0.1, 17)
    kps[:, 1] = cx + np.linspace(-0.05, 0.05, 17)
    kps[:, 2] = score
    return kps, (cy - 0.1, cx - 0.05, cy + 0.1, cx + 0.05), score


def test_decode_singlepose_and_bad_shape():
    raw = np.arange(51, dtype=np.float32).reshape(1, 1, 17, 3)
    assert (decode_singlepose(raw)[4] == [12, 13, 14]).all()
    with pytest.raises(ValueError, match=r"\[1, 1, 17, 3\]"):
        decode_singlepose(np.zeros((1, 6, 56), np.float32))


def test_decode_multipose_layout():
    kps, box, score = person_at(0.3, 0.6)
    keypoints, boxes, scores = decode_multipose(multipose_output([person_at(0.5, 0.2), (kps, box, score)]))
    assert keypoints.shape == (6, 17, 3) and np.allclose(keypoints[1], kps)
    assert np.allclose(boxes[1], box) and scores[1] == pytest.approx(0.8) and scores[2] == 0
    with pytest.raises(ValueError, match=r"\[1, N, 56\]"):
        decode_multipose(np.zeros((1, 6, 55), np.float32))


def test_multipose_picks_person_nearest_centre_and_resizes_input():
    # Left person is the most confident; the one nearest the centre (0.5, 0.55) must win.
    output = multipose_output([person_at(0.5, 0.15, 0.95), person_at(0.5, 0.55, 0.6), person_at(0.45, 0.9, 0.7),
                               person_at(0.5, 0.5, 0.1)])
    fake = FakeInterpreter((1, 1, 1, 3), np.int32, [output])
    estimator = MoveNetMultiPoseEstimator(loaded(fake), ModelConfig(smoothing=False))
    assert estimator.input_size == (256, 256)
    image = np.full((480, 640, 3), 200, np.uint8)
    pose = estimator.estimate_still(image)
    assert fake.resized == [[1, 192, 256, 3]]  # 640x480 -> 256x192, already multiples of 32
    assert estimator.input_size == (256, 192)
    assert fake.invoked_with.dtype == np.int32 and fake.invoked_with.max() == 200
    expected = person_at(0.5, 0.55)[0]
    assert np.allclose(pose.keypoints[:, 0], expected[:, 1] * 640, atol=1e-3)
    assert np.allclose(pose.keypoints[:, 1], expected[:, 0] * 480, atol=1e-3)
    estimator.estimate_still(image)
    assert len(fake.resized) == 1  # same size: no new resize


def test_multipose_padding_maps_back_and_pads_black():
    output = multipose_output([person_at(0.4, 0.5)])
    fake = FakeInterpreter((1, 1, 1, 3), np.int32, [output])
    estimator = MoveNetMultiPoseEstimator(loaded(fake), ModelConfig(smoothing=False))
    image = np.full((300, 500, 3), 90, np.uint8)  # 256 x 154 -> padded to 256 x 160
    pose = estimator.estimate(image, output_size=(1000, 600))
    assert fake.resized == [[1, 160, 256, 3]]
    assert (fake.invoked_with[0, 155:] == 0).all() and (fake.invoked_with[0, :150] == 90).all()
    kps = person_at(0.4, 0.5)[0]
    assert np.allclose(pose.keypoints[:, 1], kps[:, 0] * 160 / 154 * 600, atol=1e-2)
    assert np.allclose(pose.keypoints[:, 0], kps[:, 1] * 1000, atol=1e-2)


def test_multipose_nobody():
    fake = FakeInterpreter((1, 1, 1, 3), np.int32, [multipose_output([person_at(0.5, 0.5, 0.05)])])
    assert MoveNetMultiPoseEstimator(loaded(fake)).estimate(np.zeros((64, 64, 3), np.uint8)) is None


def posenet_outputs(keypoints_px, grid=9, size=257):
    """Heatmaps/offsets whose decoding must give ``keypoints_px`` (17 x (y, x) in input pixels)."""
    stride = (size - 1) / (grid - 1)
    heatmaps = np.full((1, grid, grid, 17), -6.0, np.float32)
    offsets = np.zeros((1, grid, grid, 34), np.float32)
    for k, (y, x) in enumerate(keypoints_px):
        row, col = int(round(y / stride)), int(round(x / stride))
        heatmaps[0, row, col, k] = 2.0
        offsets[0, row, col, k] = y - row * stride
        offsets[0, row, col, 17 + k] = x - col * stride
    displacement = np.zeros((1, grid, grid, 32), np.float32)
    return [heatmaps, offsets, displacement, displacement]


def test_decode_posenet_known_keypoints():
    rng = np.random.default_rng(2)
    truth = rng.uniform(0, 256, (17, 2))
    heatmaps, offsets, *_ = posenet_outputs(truth)
    decoded = decode_posenet(heatmaps, offsets, 257, 257)
    assert np.allclose(decoded[:, :2] * 257, truth, atol=1e-3)
    assert np.allclose(decoded[:, 2], 1 / (1 + np.exp(-2.0)))


def test_posenet_estimator_float_input_and_pixels():
    rng = np.random.default_rng(5)
    truth = rng.uniform(20, 236, (17, 2))
    fake = FakeInterpreter((1, 257, 257, 3), np.float32, posenet_outputs(truth))
    estimator = PoseNetEstimator(loaded(fake), ModelConfig(smoothing=False))
    assert estimator.input_size == (257, 257)
    image = np.zeros((257, 257, 3), np.uint8)
    image[:, :128] = 255
    pose = estimator.estimate(image)
    assert fake.invoked_with.dtype == np.float32
    assert fake.invoked_with.min() == -1.0 and fake.invoked_with.max() == 1.0  # [-1, 1]
    assert np.allclose(pose.keypoints[:, [1, 0]], truth, atol=1e-3)  # (x, y) from (y, x); square: no padding


def test_posenet_rejects_other_models():
    fake = FakeInterpreter((1, 257, 257, 3), np.float32, [np.zeros((1, 1, 17, 3), np.float32)])
    with pytest.raises(ValueError, match="not a PoseNet model"):
        PoseNetEstimator(loaded(fake))


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_movenet_fp16_style_inputs_get_cast_pixels(dtype):
    """FP16 MoveNet variants take float32 (or int32) 0..255: read the dtype from the model, no scaling."""
    out = np.zeros((1, 1, 17, 3), np.float32)
    out[0, 0, :, :2], out[0, 0, :, 2] = 0.5, 0.9
    fake = FakeInterpreter((1, 256, 256, 3), dtype, [out])
    estimator = MoveNetEstimator(loaded(fake), ModelConfig(smoothing=False))
    assert estimator.input_size == (256, 256)
    image = np.full((100, 100, 3), 77, np.uint8)
    pose = estimator.estimate(image)
    assert fake.invoked_with.dtype == dtype and fake.invoked_with.max() == 77
    assert np.allclose(pose.keypoints[:, :2], 49.5, atol=0.5)  # crop-normalized 0.5 of a square image


def test_movenet_rejects_wrong_outputs_and_inputs():
    with pytest.raises(ValueError, match="not a MoveNet SinglePose"):
        MoveNetEstimator(loaded(FakeInterpreter((1, 192, 192, 3), np.uint8, [np.zeros((1, 6, 56), np.float32)])))
    with pytest.raises(ValueError, match="input type int8"):
        MoveNetEstimator(loaded(FakeInterpreter((1, 192, 192, 3), np.int8, [np.zeros((1, 1, 17, 3))])))
