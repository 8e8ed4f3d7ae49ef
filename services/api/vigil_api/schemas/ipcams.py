"""IP cameras the server captures itself: "Find cameras" (WS-Discovery + ONVIF) and their records.
Credentials go in, never out: responses say only whether a camera has them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vigil_common.contract.ids import CAMERA_ID_PATTERN

NAME = Field(default="", max_length=128)


class DiscoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timeout_s: float | None = Field(default=None, ge=0.5, le=15,
                                    description="How long to wait for answers (default VIGIL_ONVIF_PROBE_TIMEOUT_S)")


class FoundOut(BaseModel):
    urn: str = Field(description="The device's WS-Discovery endpoint (urn:uuid:...)")
    xaddr: str = Field(description="Its ONVIF device service URL (the first it gave)")
    xaddrs: list[str]
    address: str = Field(description="The IP address that answered")
    name: str = Field(description="From its onvif://www.onvif.org/name/ scope")
    hardware: str
    location: str
    camera_id: str | None = Field(default=None, description="The IP camera it already is, if added")


class DiscoverOut(BaseModel):
    items: list[FoundOut]
    targets: str = Field(description="Where the probe went (VIGIL_ONVIF_PROBE_TARGETS)")


class OnvifIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    xaddr: str = Field(max_length=512, description="ONVIF device service URL, http://host[:port]/onvif/device_service")
    username: str = Field(default="", max_length=128)
    password: str = Field(default="", max_length=256)


class ProfileOut(BaseModel):
    token: str
    name: str
    encoding: str
    width: int
    height: int
    fps: float
    uri: str = Field(description="RTSP URL (without credentials)")
    recordable: bool = Field(description="H.264 with a stream URL (Vigil does not record H.265 or JPEG profiles)")


class DeviceOut(BaseModel):
    manufacturer: str
    model: str
    firmware: str
    profiles: list[ProfileOut]
    chosen: str | None = Field(description="The profile an IP camera records unless told otherwise (largest H.264)")


class IpCameraIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: str = Field(pattern=CAMERA_ID_PATTERN, max_length=32)
    name: str = NAME
    location: str = NAME
    xaddr: str | None = Field(default=None, max_length=512,
                              description="ONVIF device service URL: the stream URL is asked of the camera")
    urn: str | None = Field(default=None, max_length=256, description="Its WS-Discovery endpoint, from discover")
    profile_token: str | None = Field(default=None, max_length=64, description="Default: the largest H.264 profile")
    rtsp_url: str | None = Field(default=None, max_length=1024,
                                 description="Or the stream URL itself (rtsp:// or rtsps://, no credentials in it)")
    username: str = Field(default="", max_length=128)
    password: str = Field(default="", max_length=256)


class IpCameraPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool | None = None
    rtsp_url: str | None = Field(default=None, max_length=1024)
    username: str | None = Field(default=None, max_length=128, description="With password: replaces the credentials")
    password: str | None = Field(default=None, max_length=256)


class IpCameraOut(BaseModel):
    camera_id: str
    name: str
    location: str
    stream_uri: str = Field(description="RTSP URL, without credentials")
    has_credentials: bool
    source: Literal["onvif", "rtsp"]
    onvif_xaddr: str | None
    onvif_urn: str | None
    profile_token: str | None
    profile: dict[str, str | int | float] | None
    manufacturer: str
    model: str
    enabled: bool
    status: str = Field(description="The camera's registry status: online | offline")
    created_at: datetime
    updated_at: datetime


class IpCameraList(BaseModel):
    items: list[IpCameraOut]
