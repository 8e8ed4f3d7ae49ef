"""Where the ONVIF camera search looks (``VIGIL_ONVIF_PROBE_TARGETS``): parsed in one place for
the settings check, ``vigil camera discover`` and the API's "Find cameras".

WS-Discovery (the ONVIF discovery protocol) is SOAP over UDP port 3702; a Probe goes to the
multicast group 239.255.255.250 or, where multicast cannot go (a container on a bridge network),
to each address of a network by unicast.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

WS_DISCOVERY_PORT = 3702
WS_DISCOVERY_GROUP = ipaddress.IPv4Address("239.255.255.250")
MAX_UNICAST_TARGETS = 1024  # a /22: more would take seconds of probes and answers


@dataclass(frozen=True, slots=True)
class ProbeTargets:
    multicast: bool  # send to the WS-Discovery group
    unicast: tuple[ipaddress.IPv4Address, ...]  # and to each of these addresses


def parse_probe_targets(text: str) -> ProbeTargets:
    """``"239.255.255.250, 192.168.1.0/24, 10.0.0.7"`` -> the group and 255 unicast addresses.

    Raises ValueError naming the entry that is not an IPv4 address or network, an IPv6 entry,
    another multicast group, or more than :data:`MAX_UNICAST_TARGETS` addresses in all."""
    multicast = False
    unicast: dict[ipaddress.IPv4Address, None] = {}
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"{entry!r} is not an IPv4 address or network (e.g. 192.168.1.0/24)") from None
        if not isinstance(network, ipaddress.IPv4Network):
            raise ValueError(f"{entry!r}: only IPv4 is searched")
        if network.is_multicast:
            if network.num_addresses != 1 or network.network_address != WS_DISCOVERY_GROUP:
                raise ValueError(f"{entry!r}: the only multicast target is the WS-Discovery group {WS_DISCOVERY_GROUP}")
            multicast = True
            continue
        # Counted before anything is listed: a /8 would be 16 million addresses. hosts() leaves
        # out the network and broadcast addresses below a /31.
        count = network.num_addresses if network.prefixlen >= 31 else network.num_addresses - 2
        if len(unicast) + count > MAX_UNICAST_TARGETS:
            raise ValueError(f"{entry!r}: more than {MAX_UNICAST_TARGETS} addresses to probe (at most a /22)")
        unicast.update(dict.fromkeys([network.network_address] if count == 1 else network.hosts()))
    if not multicast and not unicast:
        raise ValueError("no probe target (the default is the WS-Discovery group 239.255.255.250)")
    return ProbeTargets(multicast, tuple(unicast))
