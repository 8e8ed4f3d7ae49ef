"""/api/v1/settings/retention: runtime retention settings, and the recorder's pass using them."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import VIEWER_PASSWORD, Api, add_user
from tests.integration.support.retention import fake_segment
from vigil_common.db import retention_settings as retention_overrides
from vigil_common.db.app_settings import set_setting
from vigil_common.db.models import AppSetting, Segment
from vigil_common.runtime.settings import Settings
from vigil_recorder.retention.duty import run_pass

pytestmark = pytest.mark.integration


def test_get_shows_the_configured_values_until_changed(api: Api) -> None:
    api.login()
    r = api.client.get("/api/v1/settings/retention")
    assert r.status_code == 200, r.text
    body = r.json()
    cfg = api.settings
    assert body["days"] == cfg.retention_days and body["max_bytes"] == cfg.retention_max_bytes
    assert body["configured"]["days"] == cfg.retention_days and body["overridden"] == []


def test_admin_overrides_partially_and_resets(api: Api, factory: sessionmaker[Session]) -> None:
    h = {"X-CSRF-Token": api.login()}
    r = api.client.put("/api/v1/settings/retention", json={"days": 7, "max_bytes": 2 * 1024**3}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["days"] == 7 and body["max_bytes"] == 2 * 1024**3
    assert body["min_free_bytes"] == api.settings.min_free_bytes  # untouched: as configured
    assert body["overridden"] == ["days", "max_bytes"]
    with factory() as db:
        row = db.get(AppSetting, "retention.days")
        assert row is not None and row.updated_by == "admin"
    # A null byte limit means "no limit" (stored), distinct from "as configured".
    r = api.client.put("/api/v1/settings/retention", json={"max_bytes": None}, headers=h)
    assert r.json()["max_bytes"] is None and "max_bytes" in r.json()["overridden"]
    r = api.client.delete("/api/v1/settings/retention", headers=h)
    assert r.status_code == 200 and r.json()["overridden"] == [] and r.json()["days"] == api.settings.retention_days


@pytest.mark.parametrize("body", [{}, {"days": 0}, {"days": -1}, {"days": None}, {"days": "x"},
                                  {"max_bytes": -5}, {"min_free_bytes": 1.5}, {"other": 1}, {"days": 1e9}])
def test_invalid_values_are_refused(api: Api, body: dict[str, object]) -> None:
    h = {"X-CSRF-Token": api.login()}
    r = api.client.put("/api/v1/settings/retention", json=body, headers=h)
    assert r.status_code == 422, (body, r.text)
    assert r.json()["detail"]


def test_a_zero_cap_is_refused_with_a_reason(api: Api, factory: sessionmaker[Session]) -> None:
    h = {"X-CSRF-Token": api.login()}
    r = api.client.put("/api/v1/settings/retention", json={"max_bytes": 0, "days": 3}, headers=h)
    assert r.status_code == 422, r.text
    assert "delete all footage" in r.json()["detail"] and "null" in r.json()["detail"]
    with factory() as db:
        assert db.scalars(select(AppSetting)).all() == []  # nothing of the request was stored
    # A 0 stored before this check (or by hand) is ignored: the configured cap applies.
    assert not retention_overrides.valid_value("max_bytes", 0)
    assert retention_overrides.valid_value("max_bytes", 1) and retention_overrides.valid_value("min_free_bytes", 0)
    with factory.begin() as db:
        set_setting(db, "retention.max_bytes", 0, by="test")
    body = api.client.get("/api/v1/settings/retention").json()
    assert body["max_bytes"] == api.settings.retention_max_bytes and body["overridden"] == []


def test_a_free_floor_at_or_above_the_disk_size_is_refused(api: Api) -> None:
    h = {"X-CSRF-Token": api.login()}
    total = shutil.disk_usage(api.settings.data_dir.parent).total  # data_dir itself is made later
    for floor in (total, total + 1):
        r = api.client.put("/api/v1/settings/retention", json={"min_free_bytes": floor}, headers=h)
        assert r.status_code == 422, r.text
        assert str(total) in r.json()["detail"] and "disk" in r.json()["detail"]
    assert api.client.get("/api/v1/settings/retention").json()["overridden"] == []
    r = api.client.put("/api/v1/settings/retention", json={"min_free_bytes": total // 100}, headers=h)
    assert r.status_code == 200 and r.json()["min_free_bytes"] == total // 100


def test_one_key_goes_back_to_its_configured_value(api: Api, factory: sessionmaker[Session]) -> None:
    h = {"X-CSRF-Token": api.login()}
    r = api.client.put("/api/v1/settings/retention", json={"days": 7, "max_bytes": 10**9}, headers=h)
    assert r.json()["overridden"] == ["days", "max_bytes"]
    r = api.client.delete("/api/v1/settings/retention/days", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["overridden"] == ["max_bytes"] and body["days"] == api.settings.retention_days
    assert body["max_bytes"] == 10**9
    assert api.client.delete("/api/v1/settings/retention/days", headers=h).status_code == 200  # idempotent
    r = api.client.delete("/api/v1/settings/retention/other", headers=h)
    assert r.status_code == 422 and r.json()["detail"]
    assert api.client.delete("/api/v1/settings/retention/max_bytes").status_code == 403  # no CSRF token
    add_user(factory, "viewer", VIEWER_PASSWORD)
    api.client.cookies.clear()
    hv = {"X-CSRF-Token": api.login("viewer", VIEWER_PASSWORD)}
    assert api.client.delete("/api/v1/settings/retention/max_bytes", headers=hv).status_code == 403
    api.client.cookies.clear()
    assert api.client.delete("/api/v1/settings/retention/max_bytes").status_code == 401


def test_viewers_read_but_cannot_change(api: Api, factory: sessionmaker[Session]) -> None:
    add_user(factory, "viewer", VIEWER_PASSWORD)
    h = {"X-CSRF-Token": api.login("viewer", VIEWER_PASSWORD)}
    assert api.client.get("/api/v1/settings/retention").status_code == 200
    assert api.client.put("/api/v1/settings/retention", json={"days": 1}, headers=h).status_code == 403
    assert api.client.delete("/api/v1/settings/retention", headers=h).status_code == 403


def test_stored_values_override_and_bad_ones_are_ignored(settings: Settings) -> None:
    out = retention_overrides.apply(settings, {"days": 2, "max_bytes": None, "min_free_bytes": "lots", "x": 1})
    assert out.retention_days == 2 and out.retention_max_bytes is None
    assert out.min_free_bytes == settings.min_free_bytes
    assert retention_overrides.apply(settings, {}) is settings


def test_the_recorder_pass_uses_the_runtime_retention_days(
    settings: Settings, sessions: sessionmaker[Session], rclient: redis.Redis
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    s = settings.model_copy(update={"retention_days": 30})
    old = fake_segment(s, sessions, "cam", now - timedelta(days=5))
    new = fake_segment(s, sessions, "cam", now - timedelta(hours=2))
    run_pass(s, sessions, rclient, now=now)
    with sessions() as db:
        assert len(db.scalars(select(Segment.id)).all()) == 2  # 30 days: both stay
    with sessions.begin() as db:
        set_setting(db, "retention.days", 3, by="test")
    run_pass(s, sessions, rclient, now=now)
    with sessions() as db:
        starts = [r.start for r in db.scalars(select(Segment))]
    assert starts == [new.start] and old.start not in starts
    assert not (s.data_dir / old.path).exists()
