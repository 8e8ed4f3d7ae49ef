"""Motion events at the edges: ``motion_events`` rows, thumbnails, and the retained MQTT state.

A thumbnail is written (crash-safely) before the row that names it, so a row never points at
a missing file; at the end of an event it is replaced by the frame of the event's peak.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract.envelope import Frame
from vigil_common.contract.messages import MOTION_OFF, MOTION_ON
from vigil_common.contract.topics import Topics
from vigil_common.db.models import MotionEvent
from vigil_common.runtime.settings import Settings
from vigil_recorder.duties import Publish
from vigil_recorder.media.images import ImageError, thumbnail_jpeg
from vigil_recorder.storage.stills import thumbnail_relpath, write_atomic

log = logging.getLogger(__name__)

# Open events older than this that the running detector does not know are orphans.
ORPHAN_AGE = timedelta(minutes=3)


def publish_state(settings: Settings, publish: Publish, camera_id: str, on: bool) -> None:
    """The contract's retained ``ON``/``OFF`` on ``{prefix}/cameras/{id}/motion`` (QoS 1)."""
    topic = Topics(settings.topic_prefix).motion(camera_id)
    try:
        publish(topic, (MOTION_ON if on else MOTION_OFF).encode(), 1, True)
    except (OSError, RuntimeError, ValueError) as exc:  # paho raises these when it cannot queue
        log.warning("camera %s: motion %s not published: %s", camera_id, "ON" if on else "OFF", exc)


def write_thumbnail(settings: Settings, camera_id: str, start: datetime, frame: Frame) -> str | None:
    """Write the event's thumbnail from ``frame``; returns its relative path (None on failure)."""
    relpath = thumbnail_relpath(camera_id, start, settings.tz)
    try:
        write_atomic(settings.data_dir / relpath, thumbnail_jpeg(frame))
    except (ImageError, OSError) as exc:
        log.warning("camera %s: motion thumbnail not written: %s", camera_id, exc)
        return None
    return relpath.as_posix()


def open_event(sessions: sessionmaker[Session], camera_id: str, start: datetime, score: float,
               thumbnail: str | None) -> int:
    """Insert an ongoing event (``end`` NULL); returns its id."""
    with sessions.begin() as db:
        row = MotionEvent(camera_id=camera_id, start=start, end=None, score=score, thumbnail_path=thumbnail)
        db.add(row)
        db.flush()
        return int(row.id)


def close_event(sessions: sessionmaker[Session], event_id: int, end: datetime, score: float,
                thumbnail: str | None = None) -> None:
    """Set the end (never before the start) and final score of an event."""
    with sessions.begin() as db:
        row = db.get(MotionEvent, event_id, with_for_update=True)
        if row is None:
            log.warning("motion event %d vanished before it ended", event_id)
            return
        row.end = max(end, row.start)
        row.score = max(score, row.score)
        if thumbnail is not None:
            row.thumbnail_path = thumbnail


def find_open_events(
    sessions: sessionmaker[Session], *, started_before: datetime | None = None
) -> list[tuple[int, str, datetime]]:
    """``(id, camera_id, start)`` of the events with no end (optionally, started before a time)."""
    query = select(MotionEvent.id, MotionEvent.camera_id, MotionEvent.start).where(MotionEvent.end.is_(None))
    if started_before is not None:
        query = query.where(MotionEvent.start < started_before)
    with sessions() as db:
        return [(int(i), str(c), s) for i, c, s in db.execute(query.order_by(MotionEvent.id)).all()]


def end_open_event(sessions: sessionmaker[Session], event_id: int, end: datetime) -> bool:
    """End an event that is still open; returns False if it was closed meanwhile."""
    with sessions.begin() as db:
        result = db.execute(
            update(MotionEvent).where(MotionEvent.id == event_id, MotionEvent.end.is_(None)).values(end=end)
        )
    return bool(getattr(result, "rowcount", 0))
