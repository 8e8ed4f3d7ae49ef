"""Event webhooks against a local HTTP receiver, with real PostgreSQL and Mosquitto: every
delivery is signed (the receiver checks the HMAC as docs/integrations.md says), a 5xx is retried
with backoff under the same event id, a 4xx fails at once, an unreachable receiver is retried;
the running notifier turns a camera going offline (the e-mail's event), motion starting and
ending, and an object event's start and end into deliveries; the API lists them for admins."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import free_port
from tests.helpers import wait_for
from tests.integration.support.notifier import Cameras, CaptureServer, Running, notifier_settings
from vigil_common.contract import webhooks as contract
from vigil_common.contract.messages import ObjectEventMessage, ObjectPhase
from vigil_common.contract.topics import CameraTopic
from vigil_common.contract.urls import closeup_url
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.db.models import WebhookDelivery
from vigil_common.runtime.settings import Settings
from vigil_notifier import webhooks

pytestmark = pytest.mark.integration

SECRET = "receiver-shared-secret-42"


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def deliveries(factory: sessionmaker[Session]) -> list[WebhookDelivery]:
    with factory() as db:
        return list(db.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def hooks(capture: CaptureServer) -> list[object]:
    with capture.lock:
        return [r for r in capture.requests if r.path == "/hook"]


def verified(request: object) -> bool:
    headers = {k.lower(): v for k, v in request.headers.items()}  # type: ignore[attr-defined]
    return contract.verify(SECRET.encode(), int(headers["x-vigil-timestamp"]), request.raw,  # type: ignore[attr-defined]
                           headers["x-vigil-signature"], now=time.time())


def sender(factory: sessionmaker[Session]) -> webhooks.WebhookSender:
    return webhooks.WebhookSender(factory, SECRET.encode(), timeout_s=2.0, retry_base_s=0.05)


def run_until(s: webhooks.WebhookSender, factory: sessionmaker[Session], done: object, what: str) -> None:
    def step() -> bool:
        s.run_once()
        return bool(done(deliveries(factory)))  # type: ignore[operator]

    wait_for(step, 15, what, poll=0.05)


def test_a_5xx_is_retried_with_backoff_and_every_attempt_is_signed(factory: sessionmaker[Session],
                                                                  capture: CaptureServer) -> None:
    capture.script = [503, 502]
    with factory.begin() as db:
        webhooks.add(db, webhooks.Event("motion_start", "porch", {}), [f"{capture.url}/hook"])
    s = sender(factory)
    run_until(s, factory, lambda rows: rows[0].status == "delivered", "the delivery after two 5xx")
    [row] = deliveries(factory)
    assert (row.attempts, row.last_status, row.error) == (3, 202, None) and row.delivered_at is not None
    sent = hooks(capture)
    assert len(sent) == 3 and all(verified(r) for r in sent)
    headers = [{k.lower(): v for k, v in r.headers.items()} for r in sent]  # type: ignore[attr-defined]
    assert {h["x-vigil-event-id"] for h in headers} == {row.event_id}  # one id for every retry
    assert {h["x-vigil-delivery"] for h in headers} == {str(row.id)}
    assert {h["x-vigil-event"] for h in headers} == {"motion_start"}
    assert sent[0].body == {"event_id": row.event_id, "event": "motion_start", "camera_id": "porch",  # type: ignore[attr-defined]
                            "at": sent[0].body["at"], "data": {}}  # type: ignore[attr-defined]
    assert s.counters.total("vigil_notifier_webhooks_total", status="retried") == 2
    assert s.counters.total("vigil_notifier_webhooks_total", status="delivered") == 1


def test_a_redirect_is_not_followed_and_a_row_without_outcome_gives_up(factory: sessionmaker[Session],
                                                                        capture: CaptureServer) -> None:
    capture.script = [302]
    with factory.begin() as db:
        webhooks.add(db, webhooks.Event("motion_end", "porch", {}), [f"{capture.url}/hook"])
        webhooks.add(db, webhooks.Event("motion_end", "yard", {}), [f"{capture.url}/hook"])
    with factory.begin() as db:  # the second was claimed this often by processes that died
        stuck = deliveries(factory)[1]
        db.get(WebhookDelivery, stuck.id).attempts = webhooks.MAX_ATTEMPTS  # type: ignore[union-attr]
    sender(factory).run_once()
    redirected, gave_up = deliveries(factory)
    assert (redirected.status, redirected.last_status) == ("failed", 302)
    assert redirected.error is not None and "redirects are not followed" in redirected.error
    assert gave_up.status == "failed" and gave_up.error is not None and "no outcome" in gave_up.error
    assert len(hooks(capture)) == 1  # one POST, to the first; nothing followed to anywhere


def test_a_4xx_fails_at_once_and_an_unreachable_receiver_is_retried(factory: sessionmaker[Session],
                                                                   capture: CaptureServer) -> None:
    capture.script = [400]
    closed = f"http://127.0.0.1:{free_port()}/hook"
    with factory.begin() as db:
        webhooks.add(db, webhooks.Event("camera_offline", "porch", {"subject": "s", "text": "t"}),
                     [f"{capture.url}/hook", closed])
    s = sender(factory)
    s.run_once()
    refused, unreachable = deliveries(factory)
    assert (refused.status, refused.attempts, refused.last_status) == ("failed", 1, 400)
    assert unreachable.status == "pending" and unreachable.error is not None
    assert unreachable.error.startswith("unreachable") and unreachable.next_attempt_at is not None
    assert refused.event_id == unreachable.event_id  # one event, one row per URL
    s.run_once()
    time.sleep(0.2)
    s.run_once()
    assert deliveries(factory)[1].attempts >= 2
    assert len(hooks(capture)) == 1  # the refused one is not sent again


def _object(cams: Cameras, cam: str, phase: ObjectPhase) -> None:
    message = ObjectEventMessage(type=phase, id=5, camera_id=cam, label="person", score=0.9, start=datetime.now(UTC),
                                 end=datetime.now(UTC) if phase is ObjectPhase.END else None,
                                 closeup_url=closeup_url(5), zones=[], box=[])
    cams.raw(cams.topics.object_event(cam), message.model_dump_json().encode())


def test_the_notifier_sends_the_emails_events_and_motion_and_objects(settings: Settings, capture: CaptureServer,
                                                                     mqtt_url: str, topic_prefix: str) -> None:
    cams = Cameras(mqtt_url, topic_prefix)
    motion = cams.topics.camera("porch", CameraTopic.MOTION)
    cams.client.publish(motion, b"ON", qos=1, retain=True).wait_for_publish(5)  # from before: not an event
    svc = Running(notifier_settings(settings, capture, event_webhook_urls=f"{capture.url}/hook",
                                    event_webhook_secret=SECRET))
    try:
        cams.start("porch")
        time.sleep(1.5)
        cams.raw(cams.topics.camera("yard", CameraTopic.MOTION), b"OFF")  # a recorder's first word: no event
        cams.raw(motion, b"OFF")
        cams.raw(motion, b"OFF")  # no change: no event
        cams.raw(motion, b"ON")
        _object(cams, "porch", ObjectPhase.START)
        _object(cams, "porch", ObjectPhase.UPDATE)
        _object(cams, "porch", ObjectPhase.END)
        cams.stop("porch")  # silent past the grace: offline (an e-mail, and its event)

        def events() -> list[str]:
            return [r.body["event"] for r in hooks(capture)]  # type: ignore[attr-defined]

        wait_for(lambda: "camera_offline" in events(), 30, "the offline event", poll=0.2)
        seen = [e for e in events() if e.startswith(("motion_", "object_"))]
        assert seen == ["motion_end", "motion_start", "object_start", "object_end"]  # no update, no retained ON
        assert all(verified(r) for r in hooks(capture))
        start = next(r.body for r in hooks(capture) if r.body["event"] == "object_start")  # type: ignore[attr-defined]
        assert start["camera_id"] == "porch" and start["data"]["label"] == "person"
        assert start["data"]["closeup_url"] == closeup_url(5)
        offline = next(r.body for r in hooks(capture) if r.body["event"] == "camera_offline")  # type: ignore[attr-defined]
        assert offline["data"]["subject"].startswith("[Vigil]")
        assert any(m.body["subject"] == offline["data"]["subject"] for m in capture.mails())  # the same as the e-mail
    finally:
        svc.stop()
        cams.client.publish(motion, b"", qos=1, retain=True).wait_for_publish(5)
        cams.close()
