"""Handoffs between pipeline threads: the one-slot LatestSlot, and InOrder for workers.

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


class InOrder(Generic[T]):
    """Results of several workers, handed on in the order their frames were taken.

    Each frame gets a ticket (0, 1, 2, ...) when a worker takes it; `get` returns ticket
    n only after n - 1, whichever worker finishes first. A worker more than `window`
    tickets ahead waits, so the buffer stays small; the holder of the next ticket never
    waits, so nothing deadlocks. `skip` gives up a ticket (an abandoned invoke), `finish`
    says which ticket is the last (the source ended).
    """

    _SKIPPED = object()

    def __init__(self, window: int = 8) -> None:
        self._cond = threading.Condition()
        self._window = window
        self._values: dict[int, object] = {}
        self._next = 0
        self._end: int | None = None
        self._closed = False

    def put(self, ticket: int, value: T, done: threading.Event) -> bool:
        """Store ticket's value, waiting while it is too far ahead; False once the run ends."""
        with self._cond:
            while ticket >= self._next + self._window and not self._closed:
                if done.is_set():
                    return False
                self._cond.wait(POLL_S)
            if self._closed:
                return False
            self._values[ticket] = value
            self._cond.notify_all()
            return True

    def skip(self, ticket: int) -> None:
        with self._cond:
            self._values[ticket] = self._SKIPPED
            self._cond.notify_all()

    def finish(self, end: int) -> None:
        """No ticket from `end` on will come (the first call wins)."""
        with self._cond:
            if self._end is None:
                self._end = end
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> T | None:
        """The next value in ticket order, waiting up to timeout; None when it has not come.
        Raises SlotClosedError after the last ticket (or once closed)."""
        with self._cond:
            while True:
                if self._next in self._values:
                    value = self._values.pop(self._next)
                    self._next += 1
                    self._cond.notify_all()
                    if value is self._SKIPPED:
                        continue
                    return value  # type: ignore[return-value]
                if self._closed or (self._end is not None and self._next >= self._end):
                    raise SlotClosedError
                if not self._cond.wait(timeout):
                    return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
