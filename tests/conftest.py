"""Shared fixtures: real Mosquitto, Redis and PostgreSQL on loopback (see `make test`).

- ``mqtt_url``: the machine's broker on 127.0.0.1:1883 if it answers, else a private
  ``mosquitto`` on a free port; every test gets its own topic prefix (``topic_prefix``).
- ``redis_url``: the machine's Redis, database 9, flushed before each test.
- ``database_url``: a fresh PostgreSQL database for the test session, migrated, with every
  table emptied before each test that asks for it.
- ``settings``: a ``Settings`` wired to all of the above with a temporary data directory.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get("VIGIL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_TEST_URL = os.environ.get("VIGIL_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} did not open")


def start_private_mosquitto(tmp: Path, extra_conf: str = "") -> tuple[subprocess.Popen[bytes], int]:
    """A private mosquitto on a free loopback port (for auth/ACL/restart tests)."""
    port = free_port()
    conf = tmp / f"mosquitto-{port}.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        + ("allow_anonymous true\n" if "allow_anonymous" not in extra_conf else "")
        + "persistence false\nmax_queued_messages 10000\n"
        + extra_conf
    )
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port("127.0.0.1", port)
    return proc, port


@pytest.fixture(scope="session")
def mqtt_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("VIGIL_TEST_MQTT_URL"):
        yield os.environ["VIGIL_TEST_MQTT_URL"]
        return
    if port_open("127.0.0.1", 1883):
        yield "mqtt://127.0.0.1:1883"
        return
    proc, port = start_private_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield f"mqtt://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(5)


@pytest.fixture
def topic_prefix() -> str:
    """A topic prefix of this test's own, so tests never see each other's retained messages."""
    return "t" + secrets.token_hex(4)


@pytest.fixture
def redis_url() -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    client.close()
    yield REDIS_TEST_URL


def create_database(migrate: bool = True) -> str:
    """A new, empty PostgreSQL database for tests (migrated unless told otherwise)."""
    import psycopg

    name = f"vigil_test_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    if migrate:
        from vigil_common.db.migrate import upgrade

        upgrade(url)
    return url


def drop_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _pg_database() -> Iterator[str]:
    url = create_database()
    yield url
    drop_database(url)


@pytest.fixture
def database_url(_pg_database: str) -> str:
    import psycopg

    from vigil_common.db.models import Base

    tables = ", ".join(f'"{t}"' for t in Base.metadata.tables)
    with psycopg.connect(_pg_database, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    return _pg_database


@pytest.fixture
def settings(tmp_path: Path, mqtt_url: str, redis_url: str, database_url: str, topic_prefix: str):  # type: ignore[no-untyped-def]
    from vigil_common.runtime.settings import Settings

    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        mqtt_url=mqtt_url,
        redis_url=redis_url,
        database_url=database_url,
        topic_prefix=topic_prefix,
        data_dir=tmp_path / "data",
        segment_seconds=2,
        segment_grace_s=1.0,
        admin_password="correct-horse-battery",
        onvif_probe_targets="127.0.0.1",  # a camera search never leaves this machine
    )
