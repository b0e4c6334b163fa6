"""One-slot "latest value" handoff between pipeline threads.

A live camera must never queue: when the consumer is slower, the older value is
replaced and counted as dropped. A file source instead waits for the consumer, so
every frame of a video is processed (``put(..., wait=True)``).
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")
POLL_S = 0.2  # every blocking wait of the pipeline wakes this often to notice a stop


class SlotClosedError(Exception):
    """Raised by put/get once the slot is closed and empty."""


class LatestSlot(Generic[T]):
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._value: T | None = None
        self._full = False
        self._closed = False
        self.dropped = 0

    def put(self, value: T, wait: bool = False, timeout: float | None = None) -> bool:
        """Store value. With wait=True block until the slot is empty (lossless).

        Returns False when waiting timed out (the value was not stored).
        """
        with self._cond:
            if self._closed:
                raise SlotClosedError
            if wait:
                if not self._cond.wait_for(lambda: not self._full or self._closed, timeout):
                    return False
                if self._closed:
                    raise SlotClosedError
            elif self._full:
                self.dropped += 1
            self._value = value
            self._full = True
            self._cond.notify_all()
            return True

    def get(self, timeout: float | None = None) -> T | None:
        """Take the newest value, waiting up to timeout; None when nothing came."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._full or self._closed, timeout):
                return None
            if not self._full:
                raise SlotClosedError
            value = self._value
            self._value = None
            self._full = False
            self._cond.notify_all()
            return value

    def close(self) -> None:
        """Wake every waiter; a value still held can be taken, then get raises."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


def put_until_done(slot: LatestSlot[T], value: T, lossless: bool, done: threading.Event) -> bool:
    """Hand value on (waiting for the consumer when lossless); False once the run ends."""
    try:
        while not slot.put(value, wait=lossless, timeout=POLL_S):
            if done.is_set():
                return False
    except SlotClosedError:
        return False
    return True
