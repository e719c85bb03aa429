"""A progress bar for the long steps of training."""

from __future__ import annotations

import sys


class Progress:
    """A one-line progress bar on stderr (a line per 10 % when stderr is not a terminal)."""

    def __init__(self, total: int, title: str, width: int = 30):
        self.total, self.title, self.width, self.done = max(1, total), title, width, 0
        self._tty = sys.stderr.isatty()
        self._last_decile = -1

    def step(self, note: str = "") -> None:
        self.done += 1
        filled = self.width * self.done // self.total
        line = f"{self.title} [{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} {note}"
        if self._tty:
            sys.stderr.write("\r" + line[:120].ljust(120))
        elif self.done * 10 // self.total != self._last_decile:
            self._last_decile = self.done * 10 // self.total
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self._tty and self.done:
            sys.stderr.write("\n")
            self.done = 0
