"""Settings of integrations with the user's home: Home Assistant's MQTT discovery, ONVIF / IP cameras."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, Field, SecretStr, field_validator

from vigil_common.contract.ids import CAMERA_ID_PATTERN


class IntegrationSettings(BaseModel):
    # Home Assistant MQTT discovery (docs/integrations.md): off unless asked for. The recorder
    # then publishes each camera's entities under this prefix (Home Assistant's default is
    # `homeassistant`), a snapshot JPEG per camera at the snapshot interval and their stats.
    ha_discovery: bool = False
    ha_discovery_prefix: str = Field(default="homeassistant", pattern=CAMERA_ID_PATTERN)  # one topic level
    ha_stats_interval_s: float = Field(default=30, ge=5, le=3600)  # configs checked, stats published

    # IP cameras the server captures itself (vigil ipcams, docs/integrations.md#onvif-cameras).
    # Their credentials are kept encrypted with this Fernet key (32 url-safe base64 bytes, e.g.
    # from `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`);
    # unset: a key generated once in <VIGIL_DATA_DIR>/secrets/credentials.key (owner-only).
    credentials_key: SecretStr | None = None
    # Where "Find cameras" sends its WS-Discovery probe: comma-separated IPv4 addresses or
    # networks (CIDR, up to /22). The default is the WS-Discovery multicast group (the local
    # network); a container on a bridge network, which multicast does not leave, lists the
    # cameras' network instead (e.g. 192.168.1.0/24: one unicast probe per address).
    onvif_probe_targets: str = "239.255.255.250"
    # The local IPv4 address the multicast probe leaves from (empty: the system's default route).
    onvif_probe_interface: str = ""
    onvif_probe_timeout_s: float = Field(default=3.0, ge=0.5, le=15)
    # How often vigil ipcams re-reads the IP camera list (an added camera starts within this).
    ipcams_poll_s: float = Field(default=5.0, ge=0.5, le=300)

    @field_validator("credentials_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("onvif_probe_targets")
    @classmethod
    def _probe_targets(cls, value: str) -> str:
        from vigil_common.contract.onvif import parse_probe_targets

        parse_probe_targets(value)
        return value

    @field_validator("onvif_probe_interface")
    @classmethod
    def _probe_interface(cls, value: str) -> str:
        if value:
            ipaddress.IPv4Address(value)
        return value
