from __future__ import annotations

import threading
import time

import pytest

from pisight.device.pipeline.handoff import InOrder, LatestSlot, SlotClosedError


def _in_thread(target) -> tuple[threading.Thread, dict]:
    """Run target in a daemon thread; its return value or exception lands in the dict."""
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = target()
        except Exception as exc:
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


@pytest.mark.parametrize(("puts", "dropped"), [(1, 0), (2, 1), (5, 4)])
def test_overwrite_keeps_newest_and_counts_dropped(puts: int, dropped: int) -> None:
    slot: LatestSlot[int] = LatestSlot()
    for value in range(puts):
        assert slot.put(value)
    assert slot.dropped == dropped
    assert slot.get(timeout=0) == puts - 1
    assert slot.get(timeout=0) is None


def test_get_times_out_with_none() -> None:
    assert LatestSlot().get(timeout=0.01) is None


def test_lossless_put_times_out_when_full() -> None:
    slot: LatestSlot[str] = LatestSlot()
    slot.put("first")
    assert slot.put("second", wait=True, timeout=0.02) is False
    assert slot.dropped == 0
    assert slot.get(timeout=0) == "first"


def test_lossless_put_blocks_until_consumed() -> None:
    slot: LatestSlot[str] = LatestSlot()
    slot.put("first")
    thread, result = _in_thread(lambda: slot.put("second", wait=True, timeout=5))
    time.sleep(0.05)
    assert thread.is_alive(), "put(wait=True) must block while the slot is full"
    assert slot.get(timeout=1) == "first"
    thread.join(2)
    assert result == {"value": True}
    assert slot.get(timeout=1) == "second"
    assert slot.dropped == 0


@pytest.mark.parametrize("blocked", ["get", "put"])
def test_close_wakes_blocked_caller(blocked: str) -> None:
    slot: LatestSlot[int] = LatestSlot()
    if blocked == "get":
        thread, result = _in_thread(lambda: slot.get(timeout=5))
    else:
        slot.put(1)
        thread, result = _in_thread(lambda: slot.put(2, wait=True, timeout=5))
    time.sleep(0.05)
    assert thread.is_alive()
    slot.close()
    thread.join(2)
    assert not thread.is_alive()
    assert isinstance(result.get("error"), SlotClosedError)


def test_value_held_at_close_can_still_be_taken() -> None:
    slot: LatestSlot[int] = LatestSlot()
    slot.put(7)
    slot.close()
    assert slot.closed
    with pytest.raises(SlotClosedError):
        slot.put(8)
    assert slot.get(timeout=0) == 7
    with pytest.raises(SlotClosedError):
        slot.get(timeout=0)


@pytest.mark.parametrize("wait", [True, False])
def test_producer_consumer_threads(wait: bool) -> None:
    slot: LatestSlot[int] = LatestSlot()
    total = 2000
    received: list[int] = []

    def consume() -> None:
        while True:
            try:
                value = slot.get(timeout=5)
            except SlotClosedError:
                return
            if value is not None:
                received.append(value)

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    for value in range(total):
        assert slot.put(value, wait=wait, timeout=5)
    slot.close()
    consumer.join(5)
    assert not consumer.is_alive()
    assert received == sorted(set(received)), "values arrive once each, in order"
    assert received[-1] == total - 1
    assert len(received) + slot.dropped == total
    if wait:
        assert received == list(range(total))


def test_in_order_hands_results_on_in_ticket_order_whoever_finishes_first() -> None:
    results: InOrder[str] = InOrder()
    done = threading.Event()
    for ticket in (2, 0, 3, 1):
        assert results.put(ticket, f"frame {ticket}", done)
    assert [results.get(timeout=1) for _ in range(4)] == [f"frame {i}" for i in range(4)]
    assert results.get(timeout=0.05) is None  # ticket 4 has not come


def test_in_order_passes_a_skipped_ticket_and_ends_after_the_last() -> None:
    results: InOrder[int] = InOrder()
    done = threading.Event()
    results.put(1, 10, done)
    assert results.get(timeout=0.05) is None  # waits for ticket 0 ...
    results.skip(0)  # ... until its invoke is abandoned
    assert results.get(timeout=1) == 10
    results.finish(2)
    with pytest.raises(SlotClosedError):
        results.get(timeout=1)


def test_in_order_keeps_a_worker_far_ahead_waiting_but_never_the_next_ticket() -> None:
    results: InOrder[int] = InOrder(window=2)
    done = threading.Event()
    thread, outcome = _in_thread(lambda: results.put(3, 3, done))  # 3 >= 0 + 2: waits
    thread.join(0.3)
    assert thread.is_alive()
    assert results.put(0, 0, done) and results.put(1, 1, done)  # the next ones pass
    assert [results.get(timeout=1), results.get(timeout=1)] == [0, 1]
    thread.join(2)
    assert outcome == {"value": True}
    results.put(2, 2, done)
    assert [results.get(timeout=1), results.get(timeout=1)] == [2, 3]
