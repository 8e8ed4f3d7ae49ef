"""Paged listings: how far ``total`` is counted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select

COUNT_AHEAD = 1000  # as /recordings: `total` is exact up to this far past the page


def capped_count(db: Any, stmt: Select[Any], rows: int, limit: int, offset: int) -> tuple[int, bool]:
    """``(total, exact)`` for a paged query: exact on the last page, else counted up to
    ``offset + limit + COUNT_AHEAD`` rows (never a scan of a camera's whole history)."""
    if rows < limit and (rows or offset == 0):
        return offset + rows, True
    cap = offset + limit + COUNT_AHEAD
    counted = int(db.scalar(select(func.count()).select_from(stmt.limit(cap + 1).subquery())) or 0)
    return min(counted, cap), counted <= cap
