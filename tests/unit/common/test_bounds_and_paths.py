"""Inputs that used to reach date arithmetic unbounded (500s), and index paths that could
name files outside the recordings (remux inputs for day videos and exports)."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from vigil_api.timeparse import TimeParseError, parse_client_time
from vigil_common.contract.days import day_bounds, parse_day
from vigil_recorder.storage.disk import recording_path


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "1969-12-31"])
def test_days_out_of_range_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse_day(value)


def test_days_in_range_have_bounds_in_any_zone() -> None:
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Berlin"):
        for value in ("1970-01-01", "9998-12-31"):
            start, end = day_bounds(parse_day(value), ZoneInfo(zone))
            assert start < end


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00", "1969-01-01"])
def test_times_out_of_range_are_refused(value: str) -> None:
    with pytest.raises(TimeParseError, match="out of range"):
        parse_client_time(value, UTC)


def test_recording_path_stays_inside_the_recordings(tmp_path: Path) -> None:
    rec = tmp_path / "recordings" / "cam" / "2024-01-01"
    rec.mkdir(parents=True)
    (rec / "a.mp4").write_bytes(b"x")
    (tmp_path / "secret").write_text("no")
    (rec / "link.mp4").symlink_to(tmp_path / "secret")
    assert recording_path(tmp_path, "recordings/cam/2024-01-01/a.mp4") == (rec / "a.mp4").resolve()
    for bad in ("/etc/passwd", "../secret", "recordings/../secret", "secret", "recordings/cam/2024-01-01/link.mp4",
                "", None, "recordings"):
        assert recording_path(tmp_path, bad) is None, bad
