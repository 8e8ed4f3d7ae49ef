"""Back-pressure and pacing logic: the drop-oldest buffer, the in-flight window, the pacer."""

from __future__ import annotations

import threading

import pytest

from vigil_capture.buffer import DropOldestBuffer, InflightWindow
from vigil_capture.pacing import Pacer

# --- drop-oldest buffer ----------------------------------------------------------------------


def test_buffer_drops_the_oldest_when_full() -> None:
    buffer: DropOldestBuffer[int] = DropOldestBuffer(3)
    assert [buffer.put(i) for i in range(3)] == [None, None, None]
    assert buffer.put(3) == 0  # evicts the oldest
    assert buffer.put(4) == 1
    assert buffer.dropped == 2 and len(buffer) == 3
    assert [buffer.get(), buffer.get(), buffer.get()] == [2, 3, 4]  # FIFO of the newest
    assert buffer.get() is None  # empty, no wait


def test_buffer_put_never_blocks_and_stays_bounded() -> None:
    buffer: DropOldestBuffer[int] = DropOldestBuffer(2)
    for i in range(10_000):
        buffer.put(i)
    assert len(buffer) == 2 and buffer.dropped == 9_998
    assert buffer.clear() == [9_998, 9_999] and len(buffer) == 0


def test_buffer_wait_for_room_and_get_with_timeout() -> None:
    buffer: DropOldestBuffer[str] = DropOldestBuffer(1)
    assert buffer.wait_for_room(0)
    buffer.put("a")
    assert not buffer.wait_for_room(0)
    assert buffer.get(timeout=0.01) == "a"
    assert buffer.wait_for_room(0)
    assert buffer.get(timeout=0.01) is None


def test_buffer_get_wakes_up_on_put() -> None:
    buffer: DropOldestBuffer[int] = DropOldestBuffer(2)
    got: list[int | None] = []
    reader = threading.Thread(target=lambda: got.append(buffer.get(timeout=5)))
    reader.start()
    buffer.put(7)
    reader.join(5)
    assert got == [7]


def test_buffer_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        DropOldestBuffer(0)


# --- in-flight window -----------------------------------------------------------------------


class Delivery:
    def __init__(self) -> None:
        self.done = False

    def is_published(self) -> bool:
        return self.done


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_window_limits_unwritten_publishes() -> None:
    clock = Clock()
    window = InflightWindow(2, stale_s=10, clock=clock)
    first, second = Delivery(), Delivery()
    window.add(first)
    assert window.has_room()
    window.add(second)
    assert not window.has_room() and window.in_flight() == 2
    second.done = True  # completion order does not matter
    assert window.has_room() and window.in_flight() == 1


def test_window_forgets_stale_entries() -> None:
    clock = Clock()
    window = InflightWindow(1, stale_s=5, clock=clock)
    window.add(Delivery())  # never completes (e.g. lost with the connection)
    assert not window.has_room()
    clock.now = 5.5
    assert window.has_room()


# --- pacer ------------------------------------------------------------------------------------


def test_pacer_keeps_a_fixed_grid_without_drift() -> None:
    pacer = Pacer(10, now=0.0)
    assert pacer.delay(0.0) == 0
    grabs = []
    now = 0.0
    for _ in range(50):
        now += pacer.delay(now)
        grabs.append(now)
        now += 0.013  # each grab takes 13 ms and starts a little late
        pacer.grabbed(now)
    assert grabs[-1] == pytest.approx(4.9)  # 50 grabs at 10 fps: no accumulated lateness
    assert pacer.skipped == 0


def test_pacer_skips_slots_instead_of_bursting() -> None:
    pacer = Pacer(10, now=0.0)
    pacer.grabbed(0.35)  # a grab that took 350 ms: slots at 0.1, 0.2 and 0.3 are skipped
    assert pacer.skipped == 3
    assert pacer.delay(0.35) == pytest.approx(0.05)  # back on the grid at 0.4


def test_pacer_unthrottled_and_rate_changes() -> None:
    pacer = Pacer(0, now=0.0)
    pacer.grabbed(1.0)
    assert pacer.delay(1.0) == 0
    pacer.set_fps(2, now=5.0)
    assert pacer.delay(5.0) == 0
    pacer.grabbed(5.0)
    assert pacer.delay(5.1) == pytest.approx(0.4)
    with pytest.raises(ValueError):
        pacer.set_fps(-1, now=0.0)
