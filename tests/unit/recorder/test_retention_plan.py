"""Retention decisions (pure): age, motion protection, byte cap, free-space floor, guard."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from vigil_common.runtime.settings import Settings
from vigil_recorder.storage.plan import (
    AGE,
    FREE_SPACE,
    MAX_BYTES,
    SEGMENT,
    SNAPSHOT,
    Interval,
    Item,
    Policy,
    age_deletions,
    mark_protected,
    plan,
    policy_from,
    pressure_deletions,
    summarize,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SEG = timedelta(seconds=10)


def policy(**over: object) -> Policy:
    base: dict[str, object] = {
        "retention": 7 * DAY,
        "motion_retention": 7 * DAY,
        "max_bytes": None,
        "min_free_bytes": None,
        "guard": 2 * SEG,
        "pre_roll": timedelta(seconds=5),
        "post_roll": timedelta(seconds=5),
    }
    base.update(over)
    return Policy(**base)  # type: ignore[arg-type]


def seg(key: int, ended_ago: timedelta, size: int = 100, cam: str = "a", protected: bool = False,
        objects: bool = False) -> Item:
    end = NOW - ended_ago
    return Item(SEGMENT, key, cam, end - SEG, end, size, protected, objects)


def keys(deletions: list) -> list[object]:  # type: ignore[type-arg]
    return [d.item.key for d in deletions]


def test_age_deletes_only_what_is_past_retention() -> None:
    items = [seg(1, 9 * DAY), seg(2, 7 * DAY + timedelta(seconds=1)), seg(3, 6 * DAY), seg(4, timedelta(0))]
    out = plan(items, policy(), NOW, total_bytes=400, free_bytes=None)
    assert keys(out) == [1, 2]
    assert {d.reason for d in out} == {AGE}


def test_motion_footage_outlives_retention_until_motion_retention() -> None:
    p = policy(retention=3 * DAY, motion_retention=10 * DAY)
    items = [seg(1, 12 * DAY, protected=True), seg(2, 5 * DAY, protected=True), seg(3, 5 * DAY), seg(4, 2 * DAY)]
    assert keys(age_deletions(items, p, NOW)) == [1, 3]
    # A motion retention shorter than the retention never shortens it.
    p2 = policy(retention=7 * DAY, motion_retention=2 * DAY)
    assert keys(age_deletions([seg(1, 5 * DAY, protected=True)], p2, NOW)) == []
    assert p2.keep_motion == 7 * DAY


def test_object_footage_outlives_motion_footage_until_object_retention() -> None:
    p = policy(retention=3 * DAY, motion_retention=10 * DAY, object_retention=30 * DAY)
    assert p.keep_objects == 30 * DAY
    items = [seg(1, 40 * DAY, protected=True, objects=True), seg(2, 20 * DAY, protected=True, objects=True),
             seg(3, 20 * DAY, protected=True), seg(4, 5 * DAY, protected=True), seg(5, 5 * DAY)]
    assert keys(age_deletions(items, p, NOW)) == [1, 3, 5]
    # An object retention shorter than the motion retention never shortens it (object footage is motion footage).
    p2 = policy(retention=3 * DAY, motion_retention=10 * DAY, object_retention=DAY)
    assert p2.keep_objects == 10 * DAY
    assert keys(age_deletions([seg(1, 5 * DAY, protected=True, objects=True)], p2, NOW)) == []
    assert policy(motion_retention=12 * DAY).keep_objects == 12 * DAY  # unset: as motion footage


def test_object_footage_goes_after_motion_footage_under_pressure() -> None:
    items = [seg(1, 5 * DAY, protected=True, objects=True), seg(2, 4 * DAY, protected=True), seg(3, 3 * DAY),
             seg(4, 2 * DAY, protected=True, objects=True)]
    out = pressure_deletions(iter(items), policy(max_bytes=50), NOW, total_bytes=400, free_bytes=None)
    assert keys(out) == [3, 2, 1, 4]  # plain, then motion, then objects, each oldest first
    out = pressure_deletions(iter(items), policy(max_bytes=150), NOW, total_bytes=400, free_bytes=None)
    assert keys(out) == [3, 2, 1]


def test_max_bytes_deletes_oldest_first_and_never_more_than_needed() -> None:
    items = [seg(i, timedelta(hours=10 - i), size=100) for i in range(10)]  # 1000 bytes, all young
    out = plan(items, policy(max_bytes=750), NOW, total_bytes=1000, free_bytes=None)
    assert keys(out) == [0, 1, 2]  # 700 <= 750; deleting 2 would leave 800
    assert {d.reason for d in out} == {MAX_BYTES}
    assert plan(items, policy(max_bytes=1000), NOW, total_bytes=1000, free_bytes=None) == []


def test_age_deletions_count_towards_the_cap() -> None:
    items = [seg(1, 9 * DAY, 500), seg(2, 2 * DAY, 300), seg(3, DAY, 300)]
    out = plan(items, policy(max_bytes=700), NOW, total_bytes=1100, free_bytes=None)
    assert [(d.item.key, d.reason) for d in out] == [(1, AGE)]  # 600 left: under the cap


def test_motion_footage_goes_last_under_pressure() -> None:
    items = [seg(1, 5 * DAY, protected=True), seg(2, 4 * DAY), seg(3, 3 * DAY, protected=True), seg(4, 2 * DAY)]
    out = pressure_deletions(iter(items), policy(max_bytes=150), NOW, total_bytes=400, free_bytes=None)
    assert keys(out) == [2, 4, 1]  # the unprotected first, then the oldest protected
    out = pressure_deletions(iter(items), policy(max_bytes=250), NOW, total_bytes=400, free_bytes=None)
    assert keys(out) == [2, 4]


def test_free_space_floor_and_the_bytes_about_to_be_written() -> None:
    items = [seg(i, timedelta(hours=5 - i), size=100) for i in range(5)]
    p = policy(min_free_bytes=1000)
    assert pressure_deletions(iter(items), p, NOW, total_bytes=500, free_bytes=1000) == []
    out = pressure_deletions(iter(items), p, NOW, total_bytes=500, free_bytes=950)
    assert [(d.item.key, d.reason) for d in out] == [(0, FREE_SPACE)]
    out = pressure_deletions(iter(items), p, NOW, total_bytes=500, free_bytes=950, needed_bytes=120)
    assert keys(out) == [0, 1]
    # Rule 3 is off when the free space is unknown.
    assert pressure_deletions(iter(items), p, NOW, total_bytes=500, free_bytes=None) == []


def test_reason_is_the_cap_while_over_it_then_the_floor() -> None:
    items = [seg(i, timedelta(hours=5 - i), size=100) for i in range(5)]
    out = pressure_deletions(iter(items), policy(max_bytes=400, min_free_bytes=1000), NOW,
                             total_bytes=500, free_bytes=850)
    assert [(d.item.key, d.reason) for d in out] == [(0, MAX_BYTES), (1, FREE_SPACE)]


def test_the_segment_being_written_and_the_last_ones_are_never_candidates() -> None:
    items = [seg(1, timedelta(seconds=5)), seg(2, timedelta(seconds=19)), seg(3, timedelta(seconds=21))]
    out = plan(items, policy(max_bytes=0, retention=timedelta(seconds=1)), NOW, total_bytes=300, free_bytes=0)
    assert keys(out) == [3]


def test_pressure_reads_only_as_far_as_needed() -> None:
    consumed: list[int] = []

    def lazy() -> Iterator[Item]:
        for i in range(1000):
            consumed.append(i)
            yield seg(i, timedelta(hours=1000 - i), size=10)

    out = pressure_deletions(lazy(), policy(max_bytes=9_950), NOW, total_bytes=10_000, free_bytes=None)
    assert keys(out) == [0, 1, 2, 3, 4]
    assert len(consumed) <= 6


def test_scan_limit_falls_back_to_protected_footage() -> None:
    items = [seg(i, timedelta(hours=100 - i), protected=True) for i in range(10)] + [seg(99, timedelta(hours=1))]
    out = pressure_deletions(iter(items), policy(max_bytes=900), NOW, total_bytes=1100, free_bytes=None, scan_limit=5)
    assert keys(out) == [0, 1]


def test_mark_protected_uses_pre_and_post_roll_and_ongoing_events() -> None:
    p = policy()
    t0 = NOW - timedelta(hours=1)
    items = [
        Item(SEGMENT, 1, "a", t0, t0 + SEG, 1),  # [t0, t0+10)
        Item(SEGMENT, 2, "a", t0 + SEG, t0 + 2 * SEG, 1),  # [t0+10, t0+20)
        Item(SEGMENT, 3, "a", t0 + 3 * SEG, t0 + 4 * SEG, 1),  # [t0+30, t0+40)
        Item(SEGMENT, 4, "b", t0, t0 + SEG, 1),  # other camera
        Item(SNAPSHOT, 5, "a", t0 + SEG, t0 + SEG, 1),  # snapshots are never protected
        Item(SEGMENT, 6, "c", NOW - SEG, NOW, 1),
    ]
    events = [
        Interval("a", t0 + timedelta(seconds=23), t0 + timedelta(seconds=24)),  # +-5 s: [18, 29)
        Interval("c", NOW - timedelta(minutes=5), None),  # still going on
    ]
    marked = {i.key: i.protected for i in mark_protected(items, events, p, NOW)}
    assert marked == {1: False, 2: True, 3: False, 4: False, 5: False, 6: True}
    # An object event marks ``objects`` (with the same rolls), not ``protected``.
    seen = [Interval("a", t0 + timedelta(seconds=2), t0 + timedelta(seconds=3), objects=True)]
    marked2 = {i.key: (i.protected, i.objects) for i in mark_protected(items, events + seen, p, NOW)}
    assert marked2 == {1: (False, True), 2: (True, False), 3: (False, False), 4: (False, False), 5: (False, False),
                       6: (True, False)}


def test_policy_from_settings() -> None:
    s = Settings(_env_file=None, retention_days=3, segment_seconds=4, retention_max_bytes="1G")  # type: ignore[call-arg]
    p = policy_from(s)
    assert p.retention == p.motion_retention == 3 * DAY
    assert p.guard == timedelta(seconds=8) and p.max_bytes == 1024**3 and p.min_free_bytes is None
    p = policy_from(s.model_copy(update={"retention_motion_days": 30}))
    assert p.keep_motion == p.keep_objects == 30 * DAY
    p = policy_from(s.model_copy(update={"retention_motion_days": 30, "retention_object_days": 90}))
    assert (p.keep_motion, p.keep_objects) == (30 * DAY, 90 * DAY)


def test_summarize() -> None:
    items = [seg(1, 9 * DAY, 10), seg(2, 8 * DAY, 20), seg(3, timedelta(hours=1), 5)]
    out = plan(items, policy(max_bytes=0), NOW, total_bytes=35, free_bytes=None)
    assert summarize(out) == {(SEGMENT, AGE): (2, 30), (SEGMENT, MAX_BYTES): (1, 5)}
