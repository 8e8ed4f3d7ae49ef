"""Who may publish and subscribe where on the broker: one definition for the shipped mosquitto ACL
(deploy/mosquitto/acl, checked against this by tests/deploy), the embedded mosquitto of
``vigil up`` and the embedded amqtt fallback.

Service accounts (``ingest``, ``recorder``, ``api``, ``notifier``, ``detector``, ``ipcams``) get fixed rules, and so
does the integration account ``homeassistant`` (Home Assistant's own connection: it reads the
topics its entities show, never the frames, and the discovery configs the recorder publishes
under ``{ha}``, the discovery prefix; it sends the command contract to
``<prefix>/cameras/<id>/command`` and its birth message to ``{ha}/status``); every other
account is a camera whose username is its id, confined to ``<prefix>/cameras/<id>/``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vigil_common.contract.ids import require_camera_id

SERVICE_ACCOUNTS = ("ingest", "recorder", "api", "notifier", "detector", "ipcams")
READ, WRITE, READWRITE = "read", "write", "readwrite"


@dataclass(frozen=True, slots=True)
class Rule:
    access: str  # read | write | readwrite
    topic: str  # with {p} for the prefix and, in camera rules, {u} for the username


CAMERA_RULES = (Rule(WRITE, "{p}/cameras/{u}/frame"), Rule(WRITE, "{p}/cameras/{u}/heartbeat"),
                Rule(READWRITE, "{p}/cameras/{u}/status"), Rule(WRITE, "{p}/cameras/{u}/state"),
                Rule(READ, "{p}/cameras/{u}/command"), Rule(WRITE, "{p}/cameras/{u}/motion_score"),
                Rule(READ, "{p}/cameras/{u}/motion_config"))
SERVICE_RULES: dict[str, tuple[Rule, ...]] = {
    "ingest": (Rule(READ, "{p}/cameras/+/frame"), Rule(READ, "{p}/cameras/+/heartbeat"),
               Rule(READ, "{p}/cameras/+/status"), Rule(READ, "{p}/cameras/+/state"),
               Rule(READ, "{p}/cameras/+/motion_score"), Rule(READWRITE, "{p}/services/ingest/#")),
    "recorder": (Rule(WRITE, "{p}/cameras/+/motion"), Rule(WRITE, "{p}/cameras/+/motion_config"),
                 Rule(WRITE, "{p}/cameras/+/snapshot"), Rule(WRITE, "{p}/cameras/+/stats"), Rule(WRITE, "{ha}/#"),
                 Rule(READWRITE, "{p}/services/recorder/#")),
    "api": (Rule(READ, "{p}/cameras/#"), Rule(WRITE, "{p}/cameras/+/command"), Rule(READ, "{p}/services/+/status"),
            Rule(READWRITE, "{p}/services/api/#")),
    "notifier": (Rule(READ, "{p}/cameras/+/heartbeat"), Rule(READ, "{p}/cameras/+/status"),
                 Rule(READ, "{p}/cameras/+/state"), Rule(READ, "{p}/cameras/+/object_event"),
                 Rule(READ, "{p}/cameras/+/motion"),
                 Rule(READ, "{p}/services/+/status"), Rule(READWRITE, "{p}/services/notifier/#")),
    "detector": (Rule(WRITE, "{p}/cameras/+/objects"), Rule(WRITE, "{p}/cameras/+/object_event"),
                 Rule(WRITE, "{p}/cameras/+/closeup"), Rule(READWRITE, "{p}/services/detector/#")),
}
# ipcams runs the capture of each IP camera on the server (vigil_ipcams): a camera's rules, for
# every camera (its processes are the server's own, as trusted as the recorder).
SERVICE_RULES["ipcams"] = (*(Rule(r.access, r.topic.replace("{u}", "+")) for r in CAMERA_RULES),
                           Rule(READWRITE, "{p}/services/ipcams/#"))
INTEGRATION_ACCOUNTS = ("homeassistant",)
INTEGRATION_RULES: dict[str, tuple[Rule, ...]] = {
    # What its entities read (never the frames), the command topic its switch and button write,
    # the discovery configs (read only: Vigil's to change) and its own birth message.
    "homeassistant": (*(Rule(READ, "{p}/cameras/+/" + kind) for kind in
                        ("status", "state", "heartbeat", "motion", "objects", "snapshot", "stats")),
                      Rule(WRITE, "{p}/cameras/+/command"), Rule(READ, "{ha}/#"), Rule(WRITE, "{ha}/status")),
}
FIXED_RULES = {**SERVICE_RULES, **INTEGRATION_RULES}
# Never a camera id (`vigil camera add`, the API's IP cameras): the fixed accounts and two names kept back.
RESERVED_IDS = frozenset({*SERVICE_ACCOUNTS, *INTEGRATION_ACCOUNTS, "admin", "vigil"})


def mosquitto_acl(prefix: str = "vigil", ha_prefix: str = "homeassistant") -> str:
    """The ``acl_file`` lines (``user``/``topic`` blocks, then ``pattern`` lines for cameras)."""
    p, ha = require_camera_id(prefix), require_camera_id(ha_prefix)
    lines: list[str] = []
    for account in (*SERVICE_ACCOUNTS, *INTEGRATION_ACCOUNTS):
        lines.append(f"user {account}")
        lines += [f"topic {r.access} {r.topic.format(p=p, ha=ha)}" for r in FIXED_RULES[account]]
        lines.append("")
    lines += [f"pattern {r.access} {r.topic.format(p=p, u='%u')}" for r in CAMERA_RULES]
    return "\n".join(lines) + "\n"


def amqtt_acls(prefix: str, cameras: Iterable[str], ha_prefix: str = "homeassistant",
               ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(publish ACL, subscribe ACL) for amqtt's TopicAccessControlListPlugin: explicit per user
    (amqtt has no ``%u`` patterns), so every camera account is listed."""
    p, ha = require_camera_id(prefix), require_camera_id(ha_prefix)
    publish: dict[str, list[str]] = {}
    subscribe: dict[str, list[str]] = {}
    rules = {a: [(r.access, r.topic.format(p=p, ha=ha)) for r in FIXED_RULES[a]]
             for a in (*SERVICE_ACCOUNTS, *INTEGRATION_ACCOUNTS)}
    for cam in cameras:
        u = require_camera_id(cam)
        rules[u] = [(r.access, r.topic.format(p=p, u=u)) for r in CAMERA_RULES]
    for user, pairs in rules.items():
        publish[user] = [t for access, t in pairs if access in (WRITE, READWRITE)]
        subscribe[user] = [t for access, t in pairs if access in (READ, READWRITE)]
    return publish, subscribe
