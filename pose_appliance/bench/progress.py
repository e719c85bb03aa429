"""What the bench is doing while it runs: one line rewritten in place on a terminal, a line per step otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class StepProgress:
    """Announces each step before it runs, with the time spent and an estimate of the time left.

    Steps are coarse (seconds each), so a log or CI gets a line per step; a terminal gets one line updated in
    place, ended by ``close()``.
    """

    def __init__(self, total: int, title: str, stream: TextIO | None = None):
        self.total, self.title, self.done = max(1, total), title, 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()

    def step(self, what: str) -> None:
        elapsed = time.monotonic() - self.started
        left = f", ~{_minutes(elapsed / self.done * (self.total - self.done))} left" if self.done else ""
        self.done += 1
        line = f"{self.title} [{self.done}/{self.total}] {what} ({_minutes(elapsed)} so far{left})"
        self.stream.write(f"\r\033[K{line}" if self.tty else f"{line}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.done:
            self.stream.write("\n")
            self.stream.flush()
        self.done = 0


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
