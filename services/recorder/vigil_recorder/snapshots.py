"""Duties of the recorder: snapshots (recording-depth issue)."""

from __future__ import annotations

from vigil_common.settings import Settings
from vigil_recorder.duties import Duty


def duties(settings: Settings) -> list[Duty]:
    return []
