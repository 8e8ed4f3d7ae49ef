"""/api/v1/webhooks/deliveries: the event webhooks' delivery log (admins: it names where events go)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from vigil_api.deps import API_PREFIX, Admin, State, require_admin
from vigil_api.schemas.common import ErrorOut
from vigil_api.schemas.webhooks import DeliveryOut, DeliveryPage
from vigil_api.store.webhooks import delivery_page
from vigil_common.contract.ids import CAMERA_ID_PATTERN
from vigil_common.contract.webhooks import shown_url
from vigil_common.db.models import WebhookDelivery

router = APIRouter(prefix=f"{API_PREFIX}/webhooks", tags=["webhooks"], dependencies=[Depends(require_admin)])

MAX_LIMIT = 500
EVENT_PATTERN = r"^[a-z][a-z_]{0,31}$"

_errors: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Not authenticated"},
    403: {"model": ErrorOut, "description": "Admin only"},
    422: {"model": ErrorOut, "description": "Invalid query"},
}


def _out(row: WebhookDelivery) -> DeliveryOut:
    status: Literal["pending", "delivered", "failed"] = (
        "delivered" if row.status == "delivered" else "failed" if row.status == "failed" else "pending")
    return DeliveryOut(id=row.id, created_at=row.created_at, event_id=row.event_id, event=row.event,
                       camera_id=row.camera_id, url=shown_url(row.url), status=status, attempts=row.attempts,
                       last_status=row.last_status, error=row.error, next_attempt_at=row.next_attempt_at,
                       delivered_at=row.delivered_at)


@router.get("/deliveries", response_model=DeliveryPage, responses=_errors)
def list_deliveries(
    state: State,
    _admin: Admin,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    event: Annotated[str | None, Query(pattern=EVENT_PATTERN)] = None,
    status: Annotated[Literal["pending", "delivered", "failed"] | None, Query()] = None,
    camera_id: Annotated[str | None, Query(pattern=CAMERA_ID_PATTERN, max_length=32)] = None,
) -> DeliveryPage:
    """Every event webhook delivery, newest first: the event, where to (credentials and query
    hidden), its attempts, the receiver's last status, and how it went."""
    with state.factory() as db:
        rows, total = delivery_page(db, event=event, status=status, camera_id=camera_id, limit=limit, offset=offset)
        return DeliveryPage(items=[_out(r) for r in rows], total=total)
