"""Horizontal ingest: several ingest processes split frames through an MQTT shared subscription.

Against the machine's Mosquitto, Redis and PostgreSQL: with a share group every frame lands in
its camera's stream exactly once (not once per process), each window still gets exactly one
recorder job, the recorded segments hold every published frame once, and when one ingest process
dies the broker hands its share to the survivor.
"""


from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import redis
from rq import Queue, Worker
from sqlalchemy import func, select

from tests.helpers import heartbeat_bytes, make_envelope, wait_for
from vigil_common.bus.mqtt import routing_filter
from vigil_common.contract import keys, recorder_jobs
from vigil_common.contract.topics import Topics
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.db.models import Camera, Segment
from vigil_common.runtime.settings import Settings
from vigil_ingest.service import IngestService
from vigil_recorder.main import VigilJob

pytestmark = pytest.mark.integration

CAMERAS = ("sh-a", "sh-b", "sh-c")


def publish_frames(client: mqtt.Client, topics: Topics, seconds: float, fps: float, first_seq: int = 0) -> int:
    """Publish one frame per camera every 1/fps s for ``seconds``; returns frames per camera."""
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for cam in CAMERAS:
            client.publish(topics.frame(cam), make_envelope(seq=first_seq + n), qos=0).wait_for_publish(5)
        n += 1
        time.sleep(1 / fps)
    return n


def stream_seqs(r: redis.Redis, cam: str) -> list[int]:
    return [int(fields[keys.F_SEQ]) for _id, fields in r.xrange(keys.frames_stream(cam))]


def test_routing_filter_strips_the_share_prefix() -> None:
    assert routing_filter("$share/ingest/vigil/cameras/+/frame") == "vigil/cameras/+/frame"
    assert routing_filter("vigil/cameras/+/frame") == "vigil/cameras/+/frame"
    with pytest.raises(ValueError):
        routing_filter("$share/ingest")
    with pytest.raises(ValueError):
        Topics().shared("Bad/Group", "vigil/cameras/+/frame")


def test_settings_refuse_a_share_group_that_is_not_an_id() -> None:
    with pytest.raises(ValueError):
        Settings(_env_file=None, ingest_share_group="a/#")  # type: ignore[call-arg]
    assert Settings(_env_file=None, ingest_share_group="ingest").ingest_share_group == "ingest"  # type: ignore[call-arg]


def test_two_sharing_ingests_split_frames_and_store_each_once(settings: Settings, publisher: mqtt.Client) -> None:
    shared = settings.model_copy(update={"ingest_share_group": "ing"})
    r = redis.Redis.from_url(settings.redis_url)
    t = Topics(settings.topic_prefix)
    one, two = IngestService(shared), IngestService(shared)
    for svc in (one, two):
        svc.start()
    try:
        assert one.bus.wait_connected(10) and two.bus.wait_connected(10)
        time.sleep(0.5)  # both subscriptions acknowledged
        for cam in CAMERAS:  # heartbeats are shared too: each registers the camera once
            publisher.publish(t.heartbeat(cam), heartbeat_bytes(cam), qos=1).wait_for_publish(5)
        n = publish_frames(publisher, t, seconds=settings.segment_seconds * 2.5, fps=12)
        for cam in CAMERAS:
            wait_for(lambda cam=cam: len(stream_seqs(r, cam)) >= n, timeout=10, what=f"{n} frames of {cam}")
        time.sleep(0.5)
        for cam in CAMERAS:
            assert sorted(stream_seqs(r, cam)) == list(range(n)), "each frame stored exactly once"
            got = [svc.counters.total("vigil_ingest_frames_total", camera=cam) for svc in (one, two)]
            assert sum(got) == n
            assert min(got) > 0, f"the broker should split {cam}'s frames between both processes: {got}"
        heartbeats = sum(svc.counters.total("vigil_ingest_heartbeats_total", camera=cam)
                         for svc in (one, two) for cam in CAMERAS)
        assert heartbeats == len(CAMERAS)

        factory = make_sessionmaker(make_engine(settings.effective_database_url()))
        with factory() as db:
            wait_for(lambda: db.scalar(select(func.count()).select_from(Camera)) == len(CAMERAS), what="registry")

        # Windows close after segment + grace: exactly one recorder job per camera window.
        time.sleep(settings.segment_seconds + settings.segment_grace_s + 1.0)
        ids = Queue(keys.RECORDER_QUEUE, connection=r).job_ids
        assert len(ids) == len(set(ids))
        for cam in CAMERAS:
            starts = sorted(int(i.rsplit("-", 1)[1]) for i in ids if i.startswith(f"seg-{cam}-"))
            assert len(starts) >= 2
            assert all(b - a == settings.segment_seconds * 1000 for a, b in itertools.pairwise(starts))
    finally:
        one.stop()
        two.stop()


def _env(settings: Settings, group: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update(
        VIGIL_MQTT_URL=str(settings.mqtt_url),
        VIGIL_REDIS_URL=settings.redis_url,
        VIGIL_DATABASE_URL=settings.database_url,
        VIGIL_DATA_DIR=str(settings.data_dir),
        VIGIL_TOPIC_PREFIX=settings.topic_prefix,
        VIGIL_SEGMENT_SECONDS=str(settings.segment_seconds),
        VIGIL_SEGMENT_GRACE_S=str(settings.segment_grace_s),
        VIGIL_INGEST_SHARE_GROUP=group,
        VIGIL_MOTION_ENABLED="false",
        VIGIL_LOG_LEVEL="INFO",
    )
    return env


def _start_ingest_process(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "vigil_common.cli.main", "ingest"],
                                env=_env(settings, "ing"), stdout=out, stderr=subprocess.STDOUT)
    wait_for(lambda: b"MQTT connected" in log_path.read_bytes() or proc.poll() is not None,
             timeout=20, what="ingest connected")
    assert proc.poll() is None, log_path.read_text()
    return proc


def test_two_ingest_processes_record_every_frame_once_and_survive_a_kill(
    settings: Settings, publisher: mqtt.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = redis.Redis.from_url(settings.redis_url)
    t = Topics(settings.topic_prefix)
    procs = [_start_ingest_process(settings, tmp_path / f"ingest-{i}.log") for i in range(2)]
    try:
        time.sleep(0.5)  # subscriptions acknowledged
        n = publish_frames(publisher, t, seconds=settings.segment_seconds * 2, fps=10)
        for cam in CAMERAS:
            wait_for(lambda cam=cam: len(stream_seqs(r, cam)) >= n, timeout=10, what=f"{n} frames of {cam}")
        for cam in CAMERAS:
            assert sorted(stream_seqs(r, cam)) == list(range(n)), "each frame stored exactly once"

        # kill -9 one process: the broker hands the whole share to the survivor.
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        time.sleep(1.0)
        m = publish_frames(publisher, t, seconds=settings.segment_seconds * 1.5, fps=10, first_seq=n)
        for cam in CAMERAS:
            wait_for(lambda cam=cam: len(stream_seqs(r, cam)) >= n + m, timeout=10, what=f"{cam} after the kill")
            assert sorted(stream_seqs(r, cam)) == list(range(n + m))

        # Record every closed window with a real RQ worker: every frame is in exactly one segment.
        time.sleep(settings.segment_seconds + settings.segment_grace_s + 1.5)
        for k, v in _env(settings, "ing").items():
            if k.startswith("VIGIL_"):
                monkeypatch.setenv(k, v)
        from vigil_recorder import context

        context.reset_context()
        queue = recorder_jobs.queue(r)
        windows = {cam: sorted(int(i.rsplit("-", 1)[1]) for i in queue.job_ids if i.startswith(f"seg-{cam}-"))
                   for cam in CAMERAS}
        try:
            Worker([queue], connection=r, serializer=recorder_jobs.serializer(), job_class=VigilJob).work(burst=True)
        finally:
            context.reset_context()
        segment_ms = settings.segment_seconds * 1000
        factory = make_sessionmaker(make_engine(settings.effective_database_url()))
        with factory() as db:
            for cam in CAMERAS:
                assert len(windows[cam]) >= 2
                # Each window's frames are the stream entries that arrived in it, each recorded once.
                expected = sum(len(r.xrange(keys.frames_stream(cam), min=f"{w}-0", max=str(w + segment_ms - 1)))
                               for w in windows[cam])
                recorded = db.scalar(select(func.sum(Segment.frames)).where(Segment.camera_id == cam))
                assert expected > 0 and recorded == expected
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
