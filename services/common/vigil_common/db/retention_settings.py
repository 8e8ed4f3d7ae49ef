"""Runtime retention settings (``app_settings`` keys ``retention.days``, ``retention.max_bytes``,
``retention.min_free_bytes``) over the configured ``VIGIL_RETENTION_DAYS`` /
``VIGIL_RETENTION_MAX_BYTES`` / ``VIGIL_MIN_FREE_BYTES``. One definition for the API (which
writes them) and the recorder (whose retention pass reads them every pass).

A stored ``null`` for a byte limit means "no limit"; an absent key means "as configured".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from vigil_common.db.app_settings import get_settings
from vigil_common.runtime.settings import Settings

log = logging.getLogger(__name__)

PREFIX = "retention"
# app_settings key suffix -> Settings field
FIELDS = {"days": "retention_days", "max_bytes": "retention_max_bytes", "min_free_bytes": "min_free_bytes"}
MAX_DAYS = 36_500.0
MAX_BYTES = 2**62
# A cap of 0 would mean "delete everything"; the API refuses it and a stored 0 is ignored.
# (No cap is ``null``.)
MIN_MAX_BYTES = 1


def valid_value(key: str, value: Any) -> bool:
    """Whether ``value`` is acceptable for ``retention.<key>`` (stored rows are re-checked)."""
    if key == "days":
        return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= MAX_DAYS
    if key in ("max_bytes", "min_free_bytes"):
        low = MIN_MAX_BYTES if key == "max_bytes" else 0
        return value is None or (isinstance(value, int) and not isinstance(value, bool) and low <= value <= MAX_BYTES)
    return False


def apply(settings: Settings, stored: Mapping[str, Any]) -> Settings:
    """``settings`` with the valid stored overrides applied (invalid ones are logged and ignored)."""
    update: dict[str, Any] = {}
    for key, value in stored.items():
        field = FIELDS.get(key)
        if field is None:
            continue
        if not valid_value(key, value):
            log.warning("ignoring invalid stored setting retention.%s", key)
            continue
        update[field] = float(value) if key == "days" else value
    return settings.model_copy(update=update) if update else settings


def effective(settings: Settings, db: Session) -> Settings:
    """The settings the retention pass should use now (configured + stored overrides)."""
    return apply(settings, get_settings(db, PREFIX))
