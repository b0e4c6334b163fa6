"""The on-disk queue events wait in until the broker has acknowledged them (stdlib sqlite3).

    spool = Spool(Path("/var/lib/pisight/events.sqlite"), limit=10000)
    row = spool.add("pisight/porch/events", payload)    # durable once add returns
    for row, topic, payload in spool.oldest(20):        # oldest first
        ...publish...
    spool.remove(row)                                   # only after the broker's PUBACK
    spool.announced(); spool.remember_announced(topics) # discovery configs last retained

A broker restart, a Wi-Fi outage or a power cut loses nothing: rows are committed with
synchronous=FULL before add returns and stay until removed, across restarts. Past `limit`
rows the oldest are dropped (the newest news matters most to a user), each drop counted
in `dropped` and logged. Used from one thread at a time: the publisher's.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

log = logging.getLogger("pisight.events")


class SpoolError(ValueError):
    """The spool file cannot be opened: one line naming it and the fix."""


class Spool:
    def __init__(self, path: Path, limit: int) -> None:
        self.path = Path(path)
        self.limit = limit
        self.dropped = 0
        """Rows dropped past the limit since this process started."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Opened here (the main thread, so a bad path stops the run at once) and then
            # used only by the publisher's thread.
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS spool (row INTEGER PRIMARY KEY AUTOINCREMENT, "
                "topic TEXT NOT NULL, payload BLOB NOT NULL)"
            )
            # The discovery topics this device last retained, so a zone, line or label
            # since removed from the config can have its entity removed too.
            self._db.execute("CREATE TABLE IF NOT EXISTS announced (topic TEXT PRIMARY KEY)")
            self._count = self._db.execute("SELECT COUNT(*) FROM spool").fetchone()[0]
        except (OSError, sqlite3.Error) as exc:
            raise SpoolError(
                f"[mqtt] spool {self.path}: cannot open it ({exc}); give a writable file "
                'path, e.g. spool = "/var/lib/pisight/events.sqlite"'
            ) from None

    def __len__(self) -> int:
        return self._count

    def add(self, topic: str, payload: bytes) -> int:
        """Store one message; returns its row. Drops the oldest past the limit, in the same
        transaction: one commit (one fsync) per message."""
        with self._db:
            row = self._db.execute(
                "INSERT INTO spool (topic, payload) VALUES (?, ?)", (topic, payload)
            ).lastrowid
            self._count += 1
            excess = self._count - self.limit
            if excess > 0:
                self._db.execute(
                    "DELETE FROM spool WHERE row IN (SELECT row FROM spool ORDER BY row LIMIT ?)",
                    (excess,),
                )
                self._count -= excess
                self.dropped += excess
                if self.dropped == excess or self.dropped % 100 < excess:
                    log.warning(
                        "event spool %s full (%d events): dropped the oldest, %d so far",
                        self.path, self.limit, self.dropped,
                    )  # fmt: skip
        return int(row or 0)

    def oldest(self, count: int, skip: set[int] | frozenset[int] = frozenset()) -> list[
        tuple[int, str, bytes]
    ]:  # fmt: skip
        """Up to `count` rows, oldest first, leaving out those in `skip` (in flight)."""
        rows = self._db.execute(
            "SELECT row, topic, payload FROM spool ORDER BY row LIMIT ?", (count + len(skip),)
        ).fetchall()
        return [(r, t, bytes(p)) for r, t, p in rows if r not in skip][:count]

    def remove(self, row: int) -> None:
        with self._db:
            if self._db.execute("DELETE FROM spool WHERE row = ?", (row,)).rowcount:
                self._count -= 1

    def announced(self) -> set[str]:
        return {topic for (topic,) in self._db.execute("SELECT topic FROM announced")}

    def remember_announced(self, topics: set[str]) -> None:
        with self._db:
            self._db.execute("DELETE FROM announced")
            self._db.executemany("INSERT INTO announced VALUES (?)", [(t,) for t in topics])

    def close(self) -> None:
        self._db.close()
