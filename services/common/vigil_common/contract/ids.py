"""Camera and service identifiers (docs/protocol.md#identifiers, contract).

An id is validated here before it touches a topic, a Redis key, a file path or a query.
"""

from __future__ import annotations

import re

CAMERA_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
_CAMERA_ID_RE = re.compile(CAMERA_ID_PATTERN)
# Service names follow the same rule (they appear in topics too).
SERVICE_NAME_PATTERN = CAMERA_ID_PATTERN


class InvalidIdError(ValueError):
    """Raised when an identifier does not match the contract's regex."""


def is_valid_camera_id(value: object) -> bool:
    # fullmatch plus the explicit "$"-anchored pattern: a trailing newline never passes.
    return isinstance(value, str) and _CAMERA_ID_RE.fullmatch(value) is not None


def require_camera_id(value: object) -> str:
    """Return ``value`` if it is a valid camera id, else raise :class:`InvalidIdError`."""
    if not is_valid_camera_id(value):
        raise InvalidIdError(f"invalid camera id {value!r}: must match {CAMERA_ID_PATTERN}")
    assert isinstance(value, str)
    return value
