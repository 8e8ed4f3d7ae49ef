"""Parsing client-supplied times (query parameters and body fields)."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from fastapi import HTTPException


class TimeParseError(ValueError):
    pass


MIN_YEAR, MAX_YEAR = 1970, 9998


def parse_client_time(value: str, default_tz: tzinfo) -> datetime:
    """ISO 8601 date-time (or date) to an aware UTC datetime.

    A value without an offset is read in ``default_tz`` (the server's configured zone); a bare
    date means its midnight there. Raises :class:`TimeParseError` with a reason.
    """
    text = value.strip()
    if not text or len(text) > 64:
        raise TimeParseError("expected an ISO 8601 date-time such as 2024-05-01T12:00:00+02:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise TimeParseError(
            "expected an ISO 8601 date-time such as 2024-05-01T12:00:00+02:00 (encode '+' as %2B)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_tz)
    try:
        result = parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        raise TimeParseError("date-time out of range") from None
    if not MIN_YEAR <= result.year <= MAX_YEAR:
        # Far-off times would overflow date arithmetic later (window margins, day bounds).
        raise TimeParseError(f"date-time out of range (years {MIN_YEAR}..{MAX_YEAR})")
    return result


def request_time(name: str, value: str, tz: tzinfo, *, where: str = "query parameter") -> datetime:
    """:func:`parse_client_time` for a request: 422 naming the parameter and the reason."""
    try:
        return parse_client_time(value, tz)
    except TimeParseError as exc:
        raise HTTPException(422, f"{where} '{name}': {exc}") from None


def optional_request_time(name: str, value: str | None, tz: tzinfo) -> datetime | None:
    return None if value is None else request_time(name, value, tz)


def time_range(tz: tzinfo, start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    """The optional ``start``/``end`` query parameters; 422 unless start is before end."""
    t0, t1 = optional_request_time("start", start, tz), optional_request_time("end", end, tz)
    if t0 is not None and t1 is not None and t0 >= t1:
        raise HTTPException(422, "query parameter 'start' must be before 'end'")
    return t0, t1
