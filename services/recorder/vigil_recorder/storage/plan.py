"""Retention decisions as pure functions: which stored items to delete, oldest first, and why.

No I/O here: :mod:`vigil_recorder.retention.duty` loads the index, calls these, and deletes.

Rules, applied in this order:

1. **age** — an item that ended before ``now - retention_days`` goes, unless it is a segment
   that overlaps a motion event (widened by the pre/post-roll) and ended after
   ``now - retention_motion_days``, or overlaps an object event (the detector's, widened alike)
   and ended after ``now - retention_object_days``. Motion footage is therefore kept for
   ``max(retention_days, retention_motion_days)``, object footage for the longest of the three
   (it is motion footage too).
2. **max_bytes** — while the stored total exceeds ``retention_max_bytes``, the oldest items go:
   first everything not protected, then motion footage, then object footage, oldest first.
3. **free_space** — while the disk's free bytes are below ``min_free_bytes`` (plus the bytes a
   writer is about to need), the same order.

Never a candidate: anything that ended within the last ``guard`` (2 segment lengths), so a
segment being written or just indexed is never touched. Pressure rules stop as soon as the
need is met: never more than needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from vigil_common.runtime.settings import Settings

SEGMENT = "segment"
SNAPSHOT = "snapshot"
DAY_VIDEO = "day_video"

AGE = "age"
MAX_BYTES = "max_bytes"
FREE_SPACE = "free_space"

# Pressure passes look at no more than this many items before falling back to the
# motion-protected ones they skipped (bounds a pass when nearly everything is protected).
SCAN_LIMIT = 200_000


@dataclass(frozen=True, slots=True)
class Item:
    """One stored thing retention may delete. ``key`` identifies its row: the id, or
    ``(camera_id, date)`` for a day video."""

    kind: str
    key: int | tuple[str, str]
    camera_id: str
    start: datetime
    end: datetime
    bytes: int
    protected: bool = False  # a segment overlapping a motion event (see mark_protected)
    objects: bool = False  # a segment overlapping an object event (see mark_protected)


@dataclass(frozen=True, slots=True)
class Deletion:
    item: Item
    reason: str


@dataclass(frozen=True, slots=True)
class Policy:
    retention: timedelta
    motion_retention: timedelta
    max_bytes: int | None
    min_free_bytes: int | None
    guard: timedelta
    pre_roll: timedelta = timedelta(0)
    post_roll: timedelta = timedelta(0)
    object_retention: timedelta | None = None  # None: as motion_retention

    @property
    def keep_motion(self) -> timedelta:
        """How long motion footage (and motion events) are kept."""
        return max(self.retention, self.motion_retention)

    @property
    def keep_objects(self) -> timedelta:
        """How long object footage (and object events with their close-ups) are kept: never less
        than motion footage (object footage is motion footage too)."""
        return max(self.keep_motion, self.object_retention or self.motion_retention)


@dataclass(frozen=True, slots=True)
class Interval:
    """A motion event (or, with ``objects``, an object event) on one camera; ``end`` None = still
    going on."""

    camera_id: str
    start: datetime
    end: datetime | None
    objects: bool = False


def mark_protected(items: Sequence[Item], events: Iterable[Interval], policy: Policy, now: datetime) -> list[Item]:
    """``items`` with ``protected`` (motion) and ``objects`` (object events) set on the segments
    that overlap such an event widened by the pre/post-roll (an ongoing event lasts until ``now``)."""
    spans: dict[tuple[str, bool], list[tuple[datetime, datetime]]] = {}
    for ev in events:
        end = ev.end if ev.end is not None else now
        spans.setdefault((ev.camera_id, ev.objects), []).append((ev.start - policy.pre_roll, end + policy.post_roll))

    def overlaps(it: Item, objects: bool) -> bool:
        near = spans.get((it.camera_id, objects), ())
        return it.kind == SEGMENT and any(s < it.end and e > it.start for s, e in near)

    out: list[Item] = []
    for it in items:
        motion, objects = overlaps(it, False), overlaps(it, True)
        changed = (motion, objects) != (it.protected, it.objects)
        out.append(replace(it, protected=motion, objects=objects) if changed else it)
    return out


def _eligible(it: Item, policy: Policy, now: datetime) -> bool:
    return it.end <= now - policy.guard


def _shielded(it: Item, policy: Policy, now: datetime) -> bool:
    """Protected by motion or objects right now (a protected item older than its retention is not)."""
    return ((it.protected and it.end >= now - policy.keep_motion)
            or (it.objects and it.end >= now - policy.keep_objects))


def age_deletions(items: Iterable[Item], policy: Policy, now: datetime) -> list[Deletion]:
    """Rule 1: everything past its retention."""
    cut = now - policy.retention
    return [
        Deletion(it, AGE)
        for it in items
        if _eligible(it, policy, now) and it.end < cut and not _shielded(it, policy, now)
    ]


def pressure_deletions(
    items: Iterable[Item],
    policy: Policy,
    now: datetime,
    *,
    total_bytes: int,
    free_bytes: int | None,
    needed_bytes: int = 0,
    exclude: AbstractSet[tuple[str, object]] = frozenset(),
    scan_limit: int = SCAN_LIMIT,
) -> list[Deletion]:
    """Rules 2 and 3 over ``items`` (oldest first; consumed lazily, only as far as needed).

    ``total_bytes`` / ``free_bytes`` are the figures *after* any deletions already decided
    (whose keys are in ``exclude``). ``free_bytes`` None = unknown (rule 3 off).
    """
    floor = (policy.min_free_bytes or 0) + needed_bytes
    check_free = free_bytes is not None and floor > 0
    free = free_bytes or 0
    total = total_bytes

    def reason() -> str | None:
        if policy.max_bytes is not None and total > policy.max_bytes:
            return MAX_BYTES
        if check_free and free < floor:
            return FREE_SPACE
        return None

    out: list[Deletion] = []
    skipped: list[Item] = []
    for scanned, it in enumerate(items):
        why = reason()
        if why is None or scanned >= scan_limit:
            break
        if (it.kind, it.key) in exclude or not _eligible(it, policy, now):
            continue
        if _shielded(it, policy, now):
            skipped.append(it)
            continue
        out.append(Deletion(it, why))
        total -= it.bytes
        free += it.bytes
    skipped.sort(key=lambda it: it.objects)  # motion footage, then object footage, oldest first (stable)
    for it in skipped:
        why = reason()
        if why is None:
            break
        out.append(Deletion(it, why))
        total -= it.bytes
        free += it.bytes
    return out


def plan(
    items: Sequence[Item],
    policy: Policy,
    now: datetime,
    *,
    total_bytes: int,
    free_bytes: int | None,
    needed_bytes: int = 0,
) -> list[Deletion]:
    """Every deletion for this index (``items`` oldest first), oldest first."""
    by_age = age_deletions(items, policy, now)
    freed = sum(d.item.bytes for d in by_age)
    done = {(d.item.kind, d.item.key) for d in by_age}
    more = pressure_deletions(
        items,
        policy,
        now,
        total_bytes=total_bytes - freed,
        free_bytes=None if free_bytes is None else free_bytes + freed,
        needed_bytes=needed_bytes,
        exclude=done,
    )
    return sorted(by_age + more, key=lambda d: (d.item.start, d.item.end))


def summarize(deletions: Iterable[Deletion]) -> dict[tuple[str, str], tuple[int, int]]:
    """``(kind, reason) -> (count, bytes)``."""
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for d in deletions:
        n, b = out.get((d.item.kind, d.reason), (0, 0))
        out[(d.item.kind, d.reason)] = (n + 1, b + d.item.bytes)
    return out


def policy_from(settings: Settings) -> Policy:
    """The policy the ``VIGIL_RETENTION_*`` / ``VIGIL_MIN_FREE_BYTES`` settings describe."""
    days = settings.retention_days
    motion_days = settings.retention_motion_days if settings.retention_motion_days is not None else days
    object_days = settings.retention_object_days
    return Policy(
        retention=timedelta(days=days),
        motion_retention=timedelta(days=motion_days),
        max_bytes=settings.retention_max_bytes,
        min_free_bytes=settings.min_free_bytes,
        guard=timedelta(seconds=2 * settings.segment_seconds),
        pre_roll=timedelta(seconds=settings.motion_pre_roll_s),
        post_roll=timedelta(seconds=settings.motion_post_roll_s),
        object_retention=timedelta(days=object_days) if object_days is not None else None,
    )
