"""Runtime settings stored in the ``app_settings`` table: JSON values under dotted keys.

A stored value overrides the ``VIGIL_`` setting of the same meaning; callers pass that setting as
the default, so an empty table means "as configured".
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil_common.db.models import AppSetting, utcnow

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
T = TypeVar("T")


def _check_key(key: str) -> None:
    if len(key) > 64 or not KEY_PATTERN.match(key):
        raise ValueError(f"invalid settings key {key!r}")


def get_setting(db: Session, key: str, default: T) -> Any | T:
    """The stored JSON value of ``key``, or ``default`` when none is stored."""
    _check_key(key)
    row = db.get(AppSetting, key)
    if row is None:
        return default
    return json.loads(row.value)


def get_settings(db: Session, prefix: str) -> dict[str, Any]:
    """Every stored value whose key starts with ``prefix.`` (keys returned without the prefix)."""
    _check_key(prefix)
    rows = db.scalars(select(AppSetting).where(AppSetting.key.startswith(prefix + ".", autoescape=True)))
    return {row.key[len(prefix) + 1 :]: json.loads(row.value) for row in rows}


def set_setting(db: Session, key: str, value: Any, by: str | None = None) -> None:
    """Store ``value`` (JSON-serialisable) under ``key``; the caller commits."""
    _check_key(key)
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    row = db.get(AppSetting, key)
    if row is None:
        db.add(AppSetting(key=key, value=text, updated_by=by))
    else:
        row.value = text
        row.updated_at = utcnow()
        row.updated_by = by


def delete_setting(db: Session, key: str) -> bool:
    """Forget ``key`` (back to the configured default); True if it was stored. The caller commits."""
    _check_key(key)
    row = db.get(AppSetting, key)
    if row is None:
        return False
    db.delete(row)
    return True
