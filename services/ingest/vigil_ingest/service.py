"""Ingest composition root: MQTT in; validation; Redis streams, registry, recorder jobs out."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time

import paho.mqtt.client as mqtt
import redis

from vigil_common.bus.presence import Presence
from vigil_common.contract.topics import CameraTopic, TopicError, Topics
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.runtime import counters
from vigil_common.runtime.counters import Counters
from vigil_common.runtime.lifecycle import StopSignal
from vigil_common.runtime.logsetup import RateLimitedLog
from vigil_common.runtime.settings import Settings
from vigil_ingest.motion_writer import MotionWriter
from vigil_ingest.redis_writer import StreamWriter
from vigil_ingest.registry import Registry
from vigil_ingest.validate import (
    FrameLimits,
    Rejected,
    validate_frame,
    validate_heartbeat,
    validate_motion_score,
    validate_status,
)
from vigil_ingest.window_closer import WindowCloser

log = logging.getLogger(__name__)
SERVICE = "ingest"
METRICS_FLUSH_S = 2.0


class IngestService:
    def __init__(self, settings: Settings, *, shared_group: str | None = None) -> None:
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.counters = Counters()
        self.bad_input_log = RateLimitedLog(log, 60.0)
        self.limits = FrameLimits(
            max_bytes=settings.max_frame_bytes,
            max_width=settings.max_width,
            max_height=settings.max_height,
            clock_skew_ns=int(settings.clock_skew_s * 1e9),
        )
        # Unique per service object: the MQTT client id derives from it, and two clients with one id
        # would keep disconnecting each other (containers may all be pid 1).
        self.instance = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"
        self.redis = redis.Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=5,
                                          health_check_interval=30)
        self.engine = make_engine(settings.effective_database_url(), sqlite_immediate=True)
        self.registry = Registry(make_sessionmaker(self.engine))
        self.writer = StreamWriter(self.redis, self.counters, segment_seconds=settings.segment_seconds,
                                   buffer_s=settings.stream_buffer_s)
        self.motion = MotionWriter(self.redis, self.counters)
        self.closer = WindowCloser(self.redis, self.counters, segment_seconds=settings.segment_seconds,
                                   grace_s=settings.segment_grace_s)
        self.presence = Presence(settings, SERVICE, client_id=f"vigil-ingest-{self.instance}")
        self.bus = self.presence.bus
        # Frames and heartbeats may be shared between several ingest processes (`$share/<group>/`):
        # the broker hands each message to one of them. Status is retained, and retained messages
        # are never delivered to shared subscriptions, so every process subscribes to it plainly.
        group = settings.ingest_share_group if shared_group is None else shared_group
        self.share_group = group

        def maybe_shared(kind: CameraTopic) -> str:
            topic_filter = self.topics.all_cameras(kind)
            return self.topics.shared(group, topic_filter) if group else topic_filter

        self.bus.subscribe(maybe_shared(CameraTopic.FRAME), 0, self.on_frame)
        self.bus.subscribe(maybe_shared(CameraTopic.HEARTBEAT), 1, self.on_heartbeat)
        self.bus.subscribe(maybe_shared(CameraTopic.MOTION_SCORE), 0, self.on_motion_score)
        self.bus.subscribe(self.topics.all_cameras(CameraTopic.STATUS), 1, self.on_status)
        self._stop = threading.Event()

    # message handlers (paho's network thread: keep short) ------------------------------
    def reject(self, reason: str, topic: str, message: str) -> None:
        self.counters.inc("vigil_ingest_rejected_total", reason=reason)
        self.bad_input_log.warning(reason, "dropped message on %r: %s", topic[:200], message)

    def _camera_of(self, msg: mqtt.MQTTMessage) -> str | None:
        try:
            return self.topics.parse(msg.topic).camera_id
        except TopicError as exc:
            self.reject("bad_topic", msg.topic, str(exc))
            return None

    def on_frame(self, msg: mqtt.MQTTMessage) -> None:
        camera_id = self._camera_of(msg)
        if camera_id is None:
            return
        try:
            accepted = validate_frame(msg.payload, time.time_ns(), self.limits)
        except Rejected as exc:
            self.reject(exc.reason, msg.topic, str(exc))
            return
        if self.registry.is_disabled(camera_id):
            self.counters.inc("vigil_ingest_dropped_total", camera=camera_id, reason="disabled")
            return
        if accepted.retimed and not accepted.bare:
            self.counters.inc("vigil_ingest_retimed_total", camera=camera_id)
        if self.writer.submit(camera_id, accepted):  # a view into the message: no copy
            self.registry.frame(camera_id, accepted.width, accepted.height, accepted.codec.name.lower())

    def on_heartbeat(self, msg: mqtt.MQTTMessage) -> None:
        camera_id = self._camera_of(msg)
        if camera_id is None:
            return
        try:
            hb = validate_heartbeat(camera_id, msg.payload)
        except Rejected as exc:
            self.reject(exc.reason, msg.topic, str(exc))
            return
        self.counters.inc("vigil_ingest_heartbeats_total", camera=camera_id)
        self.registry.heartbeat(hb)

    def on_motion_score(self, msg: mqtt.MQTTMessage) -> None:
        camera_id = self._camera_of(msg)
        if camera_id is None:
            return
        try:
            score = validate_motion_score(msg.payload, time.time_ns(), self.limits)
        except Rejected as exc:
            self.reject(exc.reason, msg.topic, str(exc))
            return
        if self.registry.is_disabled(camera_id):
            self.counters.inc("vigil_ingest_dropped_total", camera=camera_id, reason="disabled")
            return
        self.motion.submit(camera_id, score)

    def on_status(self, msg: mqtt.MQTTMessage) -> None:
        camera_id = self._camera_of(msg)
        if camera_id is None:
            return
        try:
            status = validate_status(msg.payload)
        except Rejected as exc:
            self.reject(exc.reason, msg.topic, str(exc))
            return
        self.registry.status(camera_id, status)

    # lifecycle ----------------------------------------------------------------------------
    def flush_metrics(self) -> None:
        """Counters to Redis, and this instance's liveness key while it is healthy (also when
        idle: `vigil health ingest`, the containers' probe, reads it)."""
        counters.flush(self.redis, SERVICE, self.counters, alive_instance=self.instance if self.healthy() else None,
                       gauges={counters.sample_name("vigil_ingest_queue_frames"): self.writer.queued},
                       instance=self.instance)

    def healthy(self) -> bool:
        return (self.bus.connected.is_set() and self.writer.healthy and self.registry.healthy
                and self.closer.healthy)  # the motion writer's Redis is the frame writer's

    def start(self) -> None:
        self.registry.start()
        self.writer.start()
        self.motion.start()
        self.closer.start()
        self.bus.start()

    def stop(self) -> None:
        """Graceful stop, in reverse order: no new messages, drain frames, close, flush."""
        log.info("stopping ingest")
        self.presence.stop()
        self.writer.stop()
        self.motion.stop()
        self.closer.stop()
        self.registry.stop()
        self.flush_metrics()
        self.redis.close()
        self.engine.dispose()

    def run(self, stop: StopSignal) -> None:
        self.start()
        log.info("ingest running (segment %ss, buffer %ss, share group %s)", self.settings.segment_seconds,
                 self.settings.stream_buffer_s, self.share_group or "none")
        while not stop.wait(METRICS_FLUSH_S):
            self.flush_metrics()
        self.stop()
