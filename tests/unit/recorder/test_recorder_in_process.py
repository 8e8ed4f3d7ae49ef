"""VIGIL_RECORDER_JOBS_IN_PROCESS: the worker warns when a killed worker's job would run again
only after Redis has trimmed its window (docs/operations.md#recovery)."""

from __future__ import annotations

import pytest

from vigil_common.runtime.settings import Settings
from vigil_recorder.main import warn_if_in_process_recovery_outlives_buffer


def settings(**values: int) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_default_segments_and_buffer_rerun_in_time(caplog: pytest.LogCaptureFixture) -> None:
    assert not warn_if_in_process_recovery_outlives_buffer(settings())
    assert not caplog.records


def test_longer_segments_outlive_the_default_buffer(caplog: pytest.LogCaptureFixture) -> None:
    assert warn_if_in_process_recovery_outlives_buffer(settings(segment_seconds=15))
    assert "VIGIL_STREAM_BUFFER_S" in caplog.text
    # A buffer long enough for the rerun silences it.
    assert not warn_if_in_process_recovery_outlives_buffer(settings(segment_seconds=15, stream_buffer_s=300))
