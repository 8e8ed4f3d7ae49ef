"""Helpers for tests that run recorder workers: a worker's environment, a frame window in
Redis, its job, and the segments indexed."""

from __future__ import annotations

import os
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
import redis
from rq import Retry
from rq.job import Job
from sqlalchemy import select

from vigil_common.contract import keys, recorder_jobs, streams
from vigil_common.contract.envelope import Codec, Frame
from vigil_common.contract.windows import Window
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.db.models import Segment
from vigil_common.runtime.settings import Settings

CAM = "cam-w"


def env_for(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update(
        VIGIL_REDIS_URL=settings.redis_url,
        VIGIL_DATABASE_URL=settings.database_url,
        VIGIL_DATA_DIR=str(settings.data_dir),
        VIGIL_LOG_LEVEL="INFO",
    )
    return env


def add_window(client: redis.Redis, start_ms: int, n: int, size: tuple[int, int] = (320, 240)) -> Window:
    w, h = size
    pipe = client.pipeline()
    for i in range(n):
        img = np.zeros((h, w, 3), np.uint8)
        img[:, : (i * 13) % w] = 210
        data = cv2.imencode(".jpg", img)[1].tobytes()
        f = Frame(Codec.JPEG, True, i, start_ms * 1_000_000 + i * 66_666_667, w, h, data)
        pipe.xadd(keys.frames_stream(CAM), streams.to_fields(f), id=f"{start_ms + 5 + i * 10}-*")
    pipe.execute()
    return Window(CAM, start_ms, start_ms + 10_000)


def enqueue(client: redis.Redis, window: Window) -> Job:
    queue = recorder_jobs.queue(client)
    return queue.enqueue(
        "vigil_recorder.jobs.record_segment",
        args=(window.camera_id, window.start_ms, window.end_ms),
        job_id=window.job_id,
        retry=Retry(max=3, interval=[2, 10, 30]),
        job_timeout=120,
    )


def indexed(settings: Settings) -> list[Segment]:
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as s:
            return list(s.execute(select(Segment).order_by(Segment.start)).scalars())
    finally:
        engine.dispose()


@pytest.fixture
def forks(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """A recorder worker run in this process (so a job body patched here reaches its work horses):
    its environment and working directory set up, and the pids it forks, as they are forked."""
    from vigil_recorder import context

    for k, v in env_for(settings).items():
        if k.startswith("VIGIL_"):
            monkeypatch.setenv(k, v)
    monkeypatch.chdir(settings.data_dir.parent)
    pids: list[int] = []
    real_fork = os.fork

    def counting_fork() -> int:
        pid = real_fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", counting_fork)
    context.reset_context()
    try:
        yield pids
    finally:
        context.reset_context()
