"""Reclaiming disk space: carry out planned deletions, and free space before a write.

:func:`ensure_space` runs before every segment write (so the disk reaching the free-space
floor makes room *before* a write fails); the retention duty (:mod:`vigil_recorder.retention`)
uses the same :func:`pressure_pass` for its byte cap and floor. The decisions are
:mod:`vigil_recorder.storage.plan` (pure), the reads :mod:`vigil_recorder.storage.query`,
the crash-safe deletions :mod:`vigil_recorder.storage.delete`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import redis
from redis.exceptions import LockError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.db import retention_settings as retention_overrides
from vigil_common.runtime.counters import sample_name
from vigil_common.runtime.settings import Settings
from vigil_recorder.storage import disk
from vigil_recorder.storage import query as rq
from vigil_recorder.storage.delete import Removed, delete_day_videos, delete_segments, delete_snapshots, storage_lock
from vigil_recorder.storage.figures import first_line, human, publish_counts, write_storage
from vigil_recorder.storage.plan import (
    DAY_VIDEO,
    SEGMENT,
    SNAPSHOT,
    Deletion,
    Policy,
    policy_from,
    pressure_deletions,
    summarize,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Tally:
    """What a pass (or an emergency free-up) deleted."""

    by: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)  # (kind, reason) -> (n, bytes)
    removed: Removed = field(default_factory=Removed)
    finished: int = 0  # marked rows of an earlier, interrupted pass

    def add(self, deletions: Sequence[Deletion], removed: Removed) -> None:
        for k, (n, b) in summarize(deletions).items():
            n0, b0 = self.by.get(k, (0, 0))
            self.by[k] = (n0 + n, b0 + b)
        self.removed.add(removed)

    def note(self, kind: str, reason: str, n: int, size: int) -> None:
        """Deletions done outside :func:`execute` (exports)."""
        n0, b0 = self.by.get((kind, reason), (0, 0))
        self.by[(kind, reason)] = (n0 + n, b0 + size)

    @property
    def count(self) -> int:
        return sum(n for n, _ in self.by.values())

    @property
    def bytes(self) -> int:
        return sum(b for _, b in self.by.values())

    def describe(self) -> str:
        return "; ".join(f"{kind} by {why}: {n} / {human(b)}" for (kind, why), (n, b) in sorted(self.by.items()))

    def metric_deltas(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (kind, why), (n, b) in self.by.items():
            out[sample_name("vigil_recorder_retention_deleted_total", kind=kind, reason=why)] = n
            out[sample_name("vigil_recorder_retention_freed_bytes_total", kind=kind, reason=why)] = b
        return out


def _ids(deletions: Sequence[Deletion], kind: str) -> list[int]:
    return [d.item.key for d in deletions if d.item.kind == kind and isinstance(d.item.key, int)]


def execute(settings: Settings, sessions: sessionmaker[Session], deletions: Sequence[Deletion], tally: Tally) -> None:
    """Carry out planned deletions, kind by kind (segments crash-safely)."""
    if not deletions:
        return
    removed = Removed()
    removed.add(delete_segments(settings.data_dir, sessions, _ids(deletions, SEGMENT)))
    removed.add(delete_snapshots(settings.data_dir, sessions, _ids(deletions, SNAPSHOT)))
    days = [d.item.key for d in deletions if d.item.kind == DAY_VIDEO and isinstance(d.item.key, tuple)]
    removed.add(delete_day_videos(settings.data_dir, sessions, days))
    tally.add(deletions, removed)


def pressure_needed(policy: Policy, total: int, free: int | None, needed: int = 0) -> bool:
    if policy.max_bytes is not None and total > policy.max_bytes:
        return True
    floor = (policy.min_free_bytes or 0) + needed
    return free is not None and floor > 0 and free < floor


def pressure_pass(settings: Settings, sessions: sessionmaker[Session], policy: Policy, now: datetime,
                  total: int, free: int | None, tally: Tally, needed: int = 0) -> None:
    """Rules 2 and 3: delete oldest first, only as much as needed."""
    if not pressure_needed(policy, total, free, needed):
        return
    with sessions() as s:
        deletions = pressure_deletions(rq.oldest_first(s, policy, now, settings.tz), policy, now,
                                       total_bytes=total, free_bytes=free, needed_bytes=needed)
    execute(settings, sessions, deletions, tally)


def with_overrides(settings: Settings, sessions: sessionmaker[Session]) -> Settings:
    """``settings`` with the runtime retention settings of ``app_settings`` (changed through the
    API) applied; the configured values when the index cannot be read."""
    try:
        with sessions() as s:
            return retention_overrides.effective(settings, s)
    except SQLAlchemyError as exc:
        log.warning("cannot read runtime retention settings (%s); using the configured ones", first_line(exc))
        return settings


# ensure_space runs before every segment write: it reads the runtime overrides at most this often.
OVERRIDES_MAX_AGE_S = 30.0


_overrides_cache: dict[tuple[object, ...], tuple[float, Settings]] = {}


def _recent_overrides(settings: Settings, sessions: sessionmaker[Session]) -> Settings:
    key = (id(sessions), settings.data_dir, settings.retention_days, settings.retention_max_bytes,
           settings.min_free_bytes)
    hit = _overrides_cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < OVERRIDES_MAX_AGE_S:
        return hit[1]
    out = with_overrides(settings, sessions)
    _overrides_cache.clear()  # one configuration per process: keep the cache at one entry
    _overrides_cache[key] = (now, out)
    return out


def free_or_none(free: disk.FreeBytes, settings: Settings) -> int | None:
    try:
        return free(settings.data_dir)
    except OSError as exc:
        log.warning("cannot read free space of %s: %s", settings.data_dir, exc)
        return None


def ensure_space(settings: Settings, sessions: sessionmaker[Session], client: redis.Redis, needed_bytes: int, *,
                 free: disk.FreeBytes = disk.free_bytes, now: datetime | None = None) -> int:
    """Before writing ``needed_bytes``: if that would leave less than ``VIGIL_MIN_FREE_BYTES``
    free (or not fit at all), delete the oldest footage (motion last) until it fits.

    Cheap when there is room (one ``statvfs``). Never raises: if the index or Redis is away
    the write goes ahead (and fails on a full disk, to be retried). Returns bytes freed.
    """
    settings = _recent_overrides(settings, sessions)
    floor = settings.min_free_bytes or 0
    have = free_or_none(free, settings)
    if have is None or have >= floor + needed_bytes:
        return 0
    now = now or datetime.now(UTC)
    policy = replace(policy_from(settings), max_bytes=None)
    tally = Tally()
    try:
        with storage_lock(client, blocking_timeout_s=10.0):
            have = free_or_none(free, settings)  # another process may have freed it meanwhile
            if have is None or have >= floor + needed_bytes:
                return 0
            pressure_pass(settings, sessions, policy, now, 0, have, tally, needed=needed_bytes)
    except (SQLAlchemyError, redis.RedisError, LockError, OSError) as exc:
        log.warning("could not free disk space before writing (%s); writing anyway", exc)
        return 0
    after = free_or_none(free, settings)
    if tally.count:
        log.warning("disk low (free %s, floor %s, writing %s): freed %s in %d items (%s)", human(have), human(floor),
                    human(needed_bytes), human(tally.bytes), tally.count, tally.describe())
    else:
        log.error("disk low (free %s, floor %s) and nothing left that retention may delete", human(have), human(floor))
    publish_counts(client, tally.metric_deltas())
    if after is not None:
        write_storage(client, {"bytes_free": after})
    return tally.bytes
