"""Object events and their close-ups, stored: a row in ``object_events`` per confirmed track and
its best crop as a JPEG under the data directory.

A close-up is written under a temporary name, fsynced and renamed into place before the row
that names it is written or updated, so a row never names a partial file; a better close-up
replaces the file the same way. Paths are built from the validated camera id and numbers only.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract.days import ns_to_datetime
from vigil_common.contract.ids import require_camera_id
from vigil_common.contract.paths import CLOSEUPS_DIR
from vigil_common.db.models import ObjectEvent
from vigil_detector.tracking import Track


def closeup_relpath(camera_id: str, start_ns: int, track_id: int, tz: ZoneInfo) -> PurePosixPath:
    """``closeups/{cam}/{YYYY-MM-DD}/{cam}_{start_ms}_{track}_{token}.jpg`` (day in ``tz``; the
    token keeps two detector processes, or a restart, from ever sharing a name)."""
    cam = require_camera_id(camera_id)
    start_ms = start_ns // 1_000_000
    day = datetime.fromtimestamp(start_ms / 1000, UTC).astimezone(tz).strftime("%Y-%m-%d")
    return PurePosixPath(CLOSEUPS_DIR, cam, day, f"{cam}_{start_ms}_{int(track_id)}_{secrets.token_hex(4)}.jpg")


def write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def track_json(track: Track) -> str:
    return json.dumps([[s.at_ns // 1_000_000, s.box.x, s.box.y, s.box.w, s.box.h, round(s.score, 4)]
                       for s in track.path], separators=(",", ":"))


def _last_sighting(track: str | None) -> datetime | None:
    """The time of the last point of a stored box track, or None."""
    try:
        points = json.loads(track or "[]")
        return ns_to_datetime(int(points[-1][0]) * 1_000_000) if points else None
    except (ValueError, TypeError, IndexError, KeyError):
        return None


class EventStore:
    """Rows and files for one detector process; ``event_id`` maps a track to its row."""

    def __init__(self, sessions: sessionmaker[Session], data_dir: Path, tz: ZoneInfo) -> None:
        self.sessions = sessions
        self.data_dir = data_dir
        self.tz = tz
        self.event_id: dict[tuple[str, int], int] = {}
        self.closeup: dict[tuple[str, int], PurePosixPath] = {}

    def started(self, camera_id: str, track: Track, closeup: bytes, size: tuple[int, int], zones: list[str]) -> int:
        rel = closeup_relpath(camera_id, track.first_ns, track.id, self.tz)
        write_file(self.data_dir / rel, closeup)
        with self.sessions.begin() as s:
            row = ObjectEvent(camera_id=camera_id, label=track.label, score=track.best.score,
                              start=ns_to_datetime(track.first_ns), end=None, width=size[0], height=size[1],
                              closeup_path=str(rel), track=track_json(track), zones=",".join(sorted(zones)))
            s.add(row)
            s.flush()
            event_id = int(row.id)
        self.event_id[(camera_id, track.id)] = event_id
        self.closeup[(camera_id, track.id)] = rel
        return event_id

    def improved(self, camera_id: str, track: Track, closeup: bytes) -> None:
        key = (camera_id, track.id)
        if key not in self.event_id:
            return
        write_file(self.data_dir / self.closeup[key], closeup)
        with self.sessions.begin() as s:
            row = s.get(ObjectEvent, self.event_id[key])
            if row is not None:
                row.score = track.best.score
                row.track = track_json(track)

    def ended(self, camera_id: str, track: Track) -> int | None:
        key = (camera_id, track.id)
        event_id = self.event_id.pop(key, None)
        self.closeup.pop(key, None)
        if event_id is None:
            return None
        with self.sessions.begin() as s:
            row = s.get(ObjectEvent, event_id)
            if row is not None:
                row.end = ns_to_datetime(track.last_ns)
                row.score = track.best.score
                row.track = track_json(track)
        return event_id

    def face(self, camera_id: str, track: Track, closeup: bytes) -> None:
        """A person's (better) face close-up, next to the event's close-up (``..._face.jpg``)."""
        key = (camera_id, track.id)
        if key not in self.event_id:
            return
        rel = self.closeup[key].with_name(self.closeup[key].stem + "_face.jpg")
        write_file(self.data_dir / rel, closeup)
        with self.sessions.begin() as s:
            row = s.get(ObjectEvent, self.event_id[key])
            if row is not None and row.face_path != str(rel):
                row.face_path = str(rel)

    def end_stale(self, camera_id: str) -> int:
        """End the open events of ``camera_id`` that this process does not track: left by a
        detector that was killed (or by the camera's previous owner among several). Each ends at
        its last sighting (the box track's last time), else its start. Without this an open row
        would protect the camera's footage from retention and match ``?label=`` forever."""
        ended = 0
        with self.sessions.begin() as s:
            rows = s.execute(select(ObjectEvent).where(ObjectEvent.camera_id == camera_id,
                                                       ObjectEvent.end.is_(None))).scalars().all()
            mine = {event_id for (cam, _), event_id in self.event_id.items() if cam == camera_id}
            for row in rows:
                if row.id in mine:
                    continue
                row.end = max(row.start, _last_sighting(row.track) or row.start)
                ended += 1
        return ended

    def events(self, camera_id: str) -> list[ObjectEvent]:
        with self.sessions() as s:
            return list(s.execute(select(ObjectEvent).where(ObjectEvent.camera_id == camera_id)
                                  .order_by(ObjectEvent.start, ObjectEvent.id)).scalars())
