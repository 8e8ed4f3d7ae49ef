"""The camera registry in the database, kept from heartbeats, status messages and frames.

MQTT callbacks only record the latest facts per camera in memory (bounded by the number of
cameras); a writer thread flushes them every half second, retrying with backoff while the
database is away, so a slow or restarting database never stalls the MQTT thread.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vigil_common.contract.messages import OFFLINE, ONLINE, Heartbeat
from vigil_common.db.engine import upsert
from vigil_common.db.models import Camera, CameraEvent
from vigil_common.runtime.lifecycle import backoff_delays
from vigil_ingest.background import BackgroundLoop

log = logging.getLogger(__name__)

FRAME_TOUCH_INTERVAL_S = 5.0
DISABLED_REFRESH_S = 5.0


@dataclass
class _Pending:
    heartbeat: Heartbeat | None = None
    heartbeat_at: datetime | None = None
    status: str | None = None
    status_at: datetime | None = None
    frame_at: datetime | None = None
    frame_size: tuple[int, int, str] | None = None


@dataclass
class RegistryState:
    pending: dict[str, _Pending] = field(default_factory=dict)
    last_frame_touch: dict[str, float] = field(default_factory=dict)


def heartbeat_row(hb: Heartbeat, at: datetime) -> dict[str, object]:
    """The registry columns a heartbeat sets (name/location are handled separately)."""
    return {
        "id": hb.camera_id,
        "status": ONLINE,
        "streaming": hb.streaming,
        "fps": float(hb.fps),
        "fps_target": float(hb.fps_target),
        "width": hb.width,
        "height": hb.height,
        "codec": hb.codec,
        "source": hb.source,
        "version": hb.version,
        "frames_sent": hb.frames_sent,
        "frames_dropped": hb.frames_dropped,
        "last_seen": at,
        "last_heartbeat_at": at,
    }


def _connection_lost(exc: BaseException) -> bool:
    """The database is away (retry everything later), as opposed to refusing one row."""
    return isinstance(exc, OperationalError) or bool(getattr(exc, "connection_invalidated", False))


class Registry(BackgroundLoop):
    def __init__(self, factory: sessionmaker[Session]) -> None:
        super().__init__("registry")
        self._factory = factory
        self._lock = threading.Lock()
        self._state = RegistryState()
        self._disabled: frozenset[str] = frozenset()
        # Last known (status, streaming) per registered camera, to see transitions.

    # called from the MQTT thread --------------------------------------------------------
    def heartbeat(self, hb: Heartbeat) -> None:
        with self._lock:
            p = self._state.pending.setdefault(hb.camera_id, _Pending())
            p.heartbeat, p.heartbeat_at = hb, datetime.now(UTC)
            p.status = None  # a heartbeat after an `offline` means the camera is back

    def status(self, camera_id: str, status: str) -> None:
        with self._lock:
            p = self._state.pending.setdefault(camera_id, _Pending())
            p.status, p.status_at = status, datetime.now(UTC)

    def frame(self, camera_id: str, width: int, height: int, codec: str) -> None:
        """Note a frame; touches the registry at most every few seconds per camera."""
        now = time.monotonic()
        last = self._state.last_frame_touch.get(camera_id)
        if last is not None and now - last < FRAME_TOUCH_INTERVAL_S:
            return
        with self._lock:
            self._state.last_frame_touch[camera_id] = now
            p = self._state.pending.setdefault(camera_id, _Pending())
            p.frame_at, p.frame_size = datetime.now(UTC), (width, height, codec)
            p.status = None

    def is_disabled(self, camera_id: str) -> bool:
        return camera_id in self._disabled

    # writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        delays = backoff_delays(0.5, 15.0)
        next_refresh = 0.0
        while True:
            stopping = self._stop.wait(0.5)
            try:
                if time.monotonic() >= next_refresh:
                    self.refresh_disabled()
                    next_refresh = time.monotonic() + DISABLED_REFRESH_S
                self.flush()
                self.healthy = True
                delays = backoff_delays(0.5, 15.0)
            except Exception as exc:  # noqa: BLE001 - the registry thread must outlive any failure
                self.healthy = False
                delay = delays()
                log.warning("registry: database unavailable (%s: %s); retrying in %.1fs", exc.__class__.__name__,
                            str(exc).splitlines()[0][:200] if str(exc) else "", delay)
                if self._stop.wait(delay):
                    return
            if stopping:
                return

    def refresh_disabled(self) -> None:
        with self._factory() as db:
            self._disabled = frozenset(db.scalars(select(Camera.id).where(Camera.enabled.is_(False))))

    def flush(self) -> None:
        """Write the pending facts, each camera in its own savepoint.

        A camera whose row the database refuses is logged and dropped (it cannot block the
        others); if the database itself is away, everything is put back for the next try.
        """
        with self._lock:
            pending, self._state.pending = self._state.pending, {}
        if not pending:
            return
        try:
            with self._factory.begin() as db:
                for camera_id, p in pending.items():
                    try:
                        with db.begin_nested():
                            self._apply(db, camera_id, p)
                    except (SQLAlchemyError, ValueError, OverflowError) as exc:
                        if not db.is_active or _connection_lost(exc):
                            raise
                        log.warning("registry: update of camera %s refused (%s); dropped", camera_id, exc)
        except SQLAlchemyError:
            with self._lock:  # put back what was not written, unless newer facts arrived
                for camera_id, p in pending.items():
                    self._state.pending.setdefault(camera_id, p)
            raise

    def _transitions(self, db: Session, camera_id: str, status: str, streaming: bool, at: datetime) -> None:
        """Record changes of online/offline and streaming/stopped in ``camera_events``.

        Decided from the row itself, locked until the transaction ends, never from a cache of
        this process: several ingest processes may write the same camera (heartbeats shared
        through ``$share``, status seen by all), and each must see the others' changes.
        """
        row = db.get(Camera, camera_id, with_for_update=True, populate_existing=True)
        known = (row.status, row.streaming) if row is not None else (None, None)
        events = []
        if status != known[0]:
            events.append(status)
        if status == ONLINE and streaming != known[1]:
            events.append("streaming" if streaming else "stopped")
        for kind in events:
            db.add(CameraEvent(camera_id=camera_id, time=at, kind=kind))

    def _apply(self, db: Session, camera_id: str, p: _Pending) -> None:
        if p.heartbeat is not None and p.heartbeat_at is not None:
            hb = p.heartbeat
            self._transitions(db, camera_id, ONLINE, hb.streaming, p.heartbeat_at)
            row = heartbeat_row(hb, p.heartbeat_at)
            upsert(db, Camera, {**row, "name": hb.name or camera_id, "location": hb.location,
                                "first_seen": p.heartbeat_at},
                   conflict=["id"], update=[k for k in row if k != "id"])
            db.execute(update(Camera).where(Camera.id == camera_id, Camera.name_locked.is_(False))
                       .values(name=hb.name or camera_id, location=hb.location))
        if p.frame_at is not None and p.frame_size is not None:
            self._transitions(db, camera_id, ONLINE, True, p.frame_at)
            width, height, codec = p.frame_size
            # A camera that only sends frames (e.g. an ESP32-CAM posting bare JPEGs) is registered too.
            upsert(db, Camera, {"id": camera_id, "name": camera_id, "location": "", "status": ONLINE,
                                "streaming": True, "width": width, "height": height, "codec": codec,
                                "source": "mqtt", "first_seen": p.frame_at, "last_seen": p.frame_at},
                   conflict=["id"], update=["last_seen", "status", "streaming"])
        if p.status == OFFLINE:
            if db.get(Camera, camera_id) is not None:
                self._transitions(db, camera_id, OFFLINE, False, p.status_at or datetime.now(UTC))
            db.execute(update(Camera).where(Camera.id == camera_id).values(status=OFFLINE, streaming=False))
        elif p.status == ONLINE and p.heartbeat is None:
            db.execute(update(Camera).where(Camera.id == camera_id)
                       .values(status=ONLINE, last_seen=datetime.now(UTC)))
