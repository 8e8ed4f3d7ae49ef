"""A fake ONVIF IP camera: WS-Discovery publisher plus a SOAP 1.2 device and media service.

Run with the venv's python inside a private network namespace (see tests/support/onvif_camera.py):
the WSDiscovery library ignores loopback addresses and joins the multicast group on every
non-loopback interface, so in the namespace it answers on the veth only.

    ip netns exec NS python onvif_camera_process.py --host 10.231.0.2 --port 80 --username admin \
        --password secret --stream-uri rtsp://10.231.0.2:554/stream1 --name "Front door" \
        --hardware VGL-1 --location garden [--uuid urn:uuid:...] [--log FILE]

The responses are shaped as the ONVIF WSDL/XSD shipped with onvif-zeep-async define them
(devicemgmt.wsdl, media.wsdl, onvif.xsd). Every operation but GetSystemDateAndTime needs a
WS-Security UsernameToken with a PasswordDigest; a missing or wrong one gets HTTP 400 with a
SOAP 1.2 fault ``env:Sender / ter:NotAuthorized``, as real cameras answer. One line per handled
request goes to ``--log``: ``<service> <operation> auth=<ok|not-required|failed> [reason=...]``
(never the password). Prints ``READY`` once serving and published; SIGTERM stops it cleanly.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import signal
import sys
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit
from xml.sax.saxutils import escape

from wsdiscovery.publishing import ThreadedWSPublishing
from wsdiscovery.qname import QName
from wsdiscovery.scope import Scope
from wsdiscovery.udp import UNICAST_UDP_REPEAT

NS_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
NS_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
NS_TDS = "http://www.onvif.org/ver10/device/wsdl"
NS_TRT = "http://www.onvif.org/ver10/media/wsdl"
NS_TT = "http://www.onvif.org/ver10/schema"
NS_TER = "http://www.onvif.org/ver10/error"
NS_DN = "http://www.onvif.org/ver10/network/wsdl"
DEVICE_PATH = "/onvif/device_service"
MEDIA_PATH = "/onvif/media_service"
CREATED_TOLERANCE = dt.timedelta(minutes=5)
MANUFACTURER = "Vigil Test"
FIRMWARE = "1.0.0-vigil"

# (token, width, height, fps, bitrate kbit/s, H264 profile)
PROFILES = (("main", 1920, 1080, 25, 4096, "Main"), ("sub", 640, 360, 15, 512, "Baseline"))


class Fault(Exception):
    """A SOAP fault to answer with: HTTP status, env code, ter subcodes, reason."""

    def __init__(self, status: int, code: str, subcodes: tuple[str, ...], reason: str, why: str = "") -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        self.subcodes = subcodes
        self.reason = reason
        self.why = why or reason  # for the log only: real cameras do not tell which part was wrong


def not_authorized(reason: str) -> Fault:
    return Fault(400, "env:Sender", ("ter:NotAuthorized",), "Sender not Authorized", why=reason)


def envelope(body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<env:Envelope xmlns:env="{NS_SOAP12}" xmlns:tds="{NS_TDS}" xmlns:trt="{NS_TRT}" '
        f'xmlns:tt="{NS_TT}" xmlns:ter="{NS_TER}"><env:Body>{body}</env:Body></env:Envelope>'
    ).encode()


def fault_body(fault: Fault) -> str:
    code = f"<env:Value>{fault.code}</env:Value>"
    nested = ""
    for subcode in reversed(fault.subcodes):
        nested = f"<env:Subcode><env:Value>{subcode}</env:Value>{nested}</env:Subcode>"
    return (
        f"<env:Fault><env:Code>{code}{nested}</env:Code>"
        f'<env:Reason><env:Text xml:lang="en">{escape(fault.reason)}</env:Text></env:Reason></env:Fault>'
    )


class Camera:
    """The camera's state and its SOAP operations; each returns the response body's XML."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.host: str = args.host
        self.port: int = args.port
        self.username: str = args.username
        self.password: str = args.password
        self.stream_uri: str = args.stream_uri
        self.hardware: str = args.hardware
        self.serial = "VGL" + hashlib.sha1(args.uuid.encode()).hexdigest()[:12].upper()
        self.log_path: Path | None = Path(args.log) if args.log else None
        self._log_lock = threading.Lock()
        self.operations: dict[str, dict[str, Callable[[ET.Element], str]]] = {
            DEVICE_PATH: {
                "GetSystemDateAndTime": self.get_system_date_and_time,
                "GetServices": self.get_services,
                "GetCapabilities": self.get_capabilities,
                "GetDeviceInformation": self.get_device_information,
            },
            MEDIA_PATH: {"GetProfiles": self.get_profiles, "GetStreamUri": self.get_stream_uri},
        }

    def xaddr(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def log(self, line: str) -> None:
        if self.log_path is None:
            return
        with self._log_lock, self.log_path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")

    # -- WS-Security ---------------------------------------------------------------------------

    def check_auth(self, root: ET.Element) -> None:
        """Raise the NotAuthorized fault unless the header has a valid UsernameToken digest."""
        token = root.find(f"{{{NS_SOAP12}}}Header/{{{NS_WSSE}}}Security/{{{NS_WSSE}}}UsernameToken")
        if token is None:
            raise not_authorized("missing UsernameToken")
        username = token.findtext(f"{{{NS_WSSE}}}Username") or ""
        password = token.find(f"{{{NS_WSSE}}}Password")
        nonce = token.findtext(f"{{{NS_WSSE}}}Nonce")
        created = token.findtext(f"{{{NS_WSU}}}Created")
        if password is None or password.get("Type", PASSWORD_DIGEST) != PASSWORD_DIGEST:
            raise not_authorized("no PasswordDigest")
        if nonce is None or created is None:
            raise not_authorized("missing Nonce or Created")
        try:
            when = dt.datetime.fromisoformat(created.strip())
            nonce_bytes = base64.b64decode(nonce.strip(), validate=True)
        except ValueError as exc:
            raise not_authorized(f"malformed token: {exc}") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        if abs(dt.datetime.now(dt.UTC) - when) > CREATED_TOLERANCE:
            raise not_authorized("Created outside +-5 min")
        expected = base64.b64encode(
            hashlib.sha1(nonce_bytes + created.strip().encode() + self.password.encode()).digest()
        ).decode()
        if not hmac.compare_digest(username, self.username):
            raise not_authorized("unknown user")
        if not hmac.compare_digest((password.text or "").strip(), expected):
            raise not_authorized("wrong digest")

    # -- device service ------------------------------------------------------------------------

    def get_system_date_and_time(self, _request: ET.Element) -> str:
        now = dt.datetime.now(dt.UTC)
        stamp = (
            f"<tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute>"
            f"<tt:Second>{now.second}</tt:Second></tt:Time>"
            f"<tt:Date><tt:Year>{now.year}</tt:Year><tt:Month>{now.month}</tt:Month>"
            f"<tt:Day>{now.day}</tt:Day></tt:Date>"
        )
        return (
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
            "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
            "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
            f"<tt:UTCDateTime>{stamp}</tt:UTCDateTime><tt:LocalDateTime>{stamp}</tt:LocalDateTime>"
            "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )

    def get_services(self, _request: ET.Element) -> str:
        services = "".join(
            f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{escape(self.xaddr(path))}</tds:XAddr>"
            f"<tds:Version><tt:Major>{major}</tt:Major><tt:Minor>{minor}</tt:Minor></tds:Version></tds:Service>"
            for ns, path, major, minor in ((NS_TDS, DEVICE_PATH, 2, 40), (NS_TRT, MEDIA_PATH, 2, 40))
        )
        return f"<tds:GetServicesResponse>{services}</tds:GetServicesResponse>"

    def get_capabilities(self, _request: ET.Element) -> str:
        return (
            "<tds:GetCapabilitiesResponse><tds:Capabilities>"
            f"<tt:Device><tt:XAddr>{escape(self.xaddr(DEVICE_PATH))}</tt:XAddr></tt:Device>"
            f"<tt:Media><tt:XAddr>{escape(self.xaddr(MEDIA_PATH))}</tt:XAddr>"
            "<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>"
            "<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>"
            "</tds:Capabilities></tds:GetCapabilitiesResponse>"
        )

    def get_device_information(self, _request: ET.Element) -> str:
        return (
            "<tds:GetDeviceInformationResponse>"
            f"<tds:Manufacturer>{escape(MANUFACTURER)}</tds:Manufacturer><tds:Model>{escape(self.hardware)}</tds:Model>"
            f"<tds:FirmwareVersion>{FIRMWARE}</tds:FirmwareVersion><tds:SerialNumber>{self.serial}</tds:SerialNumber>"
            f"<tds:HardwareId>{escape(self.hardware)}</tds:HardwareId>"
            "</tds:GetDeviceInformationResponse>"
        )

    # -- media service -------------------------------------------------------------------------

    def get_profiles(self, _request: ET.Element) -> str:
        profiles = []
        for token, width, height, fps, bitrate, h264_profile in PROFILES:
            profiles.append(
                f'<trt:Profiles token="{token}" fixed="true"><tt:Name>{token}</tt:Name>'
                '<tt:VideoSourceConfiguration token="vsc"><tt:Name>VideoSource</tt:Name><tt:UseCount>2</tt:UseCount>'
                '<tt:SourceToken>vs0</tt:SourceToken><tt:Bounds x="0" y="0" width="1920" height="1080"/>'
                "</tt:VideoSourceConfiguration>"
                f'<tt:VideoEncoderConfiguration token="vec_{token}"><tt:Name>encoder_{token}</tt:Name>'
                "<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>"
                f"<tt:Resolution><tt:Width>{width}</tt:Width><tt:Height>{height}</tt:Height></tt:Resolution>"
                "<tt:Quality>5</tt:Quality>"
                f"<tt:RateControl><tt:FrameRateLimit>{fps}</tt:FrameRateLimit>"
                f"<tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>{bitrate}</tt:BitrateLimit>"
                "</tt:RateControl>"
                f"<tt:H264><tt:GovLength>{fps * 2}</tt:GovLength><tt:H264Profile>{h264_profile}</tt:H264Profile>"
                "</tt:H264>"
                "<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address>"
                "</tt:Address><tt:Port>0</tt:Port><tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>"
                "<tt:SessionTimeout>PT60S</tt:SessionTimeout>"
                "</tt:VideoEncoderConfiguration></trt:Profiles>"
            )
        return f"<trt:GetProfilesResponse>{''.join(profiles)}</trt:GetProfilesResponse>"

    def stream_uri_for(self, token: str) -> str:
        if token == "main":
            return self.stream_uri
        if token == "sub":
            parts = urlsplit(self.stream_uri)
            return urlunsplit(parts._replace(path=parts.path + "_sub"))
        raise Fault(400, "env:Sender", ("ter:InvalidArgVal", "ter:NoProfile"), f"no profile {token!r}")

    def get_stream_uri(self, request: ET.Element) -> str:
        token = (request.findtext(f"{{{NS_TRT}}}ProfileToken") or "").strip()
        uri = self.stream_uri_for(token)
        return (
            f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{escape(uri)}</tt:Uri>"
            "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
            "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout>"
            "</trt:MediaUri></trt:GetStreamUriResponse>"
        )

    # -- dispatch ------------------------------------------------------------------------------

    def handle(self, path: str, data: bytes) -> tuple[int, bytes]:
        """Answer one SOAP request: (HTTP status, response envelope)."""
        service = "device" if path == DEVICE_PATH else "media"
        operation = "?"
        auth = "not-required"
        try:
            try:
                root = ET.fromstring(data)
            except ET.ParseError as exc:
                raise Fault(400, "env:Sender", ("ter:WellFormed",), f"malformed XML: {exc}") from None
            body = root.find(f"{{{NS_SOAP12}}}Body")
            request = next(iter(body), None) if body is not None else None
            if request is None:
                raise Fault(400, "env:Sender", ("ter:InvalidArgs",), "no operation in the SOAP Body")
            operation = request.tag.rpartition("}")[2]
            if operation != "GetSystemDateAndTime":
                auth = "failed"
                self.check_auth(root)
                auth = "ok"
            handler = self.operations[path].get(operation)
            if handler is None:
                raise Fault(500, "env:Receiver", ("ter:ActionNotSupported",), f"{operation} is not supported")
            response = handler(request)
        except Fault as fault:
            reason = f" reason={fault.why}" if auth == "failed" else f" fault={','.join(fault.subcodes)}"
            self.log(f"{service} {operation} auth={auth}{reason}")
            return fault.status, envelope(fault_body(fault))
        self.log(f"{service} {operation} auth={auth}")
        return 200, envelope(response)


def make_handler(camera: Camera) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "VigilFakeOnvif/1.0"

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length)
            if path not in camera.operations:
                self._reply(404, b"not found", "text/plain")
                return
            status, payload = camera.handle(path, data)
            self._reply(status, payload, "application/soap+xml; charset=utf-8")

        def _reply(self, status: int, payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the request log is camera.log's."""

    return Handler


class Publisher(ThreadedWSPublishing):
    """ThreadedWSPublishing that sends a unicast reply only on the thread of the peer's family.

    Upstream queues every unicast message (a ProbeMatch) on the IPv4 *and* the IPv6 thread; the
    IPv6 socket's sendto() to an IPv4 prober raises gaierror, which kills that thread.
    """

    def sendUnicastMessage(  # the library's camelCase name
        self, env: Any, host: str, port: int, initialDelay: int = 0, unicast_num: int = UNICAST_UDP_REPEAT
    ) -> None:
        version = ipaddress.ip_address(host).version
        thread = self._networkingThread_v4 if version == 4 else self._networkingThread_v6
        if thread is not None:
            thread.addUnicastMessage(env, host, port, initialDelay, unicast_num)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--stream-uri", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--hardware", required=True)
    parser.add_argument("--location", required=True)
    parser.add_argument("--uuid", default=uuid.uuid4().urn)
    parser.add_argument("--log")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    camera = Camera(args)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(camera))
    server.daemon_threads = True
    serving = threading.Thread(target=server.serve_forever, name="onvif-http", daemon=True)
    serving.start()

    publisher = Publisher(uuid_=args.uuid)
    publisher.start()
    publisher.publishService(
        types=[QName(NS_DN, "NetworkVideoTransmitter", "dn"), QName(NS_TDS, "Device", "tds")],
        scopes=[
            Scope("onvif://www.onvif.org/type/video_encoder"),
            Scope(f"onvif://www.onvif.org/name/{quote(args.name, safe='')}"),
            Scope(f"onvif://www.onvif.org/hardware/{quote(args.hardware, safe='')}"),
            Scope(f"onvif://www.onvif.org/location/{quote(args.location, safe='')}"),
        ],
        xAddrs=[camera.xaddr(DEVICE_PATH)],
    )

    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print("READY", flush=True)
    stop.wait()

    server.shutdown()
    server.server_close()
    publisher.clearLocalServices()  # Bye; ThreadedNetworking.stop() does not call Publishing.stop()
    publisher.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
