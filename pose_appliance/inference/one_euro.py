"""One-euro filter over an array of values (tfjs pose-detection's MoveNet keypoint smoothing).

Each element is filtered independently: a low-pass filter whose cutoff rises with the (low-passed) speed, so a
still keypoint stops jittering and a moving one lags little. The MoveNet constants are for coordinates
normalized to the frame. The sampling frequency follows the timestamps (30 Hz until two have been seen).
"""

from __future__ import annotations

import math

import numpy as np

MIN_CUTOFF = 6.36
BETA = 636.61
DERIVATIVE_CUTOFF = 4.77
DEFAULT_FREQUENCY = 30.0


class OneEuroFilter:
    def __init__(self, min_cutoff: float = MIN_CUTOFF, beta: float = BETA,
                 derivative_cutoff: float = DERIVATIVE_CUTOFF, frequency: float = DEFAULT_FREQUENCY):
        self.min_cutoff, self.beta, self.derivative_cutoff = min_cutoff, beta, derivative_cutoff
        self.initial_frequency = frequency
        self.reset()

    def reset(self) -> None:
        self.frequency = self.initial_frequency
        self._last_time: float | None = None
        self._raw: np.ndarray | None = None
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None

    def __call__(self, values: np.ndarray, timestamp: float) -> np.ndarray:
        """Filtered copy of ``values`` seen at ``timestamp`` (seconds). A timestamp not after the last one
        returns the values unfiltered, as tfjs does."""
        values = np.asarray(values, dtype=np.float64)
        if self._raw is None or self._raw.shape != values.shape:
            self.reset()
        elif self._last_time is not None and timestamp <= self._last_time:
            return values.copy()
        if self._last_time is not None:
            self.frequency = 1.0 / (timestamp - self._last_time)
        self._last_time = timestamp
        if self._raw is None:
            speed = np.zeros_like(values)
        else:
            speed = (values - self._raw) * self.frequency
        self._speed = speed if self._speed is None else self._lerp(self._speed, speed, self.derivative_cutoff)
        cutoff = self.min_cutoff + self.beta * np.abs(self._speed)
        self._value = values.copy() if self._value is None else self._lerp(self._value, values, cutoff)
        self._raw = values.copy()
        return self._value.copy()

    def _lerp(self, previous: np.ndarray, new: np.ndarray, cutoff) -> np.ndarray:
        alpha = 1.0 / (1.0 + self.frequency / (2.0 * math.pi * np.asarray(cutoff)))
        return previous + alpha * (new - previous)
