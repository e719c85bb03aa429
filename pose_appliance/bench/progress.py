"""What the bench is doing while it runs: tqdm's bar on a terminal (the appliance's one progress bar), a line per
step otherwise (a log or CI gets no carriage-return updates)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm


class StepProgress:
    """Announces each step before it runs. Steps are coarse (seconds each); off a terminal each gets a line with
    the time so far and an estimate of the time left."""

    def __init__(self, total: int, title: str, stream: TextIO | None = None):
        self.total, self.title, self.done = max(1, total), title, 0
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self._bar = tqdm(total=self.total, desc=title, unit="step", file=self.stream) if self.stream.isatty() else None

    def step(self, what: str) -> None:
        if self._bar is not None:
            if self.done:
                self._bar.update()
            self.done += 1
            self._bar.set_postfix_str(what)
            return
        elapsed = time.monotonic() - self.started
        left = f", ~{_minutes(elapsed / self.done * (self.total - self.done))} left" if self.done else ""
        self.done += 1
        self.stream.write(f"{self.title} [{self.done}/{self.total}] {what} ({_minutes(elapsed)} so far{left})\n")
        self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.update(self.done - self._bar.n)
            self._bar.close()
            self._bar = None


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
