"""A service's presence on MQTT: retained ``online`` on ``vigil/services/{name}/status`` while
connected, ``offline`` as the Last Will and on a clean stop (the notifier watches these).

Several instances of one service (recorder workers, api replicas) share the topic: when one stops
cleanly its ``offline`` is the retained message until a live one re-sends ``online``, which each
does every :data:`PRESENCE_REFRESH_S` (well inside the notifier's grace before it alerts)."""

from __future__ import annotations

import os
import socket

from vigil_common.messages import OFFLINE, ONLINE
from vigil_common.mqtt import MqttBus, Will
from vigil_common.settings import Settings
from vigil_common.topics import Topics

PRESENCE_REFRESH_S = 15.0


class Presence:
    def __init__(self, settings: Settings, service: str, *, bus: MqttBus | None = None) -> None:
        self.topic = Topics(settings.topic_prefix).service_status(service)
        self.final = [(self.topic, OFFLINE.encode(), 1, True)]
        self.bus = bus or MqttBus(
            settings.mqtt_url,
            f"vigil-{service}-{socket.gethostname()}-{os.getpid()}",
            will=Will(self.topic, OFFLINE.encode()),
            on_connect_publish=[(self.topic, ONLINE.encode(), 1, True)],
            republish_every_s=PRESENCE_REFRESH_S,
        )

    def start(self) -> None:
        self.bus.start()

    def stop(self) -> None:
        self.bus.stop(final=self.final)
