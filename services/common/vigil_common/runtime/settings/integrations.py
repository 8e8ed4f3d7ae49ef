"""Settings of integrations with the user's home: Home Assistant's MQTT discovery."""

from __future__ import annotations

from pydantic import BaseModel, Field

from vigil_common.contract.ids import CAMERA_ID_PATTERN


class IntegrationSettings(BaseModel):
    # Home Assistant MQTT discovery (docs/integrations.md): off unless asked for. The recorder
    # then publishes each camera's entities under this prefix (Home Assistant's default is
    # `homeassistant`), a snapshot JPEG per camera at the snapshot interval and their stats.
    ha_discovery: bool = False
    ha_discovery_prefix: str = Field(default="homeassistant", pattern=CAMERA_ID_PATTERN)  # one topic level
    ha_stats_interval_s: float = Field(default=30, ge=5, le=3600)  # configs checked, stats published
