"""A hand-over between two threads: the newest item wins, or the producer waits."""

from __future__ import annotations

import collections
import dataclasses
import threading
from typing import Any

# Frames a source that is not live (a file, a folder) may decode ahead of the consumer: enough to ride out a
# slow read or a busy moment of the host without the model waiting, a few MB at most.
AHEAD = 4


class LatestFrameMailbox:
    """``drop_when_full=True`` (live sources): one slot, ``put`` replaces an unread item and counts it in
    ``dropped``, so a slow consumer never builds a backlog; a frame that replaces an unread ``Frame.cut`` becomes
    the cut (it does not follow the frames the consumer saw either). ``False`` (files, folders): every item
    arrives, in order; up to ``depth`` wait in the box, then ``put`` waits until the consumer took one.
    ``get`` returns the oldest item, or None on timeout or once closed and empty. ``close`` wakes every waiter;
    after it ``put`` refuses items (returns False) while ``get`` still hands over what is in the box."""

    def __init__(self, drop_when_full: bool = True, depth: int = AHEAD):
        if depth < 1:
            raise ValueError(f"depth must be at least 1, not {depth}")
        self.drop_when_full = drop_when_full
        self.depth = depth
        self.dropped = 0
        self.delivered = 0
        self._cond = threading.Condition()
        self._items: collections.deque[Any] = collections.deque()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: Any, timeout: float | None = None) -> bool:
        """Hand over ``item``. False if the mailbox is closed (or, when waiting, ``timeout`` passed)."""
        with self._cond:
            if not self.drop_when_full and not self._cond.wait_for(
                    lambda: len(self._items) < self.depth or self._closed, timeout):
                return False
            if self._closed:
                return False
            if self.drop_when_full and self._items:
                self.dropped += len(self._items)
                if any(getattr(unread, "cut", False) for unread in self._items):
                    item = dataclasses.replace(item, cut=True)
                self._items.clear()
            self._items.append(item)
            self._cond.notify_all()
            return True

    def get(self, timeout: float | None = None) -> Any:
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._items) or self._closed, timeout):
                return None
            if not self._items:
                return None
            item = self._items.popleft()
            self.delivered += 1
            self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
