"""The notifier's loop decisions over simulated time (no broker; an SQLite file holds the state):
stalls, wall-clock jumps, re-enabled and deleted cameras, which cameras are "new"."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import heartbeat_bytes
from vigil_common.db.app_settings import set_setting
from vigil_common.db.models import Camera, Notification, NotifierState
from vigil_common.runtime.settings import Settings
from vigil_notifier import machine
from vigil_notifier.service import INSTALLED_AT_KEY, ORPHAN_GRACE_S, Inbound, NotifierService

T0 = 1_700_000_000.0


class Loop:
    """A notifier service driven by hand: wall and monotonic clocks are simulated."""

    def __init__(self, svc: NotifierService) -> None:
        self.svc = svc
        self.wall = T0
        self.mono = 1000.0
        self.beating: set[str] = set()

    @property
    def factory(self) -> sessionmaker[Session]:
        return self.svc.factory

    def start(self) -> None:
        self.svc.reload_config()
        self.svc.load_state()
        self.svc.publish_identity()
        self.svc.bus.connected.set()
        self.step(0)

    def hb(self, *cams: str) -> None:
        for cam in cams:
            self.svc.inbox.put(Inbound("heartbeat", cam, heartbeat_bytes(cam), self.wall))

    def step(self, seconds: int, *, beat: bool = True, ticking: bool = True) -> None:
        """``seconds`` one by one: cameras in ``beating`` send a heartbeat every 5 s; the
        loop drains and ticks once a second unless ``ticking`` is False (a stalled loop)."""
        for _ in range(seconds):
            self.wall += 1
            self.mono += 1
            if beat and self.beating and int(self.mono) % 5 == 0:
                self.hb(*sorted(self.beating))
            if ticking:
                self.tick()
        if seconds == 0 and ticking:
            self.tick()

    def tick(self) -> None:
        self.svc.drain(0.0)  # `until` (real monotonic) already past, as when the loop is late
        self.svc.tick(self.wall, self.mono)

    def kinds(self) -> list[str]:
        with self.factory() as db:
            return list(db.scalars(select(Notification.kind).order_by(Notification.id)))

    def camera(self, ident: str, **values: object) -> None:
        with self.factory.begin() as db:
            cam = db.get(Camera, ident)
            if cam is None:
                db.add(Camera(id=ident, name=ident, **values))
            else:
                for k, v in values.items():
                    setattr(cam, k, v)


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[Loop]:
    from vigil_common.db.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'v.db'}"
    upgrade(url)
    s = Settings(_env_file=None, database_url=url, mqtt_url="mqtt://127.0.0.1:1",  # type: ignore[call-arg]
                 redis_url="redis://127.0.0.1:1/0", heartbeat_interval_s=5.0, offline_grace_s=60.0)
    svc = NotifierService(s)
    yield Loop(svc)
    svc.engine.dispose()


def test_clock_check() -> None:
    kw = {"stall_s": 5.0, "jump_s": 5.0}
    assert machine.clock_check(None, None, T0, 10.0, **kw) == (None, 0.0)
    assert machine.clock_check(T0, 10.0, T0 + 1, 11.0, **kw) == (None, 0.0)
    assert machine.clock_check(T0, 10.0, T0 + 30, 40.0, **kw) == (machine.STALL, 0.0)
    assert machine.clock_check(T0, 10.0, T0 + 3601, 11.0, **kw) == (machine.JUMP, 3600.0)
    assert machine.clock_check(T0, 10.0, T0 - 599, 11.0, **kw) == (machine.JUMP, -600.0)


def test_heartbeats_queued_during_a_stall_are_handled_before_the_next_tick(loop: Loop) -> None:
    loop.start()
    loop.beating = {"a", "b"}
    loop.step(20)
    assert loop.kinds() == ["camera_new", "camera_new"]
    loop.step(120, ticking=False)  # a database outage: the loop waits, heartbeats queue up
    loop.step(30)
    assert loop.kinds() == ["camera_new", "camera_new"]  # no false outage, no recovery


def test_a_stall_freezes_timers_like_a_broker_loss(loop: Loop) -> None:
    loop.start()
    loop.beating = {"a"}
    loop.step(20)
    loop.beating = set()
    loop.step(120, ticking=False)  # the camera died during the stall: we could not tell when
    loop.step(1)
    assert loop.kinds() == ["camera_new"]  # not at once: a fresh window after the stall
    loop.step(70)
    assert loop.kinds() == ["camera_new", "camera_offline"]


def test_a_forward_wall_clock_step_marks_nothing_offline(loop: Loop) -> None:
    loop.start()
    loop.beating = {"a", "b"}
    loop.step(20)
    loop.wall += 7200  # NTP steps the clock two hours forward
    loop.step(120)
    assert loop.kinds() == ["camera_new", "camera_new"]


def test_a_backward_wall_clock_step_hides_no_outage(loop: Loop) -> None:
    loop.start()
    loop.beating = {"a"}
    loop.step(20)
    loop.wall -= 3600
    loop.step(3)
    loop.beating = set()
    loop.step(90)
    assert loop.kinds() == ["camera_new", "camera_offline"]


def test_a_reported_outage_keeps_its_length_across_a_clock_step(loop: Loop) -> None:
    loop.start()
    loop.hb("a")
    loop.step(100)  # silent: reported
    assert loop.kinds() == ["camera_new", "camera_offline"]
    loop.wall += 86400
    loop.step(10)
    loop.hb("a")
    loop.step(10)
    assert loop.kinds() == ["camera_new", "camera_offline", "camera_online"]
    with loop.factory() as db:
        subject = db.scalars(select(Notification.subject).order_by(Notification.id.desc())).first()
    assert subject is not None and "after 1 min 50 s" in subject  # not a day


def test_a_re_enabled_camera_gets_a_fresh_window(loop: Loop) -> None:
    loop.camera("a")
    loop.start()
    loop.beating = {"a"}
    loop.step(20)
    loop.camera("a", enabled=False)
    loop.svc.reload_config()
    loop.beating = set()  # disabled: it stops sending
    loop.step(600)
    loop.camera("a", enabled=True)
    loop.svc.reload_config()
    loop.beating = {"a"}
    loop.step(2)
    loop.step(60)
    assert loop.kinds() == ["camera_new"]  # no false outage and recovery


def test_a_deleted_camera_is_forgotten_with_its_state(loop: Loop) -> None:
    loop.camera("gone")
    loop.start()
    loop.hb("gone")
    loop.step(100)
    assert loop.kinds() == ["camera_new", "camera_offline"]
    with loop.factory.begin() as db:
        cam = db.get(Camera, "gone")
        assert cam is not None
        db.delete(cam)
    loop.svc.reload_config()
    loop.step(1)
    assert "camera:gone" not in loop.svc.watches
    with loop.factory() as db:
        assert db.get(NotifierState, "camera:gone") is None
    loop.wall += 2 * 86400  # (a clock step: also rebases, but there is nothing left to remind of)
    loop.step(5)
    loop.mono += 2 * 86400
    loop.wall += 2 * 86400
    loop.step(5)
    assert loop.kinds() == ["camera_new", "camera_offline"]  # no reminders


def test_state_of_a_camera_deleted_while_stopped_is_dropped_at_start(loop: Loop) -> None:
    loop.camera("gone")
    loop.start()
    loop.hb("gone")
    loop.step(100)
    assert loop.kinds() == ["camera_new", "camera_offline"]
    with loop.factory.begin() as db:
        cam = db.get(Camera, "gone")
        assert cam is not None
        db.delete(cam)
    again = Loop(NotifierService(loop.svc.settings))
    again.wall, again.mono = loop.wall, loop.mono
    again.start()
    assert "camera:gone" not in again.svc.watches
    with again.factory() as db:
        assert db.get(NotifierState, "camera:gone") is None
    again.svc.engine.dispose()


def test_a_camera_not_yet_registered_is_kept_while_alive_then_forgotten(loop: Loop) -> None:
    loop.start()
    loop.beating = {"fresh"}
    loop.step(int(ORPHAN_GRACE_S) + 60)
    assert "camera:fresh" in loop.svc.watches  # beating: kept although ingest never wrote its row
    loop.beating = set()
    loop.step(int(ORPHAN_GRACE_S) + 5)
    assert "camera:fresh" not in loop.svc.watches


def test_a_provisioned_camera_installed_later_is_new(loop: Loop) -> None:
    with loop.factory.begin() as db:
        set_setting(db, INSTALLED_AT_KEY, T0 - 86400)  # the notifier runs since yesterday
    # `vigil camera add` two days ago: a registry row without a heartbeat.
    loop.camera("porch", first_seen=datetime.fromtimestamp(T0 - 2 * 86400, UTC))
    loop.start()
    loop.hb("porch")
    loop.step(1)
    assert loop.kinds() == ["camera_new"]


def test_cameras_running_before_the_notifier_was_installed_are_not_new(loop: Loop) -> None:
    import time

    before = datetime.fromtimestamp(time.time() - 30, UTC)
    loop.camera("old", first_seen=before, last_heartbeat_at=before)
    loop.start()  # installs now
    loop.hb("old")
    loop.step(1)
    assert loop.kinds() == []
    assert loop.svc.watches["camera:old"].registered
