"""vigil_ipcams' pure parts: probe targets, WS-Discovery answers, profile choice, stream URLs,
the capture fleet's plan and the credential seal."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from vigil_ipcams.fleet import plan
from vigil_ipcams.probe import parse_probe_matches, probe_message
from vigil_ipcams.records import RunSpec
from vigil_ipcams.secretbox import Credentials, CredentialsKeyError, SecretBox
from vigil_ipcams.streams import (
    Profile,
    StreamError,
    check_rtsp_url,
    choose_profile,
    has_secret_params,
    masked,
    with_credentials,
    without_credentials,
)

from vigil_common.contract.onvif import parse_probe_targets
from vigil_common.runtime.settings import Settings

MID = "urn:uuid:0f5d5c2e-5a38-4c6e-9f0e-3d3f7a1b2c4d"


def match(relates_to: str = MID, action: str = "http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches",
          xaddrs: str = "http://10.0.0.7/onvif/device_service", extra: str = "") -> bytes:
    return f"""<?xml version="1.0"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"
 xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">
<s:Header><a:Action>{action}</a:Action><a:RelatesTo>{relates_to}</a:RelatesTo></s:Header>
<s:Body><d:ProbeMatches><d:ProbeMatch>
<a:EndpointReference><a:Address>urn:uuid:cam-1</a:Address></a:EndpointReference>
<d:Types>dn:NetworkVideoTransmitter</d:Types>
<d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/Porch%20cam
 onvif://www.onvif.org/hardware/VC-1 onvif://www.onvif.org/location/front</d:Scopes>
<d:XAddrs>{xaddrs}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion>
</d:ProbeMatch>{extra}</d:ProbeMatches></s:Body></s:Envelope>""".encode()


def test_probe_targets_are_the_group_addresses_and_networks() -> None:
    t = parse_probe_targets("239.255.255.250, 192.168.1.0/30,10.0.0.9,10.0.0.9")
    assert t.multicast and t.unicast == tuple(ipaddress.IPv4Address(a) for a in ("192.168.1.1", "192.168.1.2",
                                                                                  "10.0.0.9"))
    assert not parse_probe_targets("10.0.0.9").multicast
    for bad, why in [("10.0.0.0/8", "at most a /22"), ("fe80::1", "only IPv4"), ("239.1.1.1", "only multicast"),
                     ("camera.lan", "not an IPv4"), (" , ", "no probe target")]:
        with pytest.raises(ValueError, match=why):
            parse_probe_targets(bad)
    with pytest.raises(ValueError):
        Settings(onvif_probe_targets="10.0.0.0/8")
    with pytest.raises(ValueError):
        Settings(onvif_probe_interface="eth0")


def test_a_probe_match_gives_the_device_and_its_scopes() -> None:
    assert b"dn:NetworkVideoTransmitter" in probe_message(MID) and MID.encode() in probe_message(MID)
    [d] = parse_probe_matches(match(), MID, "10.0.0.7")
    assert (d.urn, d.xaddrs, d.address) == ("urn:uuid:cam-1", ("http://10.0.0.7/onvif/device_service",), "10.0.0.7")
    assert (d.name, d.hardware, d.location) == ("Porch cam", "VC-1", "front")


@pytest.mark.parametrize("data", [
    match(relates_to="urn:uuid:another-probe"),  # someone else's search
    match(action="http://schemas.xmlsoap.org/ws/2005/04/discovery/Hello"),
    match(xaddrs="ftp://10.0.0.7/x http://user:pw@10.0.0.7/onvif"),  # no usable device address
    b"<not xml",
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY x "yyy">]><a>&x;</a>'.encode("utf-16"),
    b'<?xml version="1.0" encoding="x-foo"?><a/>',  # an encoding nobody knows: not a crash
    match(xaddrs="http://10.0.0.7:99999/onvif https://10.0.0.7/onvif"),  # a port that cannot be; https
    b"",
])
def test_anything_else_is_ignored(data: bytes) -> None:
    assert parse_probe_matches(data, MID, "10.0.0.7") == []


def p(token: str, encoding: str = "H264", w: int = 1920, h: int = 1080, uri: str = "rtsp://cam/main") -> Profile:
    return Profile(token, token, encoding, w, h, 25.0, uri)


def test_the_largest_h264_profile_is_recorded_unless_one_is_named() -> None:
    profiles = [p("sub", w=640, h=360, uri="rtsp://cam/sub"), p("main"), p("hevc", "H265", 3840, 2160),
                p("mjpeg", "JPEG")]
    assert choose_profile(profiles).token == "main"
    assert choose_profile(profiles, "sub").uri == "rtsp://cam/sub"
    with pytest.raises(StreamError, match="H265"):
        choose_profile(profiles, "hevc")
    with pytest.raises(StreamError, match="no profile 'x'"):
        choose_profile(profiles, "x")
    with pytest.raises(StreamError, match=r"no H\.264 stream.*H265"):
        choose_profile([p("hevc", "H265")])
    with pytest.raises(StreamError, match=r"no H\.264"):
        choose_profile([p("main", uri="")])


def test_stream_urls_keep_credentials_apart() -> None:
    assert check_rtsp_url("rtsp://10.0.0.7:554/Streaming/101") == "rtsp://10.0.0.7:554/Streaming/101"
    for bad, why in [("http://cam/x", "rtsp://"), ("rtsp:///x", "no host"), ("rtsp://u:p@cam/x", "own fields"),
                     ("rtsp://cam/a b", "spaces"), ("rtsp://cam:99999/x", "not a valid")]:
        with pytest.raises(StreamError, match=why):
            check_rtsp_url(bad)
    assert without_credentials("rtsp://admin:pw@10.0.0.7/main") == "rtsp://10.0.0.7/main"
    url = with_credentials("rtsp://10.0.0.7:554/main?x=1", "ad@min", "p:w/ord")
    assert url == "rtsp://ad%40min:p%3Aw%2Ford@10.0.0.7:554/main?x=1"
    assert with_credentials("rtsp://10.0.0.7/main", "", "ignored") == "rtsp://10.0.0.7/main"
    inline = "rtsp://10.0.0.7:554/user=admin&password=S3cr&channel=1&stream=0.sdp?real_stream"
    assert has_secret_params(inline) and has_secret_params("rtsp://h/live?pwd=x&ch=1")
    assert not has_secret_params("rtsp://h/Streaming/Channels/101?transportmode=unicast&keyframe=1")
    assert masked(inline) == "rtsp://10.0.0.7:554/user=***&password=***&channel=1&stream=0.sdp?real_stream"


def test_onvif_errors_are_told_apart() -> None:
    from vigil_ipcams.onvif_device import OnvifAddressError, OnvifAuthError, OnvifUnreachable, _explain, device_endpoint
    from zeep.exceptions import TransportError

    assert isinstance(_explain(TransportError("Unauthorized", 401)), OnvifAuthError)
    refused = _explain(ConnectionRefusedError("Cannot connect to host 10.0.0.5:4010"))
    assert isinstance(refused, OnvifUnreachable) and not isinstance(refused, OnvifAuthError)
    assert device_endpoint("http://10.0.0.5/onvif/device_service") == ("10.0.0.5", 80)
    for bad in ("http://[::1", "http://h:99999/x", "ftp://h/x", "http://u:p@h/x", "https://h/onvif", "http://h:0/"):
        with pytest.raises(OnvifAddressError):
            device_endpoint(bad)


def test_a_capture_inherits_no_secret_of_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    from vigil_ipcams.service import CAPTURE_DROPS, capture_spec

    spec = capture_spec(RunSpec("a", "A", "", "rtsp://u:pw@h/s"), Settings(_env_file=None))  # type: ignore[call-arg]
    assert {"VIGIL_CREDENTIALS_KEY", "VIGIL_DATABASE_URL", "VIGIL_REDIS_URL"} <= set(spec.drop_env)
    assert spec.drop_env == CAPTURE_DROPS and "pw" not in repr(spec) and "pw" not in " ".join(spec.argv)
    assert spec.env["VIGIL_SOURCE"] == "rtsp://u:pw@h/s"


def test_the_fleet_starts_stops_and_restarts_what_changed() -> None:
    a, b, c = (RunSpec(x, x, "", f"rtsp://{x}/s") for x in ("a", "b", "c"))
    b2 = RunSpec("b", "b", "", "rtsp://u:new@b/s")  # new credentials
    steps = plan({"a": a, "b": b, "c": c}, {"a": a, "b": b2, "d": RunSpec("d", "d", "", "rtsp://d/s")})
    assert steps.stop == ("b", "c")
    assert [s.camera_id for s in steps.start] == ["b", "d"]
    assert plan({"a": a}, {"a": a}).stop == () and plan({"a": a}, {"a": a}).start == ()
    renamed = RunSpec("a", "Porch", "front", a.url)  # a rename restarts nothing
    assert plan({"a": a}, {"a": renamed}).stop == ()
    assert "new" not in repr(b2)


def test_credentials_are_sealed_and_need_the_same_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    box = SecretBox.from_settings(settings)
    key_file = tmp_path / "secrets" / "credentials.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    sealed = box.seal(Credentials("admin", "s3cret"))
    assert "s3cret" not in sealed and "admin" not in sealed
    assert SecretBox.from_settings(settings).open(sealed) == Credentials("admin", "s3cret")  # the same key file
    assert "s3cret" not in repr(Credentials("admin", "s3cret"))
    other = SecretBox.from_settings(Settings(data_dir=tmp_path / "other"))
    with pytest.raises(CredentialsKeyError, match="type the camera's password again"):
        other.open(sealed)
    with pytest.raises(CredentialsKeyError, match="not a Fernet key"):
        SecretBox.from_settings(Settings(data_dir=tmp_path, credentials_key="short"))
    assert Settings(data_dir=tmp_path, credentials_key=" ").credentials_key is None  # VIGIL_CREDENTIALS_KEY=
    configured = Settings(data_dir=tmp_path, credentials_key=key_file.read_text().strip())
    assert SecretBox.from_settings(configured).open(sealed).password == "s3cret"
