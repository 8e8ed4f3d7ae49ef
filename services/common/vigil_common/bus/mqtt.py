"""A small MQTT bus over paho-mqtt 2 (CallbackAPIVersion.VERSION2).

Reconnects with exponential backoff (paho's reconnect_delay_set), re-subscribes on every
connect, sets a Last Will, and publishes a retained ``online`` on connect when asked to.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger(__name__)

MessageHandler = Callable[[mqtt.MQTTMessage], None]


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool

    def redacted(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}:***@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def routing_filter(topic_filter: str) -> str:
    """The filter incoming topics are matched against: a shared subscription
    ``$share/<group>/<filter>`` delivers messages on ``<filter>``'s topics."""
    if topic_filter.startswith("$share/"):
        parts = topic_filter.split("/", 2)
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise ValueError(f"malformed shared subscription {topic_filter!r}")
        return parts[2]
    return topic_filter


def parse_mqtt_url(url: str) -> BrokerAddress:
    """``mqtt://[user:pass@]host[:port]`` or ``mqtts://...``; a bare ``host[:port]`` works too."""
    if "://" not in url:
        url = f"mqtt://{url}"
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"unsupported MQTT URL scheme {parts.scheme!r}")
    tls = parts.scheme in ("mqtts", "ssl")
    if not parts.hostname:
        raise ValueError("MQTT URL has no host")
    return BrokerAddress(
        host=parts.hostname,
        port=parts.port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


class MqttBus:
    """One paho client with a background network thread.

    ``subscribe`` registers (filter, qos, handler) pairs that are (re)subscribed on each
    connect. Handlers run on paho's network thread: keep them short, or hand off.
    ``on_connect_publish`` messages (e.g. a retained ``online``) are sent after every connect.
    """

    def __init__(
        self,
        url: str,
        client_id: str,
        *,
        will: Will | None = None,
        on_connect_publish: list[tuple[str, bytes, int, bool]] | None = None,
        clean_start: bool = True,
        max_inflight: int = 100,
        max_queued: int = 0,
        republish_every_s: float | None = None,
    ) -> None:
        self.address = parse_mqtt_url(url)
        # Re-send ``on_connect_publish`` this often while connected: several instances of a
        # service share one retained presence topic, and one stopping cleanly leaves its
        # ``offline`` there; the others put ``online`` back within this period.
        self._republish_every_s = republish_every_s
        self._stopping = threading.Event()
        self._republisher: threading.Thread | None = None
        self._subs: list[tuple[str, int, MessageHandler]] = []
        self._connect_publish = list(on_connect_publish or [])
        self.connected = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=clean_start,
        )
        if self.address.username:
            self._client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            self._client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        if will is not None:
            self._client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.max_inflight_messages_set(max_inflight)
        self._client.max_queued_messages_set(max_queued)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self.on_publish: Callable[[int], None] | None = None
        self._client.on_publish = self._on_publish

    @property
    def client(self) -> mqtt.Client:
        return self._client

    def subscribe(self, topic_filter: str, qos: int, handler: MessageHandler) -> None:
        self._subs.append((topic_filter, qos, handler))
        self._client.message_callback_add(routing_filter(topic_filter), lambda _c, _u, msg: handler(msg))
        if self.connected.is_set():
            self._client.subscribe(topic_filter, qos)

    def start(self) -> None:
        """Connect asynchronously and start the network thread; retries forever with backoff."""
        log.info("connecting to MQTT broker %s", self.address.redacted())
        self._client.connect_async(self.address.host, self.address.port, keepalive=30)
        self._client.loop_start()
        if self._republish_every_s and self._connect_publish and self._republisher is None:
            self._republisher = threading.Thread(target=self._republish, name="mqtt-republish", daemon=True)
            self._republisher.start()

    def _republish(self) -> None:
        assert self._republish_every_s is not None
        while not self._stopping.wait(self._republish_every_s):
            if not self.connected.is_set():
                continue
            for topic, payload, qos, retain in self._connect_publish:
                try:
                    self._client.publish(topic, payload, qos=qos, retain=retain)
                except (RuntimeError, ValueError) as exc:  # disconnected meanwhile: next round
                    log.debug("republish of %s failed: %s", topic, exc)

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def publish(self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False) -> mqtt.MQTTMessageInfo:
        return self._client.publish(topic, payload, qos=qos, retain=retain)

    def stop(self, final: list[tuple[str, bytes, int, bool]] | None = None, timeout: float = 2.0) -> None:
        """Publish ``final`` messages (e.g. a retained ``offline``), then disconnect cleanly."""
        self._stopping.set()
        if self._republisher is not None:
            self._republisher.join(timeout)
            self._republisher = None
        try:
            if self.connected.is_set():
                for topic, payload, qos, retain in final or []:
                    info = self._client.publish(topic, payload, qos=qos, retain=retain)
                    info.wait_for_publish(timeout)
        except (RuntimeError, ValueError) as exc:
            log.warning("final publish failed: %s", exc)
        self._client.disconnect()
        self._client.loop_stop()

    # paho callbacks -------------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT connect refused: %s", reason)
            return
        log.info("MQTT connected to %s", self.address.redacted())
        for topic_filter, qos, _h in self._subs:
            client.subscribe(topic_filter, qos)
        for topic, payload, qos, retain in self._connect_publish:
            client.publish(topic, payload, qos=qos, retain=retain)
        self.connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self.connected.clear()
        if reason != 0 and not getattr(reason, "value", 1) == 0:
            log.warning("MQTT disconnected (%s); reconnecting with backoff", reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        log.debug("unrouted message on %s", msg.topic)

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, _reason: Any, _props: Any) -> None:
        if self.on_publish is not None:
            self.on_publish(mid)
