"""Which object events become e-mails (pure) and what the e-mail says."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from vigil_common.contract.messages import ObjectEventMessage, ObjectPhase
from vigil_notifier import objects
from vigil_notifier.emails import Context, object_detected
from vigil_notifier.objects import ObjectAlerts

START = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)


def msg(event_id: int, label: str = "person", cam: str = "porch", phase: ObjectPhase = ObjectPhase.START,
        zones: list[str] | None = None) -> ObjectEventMessage:
    return ObjectEventMessage(type=phase, id=event_id, camera_id=cam, label=label, score=0.912, start=START,
                              closeup_url=f"/api/v1/events/objects/{event_id}/closeup.jpg", zones=zones or [])


def test_starts_of_wanted_labels_once_per_event_and_per_cooldown() -> None:
    alerts = ObjectAlerts(cooldown_s=300)
    wanted = frozenset({"person"})
    assert alerts.decide(msg(1), wanted, 1000.0)
    assert not alerts.decide(msg(1), wanted, 1001.0)  # the same event again
    assert not alerts.decide(msg(2, phase=ObjectPhase.END), wanted, 1002.0)
    assert not alerts.decide(msg(3, phase=ObjectPhase.UPDATE), wanted, 1002.0)
    assert not alerts.decide(msg(4, label="cat"), wanted, 1003.0)
    assert not alerts.decide(msg(5), wanted, 1200.0)  # within 300 s of the last person e-mail
    assert alerts.decide(msg(6, cam="yard"), wanted, 1200.0)  # another camera: its own cooldown
    assert alerts.decide(msg(7), wanted, 1300.5)
    assert not alerts.decide(msg(8), frozenset(), 5000.0)  # nothing opted in
    assert alerts.decide(msg(9), wanted, 500.0)  # the clock went back: not a cooldown


def test_memory_is_bounded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(objects, "MAX_REMEMBERED", 10)
    alerts = ObjectAlerts(cooldown_s=0)
    for i in range(1, 50):
        alerts.decide(msg(i, cam=f"cam-{i}"), frozenset({"person"}), float(i))
    assert len(alerts.seen) == 10 and len(alerts.last_sent) == 10


def test_the_email_names_the_camera_and_links_the_close_up() -> None:
    mail = object_detected(msg(7, zones=["driveway"]), "Front door", "Porch", Context(ZoneInfo("Europe/Paris"),
                                                                                         "https://vigil.example"))
    assert mail.kind == "object_detected" and mail.camera_id == "porch"
    assert mail.subject == '[Vigil] Person at "Front door" (porch)'
    assert "Close-up: https://vigil.example/api/v1/events/objects/7/closeup.jpg" in mail.text
    assert "Seen at: 2026-12-03 18:00:00 CET" in mail.text and "Score: 91%" in mail.text
    assert "Zones: driveway" in mail.text and "https://vigil.example/api/v1/events/objects/7/closeup.jpg" in mail.html
    bare = object_detected(msg(8), "", "", Context(ZoneInfo("UTC")))
    assert bare.subject == "[Vigil] Person at porch" and "Close-up" not in bare.text  # no public URL: no link
