"""The duties lease: one recorder at a time runs the periodic duties; another takes over."""

from __future__ import annotations

import pytest
import redis

from vigil_common.runtime.settings import Settings
from vigil_recorder.duties import Duty, DutyContext, DutyRunner, Leader

pytestmark = pytest.mark.integration


def test_one_leader_at_a_time_and_takeover(settings: Settings) -> None:
    r = redis.Redis.from_url(settings.redis_url)
    a, b = Leader(r, lease_ms=2000), Leader(r, lease_ms=2000)
    assert a.refresh() and not b.refresh()
    assert a.refresh()  # renewing keeps it
    a.release()
    assert b.refresh() and not a.refresh()


def test_due_duties_run_and_failures_are_contained(settings: Settings) -> None:
    r = redis.Redis.from_url(settings.redis_url)
    calls: list[str] = []

    def ok(_ctx: DutyContext) -> None:
        calls.append("ok")

    def boom(_ctx: DutyContext) -> None:
        calls.append("boom")
        raise RuntimeError("injected")

    ctx = DutyContext(settings, r, None, lambda *a: None)  # type: ignore[arg-type]
    runner = DutyRunner(ctx, [Duty("boom", 10, boom), Duty("ok", 5, ok)])
    assert runner.run_due(now=100.0) == ["boom", "ok"]
    assert runner.run_due(now=104.0) == []
    assert runner.run_due(now=105.0) == ["ok"]
    assert calls == ["boom", "ok", "ok"]
    assert r.hget("vigil:recorder:duties", "ok") is not None


def test_motion_runs_apart_from_the_slow_duties(settings: Settings) -> None:
    from vigil_recorder.duties import split_duties
    from vigil_recorder.main import build_duties

    fast, slow = split_duties(build_duties(settings))
    assert [d.name for d in fast] == ["motion"]
    assert {"retention", "reconcile", "snapshots", "days"} <= {d.name for d in slow}


def test_the_lease_outlives_a_duty_longer_than_itself(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    from vigil_recorder import duties as duties_module

    monkeypatch.setattr(duties_module, "RENEW_EVERY_S", 0.2)
    r = redis.Redis.from_url(settings.redis_url)
    started, finished = threading.Event(), threading.Event()

    def long_duty(_ctx: DutyContext) -> None:
        started.set()
        time.sleep(2.5)  # 2.5 times the lease
        finished.set()

    runner = DutyRunner(DutyContext(settings, r, None, lambda *a: None),  # type: ignore[arg-type]
                        [Duty("long", 60, long_duty)], lease_key="vigil:test:lease", lease_ms=1000)
    runner.start()
    try:
        assert started.wait(5)
        rival = Leader(r, key="vigil:test:lease", lease_ms=1000)
        while not finished.is_set():
            assert not rival.refresh(), "a second leader got the lease while the duty ran"
            time.sleep(0.2)
    finally:
        runner.stop()
