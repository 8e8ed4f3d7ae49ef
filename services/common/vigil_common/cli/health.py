"""``vigil health SERVICE``: a container health probe (docker HEALTHCHECK, Kubernetes exec probe).

Exit status 0 when the service running on THIS host (container, pod) is alive, 1 otherwise:

- ``api``: ``GET /api/v1/health`` on loopback answers 200;
- ``ingest``: its liveness key ``vigil:health:ingest:<host>-<pid>`` exists in Redis (refreshed by
  every ingest process with a short TTL);
- ``recorder``: its liveness key ``vigil:recorder:alive:recorder-<host>-...`` exists (refreshed
  every second, 5 s TTL), and its worker loop has not failed twice in the last 5 minutes (a
  process that stays up while its worker crash-loops is not healthy);
- ``capture`` (the Pi image): the camera's retained ``vigil/cameras/<VIGIL_CAMERA_ID>/status`` is
  ``online``;
- ``detector``: its liveness key ``vigil:health:detector:<host>-<pid>`` (refreshed every pass);
- any other service (``notifier``, ``ipcams``): its liveness key if it writes one, else its retained presence
  ``vigil/services/<name>/status`` on the broker is ``online``.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import urllib.error
import urllib.request

from pydantic_settings import BaseSettings, SettingsConfigDict

from vigil_common.contract import keys
from vigil_common.contract.ids import InvalidIdError, require_camera_id
from vigil_common.contract.topics import Topics
from vigil_common.runtime.settings import Settings

TIMEOUT_S = 4.0


def _host() -> str:
    return socket.gethostname()


def api_alive(settings: Settings) -> bool:
    url = f"http://127.0.0.1:{settings.http_port}/api/v1/health"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _redis_has(settings: Settings, pattern: str) -> bool:
    import redis

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
    try:
        return next(iter(client.scan_iter(match=pattern, count=1000)), None) is not None
    except redis.RedisError:
        return False
    finally:
        client.close()


def recorder_alive(settings: Settings, prefix: str) -> bool:
    """This host's recorder process refreshes its liveness key and its worker loop is not
    crash-looping (vigil_common.contract.recording_watch's rule)."""
    import time

    import redis

    from vigil_common.contract.recording_watch import CRASH_LOOP_MIN, CRASH_WINDOW_S

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
    try:
        if next(iter(client.scan_iter(match=keys.recorder_alive(f"{prefix}*"), count=1000)), None) is None:
            return False
        recent = client.zrangebyscore(keys.RECORDER_CRASHES, time.time() - CRASH_WINDOW_S, "+inf")
        mine = [m for m in recent if (m.decode() if isinstance(m, bytes) else str(m)).startswith(prefix)]
        return len(mine) < CRASH_LOOP_MIN
    except redis.RedisError:
        return False
    finally:
        client.close()


def retained_online(settings: Settings, topic: str, client_name: str) -> bool:
    """True when the broker holds a retained ``online`` on ``topic``."""
    from vigil_common.bus.mqtt import MqttBus

    got = threading.Event()
    online = threading.Event()

    def on_status(msg: object) -> None:
        if getattr(msg, "payload", b"") == b"online":
            online.set()
        got.set()

    bus = MqttBus(settings.mqtt_url, f"vigil-health-{client_name}-{_host()}")
    bus.subscribe(topic, 1, on_status)
    bus.start()
    try:
        got.wait(TIMEOUT_S)
        return online.is_set()
    finally:
        bus.stop()


class _CameraId(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIL_", env_file=".env", extra="ignore")
    camera_id: str = ""


def service_alive(settings: Settings, service: str) -> bool:
    host = _host()
    topics = Topics(settings.topic_prefix)
    if service == "capture":
        camera_id = require_camera_id(_CameraId().camera_id)
        return retained_online(settings, topics.status(camera_id), camera_id)
    if service == "api":
        return api_alive(settings)
    if service == "recorder":
        return recorder_alive(settings, f"recorder-{host.split('.')[0]}-")
    if _redis_has(settings, keys.service_health(service, f"{host}-*")):
        return True
    if service in ("ingest", "detector"):  # their loops refresh the key: no key, no loop
        return False
    return retained_online(settings, topics.service_status(service), service)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="vigil health", description="exit 0 when this host's service is alive")
    parser.add_argument("service", help="api, ingest, recorder, notifier, detector, ipcams, capture")
    args = parser.parse_args(argv)
    try:
        service = require_camera_id(args.service)
        alive = service_alive(Settings(), service)
    except InvalidIdError as exc:
        print(f"vigil health: {exc}", file=sys.stderr)
        return 2
    print(f"{service}: {'alive' if alive else 'NOT alive'} on {_host()}")
    return 0 if alive else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
