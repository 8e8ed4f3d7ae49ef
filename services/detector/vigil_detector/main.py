"""``vigil detector``: object detection on motion-gated frames (docs/detector.md).

Start-up waits, with backoff, until the database and Redis answer, loads the model (the default
YOLOv3-tiny must have been installed: ``python -m vigil_detector.fetch``), then ticks
:class:`vigil_detector.service.DetectorService` until SIGTERM/SIGINT, which ends every open
event before the process exits. A Redis or database error is logged and retried with backoff;
a health key (``vigil:health:detector:<host>-<pid>``, what ``vigil health detector`` checks)
says the loop is alive, and its MQTT connection (presence ``vigil/services/detector/status``)
carries the events (:mod:`vigil_detector.announce`).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import time

import redis
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from vigil_common.bus.presence import Presence
from vigil_common.contract import keys
from vigil_common.db.engine import make_engine, make_sessionmaker
from vigil_common.runtime import counters
from vigil_common.runtime.lifecycle import StopSignal, backoff_delays, private_files, retry
from vigil_common.runtime.logsetup import setup_logging
from vigil_common.runtime.settings import Settings

log = logging.getLogger(__name__)
HEALTH_TTL_S = 30
MAX_QUEUED = 1000


def main(argv: list[str]) -> int:
    private_files()
    parser = argparse.ArgumentParser(prog="vigil detector", description=__doc__.split("\n\n")[0])
    parser.add_argument("--once", action="store_true", help="one pass over the cameras, then exit")
    args = parser.parse_args(argv)
    settings = Settings()
    setup_logging("detector", settings.log_level, settings.log_format)
    from vigil_detector.model import load
    from vigil_detector.service import DetectorService, model_spec

    stop = StopSignal().install()
    model = load(model_spec(settings))
    engine = make_engine(settings.effective_database_url(), pool_size=2, max_overflow=2)
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=5,
                                  health_check_interval=30)
    # Object events on MQTT; queued while the broker is away (bounded: the oldest are kept).
    presence = Presence(settings, "detector", max_queued=MAX_QUEUED)
    presence.start()

    def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if topic.endswith("/closeup") and not presence.bus.connected.is_set():
            return  # a full-resolution JPEG: not kept in memory while the broker is away
        presence.bus.publish(topic, payload, qos=qos, retain=retain)

    try:
        retry(lambda: _ping(engine, client), stop=stop, what="database and Redis")
        service = DetectorService(settings, make_sessionmaker(engine), client, model, publish=publish)
        health = keys.service_health("detector", f"{socket.gethostname()}-{os.getpid()}")
        delays = backoff_delays(initial=1.0, maximum=30.0)
        period = min(1.0 / settings.detector_fps, 1.0)
        log.info("detector running: %s, %g frames/s per camera with motion", model.spec.path.name,
                 settings.detector_fps)
        while not stop.is_set():
            started = time.monotonic()
            try:
                service.tick()
                client.set(health, "1", ex=HEALTH_TTL_S)
                counters.flush(client, "detector", service.counters)  # for /metrics; kept on failure
                delays = backoff_delays(initial=1.0, maximum=30.0)
            except (redis.RedisError, SQLAlchemyError, OSError) as exc:
                delay = delays()
                log.warning("detector pass failed (%s: %s); again in %.1f s", type(exc).__name__, exc, delay)
                stop.wait(delay)
                continue
            if args.once:
                break
            stop.wait(max(0.0, period - (time.monotonic() - started)))
        service.close()
    finally:
        presence.stop()
        client.close()
        engine.dispose()
    return 0


def _ping(engine: Engine, client: redis.Redis) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    client.ping()


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
