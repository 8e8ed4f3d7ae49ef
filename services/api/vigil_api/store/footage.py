"""The indexed footage as the listing routes read it: snapshots, motion events (pages with a
bounded total, see :mod:`vigil_api.paging`) and the file a row names."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Row, Select, String, Text, literal, null, or_, select, union_all
from sqlalchemy.orm import Session

from vigil_api.paging import capped_count
from vigil_common.db.models import MotionEvent, ObjectEvent, Snapshot

Order = Literal["asc", "desc"]
Kind = Literal["motion", "object"]


def snapshot_page(db: Session, camera_id: str, t0: datetime | None, t1: datetime | None, order: Order,
                  limit: int, offset: int) -> tuple[Sequence[Row[Any]], int, bool]:
    """(rows, total, whether total is exact) of a camera's snapshots in ``[t0, t1)``."""
    stmt: Select[Any] = select(Snapshot.id, Snapshot.time, Snapshot.width, Snapshot.height, Snapshot.bytes).where(
        Snapshot.camera_id == camera_id
    )
    if t0 is not None:
        stmt = stmt.where(Snapshot.time >= t0)
    if t1 is not None:
        stmt = stmt.where(Snapshot.time < t1)
    ordering = Snapshot.time.asc() if order == "asc" else Snapshot.time.desc()
    rows = db.execute(stmt.order_by(ordering).limit(limit).offset(offset)).all()
    total, exact = capped_count(db, stmt, len(rows), limit, offset)
    return rows, total, exact


def snapshot_path(db: Session, camera_id: str, snapshot_id: int) -> str | None:
    return db.scalar(select(Snapshot.path).where(Snapshot.id == snapshot_id, Snapshot.camera_id == camera_id))


def _kind_select(kind: Kind, camera_id: str | None, label: str | None, t0: datetime | None,
                 t1: datetime | None) -> Select[Any]:
    """One kind's events as rows of (id, camera_id, start, end, score, image, kind, label, face)."""
    if kind == "motion":
        table: Any = MotionEvent
        stmt: Select[Any] = select(MotionEvent.id, MotionEvent.camera_id, MotionEvent.start, MotionEvent.end,
                                   MotionEvent.score, MotionEvent.thumbnail_path.label("image"),
                                   literal("motion", String).label("kind"), null().cast(String).label("label"),
                                   null().cast(Text).label("face"))
    else:
        table = ObjectEvent
        stmt = select(ObjectEvent.id, ObjectEvent.camera_id, ObjectEvent.start, ObjectEvent.end, ObjectEvent.score,
                      ObjectEvent.closeup_path.label("image"), literal("object", String).label("kind"),
                      ObjectEvent.label.label("label"), ObjectEvent.face_path.label("face"))
        if label is not None:
            stmt = stmt.where(ObjectEvent.label == label)
    if camera_id is not None:
        stmt = stmt.where(table.camera_id == camera_id)
    if t0 is not None:
        stmt = stmt.where(or_(table.end.is_(None), table.end > t0))
    if t1 is not None:
        stmt = stmt.where(table.start < t1)
    return stmt


def event_page(db: Session, camera_id: str | None, t0: datetime | None, t1: datetime | None, order: Order,
               limit: int, offset: int, kind: Kind | None = None,
               label: str | None = None) -> tuple[Sequence[Row[Any]], int, bool]:
    """(rows, total, exact) of the events overlapping ``[t0, t1)`` (ongoing ones too): motion,
    object (``label`` filters them; asking for a label asks for objects) or both, as rows of
    (id, camera_id, start, end, score, image, kind, label, face)."""
    kinds: list[Kind] = [kind] if kind else (["object"] if label else ["motion", "object"])
    parts = [_kind_select(k, camera_id, label, t0, t1) for k in kinds]
    if len(parts) == 1:
        u = parts[0].subquery()
    else:
        u = union_all(*parts).subquery()
    stmt: Select[Any] = select(u)
    if order == "asc":
        ordering = (u.c.start.asc(), u.c.kind.asc(), u.c.id.asc())
    else:
        ordering = (u.c.start.desc(), u.c.kind.desc(), u.c.id.desc())
    rows = db.execute(stmt.order_by(*ordering).limit(limit).offset(offset)).all()
    total, exact = capped_count(db, stmt, len(rows), limit, offset)
    return rows, total, exact


def closeup(db: Session, event_id: int) -> Row[Any] | None:
    """(closeup_path, end) of an object event, or None."""
    return db.execute(
        select(ObjectEvent.closeup_path, ObjectEvent.end).where(ObjectEvent.id == event_id)
    ).one_or_none()


def face(db: Session, event_id: int) -> Row[Any] | None:
    """(face_path, end) of an object event, or None."""
    return db.execute(
        select(ObjectEvent.face_path, ObjectEvent.end).where(ObjectEvent.id == event_id)
    ).one_or_none()


def event_thumbnail(db: Session, event_id: int) -> Row[Any] | None:
    """(thumbnail_path, end) of an event, or None."""
    return db.execute(
        select(MotionEvent.thumbnail_path, MotionEvent.end).where(MotionEvent.id == event_id)
    ).one_or_none()
