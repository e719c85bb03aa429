"""Reads a started frame source on its own thread into a mailbox."""

from __future__ import annotations

import dataclasses
import logging
import threading

from pose_appliance.camera.frame_source import FrameSource
from pose_appliance.camera.mailbox import LatestFrameMailbox

log = logging.getLogger(__name__)


class CaptureThread:
    """A daemon thread: ``source.read()`` -> ``mailbox.put()`` until the stream ends, the source raises (kept in
    ``error``) or ``stop()``; the mailbox is closed at the end so the consumer sees the end. The source is started
    and stopped by its owner, not here. The first frame handed over is ``Frame.cut``: it follows nothing the
    consumer has seen (a restarted camera's first frame must not be tracked from the previous camera's)."""

    def __init__(self, source: FrameSource, mailbox: LatestFrameMailbox, *, name: str = "capture"):
        self.source = source
        self.mailbox = mailbox
        self.error: BaseException | None = None
        self.frames = 0
        self.finished = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                frame = self.source.read()
                if frame is None:
                    log.info("%s: end of stream after %d frames", getattr(self.source, "name", "source"),
                             self.frames)
                    break
                if self.frames == 0:
                    frame = dataclasses.replace(frame, cut=True)
                if not self.mailbox.put(frame):
                    break
                self.frames += 1
        except Exception as exc:
            self.error = exc
            log.error("%s: capture failed: %s", getattr(self.source, "name", "source"), exc)
        finally:
            self.mailbox.close()
            self.finished.set()

    def stop(self, timeout: float = 2.0) -> bool:
        """Ask the thread to end and wait up to ``timeout`` s (a read in progress finishes first). True if it
        ended; a thread stuck in a device read is a daemon and cannot keep the process alive."""
        self._stopping.set()
        self.mailbox.close()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        return not self._thread.is_alive()
