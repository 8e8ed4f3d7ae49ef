"""Retention: keep the disk within ``VIGIL_RETENTION_*`` and ``VIGIL_MIN_FREE_BYTES``.

A periodic duty (every ``VIGIL_RETENTION_INTERVAL_S``, on the duties leader) runs
:func:`run_pass`; recorder jobs call :func:`vigil_recorder.storage.reclaim.ensure_space`
before they write, so the disk hitting the floor frees space *before* a write fails. The decisions are
:mod:`vigil_recorder.storage.plan` (pure), the reads :mod:`vigil_recorder.storage.query`,
the crash-safe deletions :mod:`vigil_recorder.storage.delete`.

What is managed, and what counts against ``VIGIL_RETENTION_MAX_BYTES``:

- segments: by age (motion footage for ``max(retention_days, retention_motion_days)``), by
  the byte cap and by the free-space floor, oldest first, motion footage last; counted;
- snapshots: the same rules (they are in the same oldest-first order); counted;
- day videos: the same rules (a day video is as old as its day); counted;
- motion events and their thumbnails: by age only (kept as long as motion footage); not
  counted (the index has no size for thumbnails, and they are small);
- object events and their close-ups: by age only (kept as long as object footage,
  ``VIGIL_RETENTION_OBJECT_DAYS``); not counted, likewise;
- exports: expire after ``VIGIL_EXPORT_RETENTION_DAYS`` and go first under the byte cap or the
  floor; counted.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract import keys
from vigil_common.db.models import ObjectEvent
from vigil_common.runtime.settings import Settings
from vigil_recorder.duties import Duty, DutyContext
from vigil_recorder.storage import disk
from vigil_recorder.storage import query as rq
from vigil_recorder.storage.delete import (
    delete_exports,
    delete_motion_events,
    delete_object_events,
    finish_marked,
    storage_lock,
)
from vigil_recorder.storage.figures import (
    CAMERA_TOTALS_EVERY_S,
    STORAGE_KEY,
    first_line,
    human,
    publish_counts,
    write_camera_storage,
    write_storage,
)
from vigil_recorder.storage.plan import (
    FREE_SPACE,
    Policy,
    age_deletions,
    policy_from,
)
from vigil_recorder.storage.reclaim import Tally, execute, free_or_none, pressure_needed, pressure_pass, with_overrides

log = logging.getLogger(__name__)

AGE_BATCH = 5000  # per kind and pass; a backlog (first start, lowered retention) takes a few passes
CURSOR_KEY = f"{keys.PREFIX}:retention:motion_cursor"
FULL_RESCAN_KEY = f"{CURSOR_KEY}:full"  # set for a day after each full rescan
# With object footage kept longer than motion footage: what passed the motion retention.
MOTION_CUT_CURSOR_KEY = f"{keys.PREFIX}:retention:motion_cut_cursor"


def _cursor(client: redis.Redis, key: str, floor: datetime) -> datetime:
    raw = client.get(key)
    try:
        cursor = datetime.fromisoformat(raw.decode()) if isinstance(raw, bytes) else floor
    except ValueError:
        cursor = floor
    return max(cursor, floor)


def _cursor_pass(settings: Settings, sessions: sessionmaker[Session], client: redis.Redis, policy: Policy,
                 now: datetime, tally: Tally, key: str, floor: datetime, cut: datetime, full_rescan: bool) -> None:
    """Age the segments that ended in [cursor, cut) (from ``floor`` on a full rescan), camera by
    camera and keyset-paged, each with its protection; the cursor moves to ``cut``."""
    lo = floor if full_rescan else _cursor(client, key, floor)
    with sessions() as s:
        cams = rq.cameras(s, "segments")
    for cam in cams:
        after: tuple[datetime, int] | None = None
        while True:
            with sessions() as s:
                page = rq.segments_ended_between(s, cam, lo, cut, after, rq.PAGE)
                page = rq.with_protection(s, page, policy, now)
            execute(settings, sessions, age_deletions(page, policy, now), tally)
            if len(page) < rq.PAGE:
                break
            last = page[-1]
            after = (last.end, last.key if isinstance(last.key, int) else 0)
    client.set(key, cut.isoformat())


def age_pass(settings: Settings, sessions: sessionmaker[Session], client: redis.Redis, policy: Policy,
             now: datetime, tally: Tally) -> None:
    """Rule 1 over what the index holds past its retention (bounded per pass)."""
    cut = now - policy.retention
    cut_all = now - max(policy.keep_motion, policy.keep_objects)  # past this, protected or not
    with sessions() as s:
        items = rq.aged_segments_unprotectable(s, cut_all, AGE_BATCH)
        items += rq.aged_snapshots(s, cut, AGE_BATCH)
        items += rq.day_video_items(s, settings.tz, until=cut)
    execute(settings, sessions, age_deletions(items, policy, now), tally)
    if cut_all < cut:
        # Footage between the two cut-offs goes unless motion or an object event protects it.
        # Only what aged since the last pass is looked at (a cursor in Redis), so protected
        # footage is not re-read every pass: once as it passes the retention, and once more as
        # it passes the motion retention when object footage is kept longer still (motion-only
        # footage goes then).
        # Once a day the whole span is rescanned from ``cut_all``: a segment indexed late (an
        # orphan re-indexed after an outage) may end behind the cursor and would be kept for the
        # motion retention although no motion protects it.
        full_rescan = bool(client.set(FULL_RESCAN_KEY, b"1", nx=True, ex=24 * 3600))
        _cursor_pass(settings, sessions, client, policy, now, tally, CURSOR_KEY, cut_all, cut, full_rescan)
        cut_motion = now - policy.keep_motion
        if cut_all < cut_motion < cut:
            _cursor_pass(settings, sessions, client, policy, now, tally, MOTION_CUT_CURSOR_KEY, cut_all, cut_motion,
                         full_rescan)
    with sessions() as s:
        old_events = rq.aged_motion_events(s, now - policy.keep_motion, AGE_BATCH)
        old_objects = rq.aged_events(s, ObjectEvent, now - policy.keep_objects, AGE_BATCH)
    tally.removed.add(delete_motion_events(settings.data_dir, sessions, old_events))
    tally.removed.add(delete_object_events(settings.data_dir, sessions, old_objects))


EXPORT_BATCH = 500


def export_pass(settings: Settings, sessions: sessionmaker[Session], now: datetime, tally: Tally) -> None:
    """Exports expire ``VIGIL_EXPORT_RETENTION_DAYS`` after they were made (their footage may
    be kept longer or shorter: an export is a copy for someone to download)."""
    with sessions() as s:
        gone = rq.expired_exports(s, now - timedelta(days=settings.export_retention_days), EXPORT_BATCH)
    if gone:
        tally.note("export", "age", len(gone), delete_exports(settings.data_dir, sessions, gone))
        log.info("retention: %d export(s) older than %g days removed", len(gone), settings.export_retention_days)


def export_pressure_pass(settings: Settings, sessions: sessionmaker[Session], policy: Policy, total: int,
                         free: int | None, tally: Tally) -> int:
    """Under the byte cap or the free-space floor, the oldest finished exports go before any
    footage (an export must never push recordings out). Returns the bytes freed."""
    def needed(freed: int) -> bool:
        return pressure_needed(policy, total - freed, None if free is None else free + freed)

    reason = "max_bytes" if policy.max_bytes is not None and total > policy.max_bytes else "free_space"
    freed = 0
    while needed(freed):
        with sessions() as s:
            oldest = rq.oldest_exports(s, 50)
        if not oldest:
            break
        victims = []
        for victim in oldest:
            victims.append(victim)
            if not needed(freed + sum(size for _, size in victims)):
                break
        removed = delete_exports(settings.data_dir, sessions, victims)
        freed += removed
        tally.note("export", reason, len(victims), removed)
        log.warning("retention: %d export(s) removed to stay within the storage limits", len(victims))
    return freed


@dataclass(frozen=True, slots=True)
class PassReport:
    tally: Tally
    totals: rq.Totals
    bytes_total: int
    bytes_free: int | None


def run_pass(settings: Settings, sessions: sessionmaker[Session], client: redis.Redis, *,
             free: disk.FreeBytes = disk.free_bytes, now: datetime | None = None) -> PassReport:
    """One retention pass: finish interrupted deletions, age, byte cap, free-space floor;
    then prune empty old day directories, publish metrics and ``vigil:storage``, log."""
    now = now or datetime.now(UTC)
    settings = with_overrides(settings, sessions)
    policy = policy_from(settings)
    tally = Tally()
    with storage_lock(client):
        finished = finish_marked(settings.data_dir, sessions)
        tally.finished = finished.rows
        tally.removed.add(finished)
        age_pass(settings, sessions, client, policy, now, tally)
        export_pass(settings, sessions, now, tally)
        with sessions() as s:
            totals = rq.totals(s)
        free_now = free_or_none(free, settings)
        before = tally.count
        freed = export_pressure_pass(settings, sessions, policy, totals.bytes, free_now, tally)
        pressure_pass(settings, sessions, policy, now, totals.bytes - freed,
                      None if free_now is None else free_now + freed, tally)
        if tally.count != before:
            with sessions() as s:
                totals = rq.totals(s)
        yesterday = now.astimezone(settings.tz).date() - timedelta(days=1)
        disk.prune_empty_day_dirs(tally.removed.dirs, yesterday)
    report = PassReport(tally, totals, totals.bytes, free_or_none(free, settings))
    _report(client, report)
    publish_camera_totals(sessions, client)
    return report


def publish_camera_totals(sessions: sessionmaker[Session], client: redis.Redis, *, force: bool = False) -> bool:
    """Count each camera's segments and bytes into ``vigil:storage:cameras`` (for the API's
    storage page) unless that was done less than ``CAMERA_TOTALS_EVERY_S`` ago. Outside the
    storage lock; best effort. True if it counted."""
    try:
        last = client.hget(STORAGE_KEY, "cameras_updated_at")
        if not force and last is not None and 0 <= time.time() - float(last) < CAMERA_TOTALS_EVERY_S:
            return False
        with sessions() as s:
            per_camera = rq.camera_totals(s)
    except (redis.RedisError, SQLAlchemyError, ValueError) as exc:
        log.warning("could not count storage per camera: %s", first_line(exc))
        return False
    write_camera_storage(client, per_camera, time.time())
    return True


def _report(client: redis.Redis, report: PassReport) -> None:
    tally = report.tally
    if tally.finished:
        log.info("retention: finished %d deletions an earlier pass left marked", tally.finished)
    if tally.count:
        log.info("retention: freed %s in %d items (%s)", human(tally.bytes), tally.count, tally.describe())
    publish_counts(client, tally.metric_deltas())
    fields: dict[str, Any] = {
        "bytes_total": report.bytes_total,
        "segments": report.totals.segments,
        "bytes_segments": report.totals.segment_bytes,
        "snapshots": report.totals.snapshots,
        "bytes_snapshots": report.totals.snapshot_bytes,
        "bytes_day_videos": report.totals.day_video_bytes,
        "exports": report.totals.exports,
        "bytes_exports": report.totals.export_bytes,
        "updated_at": f"{time.time():.3f}",
    }
    if report.bytes_free is not None:
        fields["bytes_free"] = report.bytes_free
    write_storage(client, fields)


def duties(settings: Settings, *, free: disk.FreeBytes | None = None) -> list[Duty]:
    """The retention duty (``free`` replaces the disk's free-space reading, for tests)."""
    usage = free or disk.free_bytes

    def run(ctx: DutyContext) -> None:
        try:
            run_pass(ctx.settings, ctx.sessions, ctx.redis, free=usage)
        except (SQLAlchemyError, redis.RedisError) as exc:  # an outage: one line, not a traceback
            log.warning("retention pass skipped, it runs again in %.0fs: %s", settings.retention_interval_s,
                        first_line(exc))

    return [Duty("retention", settings.retention_interval_s, run)]


__all__ = ["FREE_SPACE", "PassReport", "duties", "run_pass"]
