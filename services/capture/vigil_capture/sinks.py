"""Where encoded frames go: the MQTT frame topic (with back-pressure), or nowhere (benchmarks)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from paho.mqtt.enums import MQTTErrorCode

from vigil_capture.buffer import InflightWindow
from vigil_common.bus.mqtt import MqttBus


class FrameSink(Protocol):
    def is_connected(self) -> bool:
        """False while frames cannot be sent at all (they are dropped, not queued)."""
        ...

    def wait_for_room(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s until one more frame may be sent; False if still full."""
        ...

    def send(self, payload: bytes) -> bool:
        """Hand one envelope over; False if it was refused (the caller counts a drop)."""
        ...


class NullSink:
    """Accepts everything and sends nothing: measures the pipeline without a network."""

    def __init__(self) -> None:
        self.frames = 0
        self.bytes = 0

    def is_connected(self) -> bool:
        return True

    def wait_for_room(self, timeout: float) -> bool:
        return True

    def send(self, payload: bytes) -> bool:
        self.frames += 1
        self.bytes += len(payload)
        return True


class MqttFrameSink:
    """Publishes frames at QoS 0 with at most ``max_inflight`` of them still unwritten.

    paho queues QoS 0 publishes without limit; the window keeps that queue short so a slow
    link costs dropped frames (fresh ones win) instead of memory and latency. Install
    :meth:`on_publish` as ``MqttBus.on_publish`` so a waiting publisher wakes up promptly.
    """

    def __init__(
        self, bus: MqttBus, topic: str, max_inflight: int = 8, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._bus = bus
        self._topic = topic
        self._window = InflightWindow(max_inflight, clock=clock)
        self._cond = threading.Condition()

    def on_publish(self, _mid: int) -> None:
        with self._cond:
            self._cond.notify_all()

    def is_connected(self) -> bool:
        return self._bus.connected.is_set()

    def wait_for_room(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(self._window.has_room, timeout)

    def in_flight(self) -> int:
        with self._cond:
            return self._window.in_flight()

    def send(self, payload: bytes) -> bool:
        try:
            info = self._bus.publish(self._topic, payload, qos=0)
        except (ValueError, RuntimeError, OSError):
            return False
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return False
        with self._cond:
            self._window.add(info)
        return True
