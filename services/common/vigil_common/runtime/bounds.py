"""Limits of the notifier's durations, shared by the environment settings (VIGIL_...) and the
API that changes them at run time, so neither accepts what the other refuses (issue 12: a
reminder every millisecond queued a mail a second per offline camera)."""

from __future__ import annotations

DAY_S = 86400
OFFLINE_GRACE_MIN_S = 1.0  # below a second every heartbeat's jitter is an outage
OFFLINE_GRACE_MAX_S = 7 * DAY_S
REMINDER_AFTER_MIN_S = 60.0
REMINDER_EVERY_MIN_S = 300.0  # at most one reminder per camera every 5 minutes
REMINDER_MAX_S = 365 * DAY_S
