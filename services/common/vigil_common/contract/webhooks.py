"""Event webhooks (docs/integrations.md#webhooks): what the notifier POSTs to
``VIGIL_EVENT_WEBHOOK_URLS`` and how a receiver checks it came from Vigil.

Body (JSON): ``{"event_id", "event", "camera_id", "at", "data"}``. Headers: ``X-Vigil-Event``,
``X-Vigil-Event-Id``, ``X-Vigil-Delivery`` (the delivery's id in ``GET /api/v1/webhooks/deliveries``),
``X-Vigil-Timestamp`` (Unix seconds) and ``X-Vigil-Signature: sha256=<hex>``, the HMAC-SHA256
with ``VIGIL_EVENT_WEBHOOK_SECRET`` of ``<timestamp>.<body>``. A receiver recomputes it,
compares in constant time and refuses old timestamps (replays); ``event_id`` is the same on every
retry of one event, so a receiver can drop repeats.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

SIGNATURE_HEADER = "X-Vigil-Signature"
TIMESTAMP_HEADER = "X-Vigil-Timestamp"
EVENT_HEADER = "X-Vigil-Event"
EVENT_ID_HEADER = "X-Vigil-Event-Id"
DELIVERY_HEADER = "X-Vigil-Delivery"

# Besides every e-mail's kind (camera_offline, camera_online, recording_stalled, ...).
MOTION_START, MOTION_END = "motion_start", "motion_end"
OBJECT_START, OBJECT_END = "object_start", "object_end"


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Vigil-Signature`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, b"%d." % timestamp + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: bytes, timestamp: int, body: bytes, header: str, *, now: float, max_age_s: float = 300) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    if abs(now - timestamp) > max_age_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body).encode(), header.encode())


def shown_url(url: str) -> str:
    """A webhook URL as logs and the API show it: scheme, host, port and path (its credentials
    and query may hold a secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
