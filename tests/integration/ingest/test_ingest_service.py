"""Ingest against real Mosquitto, Redis and PostgreSQL: frames in, streams/registry/jobs out."""

from __future__ import annotations

import itertools
import os
import time

import paho.mqtt.client as mqtt
import pytest
import redis
from rq import Queue
from sqlalchemy import select

from tests.helpers import heartbeat_bytes, make_envelope, make_jpeg, wait_for
from vigil_common.contract import keys, recorder_jobs
from vigil_common.contract.topics import Topics
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.db.models import Camera
from vigil_common.runtime.counters import sample_name
from vigil_common.runtime.settings import Settings
from vigil_ingest.service import IngestService

pytestmark = pytest.mark.integration


def start_ingest(settings: Settings) -> IngestService:
    svc = IngestService(settings)
    svc.start()
    assert svc.bus.wait_connected(10)
    time.sleep(0.3)  # subscriptions acknowledged
    return svc


def pub(client: mqtt.Client, topic: str, payload: bytes, qos: int = 0) -> None:
    client.publish(topic, payload, qos=qos).wait_for_publish(5)


def test_frames_heartbeats_and_jobs(settings: Settings, publisher: mqtt.Client) -> None:
    r = redis.Redis.from_url(settings.redis_url)
    t = Topics(settings.topic_prefix)
    svc = start_ingest(settings)
    try:
        pub(publisher, t.heartbeat("cam-a"), heartbeat_bytes("cam-a"), qos=1)
        for i in range(20):
            pub(publisher, t.frame("cam-a"), make_envelope(seq=i))
        pub(publisher, t.frame("cam-b"), make_jpeg(96, 64))  # bare JPEG, third-party camera
        stream = keys.frames_stream("cam-a")
        wait_for(lambda: r.xlen(stream) == 20, what="20 frames in the stream")
        entries = r.xrange(stream)
        assert [int(f[keys.F_SEQ]) for _id, f in entries] == list(range(20))
        wait_for(lambda: r.xlen(keys.frames_stream("cam-b")) == 1, what="bare jpeg")
        bare = r.xrange(keys.frames_stream("cam-b"))[0][1]
        assert (int(bare[keys.F_WIDTH]), int(bare[keys.F_HEIGHT])) == (96, 64)

        factory = make_sessionmaker(make_engine(settings.effective_database_url()))

        def cams() -> dict[str, Camera]:
            with factory() as db:
                return {c.id: c for c in db.scalars(select(Camera))}

        wait_for(lambda: {"cam-a", "cam-b"} <= set(cams()), what="registry rows")
        a = cams()["cam-a"]
        assert (a.name, a.location, a.status, a.streaming) == ("Front door", "porch", "online", True)

        pub(publisher, t.status("cam-a"), b"offline", qos=1)
        wait_for(lambda: cams()["cam-a"].status == "offline", what="offline status")

        # Windows close after segment_seconds + grace: exactly one job per camera window.
        q = recorder_jobs.queue(r)
        wait_for(lambda: len(q.job_ids) >= 2, timeout=10, what="recorder jobs")
        time.sleep(settings.segment_seconds + settings.segment_grace_s + 0.5)
        ids = q.job_ids
        assert len(ids) == len(set(ids))
        assert {i.rsplit("-", 1)[0] for i in ids} == {"seg-cam-a", "seg-cam-b"}
        job = q.fetch_job(ids[0])
        assert job is not None and job.func_name == "vigil_recorder.jobs.record_segment"
    finally:
        svc.stop()


def test_bad_input_is_dropped_counted_and_good_data_survives(settings: Settings, publisher: mqtt.Client) -> None:
    r = redis.Redis.from_url(settings.redis_url)
    t = Topics(settings.topic_prefix)
    svc = start_ingest(settings)
    p = settings.topic_prefix
    try:
        bad: list[tuple[str, bytes]] = [
            (t.frame("good"), os.urandom(3000)),
            (t.frame("good"), make_jpeg()[:100]),
            (t.frame("good"), b"\xff\xd8" + bytes(9 * 1024 * 1024) + b"\xff\xd9"),
            (t.frame("good"), b""),
            (t.frame("good"), b"VGF1\x07\x01" + bytes(22) + make_jpeg()),
            (t.frame("good"), make_envelope(width=640, height=480, jpeg=make_jpeg(64, 48))),
            (f"{p}/cameras/BAD/frame", make_envelope()),
            (f"{p}/cameras/../frame", make_envelope()),
            (f"{p}/cameras/{'a' * 40}/heartbeat", heartbeat_bytes("a" * 40)),
            (t.heartbeat("good"), b"{broken"),
            (t.heartbeat("good"), heartbeat_bytes("other")),
            (t.heartbeat("evil"), heartbeat_bytes("evil", fps="NaN-ish")),
            (t.status("good"), b"maybe"),
        ]
        for i, (topic, payload) in enumerate(bad):
            pub(publisher, topic, payload)
            pub(publisher, t.frame("good"), make_envelope(seq=i))
        pub(publisher, t.heartbeat("good"), heartbeat_bytes("good"), qos=1)
        wait_for(lambda: r.xlen(keys.frames_stream("good")) == len(bad), what="every good frame")
        svc.flush_metrics()
        metrics = {k.decode(): int(v) for k, v in r.hgetall(keys.metrics_hash("ingest")).items()}
        for reason in ("not_a_frame", "truncated_jpeg", "too_large", "empty", "bad_version",
                       "dimension_mismatch", "bad_topic", "heartbeat_not_json", "id_mismatch",
                       "heartbeat_schema", "bad_status"):
            assert metrics.get(sample_name("vigil_ingest_rejected_total", reason=reason), 0) >= 1, reason
        factory = make_sessionmaker(make_engine(settings.effective_database_url()))
        def registered() -> bool:
            with factory() as db:
                return db.get(Camera, "good") is not None

        wait_for(registered, what="good camera registered")
        with factory() as db:
            assert set(db.scalars(select(Camera.id))) == {"good"}  # nothing under an invalid id
        assert svc.bus.connected.is_set()
    finally:
        svc.stop()


def test_disabled_camera_frames_are_dropped(settings: Settings, publisher: mqtt.Client) -> None:
    from vigil_common.db.engine import upsert

    factory = make_sessionmaker(make_engine(settings.effective_database_url()))
    with factory.begin() as db:
        upsert(db, Camera, {"id": "off", "name": "off", "enabled": False}, conflict=["id"])
    r = redis.Redis.from_url(settings.redis_url)
    t = Topics(settings.topic_prefix)
    svc = start_ingest(settings)
    try:
        wait_for(lambda: svc.registry.is_disabled("off"), what="disabled set loaded")
        pub(publisher, t.frame("off"), make_envelope())
        pub(publisher, t.frame("on"), make_envelope())
        wait_for(lambda: r.xlen(keys.frames_stream("on")) == 1, what="enabled camera frame")
        assert r.xlen(keys.frames_stream("off")) == 0
    finally:
        svc.stop()


def test_two_ingest_processes_enqueue_each_window_once(settings: Settings, publisher: mqtt.Client) -> None:
    """Both processes see every frame (no shared subscription): the stream gets duplicates
    but the window claim still yields exactly one job per camera window."""
    r = redis.Redis.from_url(settings.redis_url)
    t = Topics(settings.topic_prefix)
    one, two = start_ingest(settings), start_ingest(settings)
    try:
        end = time.monotonic() + settings.segment_seconds * 2.5
        seq = 0
        while time.monotonic() < end:
            pub(publisher, t.frame("dup"), make_envelope(seq=seq))
            seq += 1
            time.sleep(0.05)
        time.sleep(settings.segment_seconds + settings.segment_grace_s + 1.0)
        ids = Queue(keys.RECORDER_QUEUE, connection=r).job_ids
        assert len(ids) >= 2
        assert len(ids) == len(set(ids))
        starts = sorted(int(i.rsplit("-", 1)[1]) for i in ids)
        assert all(b - a == settings.segment_seconds * 1000 for a, b in itertools.pairwise(starts))
    finally:
        one.stop()
        two.stop()


def test_motion_scores_reach_their_stream_and_bad_ones_are_counted(settings: Settings, publisher: mqtt.Client) -> None:
    """A camera's motion samples (docs/protocol.md#motion-at-the-edge) through ingest to Redis."""
    from vigil_common.contract.streams import motion_from_fields

    r = redis.Redis.from_url(settings.redis_url)
    t = Topics(settings.topic_prefix)
    svc = start_ingest(settings)
    try:
        now = time.time_ns()
        good = [b'{"seq": %d, "capture_ns": %d, "score": %s, "hot": %s}' % (i, now + i, s, h)
                for i, (s, h) in enumerate([(b"0", b"false"), (b"0.25", b"true"), (b"1", b"true")])]
        skewed = b'{"seq": 9, "capture_ns": 1000000000, "score": 0.5, "hot": true}'  # a Pi without a clock
        bad = [b"{broken", b"[1, 2]", b'{"seq": 1, "capture_ns": 5, "score": 1.5, "hot": true}',
               b'{"seq": 1, "capture_ns": 5, "score": 0.1, "hot": "yes"}', b'{"seq": 1}', b"x" * 2000]
        for payload in [good[0], *bad, good[1], skewed, good[2]]:
            pub(publisher, t.motion_score("mcam"), payload)
        pub(publisher, f"{settings.topic_prefix}/cameras/BAD/motion_score", good[0])
        stream = keys.motion_stream("mcam")
        wait_for(lambda: r.xlen(stream) == 4, what="4 motion scores")
        entries = [motion_from_fields(i, f) for i, f in r.xrange(stream)]
        assert [(e.seq, e.score, e.hot) for e in entries] == [(0, 0.0, False), (1, 0.25, True), (9, 0.5, True),
                                                               (2, 1.0, True)]
        assert entries[0].capture_ns == now and entries[1].capture_ns == now + 1
        assert abs(entries[2].capture_ns - now) < 60 * 10**9  # retimed to its arrival
        assert 0 < r.pttl(stream) <= 120_000
        svc.flush_metrics()
        metrics = {k.decode(): int(v) for k, v in r.hgetall(keys.metrics_hash("ingest")).items()}
        for reason in ("motion_score_not_json", "motion_score_not_object", "motion_score_schema",
                       "motion_score_too_large", "bad_topic"):
            assert metrics.get(sample_name("vigil_ingest_rejected_total", reason=reason), 0) >= 1, reason
        assert metrics.get(sample_name("vigil_ingest_rejected_total", reason="motion_score_schema")) == 3
        assert metrics.get(sample_name("vigil_ingest_motion_scores_total", camera="mcam")) == 4
        assert svc.bus.connected.is_set()
    finally:
        svc.stop()
