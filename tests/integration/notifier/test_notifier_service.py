"""The notifier over real Mosquitto, with the real ``sendgrid`` client against a local capture
server: new-camera, outage (not before the grace period), recovery, blips, bad input, restart."""


from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.helpers import wait_for
from tests.integration.support.notifier import (
    API_KEY,
    RECIPIENTS,
    SENDER,
    Cameras,
    CaptureServer,
    Running,
    notifier_settings,
    rows,
)
from vigil_common.runtime.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def cams(mqtt_url: str, topic_prefix: str) -> Iterator[Cameras]:
    c = Cameras(mqtt_url, topic_prefix)
    yield c
    c.close()


def test_new_camera_one_outage_after_grace_one_recovery(settings: Settings, capture: CaptureServer,
                                                        cams: Cameras, database_url: str) -> None:
    svc = Running(notifier_settings(settings, capture))
    try:
        cams.extra["front-door"] = {"name": "Front door", "location": "Porch"}
        cams.start("front-door")
        wait_for(lambda: capture.mails(), 10, "new-camera e-mail")
        new = capture.mails()[0]
        assert new.body["subject"] == '[Vigil] New camera "Front door" (front-door) registered'
        # Who, from whom, with which key.
        assert new.headers["Authorization"] == f"Bearer {API_KEY}"
        assert new.body["from"]["email"] == SENDER
        assert [t["email"] for t in new.body["personalizations"][0]["to"]] == RECIPIENTS
        assert {c["type"] for c in new.body["content"]} == {"text/plain", "text/html"}
        time.sleep(2)
        cams.stop("front-door")
        stopped = time.time()
        wait_for(lambda: len(capture.mails()) >= 2, 15, "outage e-mail")
        outage = capture.mails()[1]
        assert outage.body["subject"] == '[Vigil] Camera "Front door" (front-door) is offline'
        assert outage.at - stopped >= 3.0 - 1.0  # grace counted from the last heartbeat (<= 1 s before)
        text = next(c["value"] for c in outage.body["content"] if c["type"] == "text/plain")
        assert "Location: Porch" in text and "http://vigil.test/api/v1/cameras/front-door/snapshot.jpg" in text
        assert "CET" in text or "CEST" in text  # VIGIL_TIMEZONE=Europe/Paris
        time.sleep(3)
        assert len(capture.mails()) == 2  # exactly one per outage
        cams.start("front-door")
        wait_for(lambda: len(capture.mails()) >= 3, 10, "recovery e-mail")
        recovery = capture.mails()[2]
        assert recovery.body["subject"].startswith('[Vigil] Camera "Front door" (front-door) is back online after ')
        text = next(c["value"] for c in recovery.body["content"] if c["type"] == "text/plain")
        assert "Outage lasted:" in text
        time.sleep(2)
        assert len(capture.mails()) == 3
        logged = rows(database_url)
        assert [(r.kind, r.status, r.attempts, r.channel) for r in logged] == [
            ("camera_new", "sent", 1, "sendgrid"), ("camera_offline", "sent", 1, "sendgrid"),
            ("camera_online", "sent", 1, "sendgrid")]
        assert all(r.delivered_at is not None for r in logged)
    finally:
        svc.stop()


def test_four_short_blips_under_the_grace_send_nothing(settings: Settings, capture: CaptureServer,
                                                       cams: Cameras) -> None:
    svc = Running(notifier_settings(settings, capture, offline_grace_s=15.0))
    try:
        cams.start("blinky")
        wait_for(lambda: capture.mails(), 10, "new-camera e-mail")
        for _ in range(4):
            cams.stop("blinky")
            time.sleep(3)  # silent for 3 s: suspect, then offline ...
            cams.start("blinky")  # ... and back well inside the 15 s grace
            time.sleep(1.5)
        time.sleep(1)
        assert capture.subjects() == ['[Vigil] New camera "Camera blinky" (blinky) registered']
    finally:
        svc.stop()


def test_bad_input_is_dropped_and_counted(settings: Settings, capture: CaptureServer, cams: Cameras,
                                          topic_prefix: str) -> None:
    svc = Running(notifier_settings(settings, capture))
    try:
        t = cams.topics
        cams.raw(f"{topic_prefix}/cameras/Bad ID/heartbeat", b"{}")  # invalid id in the topic
        cams.raw(t.heartbeat("cam-a"), b"not json")
        cams.raw(t.heartbeat("cam-a"), b'{"camera_id": "cam-a"}')  # missing fields
        cams.heartbeat("cam-a", camera_id="cam-b")  # payload id does not match the topic
        cams.raw(t.status("cam-a"), b"maybe")
        cams.status("ghost", "offline", retain=False)  # never seen alive: nothing to report
        # A camera whose clock is 30 years behind is still alive: arrival time counts.
        cams.extra["oldclock"] = {"sent_at": "1996-01-01T00:00:00+00:00", "last_frame_at": None}
        cams.start("oldclock")
        wait_for(lambda: svc.service.counters.total("vigil_notifier_rejected_total", reason="id_mismatch"), 10,
                 "mismatch counted")
        time.sleep(6)  # twice the grace: no outage for the old-clock camera
        assert capture.subjects() == ['[Vigil] New camera "Camera oldclock" (oldclock) registered']
        c = svc.service.counters
        assert c.total("vigil_notifier_rejected_total", reason="bad_topic") == 1
        assert c.total("vigil_notifier_rejected_total", reason="bad_heartbeat") == 2
        assert c.total("vigil_notifier_rejected_total", reason="bad_status") == 1
        assert svc.thread.is_alive() and svc.service.healthy()
    finally:
        svc.stop()


def test_restart_mid_outage_neither_repeats_nor_loses(settings: Settings, capture: CaptureServer,
                                                      cams: Cameras) -> None:
    s = notifier_settings(settings, capture)
    svc = Running(s)
    try:
        cams.start("yard")
        wait_for(lambda: capture.mails(), 10, "new-camera e-mail")
        cams.stop("yard")
        cams.status("yard", "offline")  # the Last Will, retained
        wait_for(lambda: len(capture.mails()) >= 2, 10, "outage e-mail")
    finally:
        svc.stop()
    svc = Running(s)  # the retained offline is replayed to the new process
    try:
        time.sleep(5)
        assert len(capture.mails()) == 2
        cams.status("yard", "online")  # a status proves nothing ...
        time.sleep(2)
        assert len(capture.mails()) == 2
        cams.start("yard")  # ... a heartbeat does
        wait_for(lambda: len(capture.mails()) >= 3, 10, "recovery e-mail after the restart")
        assert "back online" in capture.subjects()[2]
        time.sleep(1)
        assert len(capture.mails()) == 3
    finally:
        svc.stop()


def test_many_cameras_at_once_make_one_summary(settings: Settings, capture: CaptureServer, cams: Cameras) -> None:
    svc = Running(notifier_settings(settings, capture))
    group = ("c1", "c2", "c3", "c4")
    try:
        cams.start(*group)
        wait_for(lambda: len(capture.mails()) >= 4, 10, "four new-camera e-mails")
        cams.stop(*group)
        wait_for(lambda: len(capture.mails()) >= 5, 15, "summary")
        time.sleep(3)
        assert capture.subjects()[4:] == ["[Vigil] 4 cameras are offline"]
        cams.start(*group)
        wait_for(lambda: len(capture.mails()) >= 6, 10, "recovery summary")
        time.sleep(1.5)
        assert capture.subjects()[5:] == ["[Vigil] 4 cameras are back online"]
    finally:
        svc.stop()


def test_service_status_offline_and_back_and_queued_test_email(
        settings: Settings, capture: CaptureServer, cams: Cameras, topic_prefix: str, database_url: str) -> None:
    from vigil_common.db.engine import make_engine, make_sessionmaker
    from vigil_notifier import emails, outbox

    svc = Running(notifier_settings(settings, capture))
    topic = cams.topics.service_status("recorder")
    try:
        cams.client.publish(topic, b"online", qos=1, retain=True)
        time.sleep(1)
        cams.client.publish(topic, b"offline", qos=1, retain=True)
        wait_for(lambda: capture.mails(), 10, "service offline e-mail")
        assert capture.subjects() == ['[Vigil] Service "recorder" is offline']
        cams.client.publish(topic, b"online", qos=1, retain=True)
        wait_for(lambda: len(capture.mails()) >= 2, 10, "service back e-mail")
        assert capture.subjects()[1] == '[Vigil] Service "recorder" is back online'
        # A test e-mail queued by the API (a pending row) is delivered by the running notifier.
        engine = make_engine(database_url)
        with make_sessionmaker(engine).begin() as db:
            outbox.add(db, emails.test_email(), ["me@example.org"], "sendgrid")
        engine.dispose()
        wait_for(lambda: len(capture.mails()) >= 3, 10, "test e-mail")
        assert capture.subjects()[2] == "[Vigil] Test e-mail"
        assert [t["email"] for t in capture.mails()[2].body["personalizations"][0]["to"]] == ["me@example.org"]
    finally:
        cams.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(2)
        svc.stop()


def test_registry_renames_disabled_cameras_and_cameras_older_than_the_notifier(
        settings: Settings, capture: CaptureServer, cams: Cameras, database_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    from vigil_common.db.engine import make_engine, make_sessionmaker
    from vigil_common.db.models import Camera

    engine = make_engine(database_url)
    now = datetime.now(UTC)
    with make_sessionmaker(engine).begin() as db:
        # Beating before the notifier was installed: not new. Provisioned (`vigil camera add`)
        # two days ago but never heard: new when its Pi comes up.
        db.add(Camera(id="old-cam", name="Old", first_seen=now - timedelta(days=2),
                      last_heartbeat_at=now - timedelta(minutes=5)))
        db.add(Camera(id="provisioned", name="Shed", first_seen=now - timedelta(days=2)))
        db.add(Camera(id="renamed", name="Garage (admin)", name_locked=True, first_seen=now))
        db.add(Camera(id="off", name="Off", enabled=False, first_seen=now))
    engine.dispose()
    svc = Running(notifier_settings(settings, capture))
    try:
        cams.start("old-cam", "renamed", "off", "provisioned")
        wait_for(lambda: len(capture.mails()) >= 2, 10, "new-camera e-mails")
        time.sleep(1)
        # Only cameras never heard before the notifier are new; the admin's name wins over the heartbeat's.
        assert sorted(capture.subjects()) == ['[Vigil] New camera "Camera provisioned" (provisioned) registered',
                                              '[Vigil] New camera "Garage (admin)" (renamed) registered']
        cams.stop("old-cam", "renamed", "off", "provisioned")
        wait_for(lambda: len(capture.mails()) >= 3, 15, "outage e-mails")
        time.sleep(2)
        assert capture.subjects()[2:] == ["[Vigil] 3 cameras are offline"]
    finally:
        svc.stop()
