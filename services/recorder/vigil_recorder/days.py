"""Duties of the recorder: days (recording-depth issue)."""

from __future__ import annotations

from vigil_common.settings import Settings
from vigil_recorder.duties import Duty


def duties(settings: Settings) -> list[Duty]:
    return []
