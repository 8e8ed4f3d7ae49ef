"""E-mail text, durations, channel selection and SMTP URL parsing."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from vigil_common.db.notifier_settings import from_stored, valid_email
from vigil_common.runtime.settings import Settings
from vigil_notifier import emails
from vigil_notifier.channels import (
    ConsoleChannel,
    SendGridChannel,
    SmtpChannel,
    WebhookChannel,
    make_channel,
    parse_smtp_url,
)
from vigil_notifier.machine import CAMERA, ONLINE, Alert, Watch
from vigil_notifier.outbox import MAX_DELAY_S, retry_delay

CTX = emails.Context(ZoneInfo("Europe/Paris"), "https://vigil.example.org/")
T = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC = 23:13:20 CET


def cam(**over: object) -> Watch:
    w = Watch(CAMERA, "front-door", name="Front door", location="Porch <east>", down_since=T)
    for k, v in over.items():
        setattr(w, k, v)
    return w


def test_offline_subject_and_body() -> None:
    mail = emails.compose(Alert("camera_offline", T + 75, (cam(),), duration_s=75), CTX)
    assert mail.subject == '[Vigil] Camera "Front door" (front-door) is offline'
    assert mail.kind == "camera_offline" and mail.camera_id == "front-door"
    assert "Last seen: 2023-11-14 23:13:20 CET" in mail.text
    assert "Location: Porch <east>" in mail.text
    assert "https://vigil.example.org/api/v1/cameras/front-door/snapshot.jpg" in mail.text
    assert "Porch &lt;east&gt;" in mail.html and "<east>" not in mail.html
    assert 'href="https://vigil.example.org/api/v1/cameras/front-door/snapshot.jpg"' in mail.html
    # The web app's router: #/camera/{id} (frontend/js/app.js, pages/live.js).
    assert "Open in Vigil: https://vigil.example.org/#/camera/front-door" in mail.text
    assert 'href="https://vigil.example.org/#/camera/front-door"' in mail.html


def test_recovery_carries_the_duration() -> None:
    w = cam(recovered_at=T + 3725, recovered_after=3725.0)
    mail = emails.compose(Alert("camera_online", T + 3730, (w,), duration_s=3725), CTX)
    assert mail.subject == '[Vigil] Camera "Front door" (front-door) is back online after 1 h 2 min'
    assert "Outage lasted: 1 h 2 min" in mail.text


def test_new_camera_reminder_summary_and_others() -> None:
    assert emails.compose(Alert("camera_new", T, (cam(),)), CTX).subject == \
        '[Vigil] New camera "Front door" (front-door) registered'
    assert "still offline (1 d 0 h)" in emails.compose(Alert("camera_reminder", T, (cam(),), duration_s=86400),
                                                       CTX).subject
    many = tuple(cam(ident=f"c{i}", name="") for i in range(4))
    s = emails.compose(Alert("cameras_summary", T, many, going="offline"), CTX)
    assert s.subject == "[Vigil] 4 cameras are offline" and "c3 (c3)" in s.text
    s = emails.compose(Alert("cameras_summary", T, many, going=ONLINE), CTX)
    assert s.subject == "[Vigil] 4 cameras are back online"
    assert emails.broker_lost(35, T, CTX).subject == "[Vigil] Notifier lost the MQTT broker for 35 s"
    assert emails.condition("disk_low", True, {"free_bytes": 5}).subject.startswith("[Vigil] Disk space")
    assert "front-door" in emails.condition("ingest_dropping", True, {}, "front-door").subject
    assert emails.test_email().kind == "test"


def test_no_public_url_means_no_links() -> None:
    mail = emails.compose(Alert("camera_offline", T, (cam(),), duration_s=60), emails.Context(ZoneInfo("UTC")))
    assert "http" not in mail.text


@pytest.mark.parametrize(("secs", "text"), [(0, "0 s"), (59.6, "1 min 0 s"), (75, "1 min 15 s"),
                                            (3600, "1 h 0 min"), (93784, "1 d 2 h"), (None, "unknown")])
def test_duration(secs: float | None, text: str) -> None:
    assert emails.duration(secs) == text


def test_channel_choice() -> None:
    base = {"_env_file": None}
    assert isinstance(make_channel(Settings(**base)), ConsoleChannel)  # type: ignore[arg-type]
    s = Settings(**base, sendgrid_api_key="SG.x", smtp_url="smtp://h", email_from="a@b.co")  # type: ignore[arg-type]
    assert isinstance(make_channel(s), SendGridChannel)
    assert isinstance(make_channel(Settings(**base, smtp_url="smtp://h")), SmtpChannel)  # type: ignore[arg-type]
    hook = Settings(**base, webhook_url="https://ntfy.example/x")  # type: ignore[arg-type]
    assert isinstance(make_channel(hook), WebhookChannel)
    forced = Settings(**base, notify_channel="console", sendgrid_api_key="SG.x")  # type: ignore[arg-type]
    assert isinstance(make_channel(forced), ConsoleChannel)
    with pytest.raises(ValueError):
        make_channel(Settings(**base, notify_channel="smtp"))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        make_channel(Settings(**base, webhook_url="file:///etc/passwd"))  # type: ignore[arg-type]
    assert "SG.x" not in repr(s) and "SG.x" not in str(s.model_dump())


def test_smtp_url() -> None:
    t = parse_smtp_url("smtp://me%40x.org:p%3Ass@mail.example.org:2525?starttls=1")
    assert (t.host, t.port, t.username, t.password, t.tls, t.starttls) == \
        ("mail.example.org", 2525, "me@x.org", "p:ss", False, True)
    assert parse_smtp_url("smtps://mail.example.org").port == 465
    assert parse_smtp_url("smtp://mail.example.org").port == 25
    with pytest.raises(ValueError):
        parse_smtp_url("http://x")


def test_retry_backoff() -> None:
    assert [retry_delay(n, 2) for n in (1, 2, 3)] == [2, 4, 8]
    assert retry_delay(40, 2) == MAX_DELAY_S


def test_runtime_settings_fall_back_to_vigil_settings() -> None:
    s = Settings(_env_file=None, alert_emails="a@x.org, b@y.org", offline_grace_s=30)  # type: ignore[call-arg]
    c = from_stored(s, {})
    assert c.recipients == ["a@x.org", "b@y.org"] and c.offline_grace_s == 30 and c.channel == "console"
    c = from_stored(s, {"recipients": ["c@z.org", "bad"], "offline_grace_s": 90, "reminder_after_s": None})
    assert c.recipients == ["c@z.org"] and c.offline_grace_s == 90 and c.reminder_after_s is None
    assert c.reminder_every_s == s.reminder_every_s
    assert valid_email("x.y+z@example.co.uk")
    assert not valid_email("no at") and not valid_email("a@b") and not valid_email("a@b.c\n")


def test_runtime_settings_report_the_channel_the_notifier_published() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert from_stored(s, {}).channel == "console"  # the notifier never ran: the API's own guess
    assert from_stored(s, {"active_channel": "sendgrid"}).channel == "sendgrid"
    assert from_stored(s, {"active_channel": "carrier-pigeon"}).channel == "console"


@pytest.mark.parametrize("sep", ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028",
                                 "\u2029", "\x00", "\x7f"])
def test_subjects_are_one_header_line_whatever_the_camera_name(sep: str) -> None:
    from email.message import EmailMessage

    mail = emails.compose(Alert("camera_offline", T + 75, (cam(name=f"Front{sep}door"),), duration_s=75), CTX)
    assert mail.subject == '[Vigil] Camera "Front door" (front-door) is offline'
    assert len(mail.subject.splitlines()) == 1
    assert emails.header_text(f"a{sep}b") == "a b"
    em = EmailMessage()
    em["Subject"] = emails.header_text(f"[Vigil] Camera {sep} x")  # EmailMessage accepts it
    assert "Ünïcödé names stay" == emails.header_text("Ünïcödé names stay")


def test_redis_memory_high_compares_used_with_the_limit() -> None:
    from vigil_notifier.conditions import redis_memory_high

    assert redis_memory_high(900, 1000, 90) and redis_memory_high(999, 1000, 90)
    assert not redis_memory_high(899, 1000, 90)
    assert not redis_memory_high(10**12, 0, 90)  # no maxmemory: nothing to compare against
    assert not redis_memory_high(None, 1000, 90)
    mail = emails.condition("redis_memory_high", True, {"used": "95.0 MiB", "limit": "100.0 MiB"})
    assert mail.subject == "[Vigil] Redis memory is near its limit"
    assert "VIGIL_STREAM_BUFFER_S" in mail.text and "95.0 MiB" in mail.text
    back = emails.condition("redis_memory_high", False, {"used": "10.0 MiB"})
    assert back.subject == "[Vigil] Redis memory is below its limit again"


@pytest.mark.parametrize(("value", "text"), [
    (None, "unknown"), (0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (95 * 2**20, "95.0 MiB"),
    (3 * 2**40, "3.0 TiB"), (5 * 2**50, "5120.0 TiB"),
])
def test_format_size(value: int | None, text: str) -> None:
    from vigil_common.contract.sizes import format_size

    assert format_size(value) == text
