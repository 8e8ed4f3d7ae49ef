"""The capture service over MQTT: status/Last Will, heartbeats, retained state and commands.

Composition: :class:`CapturePipeline` (grab + publish threads) publishing through an
:class:`MqttFrameSink` on one :class:`MqttBus`. The service's own loop (the caller's thread)
sends heartbeats and republishes the retained state on every (re)connect and change.
Command handlers run on paho's network thread and only flip settings.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import paho.mqtt.client as mqtt

from vigil_capture.access_units import EncodedSource
from vigil_capture.commands import CommandEffect, CommandRejected, decide, parse_command
from vigil_capture.config import CaptureConfig, ConfigureError
from vigil_capture.edge_encoder import EdgeEncoder
from vigil_capture.edge_motion import EdgeMotion
from vigil_capture.passthrough import PassthroughPipeline
from vigil_capture.pipeline import CapturePipeline
from vigil_capture.reports import build_heartbeat, build_state
from vigil_capture.sinks import MqttFrameSink
from vigil_capture.sources import Source
from vigil_capture.stats import CaptureStats, RateMeter
from vigil_common.bus.mqtt import MqttBus, Will
from vigil_common.contract.ids import require_camera_id
from vigil_common.contract.messages import OFFLINE, ONLINE, MotionConfig, MotionScore
from vigil_common.contract.topics import Topics
from vigil_common.runtime.logsetup import RateLimitedLog

log = logging.getLogger(__name__)

LOOP_POLL_S = 0.2  # the service loop's longest sleep (stop-signal latency)


class StopFlag(Protocol):
    """``threading.Event`` or ``vigil_common.runtime.lifecycle.StopSignal``."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    camera_id: str
    mqtt_url: str
    topic_prefix: str = "vigil"
    heartbeat_s: float = 5.0
    autostart: bool = True
    max_inflight: int = 8
    buffer_size: int = 3
    edge_motion: bool = True

    def __post_init__(self) -> None:
        require_camera_id(self.camera_id)
        if self.heartbeat_s <= 0:
            raise ValueError("heartbeat interval must be positive")


class CaptureService:
    """One camera. ``run(stop)`` blocks until ``stop`` is set (or a capture thread dies).

    The source must already be open; the caller closes it after ``run`` returns.
    """

    def __init__(self, options: ServiceOptions, source: Source | EncodedSource, config: CaptureConfig,
                 encoder: EdgeEncoder | None = None) -> None:
        self.options = options
        self.camera_id = options.camera_id
        self.topics = Topics(options.topic_prefix)
        self.source = source
        self.stats = CaptureStats()
        status_topic = self.topics.status(self.camera_id)
        self._status_topic = status_topic
        self._state_topic = self.topics.state(self.camera_id)
        self._heartbeat_topic = self.topics.heartbeat(self.camera_id)
        self.bus = MqttBus(
            options.mqtt_url,
            f"vigil-capture-{self.camera_id}",
            will=Will(status_topic, OFFLINE.encode()),
            on_connect_publish=[(status_topic, ONLINE.encode(), 1, True)],
        )
        self.sink = MqttFrameSink(self.bus, self.topics.frame(self.camera_id), options.max_inflight)
        self.bus.on_publish = self.sink.on_publish
        self._motion_topic = self.topics.motion_score(self.camera_id)
        self.motion = EdgeMotion(self._publish_motion, enabled=options.edge_motion)
        self.pipeline: CapturePipeline | PassthroughPipeline
        if isinstance(source, EncodedSource):
            self.pipeline = PassthroughPipeline(source, self.sink, config, streaming=options.autostart,
                                                stats=self.stats, motion=self.motion)
        else:
            self.pipeline = CapturePipeline(source, self.sink, config, streaming=options.autostart,
                                            buffer_size=options.buffer_size, stats=self.stats, encoder=encoder,
                                            motion=self.motion)
        self.bus.subscribe(self.topics.command(self.camera_id), 1, self._on_command)
        self.bus.subscribe(self.topics.motion_config(self.camera_id), 1, self._on_motion_config)
        self._lock = threading.Lock()
        self._last_request_id = ""
        self._state_dirty = threading.Event()
        self._wake = threading.Event()
        self._log = RateLimitedLog(log)
        self._started = time.monotonic()
        self._heartbeat_seq = 0
        self._rate = RateMeter(0, self._started)

    # --- lifecycle ------------------------------------------------------------------------
    def run(self, stop: StopFlag) -> int:
        """Start, serve until ``stop`` is set, then stop gracefully. 0 = clean, 1 = a thread died."""
        self.bus.start()
        self.pipeline.start()
        log.info(
            "camera %s capturing from %s (%s), streaming=%s",
            self.camera_id,
            self.source.kind,
            self.pipeline.config,
            self.pipeline.streaming,
        )
        try:
            self._serve(stop)
        finally:
            self._shutdown()
        if self.pipeline.failure:
            log.error("capture failed: %s", self.pipeline.failure)
            return 1
        return 0

    def _shutdown(self) -> None:
        """Reverse order: stop grabbing/publishing, then the retained goodbye, then disconnect."""
        self.pipeline.stop()
        with self._lock:
            final_state = self._state(streaming=False)
        self.bus.stop(
            final=[
                (self._state_topic, final_state.encode(), 1, True),
                (self._status_topic, OFFLINE.encode(), 1, True),
            ]
        )
        stats = self.stats.snapshot()
        log.info(
            "camera %s stopped: %d frames sent, %d dropped, %d grabbed",
            self.camera_id,
            stats.frames_sent,
            stats.frames_dropped,
            stats.frames_grabbed,
        )

    def _serve(self, stop: StopFlag) -> None:
        was_connected = False
        next_heartbeat = time.monotonic()
        period = self.options.heartbeat_s
        while not stop.is_set() and not self.pipeline.stopped:
            now = time.monotonic()
            connected = self.bus.connected.is_set()
            if connected and not was_connected:
                self._state_dirty.set()  # retained state and a heartbeat right after connecting
                next_heartbeat = now
            was_connected = connected
            if connected and self._state_dirty.is_set():
                self._state_dirty.clear()
                self._publish_state()
            if now >= next_heartbeat:
                if connected:
                    self._publish_heartbeat()
                next_heartbeat += period
                if next_heartbeat <= now:
                    next_heartbeat = now + period
            self._wake.wait(min(LOOP_POLL_S, max(0.0, next_heartbeat - time.monotonic())))
            self._wake.clear()

    # --- outgoing -------------------------------------------------------------------------
    def _state(self, streaming: bool | None = None) -> str:
        state = build_state(
            camera_id=self.camera_id,
            streaming=self.pipeline.streaming if streaming is None else streaming,
            config=self.pipeline.config,
            source_kind=self.source.kind,
            codec=self.pipeline.codec,
            now=datetime.now(UTC),
            last_request_id=self._last_request_id,
        )
        return state.model_dump_json()

    def _publish_state(self) -> None:
        with self._lock:
            payload = self._state()
        self._publish(self._state_topic, payload, retain=True)

    def _publish_heartbeat(self) -> None:
        stats = self.stats.snapshot()
        now = time.monotonic()
        heartbeat = build_heartbeat(
            camera_id=self.camera_id,
            seq=self._heartbeat_seq,
            now=datetime.now(UTC),
            streaming=self.pipeline.streaming,
            measured_fps=self._rate.update(stats.frames_sent, now),
            config=self.pipeline.config,
            stats=stats,
            source_kind=self.source.kind,
            codec=self.pipeline.codec,
            uptime_s=now - self._started,
        )
        self._heartbeat_seq += 1
        self._publish(self._heartbeat_topic, heartbeat.model_dump_json(), retain=False)

    def _publish(self, topic: str, payload: str, *, retain: bool) -> None:
        info = self.bus.publish(topic, payload, qos=1, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self._log.warning(f"publish:{topic}", "cannot publish to %s: %s", topic, mqtt.error_string(info.rc))

    def _publish_motion(self, score: MotionScore) -> None:
        """A motion sample (QoS 0: a lost one is replaced by the next within a second)."""
        if not self.bus.connected.is_set():
            return
        info = self.bus.publish(self._motion_topic, score.model_dump_json(), qos=0, retain=False)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self._log.warning("publish:motion", "cannot publish a motion score: %s", mqtt.error_string(info.rc))

    # --- incoming -------------------------------------------------------------------------
    def _on_motion_config(self, msg: mqtt.MQTTMessage) -> None:
        """The server's retained motion settings; an empty payload (camera removed) means defaults."""
        try:
            config = MotionConfig() if not msg.payload else MotionConfig.model_validate_json(msg.payload)
        except ValueError as exc:
            self._log.warning("bad_motion_config", "ignoring motion settings: %s", str(exc).splitlines()[0])
            return
        except Exception:  # a handler exception would kill paho's network thread
            log.exception("unexpected error handling motion settings")
            return
        self.motion.configure(config)

    def _on_command(self, msg: mqtt.MQTTMessage) -> None:
        try:
            self._handle_command(msg)
        except Exception:  # a handler exception would kill paho's network thread
            log.exception("unexpected error handling a command")

    def _handle_command(self, msg: mqtt.MQTTMessage) -> None:
        if msg.retain:
            self._log.warning("retained_command", "ignoring a retained command (commands must not be retained)")
            return
        try:
            command = parse_command(msg.payload)
            with self._lock:
                effect = decide(command, self.pipeline.config)
                self._apply(effect)
        except CommandRejected as exc:
            self._log.warning(exc.reason, "ignoring command: %s", exc)
            return
        except ConfigureError as exc:
            self._log.warning("bad_configure", "ignoring configure command: %s", exc)
            return
        log.info("command %s applied (request_id=%r)", effect.action.value, effect.request_id)
        self._state_dirty.set()
        self._wake.set()

    def _apply(self, effect: CommandEffect) -> None:
        if effect.config is not None:
            self.pipeline.config = effect.config
        if effect.streaming is not None:
            self.pipeline.streaming = effect.streaming
        if effect.snapshot:
            self.pipeline.request_snapshot()
        self._last_request_id = effect.request_id
