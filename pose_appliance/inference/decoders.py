"""Output decoders: model output tensors -> keypoints ``(17, 3)`` of (y, x, score), normalized to the model input.

(y, x) order here because that is what the models emit; the estimators turn them into frame pixels (x, y).
"""

from __future__ import annotations

import numpy as np

NUM_KEYPOINTS = 17
MULTIPOSE_VALUES = NUM_KEYPOINTS * 3 + 5  # 17 x (y, x, score), then ymin, xmin, ymax, xmax, score


def decode_singlepose(output: np.ndarray) -> np.ndarray:
    """MoveNet SinglePose ``[1, 1, 17, 3]`` -> ``(17, 3)`` float32 (y, x, score)."""
    if output.size != NUM_KEYPOINTS * 3:
        raise ValueError(f"MoveNet SinglePose output should be [1, 1, 17, 3], got {list(output.shape)}")
    return np.asarray(output, dtype=np.float32).reshape(NUM_KEYPOINTS, 3)


def decode_multipose(output: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MoveNet MultiPose ``[1, N, 56]`` -> keypoints ``(N, 17, 3)`` (y, x, score), boxes ``(N, 4)``
    (ymin, xmin, ymax, xmax) and person scores ``(N,)``."""
    if output.ndim != 3 or output.shape[0] != 1 or output.shape[2] != MULTIPOSE_VALUES:
        raise ValueError(f"MoveNet MultiPose output should be [1, N, 56], got {list(output.shape)}")
    people = np.asarray(output[0], dtype=np.float32)
    keypoints = people[:, :NUM_KEYPOINTS * 3].reshape(-1, NUM_KEYPOINTS, 3)
    return keypoints, people[:, NUM_KEYPOINTS * 3:NUM_KEYPOINTS * 3 + 4], people[:, -1]


def decode_posenet(heatmaps: np.ndarray, offsets: np.ndarray, input_height: int, input_width: int) -> np.ndarray:
    """PoseNet MobileNetV1 single pose: heatmaps ``[1, h, w, 17]`` (logits) and offsets ``[1, h, w, 34]``
    (17 y offsets, then 17 x offsets, in input pixels) -> ``(17, 3)`` (y, x, sigmoid score) normalized.

    Each keypoint sits at its heatmap maximum times the output stride ((input - 1) / (grid - 1), 32 for
    257 x 257 on 9 x 9) plus the offset stored at that cell.
    """
    grid_h, grid_w, count = heatmaps.shape[-3:]
    heat = np.asarray(heatmaps, dtype=np.float32).reshape(grid_h, grid_w, count)
    offs = np.asarray(offsets, dtype=np.float32).reshape(grid_h, grid_w, 2 * count)
    if count != NUM_KEYPOINTS:
        raise ValueError(f"PoseNet heatmaps should have 17 channels, got {list(heatmaps.shape)}")
    best = heat.reshape(-1, count).argmax(axis=0)
    rows, cols = np.unravel_index(best, (grid_h, grid_w))
    kp = np.arange(count)
    stride_y = (input_height - 1) / max(grid_h - 1, 1)
    stride_x = (input_width - 1) / max(grid_w - 1, 1)
    y = rows * stride_y + offs[rows, cols, kp]
    x = cols * stride_x + offs[rows, cols, kp + count]
    score = 1.0 / (1.0 + np.exp(-heat[rows, cols, kp]))
    # Normalized like MoveNet's output: pixels = normalized x size.
    return np.stack([y / input_height, x / input_width, score], axis=1).astype(np.float32)
