"""Home Assistant MQTT discovery (``VIGIL_HA_DISCOVERY``): ``configs`` builds each camera's
discovery configs (pure), ``duty`` publishes them, their removal and the cameras' stats; the
snapshot duty publishes each camera's snapshot JPEG for its camera entity."""

from vigil_recorder.homeassistant.duty import duties

__all__ = ["duties"]
