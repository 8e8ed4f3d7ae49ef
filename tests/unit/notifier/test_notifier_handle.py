"""The notifier's message handling without a broker: validation, id checks, bounded watches."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import heartbeat_bytes
from vigil_common.runtime.settings import Settings
from vigil_notifier import service as service_mod
from vigil_notifier.service import Inbound, NotifierService


@pytest.fixture
def svc(tmp_path: Path) -> NotifierService:
    s = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'v.db'}",  # type: ignore[call-arg]
                 mqtt_url="mqtt://127.0.0.1:1", redis_url="redis://127.0.0.1:1/0")
    return NotifierService(s)


def rejected(svc: NotifierService, reason: str) -> int:
    return svc.counters.total("vigil_notifier_rejected_total", reason=reason)


def test_heartbeat_validation(svc: NotifierService) -> None:
    assert [a.kind for a in svc.handle(Inbound("heartbeat", "cam1", heartbeat_bytes("cam1"), 100.0))] == ["camera_new"]
    assert svc.handle(Inbound("heartbeat", "cam1", heartbeat_bytes("cam2"), 101.0)) == []
    assert rejected(svc, "id_mismatch") == 1
    assert svc.handle(Inbound("heartbeat", "cam1", b"\xff\xfe", 102.0)) == []
    assert svc.handle(Inbound("heartbeat", "cam1", heartbeat_bytes("cam1", fps="fast"), 103.0)) == []
    assert rejected(svc, "bad_heartbeat") == 2
    assert svc.handle(Inbound("status", "cam1", b"\xff", 104.0)) == []
    assert rejected(svc, "bad_status") == 1
    assert svc.watches["camera:cam1"].last_seen == 100.0  # rejected messages are no sign of life


def test_watches_are_bounded(svc: NotifierService, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_mod, "MAX_WATCHES", 2)
    for cam in ("a", "b", "c"):
        svc.handle(Inbound("heartbeat", cam, heartbeat_bytes(cam), 1.0))
    assert set(svc.watches) == {"camera:a", "camera:b"}
    assert rejected(svc, "too_many") == 1


def test_services_and_own_status(svc: NotifierService) -> None:
    assert svc.handle(Inbound("service", "recorder", b"online", 1.0)) == []
    assert svc.watches["service:recorder"].phase == "online"
    assert svc.handle(Inbound("status", "ghost", b"offline", 1.0)) == []  # never seen alive
    assert "camera:ghost" not in svc.watches
