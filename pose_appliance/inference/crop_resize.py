"""Crop-and-resize of an RGB frame straight into a model's input tensor, like ``tf.image.crop_and_resize``.

Sampling follows TensorFlow's bilinear crop_and_resize: output row i reads input row
``ymin * (H - 1) + i * (ymax - ymin) * (H - 1) / (h - 1)`` (likewise for columns), and a sample outside the
image is 0 (black), so crops may extend past the frame. The result is truncated to integers as tfjs does
before the model.

Speed: the blend runs in integer fixed point (8 fractional bits per axis: positions in 1/256 pixel, within 1 of
the float result), separably, and only over the block of the output that sees the frame (the rest is 0). Every
gather copies whole rows: columns are blended as rows of the transpose (OpenCV's transpose, a plain copy). The
indices and weights of a crop are kept while the crop stays the same. 192x192 from the demo video's 576x576
frames with the tracked crops, on this 2-core x86 host: 0.22 ms with numpy 2.4, 0.25 ms with numpy 1.24 and
OpenCV 4.11 as on the Pi's Bookworm (gathering single bytes with np.take took 0.32 / 0.68 ms).
"""

from __future__ import annotations

import math

import numpy as np

FRACTION_BITS = 8  # per axis: sample positions in 1/256 pixel; the four weights of a pixel sum to 2**16


class CropResizer:
    """Samples a crop of an ``HxWx3`` uint8 image into an ``height x width x 3`` array of any dtype."""

    def __init__(self, width: int, height: int):
        if width < 1 or height < 1:
            raise ValueError(f"crop size must be positive, got {width}x{height}")
        self.width, self.height = width, height
        self._plan_key: tuple | None = None
        self._plan: _Plan | None = None
        self._buffers: dict[tuple[str, type], np.ndarray] = {}
        self._levels = np.empty((height, width * 3), np.uint8)
        self._float = np.empty((height, width * 3), np.float32)
        import cv2  # for its transpose: a plain copy, so the same bytes on every OpenCV, 4-7x numpy's speed
        self._transpose = cv2.transpose

    def __call__(self, image: np.ndarray, crop: tuple[float, float, float, float], out: np.ndarray, *,
                 scale: float = 1.0, offset: float = 0.0) -> np.ndarray:
        """Write the crop ``(ymin, xmin, ymax, xmax)`` (normalized) of ``image`` into ``out``.

        ``out`` has ``height * width * 3`` elements (e.g. the ``[1, h, w, 3]`` input tensor); float outputs get
        ``value * scale + offset`` (PoseNet wants [-1, 1]), integer outputs the value itself.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or min(image.shape[:2]) < 1:
            raise ValueError(f"expected an HxWx3 uint8 RGB image, got shape {image.shape} {image.dtype}")
        if min(image.shape[:2]) < 2:
            # Bilinear sampling needs two neighbours per axis; a one-pixel row or column is the same twice.
            image = np.repeat(np.repeat(image, 1 + (image.shape[0] < 2), axis=0), 1 + (image.shape[1] < 2), axis=1)
        if not out.flags.c_contiguous or out.size != self.height * self.width * 3:
            raise ValueError(f"output must be a contiguous {self.height}x{self.width}x3 buffer, got {out.shape}")
        key = (*crop, *image.shape[:2])
        if key != self._plan_key:
            self._plan, self._plan_key = _Plan(crop, self.height, self.width, *image.shape[:2]), key
        plan = self._plan
        assert plan is not None
        target = out.reshape(self.height, self.width * 3)
        levels = target if out.dtype == np.uint8 else self._levels
        rows, row_bytes = plan.out_rows, plan.out_bytes
        # Samples outside the frame are 0: only the output block that sees the frame is blended.
        levels[:rows.start] = 0
        levels[rows.stop:] = 0
        levels[rows, :row_bytes.start] = 0
        levels[rows, row_bytes.stop:] = 0
        if plan.source_rows.size and plan.neighbour_bytes.size:
            self._blend(image, plan, levels[rows, row_bytes])
        if np.issubdtype(out.dtype, np.floating):
            np.multiply(levels, np.float32(scale), out=self._float)
            np.add(self._float, np.float32(offset), out=target, casting="unsafe")
        elif levels is not target:
            np.copyto(target, levels, casting="unsafe")
        return out

    def _blend(self, image: np.ndarray, plan: _Plan, block: np.ndarray) -> None:
        """Separable, in integers: each output byte is the sum of pixel * wx * wy over its four neighbours, the
        same integer whichever axis is blended first. The first pass multiplies bytes by 8-bit weights
        (uint16: 255 * 2**8 fits), the second those sums (uint32).

        Each pass gathers whole rows (contiguous copies); columns are blended as rows of the transpose. Gathering
        single bytes along the rows instead costs 2-3x as much (transpose included) with fancy indexing, and
        np.take is slower still on numpy 1.24 (the Pi's Bookworm).
        """
        window = image[plan.window]
        window = window.reshape(window.shape[0], -1)
        if plan.rows_first:
            blended_rows = self._blend_pairs(window, plan.source_rows, plan.row_weights)
            columns = self._blend_pairs(self._transposed(blended_rows), plan.neighbour_bytes, plan.column_weights)
            transposed_levels = self._buffer("levels", np.uint8, columns.shape)
            np.right_shift(columns, 2 * FRACTION_BITS, out=transposed_levels, casting="unsafe")
            self._transpose(transposed_levels, dst=block)
        else:
            columns = self._blend_pairs(self._transposed(window), plan.neighbour_bytes, plan.column_weights)
            blended = self._blend_pairs(self._transposed(columns), plan.source_rows, plan.row_weights)
            np.right_shift(blended, 2 * FRACTION_BITS, out=block, casting="unsafe")

    def _blend_pairs(self, source: np.ndarray, index: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """``source[index[i]] * weights[i] + source[index[k + i]] * weights[k + i]`` for each ``i < k``, where
        ``index`` holds ``2k`` rows of ``source``; in ``weights.dtype``."""
        gathered = source[index]
        products = self._buffer("products", weights.dtype.type, gathered.shape)
        np.multiply(gathered, weights, out=products)
        half = len(index) // 2
        return np.add(products[:half], products[half:], out=products[:half])

    def _transposed(self, array: np.ndarray) -> np.ndarray:
        return self._transpose(array, dst=self._buffer("transposed", array.dtype.type, array.shape[::-1]))

    def _buffer(self, name: str, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
        """A contiguous ``shape`` view of a buffer kept between frames; it grows with the largest size seen."""
        size = math.prod(shape)
        buffer = self._buffers.get((name, dtype))
        if buffer is None or buffer.size < size:
            buffer = self._buffers[name, dtype] = np.empty(size, dtype)
        return buffer[:size].reshape(shape)


class _Plan:
    """What a crop of one frame size reads, worked out once per crop and frame size.

    ``out_rows`` x ``out_bytes``: the block of the output that sees the frame (the rest is 0). ``window``: the
    source rows and columns it reads. Within the window: ``source_rows``, the two rows of each output row (all
    first neighbours, then all second ones) with ``row_weights``; ``neighbour_bytes``, the bytes of the two pixels
    of each output byte (all left, then all right) with ``column_weights``. ``rows_first``: which axis is blended
    first.
    """

    def __init__(self, crop: tuple[float, float, float, float], height: int, width: int, frame_h: int,
                 frame_w: int):
        ymin, xmin, ymax, xmax = crop
        self.out_rows, rows, row_weights = _axis(ymin, ymax, height, frame_h)
        out_cols, cols, column_weights = _axis(xmin, xmax, width, frame_w)
        self.out_bytes = slice(out_cols.start * 3, out_cols.stop * 3)
        first_row, end_row = _window(rows)
        first_col, end_col = _window(cols)
        self.window = (slice(first_row, end_row), slice(first_col, end_col))
        # The first pass blends 2 values per byte of its output: rows first gives output rows x window bytes,
        # columns first window rows x output bytes. The second pass is the same either way.
        self.rows_first = rows.size * (end_col - first_col) <= (end_row - first_row) * cols.size
        row_dtype, column_dtype = (np.uint16, np.uint32) if self.rows_first else (np.uint32, np.uint16)
        self.source_rows = np.concatenate([rows, rows + 1]) - first_row
        self.row_weights = row_weights.astype(row_dtype).reshape(-1, 1)
        self.neighbour_bytes = (((cols - first_col) * 3)[:, None] + _NEIGHBOUR_BYTES).reshape(-1)
        self.column_weights = np.repeat(column_weights, 3, axis=1).astype(column_dtype).reshape(-1, 1)


_NEIGHBOUR_BYTES = np.array([[[0, 1, 2]], [[3, 4, 5]]])  # the R, G, B bytes of a pixel and of the one to its right


def _window(first: np.ndarray) -> tuple[int, int]:
    """The source positions read along one axis, as a slice: ``first`` are the first neighbours, monotonic."""
    if not first.size:
        return 0, 0
    ends = int(first[0]), int(first[-1])
    return min(ends), max(ends) + 2


def _axis(lo: float, hi: float, size: int, frame_size: int) -> tuple[slice, np.ndarray, np.ndarray]:
    """Along one axis: the output positions whose samples lie inside the frame, their first-neighbour indices
    and the fixed-point weights of the first and second neighbours (``2 x n``).

    The first neighbour is at most ``frame_size - 2`` so the second one (index + 1) always exists.
    """
    if size > 1:
        coords = lo * (frame_size - 1) + np.arange(size) * ((hi - lo) * (frame_size - 1) / (size - 1))
    else:
        coords = np.full(1, 0.5 * (lo + hi) * (frame_size - 1))
    slack = 1e-6 * frame_size  # float rounding must not turn the last row/column black
    inside = np.flatnonzero((coords >= -slack) & (coords <= frame_size - 1 + slack))
    # The coordinates are monotonic, so the positions inside are one run.
    positions = slice(int(inside[0]), int(inside[-1]) + 1) if inside.size else slice(0, 0)
    # A sample within the slack is one on the edge; the last one reads (frame_size - 2, frame_size - 1) at weights
    # (0, one). np.minimum/np.maximum: np.clip costs several times as much on numpy 1.24.
    coords = np.minimum(np.maximum(coords[positions], 0), frame_size - 1)
    first = np.minimum(np.floor(coords), frame_size - 2)
    second_weight = np.rint((coords - first) * (1 << FRACTION_BITS))
    return positions, first.astype(np.intp), _WEIGHT_SIGN * second_weight + _WEIGHT_BASE


# The weights of the first and second neighbour from the second's w: one - w and w.
_WEIGHT_SIGN = np.array([[-1.0], [1.0]])
_WEIGHT_BASE = np.array([[float(1 << FRACTION_BITS)], [0.0]])
