"""Days in the server's zone (``VIGIL_TIMEZONE``): ``[local midnight, next local midnight)``,
so DST days last 23 or 25 hours. One definition for the API (timeline, day videos) and the
recorder (day assembly, retention), and the rule for when a day video is still current."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
_DATE_RE = re.compile(DATE_PATTERN)
MIN_YEAR, MAX_YEAR = 1970, 9998


def ns_to_datetime(ns: int) -> datetime:
    """Epoch nanoseconds (a capture time) to an aware UTC datetime, at the microsecond precision
    the database stores."""
    seconds, rem = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rem // 1000)


def parse_day(value: str) -> date:
    """A ``YYYY-MM-DD`` string to a date; ValueError with a reason otherwise."""
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        raise ValueError("expected a date as YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError("no such date") from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:  # day_bounds must not overflow in any zone
        raise ValueError(f"date out of range (years {MIN_YEAR}..{MAX_YEAR})")
    return day


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """``[start, end)`` of ``day`` in ``tz`` as aware UTC datetimes (local midnight to local
    midnight; a midnight that a DST change skips maps to the first instant after it)."""
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def local_day(instant: datetime, tz: tzinfo) -> date:
    """The day (in ``tz``) an aware instant falls on."""
    return instant.astimezone(tz).date()


@dataclass(frozen=True, slots=True)
class Footage:
    """A day's indexed footage for one camera: how many segments, and the newest end."""

    segments: int
    newest_end: datetime | None


def is_current(
    covers_until: datetime | None,
    footage: Footage,
    *,
    day_end: datetime,
    now: datetime,
    tolerance_s: float,
    segments: int | None = None,
) -> bool:
    """Whether a day video built up to ``covers_until`` still shows all the day's footage.

    Once the day is over it must include the newest segment (and, if ``segments`` is given,
    as many segments as are indexed, so a late segment in the middle of the day counts
    too). While the day is still going on, new segments arrive every few seconds: a video
    at most ``tolerance_s`` behind the newest segment is current enough (otherwise the
    current day could never be served).
    """
    if covers_until is None or footage.newest_end is None:
        return False
    if covers_until >= footage.newest_end:
        return segments is None or segments >= footage.segments
    return now < day_end and (footage.newest_end - covers_until).total_seconds() <= tolerance_s
