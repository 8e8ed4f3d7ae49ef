"""Unit tests for settings, byte sizes, segment windows and counters."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from vigil_common.contract.sizes import parse_size
from vigil_common.contract.windows import Window, closable, stream_id_ms, window_for, window_start_ms
from vigil_common.runtime.counters import Counters, sample_name
from vigil_common.runtime.settings import Settings


@pytest.mark.parametrize(("text", "value"), [
    ("500M", 500 * 1024**2), ("2G", 2 * 1024**3), ("1.5GiB", int(1.5 * 1024**3)), ("1048576", 1048576),
    ("10k", 10240), ("", None), (None, None), (7, 7),
])
def test_parse_size(text: object, value: int | None) -> None:
    assert parse_size(text) == value  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["lots", "-1G", "5X", "1.2.3M"])
def test_parse_size_errors(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_size(bad)


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VIGIL_RETENTION_MAX_BYTES", "2G")
    monkeypatch.setenv("VIGIL_ALERT_EMAILS", "a@example.com, b@example.com")
    monkeypatch.setenv("VIGIL_SEGMENT_SECONDS", "15")
    monkeypatch.setenv("VIGIL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VIGIL_ADMIN_PASSWORD", "s3cret-password")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.retention_max_bytes == 2 * 1024**3
    assert s.alert_emails == ["a@example.com", "b@example.com"]
    assert s.segment_seconds == 15
    assert s.http_port == 8000 and s.snapshot_interval_s == 5 and s.retention_days == 30
    assert s.admin_password is not None and "s3cret" not in repr(s)
    assert s.effective_database_url().startswith("sqlite:///")


def test_settings_reject_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_windows() -> None:
    assert window_start_ms(1_700_000_012_345, 10) == 1_700_000_010_000
    w = window_for("a", 1_700_000_019_999, 10)
    assert w == Window("a", 1_700_000_010_000, 1_700_000_020_000)
    assert w.job_id == "seg-a-1700000010000"
    assert window_for("a", 1_700_000_020_000, 10).start_ms == 1_700_000_020_000
    assert stream_id_ms(b"1700000000123-7") == 1_700_000_000_123
    assert not closable(20_000, 21_999, 2.0) and closable(20_000, 22_000, 2.0)


def test_counters() -> None:
    c = Counters()
    c.inc("vigil_ingest_frames_total", camera="a")
    c.inc("vigil_ingest_frames_total", 2, camera="a")
    c.inc("vigil_ingest_rejected_total", reason='we"ird\n')
    assert c.total("vigil_ingest_frames_total", camera="a") == 3
    deltas = c.drain()
    assert deltas == {'["vigil_ingest_frames_total",{"camera":"a"}]': 3,
                      '["vigil_ingest_rejected_total",{"reason":"we\\"ird\\n"}]': 1}
    assert c.drain() == {}
    c.restore(deltas)
    assert c.drain() == deltas
    assert sample_name("vigil_recorder_workers_alive") == '["vigil_recorder_workers_alive",{}]'


def test_counters_observe_a_histogram_per_bucket_and_sum_in_microseconds() -> None:
    from vigil_common.contract.metrics import CATALOG, metric_field, parse_field

    c = Counters()
    name = "vigil_detector_frame_seconds"
    for seconds in (0.004, 0.006, 0.0061, 99.0):
        c.observe(name, seconds)
    deltas = c.drain()
    b = CATALOG[name].buckets
    assert deltas == {metric_field(name, part=str(b[0])): 1, metric_field(name, part=str(b[1])): 2,
                      metric_field(name, part="+Inf"): 1,
                      metric_field(name, part="sum_us"): 4000 + 6000 + 6100 + 99_000_000}
    for raw in deltas:
        sample = parse_field(raw)
        assert sample is not None and sample.metric.name == name


def test_windows_to_mark_covers_clock_error_at_edges() -> None:
    from vigil_ingest.redis_writer import windows_to_mark

    assert windows_to_mark(15_000, 10_000) == [10_000]
    assert windows_to_mark(10_400, 10_000) == [0, 10_000]  # just after an edge: the previous too
    assert windows_to_mark(19_500, 10_000) == [10_000, 20_000]  # just before one: the next too
    assert windows_to_mark(20_000, 10_000, margin_ms=0) == [20_000]


def test_a_zero_retention_cap_is_refused() -> None:
    import pytest
    from pydantic import ValidationError

    from vigil_common.runtime.settings import Settings

    with pytest.raises(ValidationError, match="would delete all footage"):
        Settings(_env_file=None, retention_max_bytes="0")  # type: ignore[call-arg]
    assert Settings(_env_file=None, retention_max_bytes="2G").retention_max_bytes == 2 * 1024**3  # type: ignore[call-arg]
