"""Signals as events for the main loop: SIGTERM/SIGINT ask to stop, SIGHUP asks to reload, SIGUSR1 asks to
reset the repetition count.

The handlers only record the event and write one byte to a pipe; everything else happens in ``wait()``.
They take no lock, so a signal that lands while the main thread holds one cannot deadlock it (a
``threading.Event.set()`` from a handler can). Python runs handlers in the main thread, so the thread that
calls ``wait()`` should be the main thread and the work should run in others.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

# What signal.signal() takes and returns: a function, SIG_DFL/SIG_IGN, or None (a handler set outside Python).
SignalHandler = Callable[[int, FrameType | None], Any] | int | None

STOP = "stop"
RELOAD = "reload"
RESET = "reset"


class SignalWaker:
    """Installs the handlers on creation and restores the previous ones on ``close()``.

    ``wait(timeout)`` returns the set of events that arrived since the last call (``"stop"``, ``"reload"``,
    ``"reset"``), empty after the timeout or a ``wake()``. ``stop_requested`` stays true once a stop signal came.
    """

    def __init__(self, stop_signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT),
                 reload_signals: tuple[int, ...] = (signal.SIGHUP,),
                 reset_signals: tuple[int, ...] = (signal.SIGUSR1,)):
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("SignalWaker must be created in the main thread (Python runs handlers there)")
        self.stop_requested = False
        self._pending: collections.deque[tuple[str, str]] = collections.deque()
        self._read_fd, self._write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._previous: dict[int, SignalHandler] = {}
        events = {**dict.fromkeys(stop_signals, STOP), **dict.fromkeys(reload_signals, RELOAD),
                  **dict.fromkeys(reset_signals, RESET)}
        for signum, event in events.items():
            self._previous[signum] = signal.signal(signum, self._handler(event))

    def _handler(self, event: str):
        def handle(signum, _frame):
            if event == STOP:
                self.stop_requested = True
            self._pending.append((event, signal.Signals(signum).name))
            # A full pipe already wakes the reader; a closed one means nobody waits any more.
            with contextlib.suppress(OSError):
                os.write(self._write_fd, b"\0")
        return handle

    def wake(self) -> None:
        """Make a ``wait()`` in progress (or the next one) return now, with no event. Safe from any thread: the
        pipeline calls it when its work is done, so ``run`` ends then and not at the next tick."""
        with contextlib.suppress(OSError):  # a full pipe already wakes the reader; a closed one: nobody waits
            os.write(self._write_fd, b"\0")

    def wait(self, timeout: float | None = None) -> set[str]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._pending:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            readable, _, _ = select.select([self._read_fd], [], [], remaining)
            if readable:
                self._drain()
                break  # a signal (its event is pending now) or a wake()
        events = set()
        while self._pending:
            event, signal_name = self._pending.popleft()
            log.info("%s received: %s", signal_name, event)
            events.add(event)
        return events

    def _drain(self) -> None:
        try:
            while os.read(self._read_fd, 512):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        """Restore the handlers that were there before. Safe to call twice."""
        for signum, previous in self._previous.items():
            # None = a handler installed outside Python; the default is the closest we can restore.
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        self._previous = {}
        for fd in (self._read_fd, self._write_fd):
            if fd >= 0:
                os.close(fd)
        self._read_fd = self._write_fd = -1

    def __enter__(self) -> SignalWaker:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
