"""A display that never stops the pipeline: failures are logged once, the pipeline runs headless meanwhile,
and the display is re-created every ``display.retry_seconds`` (screen plugged back in, desktop stopped...)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from pose_appliance.config import DisplayConfig
from pose_appliance.display.display import Display, DisplayError
from pose_appliance.render.renderer import Renderer
from pose_appliance.types import FrameResult

log = logging.getLogger(__name__)


class ResilientDisplay(Display):
    """Wraps the display that ``factory()`` makes (not yet opened). It is opened at ``open`` or, at the latest,
    on the first ``show`` with that frame's size. ``show`` and ``close`` never raise."""

    def __init__(self, factory: Callable[[], Display], display_config: DisplayConfig, *,
                 clock: Callable[[], float] = time.monotonic):
        self.name = display_config.type
        self._factory = factory
        self._retry_seconds = display_config.retry_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._display: Display | None = None
        self._last_display: Display | None = None
        self._next_try = 0.0
        self._last_reason: str | None = None
        self._closed = False
        self.failures = 0

    @property
    def headless(self) -> bool:
        """True while no display is open (failed, waiting for the next retry)."""
        return self._display is None

    @property
    def overlay_only(self) -> bool:
        return bool(self._display is not None and self._display.overlay_only)

    @property
    def last_error(self) -> str | None:
        """Why the display is not showing anything, or None when it works."""
        return self._last_reason

    @property
    def wrapped(self) -> Display | None:
        """The display in use, or after ``close`` the last one used (a recording's ``path``...)."""
        return self._display or self._last_display

    @property
    def stopped_reason(self) -> str | None:
        """Why the wrapped display stopped for good without failing (a recording on a full disk), else None."""
        return getattr(self.wrapped, "stopped_reason", None)

    def open(self, frame_size: tuple[int, int]) -> None:
        with self._lock:
            if self._display is None and not self._closed:
                self._try_open(frame_size)

    def show(self, result: FrameResult, renderer: Renderer, status: dict) -> None:
        with self._lock:
            if self._closed:
                return
            display = self._display
            if display is None:
                if self._clock() < self._next_try:
                    return
                display = self._try_open(result.frame.size)
                if display is None:
                    return
            try:
                display.show(result, renderer, status)
            except Exception as exc:  # an unplugged screen must not stop the appliance
                self._fail("show", exc)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._display is not None:
                _close_quietly(self._display)
                self._last_display, self._display = self._display, None

    def _try_open(self, frame_size: tuple[int, int]) -> Display | None:
        """The display made and opened for frames of ``frame_size``; None (failure logged) when it fails."""
        display = None
        try:
            display = self._factory()
            display.open(frame_size)
        except Exception as exc:
            if display is not None:
                _close_quietly(display)
            self._fail("open", exc)
            return None
        self._display = display
        if self._last_reason is not None:
            log.info("display %s works again", self.name)
        self._last_reason = None
        return display

    def _fail(self, stage: str, exc: Exception) -> None:
        self.failures += 1
        reason = str(exc) if isinstance(exc, DisplayError) else f"{type(exc).__name__}: {exc}"
        if reason != self._last_reason:
            log.warning("display %s: %s failed: %s -- running headless, retrying every %g s",
                        self.name, stage, reason, self._retry_seconds)
        self._last_reason = reason
        if self._display is not None:
            _close_quietly(self._display)
            self._display = None
        self._next_try = self._clock() + self._retry_seconds


def _close_quietly(display: Display) -> None:
    try:
        display.close()
    except Exception as exc:
        log.debug("closing display %s: %s", getattr(display, "name", "?"), exc)
