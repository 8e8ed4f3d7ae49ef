"""Pure decisions about days: their bounds in VIGIL_TIMEZONE, which days are due for a day
video (whether an assembled one is still current is :func:`vigil_common.contract.days.is_current`,
which the API uses too).

A day is ``[local midnight, next local midnight)`` in the server's zone, so DST days last 23
or 25 hours. (The rule itself is :mod:`vigil_common.contract.days`.)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

from vigil_common.contract.days import DATE_PATTERN, Footage, day_bounds, is_current, local_day, parse_day

__all__ = ["DATE_PATTERN", "Footage", "day_bounds", "due_days", "is_current", "local_day", "parse_day"]


def due_days(now: datetime, tz: tzinfo, settle_s: float, lookback_days: int = 2) -> list[date]:
    """Days whose day video should exist by now: every day that ended at least ``settle_s``
    ago (time for its last segments to be recorded), among the ``lookback_days`` latest such
    days, oldest first."""
    last = local_day(now - timedelta(seconds=settle_s), tz) - timedelta(days=1)
    return [last - timedelta(days=k) for k in range(lookback_days - 1, -1, -1)]


