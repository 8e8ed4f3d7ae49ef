"""kill -9 of the recorder in the middle of writing a segment, with the real pipeline:
frames over MQTT -> ingest (in this process) -> Redis -> RQ -> `vigil recorder` workers.

First the work horse alone is killed mid-write (the worker sees it die and RQ retries the
job two seconds later), then the whole recorder (worker, scheduler and work horse, as a
container kill would). A new worker carries on; after reconciliation every indexed segment
decodes to its indexed frame count, no temporary is left, rows and files match one to one,
and at most two segments' worth of time is missing.

Set ``VIGIL_TEST_MEASURE_RETRY=1`` to also wait (up to 5 minutes) for RQ to retry the job
abandoned by the killed worker and print how long that took.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import wait_for
from tests.integration.support.retention import (
    FramePublisher,
    coverage_gap_s,
    decoded_frames,
    drained,
    mp4_files,
    partial_files,
    segment_rows,
    start_worker,
    wait_registered,
    window_start_ms,
    work_horse,
)
from vigil_common.runtime.settings import Settings
from vigil_ingest.service import IngestService
from vigil_recorder.reconcile.duty import reconcile

pytestmark = pytest.mark.integration

CAM = "crash"


def kill_mid_write(settings: Settings, worker: subprocess.Popen[bytes], *, whole: bool,
                   timeout: float = 30) -> int | None:
    """Wait for a new temporary segment file to appear, then SIGKILL the work horse writing
    it (and with ``whole`` the worker's process group first). Returns the window start of
    the interrupted segment, or None if the writer finished before the signal landed."""
    deadline = time.monotonic() + timeout
    old = set(partial_files(settings))
    while time.monotonic() < deadline:
        partial = next((p for p in partial_files(settings) if p not in old), None)
        if partial is None:
            time.sleep(0.001)
            continue
        horse = work_horse(worker.pid)
        if horse is None:
            continue
        if whole:
            os.killpg(worker.pid, signal.SIGKILL)
        os.kill(horse, signal.SIGKILL)
        if not partial.exists():
            return None
        final = partial.name[1:].rsplit(".", 2)[0]  # ".{name}.{hex}.partial"
        return window_start_ms(final)
    raise AssertionError("no segment was being written")


def indexed_windows(factory: sessionmaker[Session]) -> set[int]:
    return {window_start_ms(r.path) for r in segment_rows(factory)}


def test_kill_9_mid_segment_leaves_no_corrupt_or_unindexed_segment(
    settings: Settings, sessions: sessionmaker[Session], rclient: redis.Redis, tmp_path: Path
) -> None:
    s = settings.model_copy(update={"stream_buffer_s": 600})
    log_path = tmp_path / "recorder.log"
    ingest = IngestService(s)
    ingest.start()
    assert ingest.bus.wait_connected(10)
    worker = start_worker(s, log_path)
    publisher = FramePublisher(s, CAM, fps=15)
    try:
        wait_registered(s, worker)
        publisher.start()
        wait_for(lambda: len(segment_rows(sessions)) >= 2, 30, "the first segments")

        # 1. The work horse alone, mid-write: the worker survives and RQ retries the job.
        horse_window = None
        while horse_window is None:
            horse_window = kill_mid_write(s, worker, whole=False)
        wait_for(lambda: horse_window in indexed_windows(sessions), 30, "RQ to retry the killed work horse's job")

        # 2. The whole recorder, mid-write; a new one is started.
        whole_window = None
        while whole_window is None:
            whole_window = kill_mid_write(s, worker, whole=True)
            worker.wait(10)
            killed_at = time.monotonic()
            worker = start_worker(s, log_path)
            wait_registered(s, worker)
        n = len(segment_rows(sessions))
        wait_for(lambda: len(segment_rows(sessions)) >= n + 3, 30, "recording to go on after the restart")
        if os.environ.get("VIGIL_TEST_MEASURE_RETRY"):  # with frames flowing, as in production
            def retried() -> bool:
                text = log_path.read_text(errors="replace")
                return whole_window in indexed_windows(sessions) or f"window {whole_window} expired" in text

            wait_for(retried, 400, "RQ to retry the abandoned job", poll=0.5)
            print(f"\nabandoned job retried {time.monotonic() - killed_at:.1f}s after kill -9")
    finally:
        publisher.stop()
    try:
        wait_for(lambda: drained(rclient, worker), 60, "the recorder to catch up")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        ingest.stop()
    assert worker.returncode == 0, log_path.read_text(errors="replace")[-4000:]

    assert len(partial_files(s)) >= 2  # both interrupted writers left their temporary
    report = reconcile(s, sessions, rclient, partial_age_s=0, full=True)
    assert report.result.partials_removed >= 2 and report.result.unindexable == 0

    rows = segment_rows(sessions)
    assert partial_files(s) == []
    assert {r.path for r in rows} == mp4_files(s)  # no row without a file, no file without a row
    for r in rows:
        assert decoded_frames(s.data_dir / r.path) == r.frames, r.path
    assert horse_window in indexed_windows(sessions)  # retried by the surviving worker
    assert coverage_gap_s(rows) <= 2 * s.segment_seconds, [(r.start, r.end) for r in rows]
