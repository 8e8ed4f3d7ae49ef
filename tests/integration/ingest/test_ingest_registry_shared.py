"""Two ingest processes writing one camera's registry row (shared heartbeats, status seen by all)
record each online/offline transition once: transitions come from the row, not a per-process cache."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.helpers import heartbeat_bytes
from vigil_common.contract.messages import OFFLINE
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.db.models import Camera, CameraEvent
from vigil_ingest.registry import Registry
from vigil_ingest.validate import validate_heartbeat

pytestmark = pytest.mark.integration
CAM = "shared-cam"


def test_transitions_are_recorded_once_across_processes(database_url: str) -> None:
    engine = make_engine(database_url)
    factory = make_sessionmaker(engine)
    a, b = Registry(factory), Registry(factory)  # two ingest processes' registries
    hb = validate_heartbeat(CAM, heartbeat_bytes(CAM))

    def step(reg: Registry, *, heartbeat: bool = False, offline: bool = False) -> None:
        if heartbeat:
            reg.heartbeat(hb)
        if offline:
            reg.status(CAM, OFFLINE)
        reg.flush()

    step(a, heartbeat=True)          # A registers the camera: online + streaming
    step(b, heartbeat=True)          # B's first heartbeat for it: nothing changed
    step(a, offline=True)            # the Last Will reaches both processes
    step(b, offline=True)
    step(b, heartbeat=True)          # the camera is back; B got this heartbeat ...
    step(a, heartbeat=True)          # ... and A the next one: still one "online"
    with factory() as db:
        kinds = [e.kind for e in db.scalars(select(CameraEvent).where(CameraEvent.camera_id == CAM)
                                            .order_by(CameraEvent.id))]
        row = db.get(Camera, CAM)
    engine.dispose()
    assert kinds == ["online", "streaming", "offline", "online", "streaming"]
    assert row is not None and row.status == "online"
