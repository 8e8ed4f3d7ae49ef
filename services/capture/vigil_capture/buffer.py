"""Back-pressure between the grab thread, the publish thread and the MQTT client.

- :class:`DropOldestBuffer`: a small bounded hand-off; ``put`` never blocks, it evicts the
  oldest item when full (the camera is never stalled by a slow consumer).
- :class:`InflightWindow`: caps how many published frames may still sit unwritten in the MQTT
  client's (otherwise unbounded) QoS 0 queue.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class DropOldestBuffer(Generic[T]):
    """A thread-safe bounded FIFO whose ``put`` drops (and returns) the oldest item when full."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, item: T) -> T | None:
        """Append ``item``; return the evicted oldest item if the buffer was full, else None."""
        with self._cond:
            evicted = None
            if len(self._items) >= self.capacity:
                evicted = self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify_all()
            return evicted

    def get(self, timeout: float | None = 0.0) -> T | None:
        """The oldest item, waiting up to ``timeout`` seconds (0 = don't wait); None if empty."""
        with self._cond:
            if not self._items and timeout != 0.0:
                self._cond.wait_for(lambda: bool(self._items), timeout)
            if not self._items:
                return None
            item = self._items.popleft()
            self._cond.notify_all()  # wakes a producer waiting for room
            return item

    def wait_for_room(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until ``put`` would not evict; True if there is room."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._items) < self.capacity, timeout)

    def clear(self) -> list[T]:
        """Remove and return everything buffered."""
        with self._cond:
            items = list(self._items)
            self._items.clear()
            return items

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


class Delivery(Protocol):
    """A publish whose completion can be polled (paho's ``MQTTMessageInfo``)."""

    def is_published(self) -> bool: ...


class InflightWindow:
    """Publishes not yet written to the socket, at most ``limit`` of them.

    paho marks a QoS 0 publish as published once it is written to the socket, and marks
    queued ones as published (lost) when it reconnects; entries older than ``stale_s`` are
    forgotten anyway so a wedged connection can never block the window for good.
    Not thread-safe on its own: the caller holds a lock (see ``MqttFrameSink``).
    """

    def __init__(self, limit: int, stale_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.stale_s = stale_s
        self._clock = clock
        self._pending: deque[tuple[float, Delivery]] = deque()

    def add(self, delivery: Delivery) -> None:
        self._pending.append((self._clock(), delivery))

    def in_flight(self) -> int:
        """Drop completed and stale entries; return how many remain."""
        cutoff = self._clock() - self.stale_s
        self._pending = deque(
            (sent_at, d) for sent_at, d in self._pending if sent_at >= cutoff and not d.is_published()
        )
        return len(self._pending)

    def has_room(self) -> bool:
        return self.in_flight() < self.limit
