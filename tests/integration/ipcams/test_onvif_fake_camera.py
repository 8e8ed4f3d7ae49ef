"""The fake ONVIF camera fixture (tests/support/onvif_camera.py) against real protocol peers:
a hand-written multicast WS-Discovery Probe, onvif-zeep-async's ONVIFCamera, and the ONVIF
XSD (its responses must validate, or they would drift from what real cameras send)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import os
import socket
import time
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.onvif_camera import FakeOnvifCamera, fake_onvif_camera  # noqa: F401

pytestmark = pytest.mark.integration

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "d": "http://schemas.xmlsoap.org/ws/2005/04/discovery",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "ter": "http://www.onvif.org/ver10/error",
}
STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
CameraFactory = Callable[..., FakeOnvifCamera]


# -- (i) WS-Discovery -----------------------------------------------------------------------------


def probe(local_address: str, timeout: float = 4.0) -> tuple[str, list[bytes]]:
    """Multicast a minimal ONVIF Probe from ``local_address``; (its MessageID, replies within ``timeout``)."""
    message_id = uuid.uuid4().urn
    envelope = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:d="{NS["d"]}"'
        ' xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
        "<s:Header>"
        "<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>"
        f"<a:MessageID>{message_id}</a:MessageID>"
        "<a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>"
        "</s:Header>"
        "<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body>"
        "</s:Envelope>"
    )
    replies: list[bytes] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((local_address, 0))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(local_address))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.sendto(envelope.encode(), ("239.255.255.250", 3702))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data, _addr = sock.recvfrom(65535)
            except TimeoutError:
                break
            replies.append(data)
            if message_id.encode() in data:
                break
    return message_id, replies


def test_multicast_probe_gets_probe_match(fake_onvif_camera: CameraFactory) -> None:  # noqa: F811
    cam = fake_onvif_camera(name="Front door", hardware="VGL-FD1", location="garden")
    message_id, replies = probe(cam.local_address)
    matches = [ET.fromstring(r) for r in replies if message_id.encode() in r]
    assert matches, f"no ProbeMatch for {message_id}; got {replies!r}"
    reply = matches[0]
    assert reply.findtext("s:Header/a:RelatesTo", namespaces=NS).strip() == message_id  # type: ignore[union-attr]
    match = reply.find("s:Body/d:ProbeMatches/d:ProbeMatch", namespaces=NS)
    assert match is not None
    assert match.findtext("a:EndpointReference/a:Address", namespaces=NS).strip() == cam.urn  # type: ignore[union-attr]
    assert (match.findtext("d:XAddrs", namespaces=NS) or "").split() == [cam.xaddr]
    scopes = (match.findtext("d:Scopes", namespaces=NS) or "").split()
    assert "onvif://www.onvif.org/name/Front%20door" in scopes
    assert "onvif://www.onvif.org/type/video_encoder" in scopes
    assert "onvif://www.onvif.org/hardware/VGL-FD1" in scopes
    assert "onvif://www.onvif.org/location/garden" in scopes
    types = (match.findtext("d:Types", namespaces=NS) or "").split()
    assert len(types) == 2 and types[0].endswith(":NetworkVideoTransmitter") and types[1].endswith(":Device")


# -- (ii, iii) onvif-zeep-async ---------------------------------------------------------------------


def test_onvif_client_reads_profiles_stream_uri_and_device_info(fake_onvif_camera: CameraFactory) -> None:  # noqa: F811
    from onvif import ONVIFCamera

    cam = fake_onvif_camera(stream_uri="rtsp://10.231.9.9:554/live/ch0", hardware="VGL-X")

    async def scenario() -> dict[str, Any]:
        client = ONVIFCamera(cam.host, cam.port, cam.username, cam.password, no_cache=True)
        try:
            await client.update_xaddrs()
            devicemgmt = await client.create_devicemgmt_service()
            info = await devicemgmt.GetDeviceInformation()
            media = await client.create_media_service()
            profiles = await media.GetProfiles()
            main = await media.GetStreamUri({"StreamSetup": STREAM_SETUP, "ProfileToken": "main"})
            sub = await media.GetStreamUri({"StreamSetup": STREAM_SETUP, "ProfileToken": "sub"})
            return {"xaddrs": dict(client.xaddrs), "info": info, "profiles": profiles, "main": main, "sub": sub}
        finally:
            await client.close()

    got = asyncio.run(scenario())
    assert got["xaddrs"][NS["trt"]] == f"http://{cam.host}:{cam.port}/onvif/media_service"
    resolutions = {
        p.token: (
            p.VideoEncoderConfiguration.Encoding,
            p.VideoEncoderConfiguration.Resolution.Width,
            p.VideoEncoderConfiguration.Resolution.Height,
            p.VideoEncoderConfiguration.RateControl.FrameRateLimit,
        )
        for p in got["profiles"]
    }
    assert resolutions == {"main": ("H264", 1920, 1080, 25), "sub": ("H264", 640, 360, 15)}
    assert got["main"].Uri == "rtsp://10.231.9.9:554/live/ch0"
    assert got["sub"].Uri == "rtsp://10.231.9.9:554/live/ch0_sub"
    info = got["info"]
    assert (info.Manufacturer, info.Model, info.HardwareId) == ("Vigil Test", "VGL-X", "VGL-X")
    assert info.FirmwareVersion and info.SerialNumber
    log = cam.requests()
    # update_xaddrs() asks GetServices first and only falls back to GetCapabilities without it
    assert log == [
        "device GetServices auth=ok",
        "device GetDeviceInformation auth=ok",
        "media GetProfiles auth=ok",
        "media GetStreamUri auth=ok",
        "media GetStreamUri auth=ok",
    ]
    assert not any(cam.password in line for line in log)


def test_onvif_client_with_wrong_password_is_refused(fake_onvif_camera: CameraFactory) -> None:  # noqa: F811
    from onvif import ONVIFCamera
    from zeep.exceptions import Fault

    cam = fake_onvif_camera()

    async def scenario() -> None:
        client = ONVIFCamera(cam.host, cam.port, cam.username, cam.password + "-wrong", no_cache=True)
        try:
            await client.update_xaddrs()
        finally:
            await client.close()

    with pytest.raises(Fault) as caught:
        asyncio.run(scenario())
    # GetServices' fault is swallowed by update_xaddrs(), which then tries GetCapabilities and raises
    assert caught.value.code == "env:Sender"
    assert [q.localname for q in caught.value.subcodes] == ["NotAuthorized"]
    assert caught.value.subcodes[0].namespace == NS["ter"]
    assert "not Authorized" in str(caught.value.message)
    log = cam.requests()
    assert [line.split(" reason=")[0] for line in log] == [
        "device GetServices auth=failed",
        "device GetCapabilities auth=failed",
    ]
    assert all("reason=" in line for line in log)


def test_unknown_profile_token_is_a_no_profile_fault(fake_onvif_camera: CameraFactory) -> None:  # noqa: F811
    from onvif import ONVIFCamera
    from zeep.exceptions import Fault

    cam = fake_onvif_camera()

    async def scenario() -> None:
        client = ONVIFCamera(cam.host, cam.port, cam.username, cam.password, no_cache=True)
        try:
            await client.update_xaddrs()
            media = await client.create_media_service()
            await media.GetStreamUri({"StreamSetup": STREAM_SETUP, "ProfileToken": "nope"})
        finally:
            await client.close()

    with pytest.raises(Fault) as caught:
        asyncio.run(scenario())
    assert [q.localname for q in caught.value.subcodes] == ["InvalidArgVal", "NoProfile"]
    assert cam.requests()[-1] == "media GetStreamUri auth=ok fault=ter:InvalidArgVal,ter:NoProfile"


# -- (iv) the responses against the ONVIF XSD -------------------------------------------------------


def soap_call(cam: FakeOnvifCamera, path: str, body: str, password: str | None = None) -> tuple[int, ET.Element]:
    """POST a SOAP 1.2 request with a UsernameToken digest (computed here, independently of zeep)."""
    nonce = os.urandom(16)
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    digest = hashlib.sha1(nonce + created.encode() + (password or cam.password).encode()).digest()
    wsse = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    wsu = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
    profile = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    envelope = (
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:tds="{NS["tds"]}" xmlns:trt="{NS["trt"]}" xmlns:tt="{NS["tt"]}">'
        f'<s:Header><wsse:Security xmlns:wsse="{wsse}" xmlns:wsu="{wsu}"><wsse:UsernameToken>'
        f"<wsse:Username>{cam.username}</wsse:Username>"
        f'<wsse:Password Type="{profile}#PasswordDigest">{base64.b64encode(digest).decode()}</wsse:Password>'
        f'<wsse:Nonce EncodingType="{profile}#Base64Binary">{base64.b64encode(nonce).decode()}</wsse:Nonce>'
        f"<wsu:Created>{created}</wsu:Created>"
        f"</wsse:UsernameToken></wsse:Security></s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )
    request = urllib.request.Request(
        f"http://{cam.host}:{cam.port}{path}",
        data=envelope.encode(),
        headers={"Content-Type": "application/soap+xml; charset=utf-8"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, ET.fromstring(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, ET.fromstring(exc.read())


def onvif_schema(tmp_path: Path) -> Any:
    """One lxml XMLSchema of the device and media WSDLs' embedded schemas (which import onvif.xsd)."""
    import onvif
    from lxml import etree

    wsdl_dir = Path(onvif.__file__).with_name("wsdl")
    xs = "http://www.w3.org/2001/XMLSchema"
    imports = []
    for wsdl in ("devicemgmt.wsdl", "media.wsdl"):
        schema = etree.parse(str(wsdl_dir / wsdl)).find(f".//{{{xs}}}schema")
        assert schema is not None
        for imp in schema.iter(f"{{{xs}}}import"):
            imp.set("schemaLocation", (wsdl_dir / imp.get("schemaLocation", "")).resolve().as_uri())
        out = tmp_path / f"{wsdl}.xsd"
        out.write_bytes(etree.tostring(schema))
        imports.append(f'<xs:import namespace="{schema.get("targetNamespace")}" schemaLocation="{out.as_uri()}"/>')
    wrapper = f'<xs:schema xmlns:xs="{xs}" targetNamespace="urn:vigil:test:onvif">{"".join(imports)}</xs:schema>'
    return etree.XMLSchema(etree.fromstring(wrapper.encode()))


def test_responses_validate_against_the_onvif_schema(fake_onvif_camera: CameraFactory, tmp_path: Path) -> None:  # noqa: F811
    from lxml import etree

    cam = fake_onvif_camera()
    schema = onvif_schema(tmp_path)
    calls = [
        ("/onvif/device_service", "<tds:GetSystemDateAndTime/>", "tds:GetSystemDateAndTimeResponse"),
        ("/onvif/device_service", "<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability>"
                                  "</tds:GetServices>", "tds:GetServicesResponse"),
        ("/onvif/device_service", "<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>",
         "tds:GetCapabilitiesResponse"),
        ("/onvif/device_service", "<tds:GetDeviceInformation/>", "tds:GetDeviceInformationResponse"),
        ("/onvif/media_service", "<trt:GetProfiles/>", "trt:GetProfilesResponse"),
        ("/onvif/media_service", "<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>"
                                 "<tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>"
                                 "<trt:ProfileToken>sub</trt:ProfileToken></trt:GetStreamUri>",
         "trt:GetStreamUriResponse"),
    ]  # fmt: skip
    for path, body, response_name in calls:
        status, envelope = soap_call(cam, path, body)
        assert status == 200, ET.tostring(envelope)
        response = envelope.find(f"s:Body/{response_name}", namespaces=NS)
        assert response is not None, ET.tostring(envelope)
        element = etree.fromstring(ET.tostring(response))
        assert schema.validate(element), f"{response_name}: {schema.error_log}"
    # a digest made with another password: HTTP 400 and the fault real cameras send
    status, envelope = soap_call(cam, "/onvif/device_service", "<tds:GetDeviceInformation/>", password="nope")
    assert status == 400
    code = envelope.find("s:Body/s:Fault/s:Code", namespaces=NS)
    assert code is not None
    assert code.findtext("s:Value", namespaces=NS) == "env:Sender"
    assert code.findtext("s:Subcode/s:Value", namespaces=NS) == "ter:NotAuthorized"
    assert cam.requests()[-1].startswith("device GetDeviceInformation auth=failed reason=")
    assert cam.requests()[0] == "device GetSystemDateAndTime auth=not-required"
