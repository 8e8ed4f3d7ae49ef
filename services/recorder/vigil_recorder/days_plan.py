"""Pure decisions about days: their bounds in VIGIL_TIMEZONE, which days are due for a day
video, and whether an assembled day video is still current.

A day is ``[local midnight, next local midnight)`` in the server's zone, so DST days last 23
or 25 hours. (The rule itself is :mod:`vigil_common.days`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from vigil_common.days import DATE_PATTERN, day_bounds, local_day, parse_day

__all__ = ["DATE_PATTERN", "Footage", "day_bounds", "due_days", "is_current", "local_day", "parse_day"]


def due_days(now: datetime, tz: tzinfo, settle_s: float, lookback_days: int = 2) -> list[date]:
    """Days whose day video should exist by now: every day that ended at least ``settle_s``
    ago (time for its last segments to be recorded), among the ``lookback_days`` latest such
    days, oldest first."""
    last = local_day(now - timedelta(seconds=settle_s), tz) - timedelta(days=1)
    return [last - timedelta(days=k) for k in range(lookback_days - 1, -1, -1)]


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
