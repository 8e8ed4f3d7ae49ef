"""The segment index: one ``segments`` row per MP4 file, idempotent on (camera_id, start)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.db.engine import upsert
from vigil_common.db.models import Segment


@dataclass(frozen=True, slots=True)
class SegmentRow:
    """The values of one ``segments`` row; ``path`` is relative to the data directory."""

    camera_id: str
    start: datetime
    end: datetime
    duration_s: float
    frames: int
    bytes: int
    width: int
    height: int
    codec: str
    path: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def insert_segment(sessions: sessionmaker[Session], row: SegmentRow) -> bool:
    """Insert ``row`` unless (camera_id, start) is already indexed.

    Returns True if the row now in the index for (camera_id, start) points at this path
    (inserted now or by an earlier run of the same job), False if another file holds that
    start. Raises on database errors, so the job fails and RQ retries it.
    """
    with sessions.begin() as session:
        upsert(session, Segment, row.as_dict(), conflict=["camera_id", "start"])
        existing = session.execute(
            select(Segment.path).where(Segment.camera_id == row.camera_id, Segment.start == row.start)
        ).scalar_one_or_none()
    return existing == row.path
