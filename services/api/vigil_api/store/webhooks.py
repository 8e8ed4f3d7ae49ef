"""The event webhooks' delivery log as the API lists it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil_common.db.models import WebhookDelivery


def delivery_page(db: Session, *, event: str | None, status: str | None, camera_id: str | None, limit: int,
                  offset: int) -> tuple[Sequence[WebhookDelivery], int]:
    """A page of the log, newest first, and how many entries match (the log is pruned with the
    notification log, so the count stays small)."""
    query = select(WebhookDelivery)
    if event:
        query = query.where(WebhookDelivery.event == event)
    if status:
        query = query.where(WebhookDelivery.status == status)
    if camera_id:
        query = query.where(WebhookDelivery.camera_id == camera_id)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit).offset(offset)).all()
    return rows, int(total)
