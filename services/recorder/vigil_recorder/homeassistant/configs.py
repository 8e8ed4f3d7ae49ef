"""Home Assistant MQTT discovery configs for one camera (pure: no I/O).

Field names are Home Assistant's, from its MQTT discovery documentation
(https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery and each platform's page:
camera.mqtt, binary_sensor.mqtt, sensor.mqtt, switch.mqtt, button.mqtt). Every entity of a
camera belongs to one device (``vigil_<id>``) and is available while the camera's retained
``status`` topic says ``online``. The entities read topics Vigil already publishes, except two
the recorder adds for them: ``snapshot`` (a JPEG, retained, at the snapshot interval) and
``stats`` (JSON, retained: recording lag and storage). The switch and the button send the
command contract (docs/protocol.md) to the camera's ``command`` topic, as the API does.

Discovery topics: ``<prefix>/<component>/vigil/<id>_<entity>/config`` — node id ``vigil``, so
all of Vigil's configs sit under ``<prefix>/+/vigil/#``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from vigil_common.contract.ids import require_camera_id
from vigil_common.contract.messages import OFFLINE, ONLINE
from vigil_common.contract.topics import CameraTopic, Topics

NODE_ID = "vigil"
MANUFACTURER = "Vigil"
# Who sends a command (the command contract's request_id, max 64 characters).
REQUEST_ID = "homeassistant"


@dataclass(frozen=True, slots=True)
class CameraInfo:
    camera_id: str
    name: str = ""
    location: str = ""
    source: str = ""  # kind only, never credentials (the heartbeat's `source`)
    codec: str = ""
    version: str = ""  # the capture's version (heartbeat)


@dataclass(frozen=True, slots=True)
class Entity:
    component: str  # camera | binary_sensor | sensor | switch | button
    key: str  # unique within the camera: motion, object_person, fps, ...

    def topic(self, prefix: str, camera_id: str) -> str:
        return f"{prefix}/{self.component}/{NODE_ID}/{camera_id}_{self.key}/config"


def _command(action: str) -> str:
    return json.dumps({"action": action, "params": {}, "request_id": REQUEST_ID}, separators=(",", ":"))


def label_key(label: str) -> str:
    """An object label as an entity key (``traffic light`` -> ``object_traffic_light``): ASCII
    letters, digits and ``_`` only, as Home Assistant's object ids must be."""
    return "object_" + (re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_") or "unnamed")


def keyed_labels(labels: Iterable[str]) -> dict[str, str]:
    """Entity key -> label, one entity per key (of labels that would share a key, the first in
    sorted order)."""
    out: dict[str, str] = {}
    for label in sorted(set(labels)):
        out.setdefault(label_key(label), label)
    return out


def entities(labels: Iterable[str]) -> list[Entity]:
    """Every entity a camera has, for these object labels."""
    out = [Entity("camera", "snapshot"), Entity("binary_sensor", "motion"), Entity("sensor", "fps"),
           Entity("sensor", "recording_lag"), Entity("sensor", "storage"), Entity("switch", "streaming"),
           Entity("button", "save_snapshot")]
    out += [Entity("binary_sensor", key) for key in keyed_labels(labels)]
    return out


def discovery_topics(prefix: str, camera_id: str, labels: Iterable[str]) -> list[str]:
    return [e.topic(prefix, camera_id) for e in entities(labels)]


def configs(cam: CameraInfo, *, topics: Topics, prefix: str, labels: Iterable[str], sw_version: str,
            public_url: str = "") -> dict[str, dict[str, object]]:
    """Discovery topic -> config (to be published retained, as JSON) for one camera."""
    cid = require_camera_id(cam.camera_id)

    def topic(kind: CameraTopic) -> str:
        return topics.camera(cid, kind)

    device: dict[str, object] = {
        "identifiers": [f"{NODE_ID}_{cid}"],
        "name": cam.name or cid,
        "manufacturer": MANUFACTURER,
        "model": f"Vigil camera ({cam.source or 'unknown source'}, {(cam.codec or 'jpeg').upper()})",
        "sw_version": cam.version or sw_version,
    }
    if cam.location:
        device["suggested_area"] = cam.location
    if public_url.startswith(("http://", "https://")):
        device["configuration_url"] = f"{public_url.rstrip('/')}/#/camera/{cid}"
    common: dict[str, object] = {
        "device": device,
        "origin": {"name": "Vigil", "sw_version": sw_version},
        "availability": [{"topic": topic(CameraTopic.STATUS), "payload_available": ONLINE,
                          "payload_not_available": OFFLINE}],
    }
    stats = topic(CameraTopic.STATS)
    by_key: dict[str, dict[str, object]] = {
        "snapshot": {"name": None, "topic": topic(CameraTopic.SNAPSHOT)},
        "motion": {"name": "Motion", "state_topic": topic(CameraTopic.MOTION), "payload_on": "ON",
                   "payload_off": "OFF", "device_class": "motion"},
        "fps": {"name": "Frame rate", "state_topic": topic(CameraTopic.HEARTBEAT),
                "value_template": "{{ value_json.fps }}", "unit_of_measurement": "fps",
                "state_class": "measurement", "suggested_display_precision": 1, "entity_category": "diagnostic",
                "icon": "mdi:filmstrip"},
        "recording_lag": {"name": "Recording lag", "state_topic": stats,
                          "value_template": "{{ value_json.recording_lag_s }}", "unit_of_measurement": "s",
                          "device_class": "duration", "state_class": "measurement",
                          "suggested_display_precision": 1, "entity_category": "diagnostic"},
        "storage": {"name": "Storage used", "state_topic": stats, "value_template": "{{ value_json.storage_bytes }}",
                    "unit_of_measurement": "B", "device_class": "data_size", "state_class": "measurement",
                    "entity_category": "diagnostic"},
        "streaming": {"name": "Streaming", "command_topic": topic(CameraTopic.COMMAND),
                      "payload_on": _command("start"), "payload_off": _command("stop"),
                      "state_topic": topic(CameraTopic.STATE),
                      "value_template": "{{ 'ON' if value_json.streaming else 'OFF' }}",
                      "state_on": "ON", "state_off": "OFF", "optimistic": False, "qos": 1, "retain": False,
                      "icon": "mdi:cctv"},
        "save_snapshot": {"name": "Save snapshot", "command_topic": topic(CameraTopic.COMMAND),
                          "payload_press": _command("snapshot"), "qos": 1, "retain": False, "icon": "mdi:camera"},
    }
    for key, label in keyed_labels(labels).items():
        by_key[key] = {
            "name": label.capitalize(), "state_topic": topic(CameraTopic.OBJECTS),
            # The retained {label: count} of objects in view now (docs/protocol.md).
            "value_template": "{{ 'ON' if (value_json.get(" + json.dumps(label) + ", 0) | int(0)) > 0 else 'OFF' }}",
            "payload_on": "ON", "payload_off": "OFF", "device_class": "occupancy",
        }
    out: dict[str, dict[str, object]] = {}
    for entity in entities(labels):
        config = {**by_key[entity.key], "unique_id": f"{NODE_ID}_{cid}_{entity.key}", **common}
        out[entity.topic(prefix, cid)] = config
    return out
