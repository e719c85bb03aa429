"""Plays a file at a fixed rate on the wall clock, skipping what is already overdue."""

from __future__ import annotations

import math
import time


class Pacer:
    """Slot ``k`` is due ``k / fps`` seconds after the first call to ``next_slot``."""

    def __init__(self, fps: float, clock=time.monotonic, sleep=time.sleep):
        self.period = 1.0 / fps
        self._clock, self._sleep = clock, sleep
        self._start: float | None = None

    def next_slot(self, wanted: int) -> int:
        """Wait until slot ``wanted`` is due and return it, or return the latest due slot if that is later."""
        now = self._clock()
        if self._start is None:
            self._start = now - wanted * self.period
        due = math.floor((now - self._start) / self.period + 1e-9)
        if due >= wanted:
            return due
        self._sleep(self._start + wanted * self.period - now)
        return wanted

    def restart(self) -> None:
        self._start = None
