"""Event webhooks' signature (checked against openssl's HMAC-SHA256 of the same bytes), the
receiver's check, the body, the backoff and which statuses are retried."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from vigil_common.contract import webhooks as contract
from vigil_common.runtime.settings import Settings
from vigil_notifier.webhooks import MAX_DELAY_S, Event, retry_delay, retryable

SECRET = b"0123456789abcdef-secret"
# printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac "0123456789abcdef-secret"
OPENSSL = "6948a2dc6985c92d09b9edade5c97dce2ba201452d91a72e4a20d35abe4d3420"


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    assert contract.signature(SECRET, 1700000000, b'{"a":1}') == "sha256=" + OPENSSL


def test_a_receiver_accepts_only_the_right_signature_and_a_recent_timestamp() -> None:
    body, ts = b'{"a":1}', 1700000000
    good = contract.signature(SECRET, ts, body)
    assert contract.verify(SECRET, ts, body, good, now=ts + 10)
    assert not contract.verify(SECRET, ts, body + b" ", good, now=ts)  # body changed
    assert not contract.verify(b"another-secret-of-16", ts, body, good, now=ts)
    assert not contract.verify(SECRET, ts + 1, body, good, now=ts)  # timestamp changed
    assert not contract.verify(SECRET, ts, body, good, now=ts + 301)  # a replay, later


def test_the_body_carries_the_event_and_one_id_for_every_retry() -> None:
    at = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    event = Event("motion_start", "porch", {}, at=at)
    doc = json.loads(event.body())
    assert doc == {"event_id": event.event_id, "event": "motion_start", "camera_id": "porch",
                   "at": "2026-12-04T12:00:00+00:00", "data": {}}
    assert event.body() == event.body() and len(event.event_id) == 32
    assert Event("motion_end", "porch", {}).event_id != event.event_id


def test_backoff_doubles_up_to_an_hour_and_only_transient_statuses_are_retried() -> None:
    assert [retry_delay(n, 2.0) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert retry_delay(30, 2.0) == MAX_DELAY_S
    assert all(retryable(s) for s in (408, 425, 429, 500, 502, 503))
    assert not any(retryable(s) for s in (400, 401, 403, 404, 410, 422, 301))


def test_urls_need_a_secret_and_are_http() -> None:
    ok = Settings(_env_file=None, event_webhook_urls="https://a.example/hook,http://b.lan:8123/api/webhook/x",  # type: ignore[call-arg]
                  event_webhook_secret="s" * 16)
    assert ok.webhook_secret() == b"s" * 16 and len(ok.event_webhook_urls) == 2
    assert Settings(_env_file=None).webhook_secret() is None  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="needs VIGIL_EVENT_WEBHOOK_SECRET"):
        Settings(_env_file=None, event_webhook_urls="https://a.example/hook",  # type: ignore[call-arg]
                 event_webhook_secret="short").webhook_secret()
    for bad, why in (("ftp://a.example/x", "not an http"), ("https://", "not an http"),
                     ("file:///etc/passwd", "not an http"), ("http://a.example:99999/x", "valid port"),
                     ("http://a.example:port/x", "valid port"), ("https://u:pw@a.example/x", "credentials")):
        cfg = Settings(_env_file=None, event_webhook_urls=f"https://ok.example/h,{bad}",  # type: ignore[call-arg]
                       event_webhook_secret="s" * 16)
        with pytest.raises(ValueError, match=why) as caught:
            cfg.webhook_secret()
        assert "URL 2" in str(caught.value) and "pw" not in str(caught.value) and "etc" not in str(caught.value)
    many = ",".join(f"https://h{i}.example/x" for i in range(9))
    with pytest.raises(ValueError, match="at most 8"):
        Settings(_env_file=None, event_webhook_urls=many, event_webhook_secret="s" * 16).webhook_secret()  # type: ignore[call-arg]


def test_shown_urls_hide_credentials_and_queries() -> None:
    assert contract.shown_url("https://user:pw@hooks.example:8443/in/abc?token=zzz") == "https://hooks.example:8443/in/abc"
    assert contract.shown_url("http://[fd00::5]:8123/api/webhook/x?y") == "http://[fd00::5]:8123/api/webhook/x"
    assert contract.shown_url("http://h.example:99999/x") == "http://h.example:99999/x"  # never raises


def test_condition_emails_say_whether_raised_or_cleared() -> None:
    from vigil_notifier import emails

    assert emails.condition("disk_low", True, {}).state == "raised"
    assert emails.condition("disk_low", False, {}).state == "cleared"
