"""MQTT topic names (docs/protocol.md#mqtt-contract, contract). Nobody builds a topic string anywhere else."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vigil_common.contract.ids import is_valid_camera_id, require_camera_id

DEFAULT_PREFIX = "vigil"


class CameraTopic(StrEnum):
    FRAME = "frame"
    HEARTBEAT = "heartbeat"
    STATUS = "status"
    COMMAND = "command"
    STATE = "state"
    MOTION = "motion"
    MOTION_SCORE = "motion_score"  # camera -> server: motion measured at the edge
    MOTION_CONFIG = "motion_config"  # server -> camera, retained: how to measure it
    OBJECTS = "objects"  # detector -> anyone, retained: objects in view now, per label
    OBJECT_EVENT = "object_event"  # detector -> anyone: an object event started / improved / ended
    CLOSEUP = "closeup"  # detector -> anyone, retained: the latest object event's close-up (JPEG)
    SNAPSHOT = "snapshot"  # recorder -> anyone, retained, with VIGIL_HA_DISCOVERY: the latest snapshot (JPEG)
    STATS = "stats"  # recorder -> anyone, retained, with VIGIL_HA_DISCOVERY: recording lag, storage (JSON)


@dataclass(frozen=True, slots=True)
class ParsedTopic:
    camera_id: str
    kind: CameraTopic


class TopicError(ValueError):
    """A topic that is not one of the contract's, or carries an invalid id."""


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic builder/parser for one prefix (``vigil`` unless configured)."""

    prefix: str = DEFAULT_PREFIX

    def camera(self, camera_id: str, kind: CameraTopic) -> str:
        return f"{self.prefix}/cameras/{require_camera_id(camera_id)}/{kind.value}"

    def frame(self, camera_id: str) -> str:
        return self.camera(camera_id, CameraTopic.FRAME)

    def heartbeat(self, camera_id: str) -> str:
        return self.camera(camera_id, CameraTopic.HEARTBEAT)

    def status(self, camera_id: str) -> str:
        return self.camera(camera_id, CameraTopic.STATUS)

    def command(self, camera_id: str) -> str:
        return self.camera(camera_id, CameraTopic.COMMAND)

    def state(self, camera_id: str) -> str:
        return self.camera(camera_id, CameraTopic.STATE)

    def motion(self, camera_id: str) -> str:
        return self.camera(camera_id, CameraTopic.MOTION)

    def motion_score(self, camera_id: str) -> str:
        return self.camera(camera_id, CameraTopic.MOTION_SCORE)

    def motion_config(self, camera_id: str) -> str:
        return self.camera(camera_id, CameraTopic.MOTION_CONFIG)

    def objects(self, camera_id: str) -> str:
        return self.camera(camera_id, CameraTopic.OBJECTS)

    def object_event(self, camera_id: str) -> str:
        return self.camera(camera_id, CameraTopic.OBJECT_EVENT)

    def closeup(self, camera_id: str) -> str:
        return self.camera(camera_id, CameraTopic.CLOSEUP)

    def service_status(self, name: str) -> str:
        return f"{self.prefix}/services/{require_camera_id(name)}/status"

    def all_service_status(self) -> str:
        """Subscription filter for every service's status."""
        return f"{self.prefix}/services/+/status"

    def parse_service_status(self, topic: str) -> str:
        """The service name of ``{prefix}/services/{name}/status``; :class:`TopicError` otherwise."""
        head = f"{self.prefix}/services/"
        rest = topic[len(head):].split("/") if topic.startswith(head) else []
        if len(rest) != 2 or rest[1] != "status":
            raise TopicError("not a service status topic")
        if not is_valid_camera_id(rest[0]):
            raise TopicError("invalid service name in topic")
        return rest[0]

    def all_cameras(self, kind: CameraTopic) -> str:
        """Subscription filter for one kind of message from every camera."""
        return f"{self.prefix}/cameras/+/{kind.value}"

    def shared(self, group: str, topic_filter: str) -> str:
        """``topic_filter`` as an MQTT shared subscription: the broker hands each message to one
        subscriber of ``group`` (several ingest processes split the frames between them)."""
        return f"$share/{require_camera_id(group)}/{topic_filter}"

    def parse(self, topic: str) -> ParsedTopic:
        """Parse ``{prefix}/cameras/{id}/{kind}``; raise :class:`TopicError` otherwise."""
        head = f"{self.prefix}/cameras/"
        if not topic.startswith(head):
            raise TopicError("not a camera topic")
        rest = topic[len(head):].split("/")
        if len(rest) != 2:
            raise TopicError("wrong topic depth")
        camera_id, kind = rest
        if not is_valid_camera_id(camera_id):
            raise TopicError("invalid camera id in topic")
        try:
            return ParsedTopic(camera_id, CameraTopic(kind))
        except ValueError as exc:
            raise TopicError("unknown message kind") from exc
