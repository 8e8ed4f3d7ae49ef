"""Human byte sizes for settings such as ``VIGIL_RETENTION_MAX_BYTES=2G``."""

from __future__ import annotations

import re

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)


def parse_size(value: str | int | None) -> int | None:
    """Parse ``500M``, ``2G``, ``1.5GiB``, ``1048576``; ``None``/empty means "no limit"."""
    if value is None:
        return None
    if isinstance(value, int):
        if value < 0:
            raise ValueError("size must not be negative")
        return value
    if not value.strip():
        return None
    m = _SIZE_RE.match(value)
    if not m:
        raise ValueError(f"not a size: {value!r} (use e.g. 500M, 2G)")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def format_size(value: int | None) -> str:
    """``1536`` -> ``1.5 KiB``; ``None`` -> ``unknown`` (for people, e.g. in e-mails)."""
    if value is None:
        return "unknown"
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if amount < 1024 or unit == "TiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")
