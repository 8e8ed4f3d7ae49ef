"""The notification log as the API lists it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil_common.db.models import Notification


def notification_page(db: Session, *, kind: str | None, camera_id: str | None, limit: int,
                      offset: int) -> tuple[Sequence[Notification], int]:
    """A page of the log, newest first, and how many entries match."""
    query = select(Notification)
    if kind:
        query = query.where(Notification.kind == kind)
    if camera_id:
        query = query.where(Notification.camera_id == camera_id)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(Notification.id.desc()).limit(limit).offset(offset)).all()
    return rows, int(total)
