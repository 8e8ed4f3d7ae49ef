"""Index reads for retention: totals, aged candidates, and every stored item oldest first.

Each query is bounded (LIMIT, keyset pages) and uses an existing index: segments by
``start`` and by ``(camera_id, start)`` / ``(camera_id, end)``, snapshots by
``(camera_id, time)``, motion events by ``(camera_id, start)``. Distinct cameras come from
a loose index scan (a recursive CTE), not a full scan.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from vigil_common.contract.days import day_bounds
from vigil_common.db.models import DayVideo, Export, MotionEvent, ObjectEvent, Segment, Snapshot
from vigil_recorder.storage.plan import DAY_VIDEO, SEGMENT, SNAPSHOT, Interval, Item, Policy, mark_protected

PAGE = 2000

_DISTINCT_CAMERAS = """
WITH RECURSIVE cams(c) AS (
  SELECT (SELECT MIN(camera_id) FROM {t})
  UNION ALL
  SELECT (SELECT MIN(camera_id) FROM {t} WHERE camera_id > cams.c) FROM cams WHERE cams.c IS NOT NULL
)
SELECT c FROM cams WHERE c IS NOT NULL
"""


def cameras(session: Session, table: str) -> list[str]:
    """Distinct ``camera_id`` of ``segments`` or ``snapshots`` by a loose index scan."""
    if table not in ("segments", "snapshots"):
        raise ValueError(table)
    return [str(c) for c in session.execute(text(_DISTINCT_CAMERAS.format(t=table))).scalars()]


@dataclass(frozen=True, slots=True)
class Totals:
    segments: int = 0
    segment_bytes: int = 0
    snapshots: int = 0
    snapshot_bytes: int = 0
    day_videos: int = 0
    day_video_bytes: int = 0
    exports: int = 0
    export_bytes: int = 0

    @property
    def bytes(self) -> int:
        """What counts against ``VIGIL_RETENTION_MAX_BYTES``: footage, stills, day videos and the
        finished exports (copies of footage, but they take the disk all the same)."""
        return self.segment_bytes + self.snapshot_bytes + self.day_video_bytes + self.export_bytes


def totals(session: Session) -> Totals:
    seg = session.execute(
        select(func.count(), func.coalesce(func.sum(Segment.bytes), 0)).where(Segment.deleting.is_(False))
    ).one()
    snap = session.execute(select(func.count(), func.coalesce(func.sum(Snapshot.bytes), 0))).one()
    day = session.execute(
        select(func.count(), func.coalesce(func.sum(DayVideo.bytes), 0)).where(DayVideo.path.is_not(None))
    ).one()
    exp = session.execute(
        select(func.count(), func.coalesce(func.sum(Export.bytes), 0)).where(Export.status == "done")
    ).one()
    return Totals(int(seg[0]), int(seg[1]), int(snap[0]), int(snap[1]), int(day[0]), int(day[1]),
                  int(exp[0]), int(exp[1]))


def expired_exports(session: Session, before: datetime, limit: int) -> list[tuple[str, int]]:
    """(id, bytes) of finished or failed exports created before ``before``, oldest first."""
    return _exports(session, select(Export.id, Export.bytes).where(
        Export.status.in_(("done", "failed")), Export.created_at < before), limit)


def oldest_exports(session: Session, limit: int) -> list[tuple[str, int]]:
    """(id, bytes) of finished exports, oldest first (the first to go under pressure)."""
    return _exports(session, select(Export.id, Export.bytes).where(Export.status == "done"), limit)


def _exports(session: Session, stmt: Any, limit: int) -> list[tuple[str, int]]:
    return [(str(r.id), int(r.bytes or 0)) for r in session.execute(stmt.order_by(Export.created_at).limit(limit))]


def camera_totals(session: Session) -> list[tuple[str, int, int]]:
    """(camera_id, segments, bytes) of the indexed segments of each camera: a full grouped scan
    (several times a plain SUM on SQLite), so the pass runs it at most every few minutes."""
    return [
        (str(r[0]), int(r[1]), int(r[2]))
        for r in session.execute(
            select(Segment.camera_id, func.count(), func.coalesce(func.sum(Segment.bytes), 0))
            .where(Segment.deleting.is_(False)).group_by(Segment.camera_id).order_by(Segment.camera_id)
        )
    ]


def _segment_item(r: Any) -> Item:  # a Row of _SEG_COLS
    return Item(SEGMENT, r.id, r.camera_id, r.start, r.end, int(r.bytes))


def _snapshot_item(r: Any) -> Item:  # a Row of _SNAP_COLS
    return Item(SNAPSHOT, r.id, r.camera_id, r.time, r.time, int(r.bytes))


_SEG_COLS = (Segment.id, Segment.camera_id, Segment.start, Segment.end, Segment.bytes)
_SNAP_COLS = (Snapshot.id, Snapshot.camera_id, Snapshot.time, Snapshot.bytes)


def motion_intervals(session: Session, camera_id: str, lo: datetime, hi: datetime, policy: Policy) -> list[Interval]:
    """Motion events of one camera that may protect footage in [lo, hi]."""
    q = select(MotionEvent.camera_id, MotionEvent.start, MotionEvent.end).where(
        MotionEvent.camera_id == camera_id,
        MotionEvent.start < hi + policy.pre_roll,
        (MotionEvent.end.is_(None)) | (MotionEvent.end > lo - policy.post_roll),
    )
    return [Interval(r.camera_id, r.start, r.end) for r in session.execute(q)]


def object_intervals(session: Session, camera_id: str, lo: datetime, hi: datetime, policy: Policy) -> list[Interval]:
    """Object events of one camera that may protect footage in [lo, hi]."""
    q = select(ObjectEvent.camera_id, ObjectEvent.start, ObjectEvent.end).where(
        ObjectEvent.camera_id == camera_id,
        ObjectEvent.start < hi + policy.pre_roll,
        (ObjectEvent.end.is_(None)) | (ObjectEvent.end > lo - policy.post_roll),
    )
    return [Interval(r.camera_id, r.start, r.end, objects=True) for r in session.execute(q)]


def with_protection(session: Session, items: Sequence[Item], policy: Policy, now: datetime) -> list[Item]:
    """Set ``protected`` / ``objects`` on segments overlapping motion / object events (two queries
    per camera in ``items``)."""
    by_cam: dict[str, list[Item]] = {}
    for it in items:
        if it.kind == SEGMENT:
            by_cam.setdefault(it.camera_id, []).append(it)
    events: list[Interval] = []
    for cam, lst in by_cam.items():
        lo, hi = min(i.start for i in lst), max(i.end for i in lst)
        events += motion_intervals(session, cam, lo, hi, policy)
        events += object_intervals(session, cam, lo, hi, policy)
    return mark_protected(items, events, policy, now)


def aged_segments_unprotectable(session: Session, before: datetime, limit: int) -> list[Item]:
    """Segments that ended before ``before`` (past every retention, motion or not)."""
    q = (
        select(*_SEG_COLS)
        .where(Segment.start < before, Segment.end < before, Segment.deleting.is_(False))
        .order_by(Segment.start, Segment.id)
        .limit(limit)
    )
    return [_segment_item(r) for r in session.execute(q)]


def segments_ended_between(
    session: Session, camera_id: str, lo: datetime, hi: datetime, after: tuple[datetime, int] | None, limit: int
) -> list[Item]:
    """One camera's segments with ``lo <= end < hi``, keyset-paged by ``(end, id)``."""
    q = select(*_SEG_COLS).where(
        Segment.camera_id == camera_id, Segment.end >= lo, Segment.end < hi, Segment.deleting.is_(False)
    )
    if after is not None:
        q = q.where((Segment.end > after[0]) | ((Segment.end == after[0]) & (Segment.id > after[1])))
    return [_segment_item(r) for r in session.execute(q.order_by(Segment.end, Segment.id).limit(limit))]


def aged_snapshots(session: Session, before: datetime, limit: int) -> list[Item]:
    out: list[Item] = []
    for cam in cameras(session, "snapshots"):
        q = (
            select(*_SNAP_COLS)
            .where(Snapshot.camera_id == cam, Snapshot.time < before)
            .order_by(Snapshot.time)
            .limit(limit - len(out))
        )
        out += [_snapshot_item(r) for r in session.execute(q)]
        if len(out) >= limit:
            break
    return out


def day_video_items(session: Session, tz: ZoneInfo, *, until: datetime | None = None) -> list[Item]:
    """Day videos with a file, as items spanning their day (ending before ``until``)."""
    out: list[Item] = []
    q = select(DayVideo.camera_id, DayVideo.date, DayVideo.bytes).where(DayVideo.path.is_not(None))
    for r in session.execute(q):
        try:
            start, end = day_bounds(date.fromisoformat(r.date), tz)
        except ValueError:
            continue
        if until is None or end < until:
            out.append(Item(DAY_VIDEO, (r.camera_id, r.date), r.camera_id, start, end, int(r.bytes or 0)))
    out.sort(key=lambda i: (i.start, i.camera_id))
    return out


def aged_motion_events(session: Session, before: datetime, limit: int) -> list[int]:
    return aged_events(session, MotionEvent, before, limit)


def aged_events(session: Session, model: Any, before: datetime, limit: int) -> list[int]:
    """Ids of ended events (motion or object) that ended before ``before``."""
    q = select(model.id).where(model.end.is_not(None), model.end < before).limit(limit)
    return [int(i) for i in session.execute(q).scalars()]


def _camera_segments(session: Session, cam: str, policy: Policy, now: datetime) -> Iterator[Item]:
    after: datetime | None = None
    while True:
        q = select(*_SEG_COLS).where(Segment.camera_id == cam, Segment.deleting.is_(False))
        if after is not None:
            q = q.where(Segment.start > after)  # (camera_id, start) is unique
        page = [_segment_item(r) for r in session.execute(q.order_by(Segment.start).limit(PAGE))]
        if not page:
            return
        yield from with_protection(session, page, policy, now)
        if len(page) < PAGE:
            return
        after = page[-1].start


def _camera_snapshots(session: Session, cam: str) -> Iterator[Item]:
    after: datetime | None = None
    while True:
        q = select(*_SNAP_COLS).where(Snapshot.camera_id == cam)
        if after is not None:
            q = q.where(Snapshot.time > after)  # (camera_id, time) is unique
        page = [_snapshot_item(r) for r in session.execute(q.order_by(Snapshot.time).limit(PAGE))]
        if not page:
            return
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1].start


def oldest_first(session: Session, policy: Policy, now: datetime, tz: ZoneInfo) -> Iterator[Item]:
    """Every stored item (segments with motion protection, snapshots, day videos), oldest
    first, read lazily: a consumer that stops early reads only the pages it needed."""
    streams: list[Iterator[Item]] = [_camera_segments(session, c, policy, now) for c in cameras(session, "segments")]
    streams += [_camera_snapshots(session, c) for c in cameras(session, "snapshots")]
    streams.append(iter(day_video_items(session, tz)))
    return heapq.merge(*streams, key=lambda i: (i.start, i.end))
