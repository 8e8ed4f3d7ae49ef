"""Clip exports: a time range of one camera cut across its segments into one MP4.

``run_export(export_id)`` (an RQ job, enqueued by the API for a row of ``exports``) copies
the packets of the segments overlapping ``[start, end)`` (no re-encode, see
:mod:`vigil_recorder.exports.plan`) into ``{data}/exports/{id}.mp4`` under a temporary name,
fsynced and renamed. Output time 0 is the first frame copied (the keyframe at or before
``start``); gaps in the footage stay gaps in time (a held picture). The row tracks status
``queued|running|done|failed``, ``progress`` 0..1, ``bytes`` and ``error``. Exports are kept
until deleted; a row deleted while its job runs makes the job remove its file.

:func:`export_range` is the same cut without a row, for ``vigil export`` in direct mode.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract.exports import export_relpath, require_export_id
from vigil_common.contract.ids import require_camera_id
from vigil_common.contract.windows import MAX_SEGMENT_SPAN
from vigil_common.db.models import Export, Segment, utcnow
from vigil_common.runtime.settings import Settings
from vigil_recorder.context import get_context
from vigil_recorder.exports.plan import Span, plan_pieces
from vigil_recorder.media import mp4meta
from vigil_recorder.remux.concat import Progress, RemuxError, Result, concat, throttled
from vigil_recorder.remux.plan import to_ns
from vigil_recorder.segment.writer import encoder_options
from vigil_recorder.storage import paths as storage
from vigil_recorder.storage.disk import NoSpace, check_space_for
from vigil_recorder.storage.reclaim import with_overrides

log = logging.getLogger(__name__)

MAX_ERROR = 500
NO_FOOTAGE = "no recordings in that range"


class NoFootage(RemuxError):
    """Nothing indexed (or readable) in the range."""


def range_spans(sessions: sessionmaker[Session], camera_id: str, start: datetime, end: datetime) -> list[Span]:
    """The camera's indexed segments overlapping ``[start, end)`` (not being deleted), by start."""
    stmt = (
        select(Segment.start, Segment.end, Segment.path)
        .where(Segment.camera_id == camera_id, Segment.start < end, Segment.end > start,
               Segment.start > start - MAX_SEGMENT_SPAN, Segment.deleting.is_(False))
        .order_by(Segment.start)
    )
    with sessions() as db:
        return [Span(to_ns(r.start), to_ns(r.end), r.path) for r in db.execute(stmt)]


def export_range(
    settings: Settings,
    sessions: sessionmaker[Session],
    camera_id: str,
    start: datetime,
    end: datetime,
    out: Path,
    progress: Progress | None = None,
) -> Result:
    """Cut ``[start, end)`` of ``camera_id`` into an MP4 at ``out`` (crash-safe: a temporary
    file, fsynced, renamed). Raises :class:`NoFootage` if there is nothing to cut."""
    cam = require_camera_id(camera_id)
    if end <= start:
        raise ValueError("end must be after start")
    spans = range_spans(sessions, cam, start, end)
    if not spans:
        raise NoFootage(NO_FOOTAGE)
    pieces = plan_pieces(spans, to_ns(start), to_ns(end), settings.data_dir)
    check_space_for(with_overrides(settings, sessions), pieces)  # floor as changed at run time
    storage.ensure_dir(out.parent)
    tmp = storage.partial_path(out)
    try:
        result = concat(pieces, tmp, encoder_options(settings), progress=progress)
        if result.frames == 0:
            raise NoFootage(NO_FOOTAGE)
        mp4meta.append_box(tmp, {
            "kind": "export", "camera_id": cam, "start_ns": to_ns(start), "end_ns": to_ns(end),
            "origin_ns": result.origin_ns, "frames": result.frames, "segments": result.pieces,
        })
        storage.commit(tmp, out)
    except BaseException:
        storage.discard(tmp)
        raise
    return result


def _update(sessions: sessionmaker[Session], export_id: str, **values: Any) -> bool:
    """Update the export's row; False if it no longer exists (deleted)."""
    with sessions.begin() as db:
        done = db.execute(update(Export).where(Export.id == export_id).values(**values))
        return bool(getattr(done, "rowcount", 0))


def run_export(export_id: str) -> dict[str, Any]:
    """RQ job: produce the export ``export_id``. Enqueued as ``"vigil_recorder.exports.run_export"``."""
    ctx = get_context()
    return build_export(ctx.settings, ctx.sessions, export_id)


def build_export(settings: Settings, sessions: sessionmaker[Session], export_id: str) -> dict[str, Any]:
    """The job's body. Returns a summary whose ``status`` is ``done``, ``failed`` (nothing to
    cut: recorded in the row, not raised), ``missing`` (no such row) or ``deleted`` (deleted
    while running). Other errors mark the row failed and are raised."""
    eid = require_export_id(export_id)
    relpath = export_relpath(eid)
    final = settings.data_dir / relpath
    with sessions() as db:
        row = db.get(Export, eid)
        if row is None:
            return {"id": eid, "status": "missing"}
        if row.status == "done" and final.is_file():
            return {"id": eid, "status": "done", "path": relpath.as_posix()}
        camera_id, start, end = row.camera_id, row.start, row.end
    _update(sessions, eid, status="running", progress=0.0, error=None)
    storage.sweep_slow_partials(final.parent)  # left by killed jobs

    def report(fraction: float) -> None:
        _update(sessions, eid, progress=fraction)

    try:
        result = export_range(settings, sessions, camera_id, start, end, final, throttled(report))
    except (NoFootage, NoSpace) as exc:
        _update(sessions, eid, status="failed", error=str(exc), finished_at=utcnow())
        return {"id": eid, "status": "failed", "error": str(exc)}
    except Exception as exc:
        _update(sessions, eid, status="failed", error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR], finished_at=utcnow())
        log.exception("export %s failed", eid)
        raise
    size = final.stat().st_size
    note = f"{len(result.skipped)} unreadable segment(s) left out" if result.skipped else None
    if not _update(sessions, eid, status="done", progress=1.0, path=relpath.as_posix(), bytes=size,
                   error=note, finished_at=utcnow()):
        storage.discard(final)  # deleted while we worked: leave nothing behind
        return {"id": eid, "status": "deleted"}
    log.info("export %s camera=%s frames=%d bytes=%d", eid, camera_id, result.frames, size)
    return {"id": eid, "status": "done", "path": relpath.as_posix(), "bytes": size, "frames": result.frames,
            "segments": result.pieces}
