"""Settings from the environment and ``.env``, prefix ``VIGIL_`` (docs/operations.md#settings,
contract). One flat ``VIGIL_`` namespace for users; in code, one group per service or feature
(``base``: every process; ``recording``, ``retention``, ``ingest``, ``notifier``, ``api``,
``detector``, ``integrations``),
composed into :class:`Settings`.

Built once in each service's ``main()`` and passed down; never read at import time.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from vigil_common.runtime.settings.api import ApiSettings
from vigil_common.runtime.settings.base import DAY_S, HOUR_IN_DAYS, MAX_DAYS, OptionalSize, ServiceSettings
from vigil_common.runtime.settings.detector import DetectorSettings
from vigil_common.runtime.settings.ingest import IngestSettings
from vigil_common.runtime.settings.integrations import IntegrationSettings
from vigil_common.runtime.settings.notifier import NotifierSettings
from vigil_common.runtime.settings.recording import RecordingSettings
from vigil_common.runtime.settings.retention import RetentionSettings

__all__ = ["DAY_S", "HOUR_IN_DAYS", "MAX_DAYS", "OptionalSize", "Settings"]


class Settings(BaseSettings, ApiSettings, NotifierSettings, IngestSettings, RetentionSettings, RecordingSettings,
               DetectorSettings, IntegrationSettings, ServiceSettings):
    """Every ``VIGIL_`` setting. Each service reads the ones it needs (its group)."""

    model_config = SettingsConfigDict(env_prefix="VIGIL_", env_file=".env", extra="ignore")
