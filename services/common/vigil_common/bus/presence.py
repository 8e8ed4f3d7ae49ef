"""A service's presence on MQTT: retained ``online`` on ``vigil/services/{name}/status`` while
connected, ``offline`` as the Last Will and on a clean stop (the notifier watches these).

Several instances of one service (recorder workers, api replicas) share the topic: when one stops
cleanly its ``offline`` is the retained message until a live one re-sends ``online``, which each
does every :data:`PRESENCE_REFRESH_S` (well inside the notifier's grace before it alerts)."""

from __future__ import annotations

import os
import socket

from vigil_common.bus.mqtt import MqttBus, Will
from vigil_common.contract.messages import OFFLINE, ONLINE
from vigil_common.contract.topics import Topics
from vigil_common.runtime.settings import Settings

PRESENCE_REFRESH_S = 15.0


class Presence:
    """A service's MQTT connection with its presence: every service (ingest, recorder,
    notifier, api) connects through one of these and uses ``bus`` for everything else."""

    def __init__(self, settings: Settings, service: str, *, client_id: str | None = None, max_queued: int = 0) -> None:
        self.topic = Topics(settings.topic_prefix).service_status(service)
        self.final = [(self.topic, OFFLINE.encode(), 1, True)]
        self.bus = MqttBus(
            settings.mqtt_url,
            client_id or f"vigil-{service}-{socket.gethostname()}-{os.getpid()}",
            will=Will(self.topic, OFFLINE.encode()),
            on_connect_publish=[(self.topic, ONLINE.encode(), 1, True)],
            republish_every_s=PRESENCE_REFRESH_S,
            max_queued=max_queued,
        )

    def start(self) -> None:
        self.bus.start()

    def stop(self) -> None:
        """``offline`` (retained), then disconnect."""
        self.bus.stop(final=self.final)
