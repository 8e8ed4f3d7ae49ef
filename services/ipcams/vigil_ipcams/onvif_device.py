"""Ask an ONVIF camera for its streams: ``GetDeviceInformation``, ``GetProfiles`` and
``GetStreamUri`` of each profile, with the user's credentials (WS-Security UsernameToken digest),
through ``onvif-zeep-async``.

Errors come back as :class:`OnvifError` subclasses whose message says what to do, never with the
password or the library's whole message (which may repeat URLs)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from vigil_ipcams.streams import Profile, without_credentials

log = logging.getLogger(__name__)

STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
MAX_PROFILES = 16


class OnvifError(Exception):
    """The camera did not give its streams (the message is for the user)."""


class OnvifAuthError(OnvifError):
    pass


class OnvifUnreachable(OnvifError):
    pass


class OnvifAddressError(OnvifError):
    """The device address itself is unusable (the caller's input, not the camera's answer)."""


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    xaddr: str
    manufacturer: str
    model: str
    firmware: str
    serial: str
    profiles: tuple[Profile, ...]


def device_endpoint(xaddr: str) -> tuple[str, int]:
    """(host, port) of an ONVIF device service URL ``http://host[:port]/onvif/device_service``."""
    try:
        parts = urlsplit(xaddr)
        port = parts.port
    except ValueError:
        raise OnvifAddressError("not a valid ONVIF device address") from None
    if parts.scheme != "http" or not parts.hostname:
        # onvif-zeep-async speaks to http://host:port/onvif/device_service only
        raise OnvifAddressError("the ONVIF device address must be an http:// URL (as WS-Discovery gives it)")
    if parts.username is not None:
        raise OnvifAddressError("give the user name and password in their own fields, not in the URL")
    if port == 0:
        raise OnvifAddressError("the ONVIF device address has port 0")
    return parts.hostname, port or 80


def _str(value: object, limit: int = 128) -> str:
    return str(value if value is not None else "").strip()[:limit]


def _profile(raw: object, uri: str) -> Profile:
    encoder = getattr(raw, "VideoEncoderConfiguration", None)
    resolution = getattr(encoder, "Resolution", None)
    rate = getattr(encoder, "RateControl", None)
    return Profile(
        token=_str(getattr(raw, "token", ""), 64), name=_str(getattr(raw, "Name", "")),
        encoding=_str(getattr(encoder, "Encoding", ""), 16),
        width=int(getattr(resolution, "Width", 0) or 0), height=int(getattr(resolution, "Height", 0) or 0),
        fps=float(getattr(rate, "FrameRateLimit", 0) or 0), uri=uri)


async def _lookup(xaddr: str, username: str, password: str) -> DeviceInfo:
    from onvif import ONVIFCamera

    host, port = device_endpoint(xaddr)
    camera = ONVIFCamera(host, port, username or None, password or None, no_cache=True, adjust_time=True)
    try:
        await camera.update_xaddrs()
        device = await camera.create_devicemgmt_service()
        info = await device.GetDeviceInformation()
        media = await camera.create_media_service()
        profiles = []
        for raw in list(await media.GetProfiles() or [])[:MAX_PROFILES]:
            uri = ""
            encoder = getattr(raw, "VideoEncoderConfiguration", None)
            if encoder is not None:
                answer = await media.GetStreamUri({"StreamSetup": STREAM_SETUP, "ProfileToken": raw.token})
                try:
                    uri = without_credentials(_str(getattr(answer, "Uri", ""), 1024))
                except ValueError:  # a malformed URL: this profile has none
                    uri = ""
            profiles.append(_profile(raw, uri))
        return DeviceInfo(xaddr=xaddr, manufacturer=_str(getattr(info, "Manufacturer", "")),
                          model=_str(getattr(info, "Model", "")), firmware=_str(getattr(info, "FirmwareVersion", "")),
                          serial=_str(getattr(info, "SerialNumber", "")), profiles=tuple(profiles))
    finally:
        await camera.close()


def _explain(exc: BaseException) -> OnvifError:
    from onvif.exceptions import ONVIFAuthError, ONVIFError, ONVIFTimeoutError
    from zeep.exceptions import Fault, TransportError

    text = str(exc)
    if isinstance(exc, ONVIFAuthError) or (isinstance(exc, TransportError) and exc.status_code == 401):
        return OnvifAuthError("the camera refused the user name or password")
    if isinstance(exc, ONVIFTimeoutError | asyncio.TimeoutError | TimeoutError):
        return OnvifUnreachable("the camera did not answer in time")
    if isinstance(exc, ConnectionError | OSError) or "Cannot connect" in text or "Connect call failed" in text:
        return OnvifUnreachable("cannot connect to the camera's ONVIF service (is the address right, is it on?)")
    if isinstance(exc, Fault):
        # ONVIF's answer to bad credentials: a fault with subcode ter:NotAuthorized (lxml QNames).
        codes = [getattr(q, "localname", str(q)) for q in (getattr(exc, "subcodes", None) or [])]
        if any(c.endswith("NotAuthorized") for c in codes) or "not authorized" in text.lower():
            return OnvifAuthError("the camera refused the user name or password")
        detail = f" ({_str(exc.message, 120)})" if exc.message else ""
        return OnvifError("the camera answered with a SOAP fault" + detail)
    if isinstance(exc, TransportError):
        return OnvifError(f"the camera's ONVIF service answered HTTP {exc.status_code}")
    if isinstance(exc, ONVIFError):
        return OnvifError("the camera's ONVIF service did not answer as ONVIF does")
    return OnvifError(f"the camera's answer could not be read ({type(exc).__name__})")


async def lookup(xaddr: str, username: str, password: str, *, timeout_s: float = 15.0) -> DeviceInfo:
    """The device's identity and profiles (each with its RTSP URL). Raises :class:`OnvifError`."""
    device_endpoint(xaddr)
    try:
        return await asyncio.wait_for(_lookup(xaddr, username, password), timeout_s)
    except OnvifError:
        raise
    except Exception as exc:  # noqa: BLE001 - the library and its transports raise many kinds: say which
        explained = _explain(exc)
        log.info("ONVIF lookup of %s failed: %s (%s)", without_credentials(xaddr), explained, type(exc).__name__)
        raise explained from None


def lookup_sync(xaddr: str, username: str, password: str, *, timeout_s: float = 15.0) -> DeviceInfo:
    """:func:`lookup` from synchronous code (the CLI, a worker thread)."""
    return asyncio.run(lookup(xaddr, username, password, timeout_s=timeout_s))
