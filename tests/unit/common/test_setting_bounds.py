"""Issue 12, point 7: a reminder every millisecond was accepted (about a mail a second per offline
camera). Every duration, interval and count setting has a sensible lower and upper bound, in the
environment (VIGIL_...) and in the API that changes the notifier's at run time."""

from __future__ import annotations

import annotated_types
import pytest
from pydantic import ValidationError

from vigil_api.schemas.notifications import NotifierSettingsIn
from vigil_common.runtime import bounds
from vigil_common.runtime.settings import Settings

# Fields that are neither durations nor counts, or are bounded some other way.
UNBOUNDED = {"retention_max_bytes", "min_free_bytes", "export_max_bytes_per_user"}  # sizes (parse_size)


def limits(name: str) -> tuple[bool, bool]:
    meta = Settings.model_fields[name].metadata
    low = any(isinstance(m, (annotated_types.Ge, annotated_types.Gt)) for m in meta)
    high = any(isinstance(m, (annotated_types.Le, annotated_types.Lt)) for m in meta)
    return low, high


def test_every_numeric_setting_has_both_bounds() -> None:
    numeric = [name for name, f in Settings.model_fields.items()
               if name not in UNBOUNDED and any(t in str(f.annotation) for t in ("int", "float"))]
    assert "reminder_every_s" in numeric and "snapshot_interval_s" in numeric
    missing = [name for name in numeric if limits(name) != (True, True)]
    assert missing == []


@pytest.mark.parametrize(("field", "value"), [
    ("reminder_every_s", 0.001), ("reminder_every_s", 10), ("reminder_after_s", 1), ("offline_grace_s", 0),
    ("snapshot_interval_s", 0.01), ("retention_interval_s", 0.1), ("notify_timeout_s", 0.001),
    ("retention_days", 0.0001), ("login_failure_window_s", 10**9),
])
def test_the_environment_refuses_silly_values(field: str, value: float) -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, **{field: value})  # type: ignore[call-arg]


def test_the_api_refuses_what_the_environment_refuses() -> None:
    with pytest.raises(ValidationError):
        NotifierSettingsIn(reminder_every_s=0.001)
    with pytest.raises(ValidationError):
        NotifierSettingsIn(offline_grace_s=0.1)
    ok = NotifierSettingsIn(reminder_every_s=bounds.REMINDER_EVERY_MIN_S, offline_grace_s=bounds.OFFLINE_GRACE_MIN_S)
    assert ok.reminder_every_s == Settings(_env_file=None, reminder_every_s=ok.reminder_every_s).reminder_every_s  # type: ignore[call-arg]
