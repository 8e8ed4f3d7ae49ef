"""The storage figures the recorder's retention pass publishes in ``keys.STORAGE`` (what counts
toward the byte cap, and the disk's free bytes), read the same way by the notifier (disk alert),
the recording watchdog (disk full) and the API (export admission)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis

from vigil_common.contract import keys

# Figures older than this (no retention pass for an hour: the recorder is down) are not used.
FRESH_S = 3600.0


@dataclass(frozen=True, slots=True)
class StorageFigures:
    total: int | None = None  # bytes counted toward VIGIL_RETENTION_MAX_BYTES
    free: int | None = None  # bytes free on the recordings disk


def parse(fields: Mapping[Any, Any], now: float) -> StorageFigures:
    """The figures of an HGETALL of ``keys.STORAGE``; unknown when missing, stale or malformed."""
    try:
        if now - float(fields.get(b"updated_at", b"0")) > FRESH_S:
            return StorageFigures()
        total = int(fields[b"bytes_total"]) if b"bytes_total" in fields else None
        free = int(fields[b"bytes_free"]) if b"bytes_free" in fields else None
    except ValueError:
        return StorageFigures()
    return StorageFigures(total, free)


def read(client: redis.Redis, now: float) -> StorageFigures:
    return parse(client.hgetall(keys.STORAGE), now)
