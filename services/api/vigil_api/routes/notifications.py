"""/api/v1/notifications: the notification log, the notifier's runtime settings, a test e-mail.

The API never talks to a mail service: a test e-mail is written to the log as ``pending`` and
the notifier service delivers it (within about a second when it runs).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from fastapi.concurrency import run_in_threadpool

from vigil_api.auth import Principal
from vigil_api.deps import API_PREFIX, Admin, State, User, require_user
from vigil_api.schemas.common import ErrorOut
from vigil_api.schemas.notifications import (
    NotificationOut,
    NotificationPage,
    NotifierSettingsIn,
    NotifierSettingsOut,
    TestIn,
    TestOut,
)
from vigil_api.state import AppState
from vigil_api.store.notifications import notification_page
from vigil_common.contract.ids import CAMERA_ID_PATTERN
from vigil_common.db import notifier_settings
from vigil_common.db.app_settings import set_setting
from vigil_common.db.models import Notification

router = APIRouter(prefix=f"{API_PREFIX}/notifications", tags=["notifications"],
                   dependencies=[Depends(require_user)])

MAX_LIMIT = 500
KIND_PATTERN = r"^[a-z][a-z_]{0,31}$"

_errors: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Not authenticated"},
    422: {"model": ErrorOut, "description": "Invalid input"},
}
_admin_errors: dict[int | str, dict[str, Any]] = {**_errors, 403: {"model": ErrorOut, "description": "Admin only"}}


def mask_address(address: str) -> str:
    """``alice@example.com`` -> ``a…@example.com``: what viewers see of the alert recipients
    (admins, who manage them, see them whole)."""
    local, at, domain = address.partition("@")
    return f"{local[:1]}…{at}{domain}" if at else "…"


def _recipients(addresses: list[str], principal: Principal) -> list[str]:
    return addresses if principal.is_admin else [mask_address(a) for a in addresses]


def _out(row: Notification, principal: Principal) -> NotificationOut:
    try:
        recipients = _recipients([r for r in json.loads(row.recipients) if isinstance(r, str)], principal)
    except ValueError:
        recipients = []
    return NotificationOut(id=row.id, created_at=row.created_at, kind=row.kind, camera_id=row.camera_id,
                           subject=row.subject, channel=row.channel, recipients=recipients,
                           status=row.status,
                           attempts=row.attempts, error=row.error, delivered_at=row.delivered_at)


@router.get("", response_model=NotificationPage, responses=_errors)
def list_notifications(
    state: State,
    principal: User,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    kind: Annotated[str | None, Query(pattern=KIND_PATTERN)] = None,
    camera_id: Annotated[str | None, Query(pattern=CAMERA_ID_PATTERN, max_length=32)] = None,
) -> NotificationPage:
    """The notification log, newest first: what was sent, to whom (addresses masked for viewers),
    when, and how it went."""
    with state.factory() as db:
        rows, total = notification_page(db, kind=kind, camera_id=camera_id, limit=limit, offset=offset)
        return NotificationPage(items=[_out(r, principal) for r in rows], total=total)


def _settings_out(state: AppState, principal: Principal) -> NotifierSettingsOut:
    with state.factory() as db:
        cfg = notifier_settings.load(db, state.settings)
    return NotifierSettingsOut(recipients=_recipients(cfg.recipients, principal), offline_grace_s=cfg.offline_grace_s,
                               reminder_after_s=cfg.reminder_after_s, reminder_every_s=cfg.reminder_every_s,
                               channel=cfg.channel)


@router.get("/settings", response_model=NotifierSettingsOut, responses=_errors)
def get_notifier_settings(state: State, principal: User) -> NotifierSettingsOut:
    """Recipients (masked for viewers), grace period and reminders (stored values over the
    VIGIL_ settings)."""
    return _settings_out(state, principal)


@router.put("/settings", response_model=NotifierSettingsOut, responses=_admin_errors)
def put_notifier_settings(state: State, admin: Admin, body: NotifierSettingsIn) -> NotifierSettingsOut:
    """Change some of the settings (admin). The notifier applies them within ~10 s."""
    with state.writes.begin() as db:
        for name in sorted(body.model_fields_set):
            set_setting(db, f"{notifier_settings.PREFIX}.{name}", getattr(body, name), by=admin.username)
    return _settings_out(state, admin)


def _queue_test(state: AppState, to: list[str] | None) -> int:
    from vigil_common.db.models import utcnow

    with state.writes.begin() as db:
        cfg = notifier_settings.load(db, state.settings)
        recipients = to if to is not None else cfg.recipients
        text = "This is a test e-mail from Vigil: delivery works.\n\n-- Vigil\n"
        row = Notification(created_at=utcnow(), kind="test", camera_id=None, subject="[Vigil] Test e-mail",
                           body_text=text,
                           body_html="<!doctype html><html><body><p>This is a test e-mail from Vigil: "
                                     "delivery works.</p></body></html>",
                           channel=cfg.channel, recipients=json.dumps(recipients), status="pending", attempts=0)
        db.add(row)
        db.flush()
        return int(row.id)


@router.post("/test", status_code=status.HTTP_202_ACCEPTED, response_model=TestOut, responses=_admin_errors)
async def send_test(state: State, _admin: Admin, body: TestIn | None = None) -> TestOut:
    """Queue a test e-mail (admin) to ``to`` or the configured recipients; the notifier sends
    it. Follow its delivery in ``GET /notifications``."""
    nid = await run_in_threadpool(_queue_test, state, body.to if body else None)
    return TestOut(id=nid)
