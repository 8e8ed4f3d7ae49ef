"""Issue 12, point 2: a viewer could fill the disk with exports (24 of them made 138 MB from
5.8 MB of footage in a minute; the free-space floor then deleted the oldest recordings). Now:
per-user limits (in progress, bytes), the admins' reserved slot, exports that would not fit under
the cap or above the floor are refused with the reason, exports expire, count toward the cap,
and go before any footage under pressure."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.support.api import VIEWER_PASSWORD, Api, add_user
from tests.integration.support.exports import CAM, ISO, T, post
from tests.integration.support.retention import fake_segment, segment_rows
from vigil_common.contract import keys
from vigil_common.db.models import Export, utcnow
from vigil_common.runtime.settings import Settings
from vigil_recorder.retention.duty import run_pass

pytestmark = pytest.mark.integration
BODY = {"camera_id": CAM, "start": ISO.format(0), "end": ISO.format(1)}


def as_user(api: Api, username: str) -> None:
    add_user_once(api, username)
    api.client.headers["Authorization"] = f"Bearer {api.token_for(username, VIEWER_PASSWORD)}"


def add_user_once(api: Api, username: str) -> None:
    from vigil_common.db.engine import make_engine, make_sessionmaker

    engine = make_engine(api.settings.database_url)
    add_user(make_sessionmaker(engine), username, VIEWER_PASSWORD)
    engine.dispose()


def test_a_viewer_has_a_limit_and_the_admins_keep_a_slot(footage: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from vigil_api.routes import exports as route

    monkeypatch.setattr(route, "MAX_ACTIVE", 3)
    admin = footage.client.headers["Authorization"]
    as_user(footage, "vic")
    assert [post(footage, **BODY)[0] for _ in range(2)] == [202, 202]
    code, body = post(footage, **BODY)
    assert code == 429 and "limit per user" in str(body["detail"])
    as_user(footage, "val")  # the server has one non-admin slot left... taken by the reserve
    code, body = post(footage, **BODY)
    assert code == 429 and "too many exports in progress" in str(body["detail"])
    footage.client.headers["Authorization"] = admin
    assert post(footage, **BODY)[0] == 202  # the admin's reserved slot


def test_a_viewers_byte_quota(footage: Api, sessions: sessionmaker[Session]) -> None:
    as_user(footage, "vic")
    vic = footage.client.get("/api/v1/auth/session").json()
    footage.settings.export_max_bytes_per_user = 1000  # (the app reads it per request)
    with sessions.begin() as db:
        from vigil_common.db.models import User

        me = db.scalars(select(User).where(User.username == vic["username"])).one()
        db.add(Export(id="a" * 32, camera_id=CAM, start=T, end=T + timedelta(seconds=1), status="done",
                      path=f"exports/{'a' * 32}.mp4", bytes=900, created_by=me.id, created_at=utcnow()))
    code, body = post(footage, **BODY)
    assert code == 507 and "over your quota" in str(body["detail"])


def publish_storage(api: Api, total: int, free: int) -> None:
    r = redis.Redis.from_url(api.settings.redis_url)
    r.hset(keys.STORAGE, mapping={"bytes_total": total, "bytes_free": free, "updated_at": f"{time.time():.3f}"})
    r.close()


def test_an_export_that_would_push_footage_out_is_refused(footage: Api, factory: sessionmaker[Session]) -> None:
    from vigil_common.db.app_settings import set_setting

    with factory.begin() as db:
        set_setting(db, "retention.max_bytes", 1_000_000, by="test")
    publish_storage(footage, 999_000, 10**12)  # the footage alone is nearly at the cap
    code, body = post(footage, **BODY)
    assert code == 507 and "storage cap" in str(body["detail"])
    with factory.begin() as db:
        set_setting(db, "retention.max_bytes", None, by="test")
        set_setting(db, "retention.min_free_bytes", 10**9, by="test")
    publish_storage(footage, 1000, 10**9 + 100)  # just above the floor: an export would cross it
    code, body = post(footage, **BODY)
    assert code == 507 and "free-space floor" in str(body["detail"])
    publish_storage(footage, 1000, 10**12)
    assert post(footage, **BODY)[0] == 202


def export_row(sessions: sessionmaker[Session], settings: Settings, export_id: str, size: int,
               age: timedelta) -> None:
    path = settings.data_dir / "exports" / f"{export_id}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"e" * size)
    with sessions.begin() as db:
        db.add(Export(id=export_id, camera_id="a", start=T, end=T + timedelta(seconds=9), status="done",
                      path=f"exports/{export_id}.mp4", bytes=size, created_at=utcnow() - age))


def test_exports_expire_and_go_before_footage(settings: Settings, sessions: sessionmaker[Session],
                                              rclient: redis.Redis) -> None:
    now = utcnow()
    segs = [fake_segment(settings, sessions, "a", now - timedelta(hours=5 - k), size=1000) for k in range(3)]
    export_row(sessions, settings, "1" * 32, 700, timedelta(days=8))  # past VIGIL_EXPORT_RETENTION_DAYS
    export_row(sessions, settings, "2" * 32, 700, timedelta(days=2))
    export_row(sessions, settings, "3" * 32, 700, timedelta(days=1))
    # footage 3000 + exports 1400 after the expiry, under a 3800 cap: the oldest export must go,
    # and no segment
    s = settings.model_copy(update={"retention_max_bytes": 3800})
    report = run_pass(s, sessions, rclient)
    with sessions() as db:
        left = sorted(e.id for e in db.scalars(select(Export)))
    assert left == ["3" * 32]
    assert not (settings.data_dir / "exports" / f"{'1' * 32}.mp4").exists()
    assert not (settings.data_dir / "exports" / f"{'2' * 32}.mp4").exists()
    assert [r.path for r in segment_rows(sessions)] == [seg.path for seg in segs]  # every segment kept
    assert report.bytes_total == 3000 + 700
    by = report.tally.by
    assert by[("export", "age")][0] == 1 and by[("export", "max_bytes")][0] == 1
