"""Home Assistant discovery configs against Home Assistant's documented schema (the option names
of https://www.home-assistant.io/integrations/mqtt/ and each platform's page, transcribed below),
their templates rendered with Jinja2 as Home Assistant renders them, and the switch/button
payloads against Vigil's own command contract."""

from __future__ import annotations

import json

import jinja2
import pytest

from vigil_common.contract.messages import Command, CommandAction, object_counts
from vigil_common.contract.topics import CameraTopic, Topics
from vigil_recorder.homeassistant.configs import CameraInfo, configs, discovery_topics, label_key

# Options every MQTT entity may have (entity and availability options of the MQTT integration).
COMMON = {"name", "unique_id", "device", "origin", "availability", "availability_mode", "availability_topic",
          "availability_template", "payload_available", "payload_not_available", "icon", "entity_category",
          "enabled_by_default", "json_attributes_topic", "json_attributes_template", "object_id",
          "default_entity_id", "qos", "encoding", "entity_picture"}
DOCUMENTED = {
    "camera": COMMON | {"topic", "image_encoding"},
    "binary_sensor": COMMON | {"state_topic", "payload_on", "payload_off", "device_class", "value_template",
                               "expire_after", "force_update", "off_delay"},
    "sensor": COMMON | {"state_topic", "value_template", "unit_of_measurement", "device_class", "state_class",
                        "suggested_display_precision", "expire_after", "force_update", "last_reset_value_template",
                        "options"},
    "switch": COMMON | {"command_topic", "command_template", "state_topic", "payload_on", "payload_off", "state_on",
                        "state_off", "value_template", "optimistic", "retain", "device_class"},
    "button": COMMON | {"command_topic", "command_template", "payload_press", "retain", "device_class"},
}
REQUIRED = {"camera": {"topic"}, "binary_sensor": {"state_topic"}, "sensor": {"state_topic"},
            "switch": {"command_topic"}, "button": {"command_topic"}}
DEVICE = {"identifiers", "connections", "name", "manufacturer", "model", "model_id", "sw_version", "hw_version",
          "serial_number", "suggested_area", "configuration_url", "via_device"}
ORIGIN = {"name", "sw_version", "support_url"}
AVAILABILITY = {"topic", "payload_available", "payload_not_available", "value_template"}
DEVICE_CLASSES = {"binary_sensor": {"motion", "occupancy"}, "sensor": {"duration", "data_size"}}
UNITS = {"duration": {"s", "ms", "min", "h", "d"}, "data_size": {"B", "kB", "MB", "GB", "KiB", "MiB", "GiB"}}

TOPICS = Topics("vigil")
LABELS = ("person", "car", "traffic light")
CAM = CameraInfo("porch", name="Porch", location="Front door", source="picamera", codec="h264", version="0.1.0")


def all_configs(public_url: str = "https://vigil.example") -> dict[str, dict[str, object]]:
    return configs(CAM, topics=TOPICS, prefix="homeassistant", labels=LABELS, sw_version="0.1.0",
                   public_url=public_url)


def render(template: object, payload: bytes) -> str:
    """A value_template as Home Assistant renders it: ``value`` and ``value_json`` in scope."""
    assert isinstance(template, str)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    return env.from_string(template).render(value=payload.decode(), value_json=json.loads(payload))


def test_every_config_uses_only_documented_options_of_its_platform() -> None:
    out = all_configs()
    assert set(out) == set(discovery_topics("homeassistant", "porch", LABELS))
    for topic, config in out.items():
        prefix, component, node, object_id, config_word = topic.split("/")
        assert (prefix, node, config_word) == ("homeassistant", "vigil", "config") and object_id.startswith("porch_")
        assert set(config) <= DOCUMENTED[component], (topic, set(config) - DOCUMENTED[component])
        assert REQUIRED[component] <= set(config), topic
        device = config["device"]
        assert isinstance(device, dict) and set(device) <= DEVICE and device["identifiers"] == ["vigil_porch"]
        assert device["name"] == "Porch" and device["suggested_area"] == "Front door"
        assert device["configuration_url"] == "https://vigil.example/#/camera/porch"
        assert isinstance(config["origin"], dict) and set(config["origin"]) <= ORIGIN
        [availability] = config["availability"]  # type: ignore[misc]
        assert set(availability) <= AVAILABILITY
        assert availability == {"topic": "vigil/cameras/porch/status", "payload_available": "online",
                                "payload_not_available": "offline"}
        if "device_class" in config:
            assert config["device_class"] in DEVICE_CLASSES[component], topic
            if config["device_class"] in UNITS:
                assert config["unit_of_measurement"] in UNITS[str(config["device_class"])]
        if "state_class" in config:
            assert config["state_class"] == "measurement"
        if "entity_category" in config:
            assert config["entity_category"] in ("diagnostic", "config")
        json.dumps(config)  # publishable as is
    unique_ids = [c["unique_id"] for c in out.values()]
    assert len(unique_ids) == len(set(unique_ids))


def test_the_entities_read_the_topics_vigil_publishes() -> None:
    by_key = {t.split("/")[3].removeprefix("porch_"): c for t, c in all_configs().items()}
    assert by_key["snapshot"]["topic"] == TOPICS.camera("porch", CameraTopic.SNAPSHOT)
    assert by_key["motion"]["state_topic"] == TOPICS.camera("porch", CameraTopic.MOTION)
    assert (by_key["motion"]["payload_on"], by_key["motion"]["payload_off"]) == ("ON", "OFF")
    assert by_key["fps"]["state_topic"] == TOPICS.heartbeat("porch")
    heartbeat = json.dumps({"camera_id": "porch", "fps": 14.8, "streaming": True}).encode()
    assert render(by_key["fps"]["value_template"], heartbeat) == "14.8"
    stats = json.dumps({"recording_lag_s": 3.5, "storage_bytes": 123456}).encode()
    assert render(by_key["recording_lag"]["value_template"], stats) == "3.5"
    assert render(by_key["storage"]["value_template"], stats) == "123456"
    objects = by_key[label_key("person")]
    assert objects["state_topic"] == TOPICS.camera("porch", CameraTopic.OBJECTS)
    for payload, person, light in ((b'{"person": 2}', "ON", "OFF"), (b"{}", "OFF", "OFF"),
                                   (b'{"person": 0, "traffic light": 1}', "OFF", "ON")):
        object_counts(payload)  # what the detector publishes
        assert render(objects["value_template"], payload) == person
        assert render(by_key["object_traffic_light"]["value_template"], payload) == light


def test_the_switch_and_the_button_speak_the_command_contract() -> None:
    by_key = {t.split("/")[3].removeprefix("porch_"): c for t, c in all_configs().items()}
    switch, button = by_key["streaming"], by_key["save_snapshot"]
    assert switch["command_topic"] == button["command_topic"] == TOPICS.command("porch")
    assert Command.model_validate_json(str(switch["payload_on"])).action is CommandAction.START
    assert Command.model_validate_json(str(switch["payload_off"])).action is CommandAction.STOP
    assert Command.model_validate_json(str(button["payload_press"])).action is CommandAction.SNAPSHOT
    assert switch["state_topic"] == TOPICS.state("porch") and switch["optimistic"] is False
    for streaming, shown in ((True, switch["state_on"]), (False, switch["state_off"])):
        state = json.dumps({"camera_id": "porch", "streaming": streaming}).encode()
        assert render(switch["value_template"], state) == shown


@pytest.mark.parametrize("public_url", ["", "vigil.example", "javascript:alert(1)"])
def test_no_configuration_url_without_an_http_public_url(public_url: str) -> None:
    for config in all_configs(public_url).values():
        assert "configuration_url" not in config["device"]  # type: ignore[operator]


def test_labels_become_ascii_entity_ids_one_per_id() -> None:
    assert label_key("traffic light") == "object_traffic_light"
    assert label_key("Café-Sign") == "object_caf_sign" and label_key("???") == "object_unnamed"
    topics = discovery_topics("homeassistant", "porch", ["person", "Person", "traffic light", "traffic_light"])
    objects = sorted(t for t in topics if "_object_" in t)
    assert objects == ["homeassistant/binary_sensor/vigil/porch_object_person/config",
                       "homeassistant/binary_sensor/vigil/porch_object_traffic_light/config"]
