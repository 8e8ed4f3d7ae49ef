"""Object e-mails over real Mosquitto, with the real ``sendgrid`` client against a local capture
server: a camera that opted in for a label gets one e-mail when such an object event starts,
with its close-up linked; other labels, other cameras, repeats of one event and events within
the cooldown send nothing; a malformed event is dropped and counted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.helpers import wait_for
from tests.integration.support.notifier import Cameras, CaptureServer, Running, notifier_settings, rows
from vigil_common.contract import object_alerts
from vigil_common.contract.messages import ObjectEventMessage, ObjectPhase
from vigil_common.contract.urls import closeup_url
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.db.models import Camera
from vigil_common.runtime.settings import Settings

pytestmark = pytest.mark.integration
COOLDOWN_S = 3.0


@pytest.fixture
def cams(mqtt_url: str, topic_prefix: str) -> Iterator[Cameras]:
    c = Cameras(mqtt_url, topic_prefix)
    yield c
    c.close()


def register(database_url: str, cam: str, name: str, notify: list[str]) -> None:
    engine = make_engine(database_url)
    with make_sessionmaker(engine).begin() as s:
        s.add(Camera(id=cam, name=name, location="Front door", enabled=True, notify_objects=object_alerts.dump(notify)))
    engine.dispose()


def event(cams: Cameras, cam: str, event_id: int, label: str, phase: ObjectPhase = ObjectPhase.START) -> None:
    message = ObjectEventMessage(type=phase, id=event_id, camera_id=cam, label=label, score=0.83,
                                 start=datetime.now(UTC), end=datetime.now(UTC) if phase is ObjectPhase.END else None,
                                 closeup_url=closeup_url(event_id), zones=["driveway"], box=[0.1, 0.2, 0.3, 0.5])
    cams.raw(cams.topics.object_event(cam), message.model_dump_json().encode())


def test_an_opted_in_label_is_emailed_once_with_its_close_up(settings: Settings, capture: CaptureServer,
                                                             cams: Cameras, database_url: str) -> None:
    register(database_url, "porch", "Porch cam", ["person", "dog"])
    register(database_url, "yard", "Yard", [])
    svc = Running(notifier_settings(settings, capture, notify_object_cooldown_s=COOLDOWN_S))
    try:
        wait_for(lambda: "porch" in svc.service.notify_objects, 10, "the cameras' object labels")
        event(cams, "porch", 7, "person")
        wait_for(lambda: capture.mails(), 10, "the object e-mail")
        mail = capture.mails()[0]
        assert mail.body["subject"] == '[Vigil] Person at "Porch cam" (porch)'
        text = next(c["value"] for c in mail.body["content"] if c["type"] == "text/plain")
        assert "Close-up: http://vigil.test/api/v1/events/objects/7/closeup.jpg" in text
        assert "Location: Front door" in text and "Score: 83%" in text and "Zones: driveway" in text
        # Nothing for: the same event again (QoS 1 redelivery), its end, a label not opted in, a
        # camera that opted in for nothing, another person within the cooldown, a malformed event.
        event(cams, "porch", 7, "person")
        event(cams, "porch", 7, "person", ObjectPhase.END)
        event(cams, "porch", 8, "cat")
        event(cams, "yard", 9, "person")
        event(cams, "porch", 10, "person")
        cams.raw(cams.topics.object_event("porch"), b'{"type": "start", "id": "x"}')
        wait_for(lambda: svc.service.counters.total("vigil_notifier_rejected_total", reason="bad_object_event"), 10,
                 "the malformed event counted")
        # Another label opted in is its own e-mail; after the cooldown, a person is again.
        event(cams, "porch", 11, "dog")
        wait_for(lambda: len(capture.mails()) >= 2, 10, "the dog e-mail")
        time.sleep(COOLDOWN_S + 0.5)
        event(cams, "porch", 12, "person")
        wait_for(lambda: len(capture.mails()) >= 3, 10, "a person after the cooldown")
        time.sleep(1.0)
        assert capture.subjects() == ['[Vigil] Person at "Porch cam" (porch)', '[Vigil] Dog at "Porch cam" (porch)',
                                      '[Vigil] Person at "Porch cam" (porch)']
        logged = [(r.kind, r.camera_id, r.status) for r in rows(database_url)]
        assert logged == [("object_detected", "porch", "sent")] * 3
    finally:
        svc.stop()
