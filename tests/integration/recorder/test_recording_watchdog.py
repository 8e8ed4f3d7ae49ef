"""The recording watchdog against the real pipeline: frames over MQTT -> ingest (this process) ->
Redis -> `vigil recorder` (a subprocess) -> segments, with the API (/health, /metrics) and the
notifier (the real SendGrid client against a local server) in this process.

Each test breaks the recorder the way users have seen it break, and checks that within three
segment lengths of lag /health is degraded and names the camera and the reason, /metrics shows
the lag, the notifier sends exactly one "recording stalled" e-mail, and after the repair exactly
one recovery:

- a worker that crash-loops on every job (issue 11: RQ 3 removed a private attribute our worker
  used; reproduced by a ``sitecustomize`` that makes RQ's ``prepare_execution`` raise the same
  AttributeError), from the very first frame, as on a fresh install;
- a recorder stopped with SIGSTOP (alive, holding its connections, doing nothing);
- a recorder killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import wait_for
from tests.integration.support.api import Api, add_camera
from tests.integration.support.notifier import CaptureServer, Running, notifier_settings
from tests.integration.support.retention import FramePublisher, segment_rows, start_worker
from vigil_api.app import create_app
from vigil_api.health import RECORDING_CACHE_S
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.runtime.settings import Settings
from vigil_ingest.service import IngestService

pytestmark = pytest.mark.integration

CAM = "porch"
SEG_S = 4
THRESHOLD_S = 3 * SEG_S
STALLED = "Recording has stalled"
CAUGHT_UP = "Recording has caught up"

CRASHING_RQ = '''
import rq.worker.base as base


def _broken(self, job):
    raise AttributeError("'RecorderWorker' object has no attribute 'current_job_working_time'")


base.BaseWorker.prepare_execution = _broken
'''


@dataclass
class Pipeline:
    settings: Settings
    sessions: sessionmaker[Session]
    api: Api
    capture: CaptureServer
    log: Path
    tmp: Path

    def health(self) -> dict[str, object]:
        r = self.api.client.get("/api/v1/health")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def recording(self) -> dict[str, object]:
        return dict(self.health()["recording"])  # type: ignore[arg-type]

    def stalled(self) -> dict[str, object] | None:
        rec = self.recording()
        if rec["status"] == "stalled" and [c["camera_id"] for c in rec["stalled"]] == [CAM]:  # type: ignore[attr-defined]
            return rec
        return None

    def recording_ok(self) -> bool:
        rec = self.recording()
        return rec["status"] == "ok" and rec["streaming"] == 1

    def subjects(self, text: str) -> list[str]:
        return [s for s in self.capture.subjects() if text in s]

    def worker(self, *, crashing: bool = False, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        extra: dict[str, str] = dict(extra_env or {})
        if crashing:
            site = self.tmp / "crashing-rq"
            site.mkdir(exist_ok=True)
            (site / "sitecustomize.py").write_text(CRASHING_RQ)
            extra["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])
        return start_worker(self.settings, self.log, **extra)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@pytest.fixture
def pipeline(settings: Settings, capture: CaptureServer, tmp_path: Path) -> Iterator[Pipeline]:
    s = notifier_settings(settings, capture, segment_seconds=SEG_S, segment_grace_s=1.0, stream_buffer_s=300,
                          motion_enabled=False)
    engine = make_engine(s.effective_database_url())
    sessions = make_sessionmaker(engine)
    add_camera(sessions, CAM, name="Porch")
    ingest = IngestService(s)
    ingest.start()
    assert ingest.bus.wait_connected(10)
    from fastapi.testclient import TestClient

    app = create_app(s)
    notifier = Running(s)
    publisher = FramePublisher(s, CAM, fps=10, size=(160, 120))
    try:
        with TestClient(app) as client:
            publisher.start()
            yield Pipeline(s, sessions, Api(client, app, s), capture, tmp_path / "recorder.log", tmp_path)
    finally:
        publisher.stop()
        notifier.stop()
        ingest.stop()
        engine.dispose()


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def wait_recording(p: Pipeline, timeout: float = 60) -> None:
    wait_for(lambda: segment_rows(p.sessions) and p.recording_ok(), timeout, "recording to keep up", poll=0.5)


def assert_stalled_within_threshold(p: Pipeline, since: float, reason: str) -> dict[str, object]:
    """The watchdog fires once the lag passes three segment lengths: at most that long after
    the recorder stopped recording (the lag already counts the last segment), plus the API's
    cache and this poll."""
    rec = wait_for(p.stalled, THRESHOLD_S + 20, "the watchdog to report the camera stalled", poll=0.25)
    took = time.monotonic() - since
    assert took <= THRESHOLD_S + RECORDING_CACHE_S + 1.0, (took, rec)
    assert isinstance(rec, dict)
    assert p.health()["status"] == "degraded"
    wait_for(lambda: p.recording()["reason"] == reason, 15, f"the reason {reason}", poll=0.25)
    rec = p.recording()
    assert rec["threshold_s"] == THRESHOLD_S and rec["detail"]
    stalled = rec["stalled"][0]  # type: ignore[index]
    assert stalled["lag_s"] > THRESHOLD_S and stalled["reason"] == reason
    return rec


def assert_metrics_show_the_stall(p: Pipeline) -> None:
    p.api.login()
    body = p.api.client.get("/metrics").text
    p.api.client.cookies.clear()
    assert f'vigil_recording_stalled{{camera="{CAM}"}} 1' in body, body[-2000:]
    lag = next(line for line in body.splitlines() if line.startswith(f'vigil_recording_lag_seconds{{camera="{CAM}"}}'))
    assert float(lag.split()[-1]) > THRESHOLD_S


def assert_one_alert_then_one_recovery(p: Pipeline, reason_text: str, cameras: str | None = f"Porch ({CAM})") -> None:
    """``cameras``: the stalled ones the subject names (None: whichever were first)."""
    mail = wait_for(lambda: p.subjects(STALLED), 30, "the stalled e-mail", poll=0.25)
    assert isinstance(mail, list) and len(mail) == 1 and mail[0].startswith(f"[Vigil] {STALLED}: "), mail
    if cameras is not None:
        assert mail == [f"[Vigil] {STALLED}: {cameras}"]
    body = next(m.body for m in p.capture.mails() if STALLED in m.body["subject"])
    text = next(c["value"] for c in body["content"] if c["type"] == "text/plain")
    assert reason_text in text, text
    # the repair: recording catches up, health is ok again, and one recovery e-mail follows
    wait_for(p.recording_ok, 90, "recording to catch up", poll=0.5)
    assert p.health()["status"] == "ok"
    wait_for(lambda: p.subjects(CAUGHT_UP), 2 * THRESHOLD_S + 30, "the recovery e-mail", poll=0.5)
    time.sleep(3)
    assert len(p.subjects(STALLED)) == 1 and len(p.subjects(CAUGHT_UP)) == 1, p.capture.subjects()


def test_a_crash_looping_worker_on_a_fresh_install_is_caught(pipeline: Pipeline) -> None:
    p = pipeline
    started = time.monotonic()
    worker = p.worker(crashing=True)
    try:
        rec = assert_stalled_within_threshold(p, started, "recorder_crash_looping")
        assert "AttributeError" in str(rec["detail"]), rec
        assert segment_rows(p.sessions) == []  # nothing was ever recorded
        assert_metrics_show_the_stall(p)
        assert "worker loop ended unexpectedly (AttributeError)" in p.log_tail()
        wait_for(lambda: p.subjects(STALLED), 30, "the stalled e-mail", poll=0.25)
    finally:
        stop_group(worker)
    worker = p.worker()  # the fixed recorder
    try:
        assert_one_alert_then_one_recovery(p, "AttributeError")
        assert segment_rows(p.sessions)
    finally:
        stop_group(worker)
    assert worker.returncode == 0, p.log_tail()


def test_a_stopped_recorder_is_caught(pipeline: Pipeline) -> None:
    p = pipeline
    worker = p.worker()
    try:
        wait_recording(p)
        os.killpg(worker.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        assert_stalled_within_threshold(p, stopped_at, "recorder_hung")
        assert_metrics_show_the_stall(p)
        wait_for(lambda: p.subjects(STALLED), 30, "the stalled e-mail", poll=0.25)
        os.killpg(worker.pid, signal.SIGCONT)
        assert_one_alert_then_one_recovery(p, "stopped responding")
    finally:
        stop_group(worker)


def test_a_killed_recorder_is_caught(pipeline: Pipeline) -> None:
    p = pipeline
    worker = p.worker()
    try:
        wait_recording(p)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
        killed_at = time.monotonic()
        assert_stalled_within_threshold(p, killed_at, "recorder_down")
        assert_metrics_show_the_stall(p)
        wait_for(lambda: p.subjects(STALLED), 30, "the stalled e-mail", poll=0.25)
        worker = p.worker()  # restarted, as compose or `vigil up` would
        assert_one_alert_then_one_recovery(p, "no recorder process is running")
    finally:
        stop_group(worker)


def test_a_queue_growing_faster_than_the_worker_drains_it_is_caught(pipeline: Pipeline) -> None:
    """Three more cameras sending noise at 960x540 and one worker encoding with x264's slowest
    preset: segment jobs arrive faster than they finish, the queue grows, the watchdog says so."""
    import cv2
    import numpy as np

    p = pipeline
    extra = [f"busy-{i}" for i in range(3)]
    for cam in extra:
        add_camera(p.sessions, cam)
    rng = np.random.default_rng(7)
    noise = [cv2.imencode(".jpg", rng.integers(0, 256, (540, 960, 3), dtype=np.uint8))[1].tobytes()
             for _ in range(8)]
    publishers = [FramePublisher(p.settings, cam, fps=8, size=(960, 540)) for cam in extra]
    for pub in publishers:
        pub.jpegs = noise  # hard to encode: x264 works for every pixel
        pub.start()
    worker = p.worker(extra_env={"VIGIL_X264_PRESET": "veryslow", "VIGIL_X264_THREADS": "1"})
    try:
        def backed_up() -> dict[str, object] | None:
            rec = p.recording()
            return rec if rec["status"] == "stalled" and rec["reason"] == "queue_backed_up" else None

        rec = wait_for(backed_up, 120, "the watchdog to report the queue backed up", poll=0.5)
        assert isinstance(rec, dict) and "add recorder workers" in str(rec["detail"]), rec
        assert p.health()["status"] == "degraded"
        assert len(p.subjects(STALLED)) <= 1
        wait_for(lambda: p.subjects(STALLED), 30, "the stalled e-mail", poll=0.25)
    finally:
        for pub in publishers:
            pub.stop()
        stop_group(worker)
    worker = p.worker()  # the default preset keeps up again once the extra cameras are gone
    try:
        with p.sessions.begin() as db:  # they stopped; disable them so their backlog is not awaited
            from vigil_common.db.models import Camera

            for cam in extra:
                db.get(Camera, cam).enabled = False  # type: ignore[union-attr]
        # the cameras stalled first depend on the order the worker took their windows in
        assert_one_alert_then_one_recovery(p, "add recorder workers", None)
    finally:
        stop_group(worker)
