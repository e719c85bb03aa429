"""A one-slot hand-over between two threads: the newest item wins, or the producer waits."""

from __future__ import annotations

import threading
from typing import Any


class LatestFrameMailbox:
    """One slot. ``put`` replaces an unread item and counts it in ``dropped`` (``drop_when_full=True``: live
    sources never build a backlog), or waits until the consumer took it (``False``: every item arrives, in order).
    ``get`` returns the item, or None on timeout or once closed and empty. ``close`` wakes every waiter; after it
    ``put`` refuses items (returns False) while ``get`` still hands over the last one."""

    def __init__(self, drop_when_full: bool = True):
        self.drop_when_full = drop_when_full
        self.dropped = 0
        self.delivered = 0
        self._cond = threading.Condition()
        self._item: Any = None
        self._full = False
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: Any, timeout: float | None = None) -> bool:
        """Hand over ``item``. False if the mailbox is closed (or, when waiting, ``timeout`` passed)."""
        with self._cond:
            if not self.drop_when_full and not self._cond.wait_for(lambda: not self._full or self._closed, timeout):
                return False
            if self._closed:
                return False
            if self._full:
                self.dropped += 1
            self._item, self._full = item, True
            self._cond.notify_all()
            return True

    def get(self, timeout: float | None = None) -> Any:
        with self._cond:
            if not self._cond.wait_for(lambda: self._full or self._closed, timeout):
                return None
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            self.delivered += 1
            self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
