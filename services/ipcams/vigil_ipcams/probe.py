"""WS-Discovery search for ONVIF cameras: one Probe for ``dn:NetworkVideoTransmitter`` (to the
multicast group and/or by unicast, ``VIGIL_ONVIF_PROBE_TARGETS``), then every ProbeMatch that
answers it within the timeout.

Written on the standard library rather than the ``WSDiscovery`` package (which the tests use as
the camera side): its threaded daemon binds port 3702, never reads the answers to a unicast
probe (they come back to a socket it does not watch) and skips loopback and chosen interfaces,
while a search is one datagram out and the answers in on the same socket.
"""

from __future__ import annotations

import ipaddress
import logging
import select
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from vigil_common.contract.onvif import WS_DISCOVERY_GROUP, WS_DISCOVERY_PORT, ProbeTargets

log = logging.getLogger(__name__)

SOAP_NS = "http://www.w3.org/2003/05/soap-envelope"
WSA_NS = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD_NS = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
ONVIF_NETWORK_NS = "http://www.onvif.org/ver10/network/wsdl"
PROBE_MATCHES_ACTION = WSD_NS + "/ProbeMatches"
MAX_DATAGRAM = 65535
MAX_DEVICES = 256  # a search answers at most this many devices
SCOPE_PREFIX = "onvif://www.onvif.org/"


@dataclass(frozen=True, slots=True)
class Device:
    """One camera that answered: its endpoint (``urn:uuid:...``), ONVIF device service URLs and
    what its scopes say about it."""

    urn: str
    xaddrs: tuple[str, ...]
    address: str  # the IP the answer came from
    name: str = ""
    hardware: str = ""
    location: str = ""
    scopes: tuple[str, ...] = field(default=())


def probe_message(message_id: str) -> bytes:
    """A SOAP 1.2 WS-Discovery Probe for ONVIF video transmitters."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{SOAP_NS}" xmlns:a="{WSA_NS}" xmlns:d="{WSD_NS}" xmlns:dn="{ONVIF_NETWORK_NS}">'
        "<s:Header>"
        f'<a:Action s:mustUnderstand="1">{WSD_NS}/Probe</a:Action>'
        f"<a:MessageID>{message_id}</a:MessageID>"
        f"<a:ReplyTo><a:Address>{WSA_NS}/role/anonymous</a:Address></a:ReplyTo>"
        '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>'
        "</s:Header>"
        "<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body>"
        "</s:Envelope>"
    ).encode()


def _text(el: ET.Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def _scope_value(scopes: list[str], kind: str) -> str:
    for scope in scopes:
        if scope.startswith(SCOPE_PREFIX + kind + "/"):
            return unquote(scope[len(SCOPE_PREFIX) + len(kind) + 1:]).strip()[:128]
    return ""


def _http_xaddr(xaddr: str) -> bool:
    try:
        parts = urlsplit(xaddr)
        port = parts.port
        return (parts.scheme == "http" and bool(parts.hostname) and parts.username is None
                and (port is None or 0 < port < 65536))
    except ValueError:
        return False


def parse_probe_matches(data: bytes, message_id: str, source: str) -> list[Device]:
    """The devices in a ProbeMatches datagram answering ``message_id``; [] for anything else
    (another probe's answer, a Hello, a malformed or hostile datagram)."""
    if len(data) > MAX_DATAGRAM:
        return []
    try:  # UTF-8 only (SOAP over UDP's encoding): no other encoding can hide a declaration
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return []
    if text.startswith("\ufeff"):
        text = text[1:]
    if text.startswith("<?xml"):  # its encoding= no longer applies to the decoded text
        text = text[text.find("?>") + 2:] if "?>" in text else ""
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        return []
    try:
        # No DOCTYPE or entity declarations got here (checked above), and expat fetches nothing.
        root = ET.fromstring(text)  # noqa: S314
    except (ET.ParseError, ValueError, LookupError):
        return []
    header = root.find(f"{{{SOAP_NS}}}Header")
    body = root.find(f"{{{SOAP_NS}}}Body")
    if header is None or body is None:
        return []
    if _text(header.find(f"{{{WSA_NS}}}Action")) != PROBE_MATCHES_ACTION:
        return []
    if _text(header.find(f"{{{WSA_NS}}}RelatesTo")) != message_id:
        return []
    devices = []
    for match in body.iterfind(f"{{{WSD_NS}}}ProbeMatches/{{{WSD_NS}}}ProbeMatch"):
        urn = _text(match.find(f"{{{WSA_NS}}}EndpointReference/{{{WSA_NS}}}Address"))
        xaddrs = tuple(x for x in _text(match.find(f"{{{WSD_NS}}}XAddrs")).split() if _http_xaddr(x))
        if not urn or not xaddrs:
            continue
        scopes = _text(match.find(f"{{{WSD_NS}}}Scopes")).split()
        devices.append(Device(urn=urn[:256], xaddrs=xaddrs[:8], address=source, name=_scope_value(scopes, "name"),
                              hardware=_scope_value(scopes, "hardware"),
                              location=_scope_value(scopes, "location"), scopes=tuple(scopes[:32])))
    return devices


def _merge(found: dict[str, Device], device: Device) -> None:
    known = found.get(device.urn)
    if known is None:
        if len(found) < MAX_DEVICES:
            found[device.urn] = device
        return
    xaddrs = known.xaddrs + tuple(x for x in device.xaddrs if x not in known.xaddrs)
    found[device.urn] = Device(known.urn, xaddrs[:8], known.address, known.name, known.hardware, known.location,
                               known.scopes)


def discover(targets: ProbeTargets, *, timeout_s: float = 3.0, interface: str = "",
             port: int = WS_DISCOVERY_PORT) -> list[Device]:
    """Send one Probe to ``targets`` and gather the answers for ``timeout_s`` seconds.

    ``interface``: the local IPv4 address the probe leaves from (multicast goes out of that
    interface only; empty = the system's choice). Raises OSError when no probe could be sent."""
    message_id = uuid.uuid4().urn
    message = probe_message(message_id)
    found: dict[str, Device] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP) as sock:
        sock.bind((interface or "0.0.0.0", 0))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)  # the local network only
        if interface:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
        sent, failures = 0, 0
        destinations = ([str(WS_DISCOVERY_GROUP)] * 2 if targets.multicast else [])  # sent twice: UDP
        destinations += [str(a) for a in targets.unicast]
        for destination in destinations:
            try:
                sock.sendto(message, (destination, port))
                sent += 1
            except OSError as exc:  # no route to one address: the others may still answer
                failures += 1
                if failures == 1:
                    log.warning("WS-Discovery probe to %s not sent: %s", destination, exc.strerror or exc)
        if not sent:
            raise OSError("no WS-Discovery probe could be sent (no network route to the probe targets)")
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([sock], [], [], left)
            if not readable:
                break
            try:
                data, (source, _port) = sock.recvfrom(MAX_DATAGRAM)
            except OSError:
                continue
            for device in parse_probe_matches(data, message_id, source):
                _merge(found, device)
    log.info("WS-Discovery: %d probe(s) sent, %d device(s) answered", sent, len(found))
    return sorted(found.values(), key=lambda d: (ipaddress.ip_address(d.address), d.urn))
