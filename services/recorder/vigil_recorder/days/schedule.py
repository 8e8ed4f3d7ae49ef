"""Scheduling day videos: the ``days`` duty (enqueueing is :func:`vigil_common.contract.recorder_jobs.enqueue_day`).

Every minute the duties leader looks at the days that ended (plus a settling time for their
last segments to be recorded) within the last :data:`LOOKBACK_DAYS` days, and enqueues the
assembly of each camera-day that has footage and no ``day_videos`` row yet; the row written
right after makes it happen once. The current day is assembled on demand only (the API).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select

from vigil_common.contract import recorder_jobs
from vigil_common.db.engine import upsert
from vigil_common.db.models import DayVideo, Segment, utcnow
from vigil_common.runtime.settings import Settings
from vigil_recorder.days.plan import day_bounds, due_days, parse_day
from vigil_recorder.duties import DutyContext

log = logging.getLogger(__name__)

DUTY_INTERVAL_S = 60.0
LOOKBACK_DAYS = 2
SETTLE_EXTRA_S = 60.0


def settle_seconds(settings: Settings) -> float:
    """How long after a day ends its last segments may still be recorded."""
    return settings.segment_seconds + settings.segment_grace_s + settings.stream_buffer_s + SETTLE_EXTRA_S


def schedule_due_days(ctx: DutyContext, now: datetime | None = None) -> list[tuple[str, str]]:
    """Enqueue the assembly of every camera-day that ended (and settled) and has footage but
    no day video row yet; returns the ``(camera, date)`` pairs enqueued. Idempotent: the row
    written right after enqueueing makes each camera-day happen once."""
    settings = ctx.settings
    now = now or utcnow()
    handled = ctx.state.setdefault("days_handled", set())
    assert isinstance(handled, set)
    enqueued: list[tuple[str, str]] = []
    due = [d.isoformat() for d in due_days(now, settings.tz, settle_seconds(settings), LOOKBACK_DAYS)]
    handled.intersection_update(due)  # remember only days still in view
    for day in due:
        if day in handled:
            continue
        start, end = day_bounds(parse_day(day), settings.tz)
        with ctx.sessions() as db:
            cameras = set(db.scalars(
                select(func.distinct(Segment.camera_id))
                .where(Segment.start >= start, Segment.start < end, Segment.deleting.is_(False))
            ))
            done = set(db.scalars(select(DayVideo.camera_id).where(DayVideo.date == day)))
        for cam in sorted(cameras - done):
            # (a job still queued from an on-demand request is left alone)
            recorder_jobs.enqueue_day(ctx.redis, cam, day)
            with ctx.sessions.begin() as db:
                upsert(db, DayVideo, {"camera_id": cam, "date": day, "status": "queued", "progress": 0.0,
                                      "updated_at": utcnow()}, conflict=["camera_id", "date"])
            enqueued.append((cam, day))
            log.info("day video %s %s enqueued", cam, day)
        handled.add(day)
    return enqueued


def run_duty(ctx: DutyContext) -> None:
    """The duty's body (see :func:`vigil_recorder.days.build.duties`)."""
    schedule_due_days(ctx)
