"""Day bounds, due days and day-video currency (vigil_recorder.days.plan): pure rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from vigil_common.contract.recorder_jobs import day_job_id as job_id
from vigil_recorder.days.build import day_relpath, lock_key
from vigil_recorder.days.plan import Footage, day_bounds, due_days, is_current, local_day, parse_day

BERLIN = ZoneInfo("Europe/Berlin")
SANTIAGO = ZoneInfo("America/Santiago")  # its DST changes happen at midnight


def test_parse_day() -> None:
    assert parse_day("2024-03-31") == date(2024, 3, 31)
    for bad in ("2024-02-30", "2024-3-31", "", "2024-03-31/../x", "../../etc"):
        with pytest.raises(ValueError):
            parse_day(bad)


def test_bounds_follow_the_zone_and_dst() -> None:
    start, end = day_bounds(date(2024, 3, 31), BERLIN)
    assert start == datetime(2024, 3, 30, 23, tzinfo=UTC) and end == datetime(2024, 3, 31, 22, tzinfo=UTC)
    start, end = day_bounds(date(2024, 10, 27), BERLIN)
    assert end - start == timedelta(hours=25)
    # Santiago skips 00:00 on 2024-09-08: the day starts at the first instant after it.
    start, end = day_bounds(date(2024, 9, 8), SANTIAGO)
    assert end - start == timedelta(hours=23)
    assert start.astimezone(SANTIAGO).hour == 1
    # Consecutive days tile time.
    assert day_bounds(date(2024, 9, 7), SANTIAGO)[1] == start


def test_local_day() -> None:
    assert local_day(datetime(2024, 5, 1, 22, 30, tzinfo=UTC), BERLIN) == date(2024, 5, 2)


def test_due_days_wait_for_the_day_to_settle() -> None:
    settle = 300.0
    just_after_midnight = datetime(2024, 5, 2, 0, 2, tzinfo=BERLIN).astimezone(UTC)
    assert due_days(just_after_midnight, BERLIN, settle) == [date(2024, 4, 29), date(2024, 4, 30)]
    later = datetime(2024, 5, 2, 0, 6, tzinfo=BERLIN).astimezone(UTC)
    assert due_days(later, BERLIN, settle) == [date(2024, 4, 30), date(2024, 5, 1)]
    assert due_days(later, BERLIN, settle, lookback_days=1) == [date(2024, 5, 1)]


def test_is_current() -> None:
    newest = datetime(2024, 5, 1, 20, tzinfo=UTC)
    day_end = datetime(2024, 5, 2, tzinfo=UTC)
    after = day_end + timedelta(hours=1)
    footage = Footage(10, newest)
    assert is_current(newest, footage, day_end=day_end, now=after, tolerance_s=0, segments=10)
    assert not is_current(newest, footage, day_end=day_end, now=after, tolerance_s=0, segments=9)
    assert not is_current(newest - timedelta(seconds=1), footage, day_end=day_end, now=after, tolerance_s=300)
    assert not is_current(None, footage, day_end=day_end, now=after, tolerance_s=300)
    assert not is_current(newest, Footage(0, None), day_end=day_end, now=after, tolerance_s=300)
    during = newest + timedelta(seconds=30)
    assert is_current(newest - timedelta(seconds=100), footage, day_end=day_end, now=during, tolerance_s=300)
    assert not is_current(newest - timedelta(seconds=400), footage, day_end=day_end, now=during, tolerance_s=300)


def test_names_are_built_from_validated_parts() -> None:
    assert day_relpath("cam-1", date(2024, 5, 1)).as_posix() == "days/cam-1/2024-05-01.mp4"
    assert job_id("cam-1", "2024-05-01") == "day-cam-1-2024-05-01"
    assert lock_key("cam-1", "2024-05-01") == "vigil:days:lock:cam-1:2024-05-01"
    for cam, day in (("../x", "2024-05-01"), ("cam", "2024-05-01/../../x"), ("Cam", "2024-05-01")):
        with pytest.raises(ValueError):
            job_id(cam, day)
