"""Spool: oldest first, the bound drops the oldest, rows survive a reopen, removal is once."""

from __future__ import annotations

from pathlib import Path

from pisight.device.events.spool import Spool


def test_rows_come_oldest_first_and_survive_a_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", limit=10)
    rows = [spool.add("t", f"m{i}".encode()) for i in range(4)]
    assert [payload for _, _, payload in spool.oldest(3)] == [b"m0", b"m1", b"m2"]
    assert [row for row, _, _ in spool.oldest(2, skip={rows[0]})] == rows[1:3]
    spool.remove(rows[1])
    spool.remove(rows[1])  # an ack that comes twice (a resend's twin) removes nothing more
    spool.close()
    again = Spool(tmp_path / "s.sqlite", limit=10)
    assert len(again) == 3
    assert [payload for _, _, payload in again.oldest(10)] == [b"m0", b"m2", b"m3"]
    assert again.add("t", b"m4") > rows[-1]  # ids never go back: order holds across runs


def test_past_the_bound_the_oldest_go_and_are_counted(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", limit=3)
    for i in range(7):
        spool.add("t", f"m{i}".encode())
    assert len(spool) == 3 and spool.dropped == 4
    assert [payload for _, _, payload in spool.oldest(10)] == [b"m4", b"m5", b"m6"]
